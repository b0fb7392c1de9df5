"""Pandoc from the pypandoc-binary wheel, and small JSON-AST helpers."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from a2.pipeline.sections import BuildError

HERE = Path(__file__).parent
FILTERS = HERE / "filters"
TEMPLATES = HERE / "templates"


def executable() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def version() -> str:
    out = subprocess.run(
        [executable(), "--version"], capture_output=True, text=True
    )
    return out.stdout.split()[1] if out.returncode == 0 else "?"


def typst_version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("typst")


def run(args: list[str], cwd: Path, stdin: str | None = None) -> str:
    """Run pandoc; its warnings pass through, a failure is a BuildError."""
    try:
        proc = subprocess.run(
            [executable(), *args],
            cwd=cwd,
            input=stdin,
            capture_output=True,
            text=True,
        )
    except KeyboardInterrupt:
        raise BuildError(
            "interrupted while pandoc was rendering; the "
            "previous PDF and site are kept"
        ) from None
    for line in proc.stderr.splitlines():
        print(f"pandoc: {line}")
    if proc.returncode != 0:
        raise BuildError(
            f"pandoc {' '.join(args[:3])} ... failed (exit {proc.returncode})"
        )
    return proc.stdout


def to_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc)


def block(kind: str, content: Any) -> dict[str, Any]:
    return {"t": kind, "c": content}


def div(ident: str, classes: list[str], blocks: list[Any]) -> dict[str, Any]:
    return block("Div", [[ident, classes, []], blocks])


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every element of a JSON AST, depth first."""
    if isinstance(node, dict):
        if "t" in node:
            yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# Position of the Attr triple in the contents of elements that carry one.
_ATTR_AT = {
    "Header": 1,
    "Div": 0,
    "Span": 0,
    "Figure": 0,
    "CodeBlock": 0,
    "Table": 0,
    "Code": 0,
    "Image": 0,
    "Link": 0,
}


def ids(node: Any) -> set[str]:
    """Identifiers defined anywhere under node."""
    out = set()
    for el in walk(node):
        at = _ATTR_AT.get(el["t"])
        if at is not None and isinstance(el.get("c"), list):
            attr = el["c"][at]
            if isinstance(attr, list) and attr and attr[0]:
                out.add(attr[0])
    return out


# Fixes to pandoc's Typst math, applied inside $...$ only:
# \begin{vmatrix} comes out as mat(delim: "||"), which Typst rejects;
# \|x\|_2 comes out as `parallel x parallel_2`, whose subscript Typst
# sets under the bar (a relation symbol), and |x| as `\| x \|`.
_PAR = r"(?<![\w.])parallel(?![A-Za-z.])"
_TYPST_FIXES = [
    (re.compile(r'delim: "\|\|"'), 'delim: "|"'),
    (re.compile(rf"{_PAR} ([^$,;]*?) {_PAR}"), r"norm(\1)"),
    (re.compile(_PAR), "bar.v.double"),
    (re.compile(r"\\\| ([^$,;|]*?) \\\|"), r"abs(\1)"),
]
_MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.DOTALL)


def fix_math(typ: str) -> str:
    def fix(m: re.Match) -> str:
        body = m.group(1)
        for pattern, repl in _TYPST_FIXES:
            body = pattern.sub(repl, body)
        return f"${body}$"

    return _MATH.sub(fix, typ)
