"""A section's .qmd as a notebook for papermill, read once per build.

Quarto reads a .qmd's ```` ```{python} ```` chunks as code cells and the
text between them as Markdown; this module does the same, so that
papermill can execute a section and Quarto can render the executed
notebook without executing it again.

- **Cell options.** A chunk's leading ``#|`` lines are its options, one
  YAML mapping as Quarto reads them. They are parsed and checked here,
  when the build reads the sections and before anything executes: a
  malformed option is one line naming the file and line, where Quarto
  would fail at the end of the build with an error naming neither.
  ``tags`` go into the cell's metadata (papermill finds ``parameters``
  there); the options are kept in ``a2_options`` for the stage.
- **Where.** Each cell keeps its line in the .qmd (``a2_line``) and a code
  cell its chunk number (``a2_chunk``), so that every message about a
  cell names the place a person edits.
- **Inline values.** Papermill runs no Markdown: a Markdown cell with
  inline `` `{python} expr` `` values is followed by a cell that
  evaluates them as Quarto does (IPython's ``user_expressions``). A value
  over ``INLINE_LIMIT`` characters is refused in the kernel, before it is
  sent: an inline value is a number or a phrase in a sentence, and a
  huge one would stall pandoc for minutes.
- **Values as text.** :func:`substitute` writes the values into the
  prose: a value the library marks as Markdown (``text/markdown``:
  ``a2.report.Md``, ``fmt``, ``sci``) as it is, anything else as text
  whose every character shows as written (no markup of it is live).
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import BuildError
from a2.text import code

CHUNK = re.compile(r"^```\{python\}\s*$")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
# Quarto's pattern for an inline expression (execute-inline.ts), on one line.
INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`\n]+)`", re.MULTILINE)
INLINE_TAG = "a2-inline"
INLINE_MIME = "application/vnd.a2.inline+json"
INLINE_LIMIT = 1000  # characters of an inline value (the longest is ~400)
KERNEL = {"display_name": "Python (a2)", "language": "python", "name": "a2"}

# The cell that evaluates a Markdown cell's inline expressions. It runs
# in the section's kernel, so its names are private and deleted after.
EVALUATE = """\
_a2_values = get_ipython().user_expressions({asked})
for _a2_value in _a2_values.values():
    _a2_size = max(map(len, map(str, _a2_value.get("data", {{}}).values())),
                   default=0)
    if _a2_size > {limit}:  # refused here: never sent whole
        _a2_value.clear()
        _a2_value.update(status="too long", size=_a2_size)
__import__("IPython").display.display({{{mime!r}: _a2_values}}, raw=True)
del _a2_values, _a2_value, _a2_size
"""


# --- cell options --------------------------------------------------------


class _Options(yaml.SafeLoader):
    """YAML as Quarto reads cell options (js-yaml): a key given twice is
    an error, not the last one silently."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key, _ in node.value:
            name = self.construct_object(key, deep=True)
            if name in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"'{name}' is given twice", key.start_mark
                )
            seen.add(name)
        return super().construct_mapping(node, deep)


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _flag(*words: str) -> Any:
    return lambda v: isinstance(v, bool) or v in words


def _names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(t, str) for t in v)


def _size(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


# The options Quarto knows that this book's chunks use or may use, and
# what each takes. Other keys pass to Quarto unchecked.
OPTION_TYPES: dict[str, tuple[Any, str]] = {
    "label": (
        lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z][\w.:-]*", v),
        "a name such as fig-curves (letters, digits, - _ . :)",
    ),
    "tags": (_names, "a list of names, e.g. [parameters]"),
    "fig-cap": (_text, "text (the figure's caption)"),
    "tbl-cap": (_text, "text (the table's caption)"),
    "fig-alt": (_text, "text"),
    "fig-width": (_size, "a number of inches above 0"),
    "fig-height": (_size, "a number of inches above 0"),
    "echo": (_flag("fenced"), "true, false or fenced"),
    "output": (_flag("asis"), "true, false or asis"),
    "code-fold": (_flag("show"), "true, false or show"),
    "eval": (_flag(), "true or false"),
    "include": (_flag(), "true or false"),
    "warning": (_flag(), "true or false"),
    "error": (_flag(), "true or false"),
}


def options(source: str, where: str, line: int) -> dict[str, Any]:
    """The cell options of a chunk whose code starts at ``line`` of the
    file ``where``: its leading ``#|`` lines as one YAML mapping, each
    known option of the type Quarto takes. A figure or table label
    needs its caption, which the build appends the source line to."""
    lines = list(
        itertools.takewhile(
            lambda ln: ln.startswith("#|"), source.splitlines()
        )
    )
    if not lines:
        return {}
    text = "\n".join(ln[2:].removeprefix(" ") for ln in lines)
    try:
        found = yaml.load(text, Loader=_Options)  # noqa: S506 (safe)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = min(mark.line, len(lines) - 1) if mark else 0
        why = " ".join(str(getattr(err, "problem", "") or err).split())
        raise BuildError(
            f"{where}:{line + at}: bad cell option {lines[at]!r}: {why}"
        ) from None
    if not isinstance(found, dict):
        raise BuildError(
            f"{where}:{line}: bad cell option {lines[0]!r}: options are "
            f"'#| key: value' lines"
        )

    def at(key: str) -> int:
        pattern = re.compile(rf"^#\|\s*{re.escape(str(key))}\s*:")
        return line + next(
            (n for n, ln in enumerate(lines) if pattern.match(ln)), 0
        )

    for key, value in found.items():
        check, valid = OPTION_TYPES.get(key, (lambda v: True, ""))
        if not check(value):
            shown = " ".join(json.dumps(value, default=str).split())[:60]
            raise BuildError(
                f"{where}:{at(key)}: bad cell option: {key} is {shown}; "
                f"it takes {valid}"
            )
    kind = re.match(r"(fig|tbl)-", str(found.get("label", "")))
    if kind and f"{kind[1]}-cap" not in found:
        raise BuildError(
            f"{where}:{at('label')}: a cell labelled {found['label']} "
            f"needs '#| {kind[1]}-cap: ...' (its caption)"
        )
    return found


def option_lines(source: str) -> int:
    """How many of ``source``'s first lines are cell options."""
    return sum(
        1
        for _ in itertools.takewhile(
            lambda ln: ln.startswith("#|"), source.splitlines()
        )
    )


# --- cells ---------------------------------------------------------------


def _cell(kind: str, source: str, line: int, **meta: Any) -> dict[str, Any]:
    cell = {"cell_type": kind, "metadata": {"a2_line": line, **meta}}
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return {**cell, "source": source}


def cells(text: str, where: str = "qmd") -> list[dict[str, Any]]:
    """The notebook cells of a .qmd text, as nbformat-4 dicts."""
    out: list[dict[str, Any]] = []
    lines = text.splitlines()
    i = 0
    if lines and lines[0].strip() == "---":
        ends = [j for j in range(1, len(lines)) if lines[j] in ("---", "...")]
        if not ends:
            raise BuildError(f"{where}: front matter is not closed by ---")
        out.append(_cell("raw", "\n".join(lines[: ends[0] + 1]), 1))
        i = ends[0] + 1
    prose: list[tuple[int, str]] = []  # (line, text) of pending Markdown
    fence = None  # an open Markdown code fence
    chunks = 0

    def flush() -> None:
        body = list(prose)
        while body and not body[0][1].strip():
            body.pop(0)
        text = "\n".join(t for _, t in body).rstrip()
        if text.strip():
            out.append(_cell("markdown", text, body[0][0]))
        prose.clear()

    while i < len(lines):
        line = lines[i]
        if fence is None and CHUNK.match(line):
            flush()
            start = i + 1
            end = next(
                (
                    j
                    for j in range(start, len(lines))
                    if lines[j].rstrip() == "```"
                ),
                None,
            )
            if end is None:
                raise BuildError(
                    f"{where}: the python chunk opened at line {start} is "
                    f"not closed by ```"
                )
            source = "\n".join(lines[start:end])
            found = options(source, where, start + 1)
            chunks += 1
            meta = {"a2_chunk": chunks, "a2_options": found}
            if found.get("tags"):
                meta["tags"] = found["tags"]
            out.append(_cell("code", source, start, **meta))
            i = end + 1
            continue
        if m := FENCE.match(line):
            if fence is None:
                fence = m.group(1)
            elif (
                line.strip().strip(fence[0]) == ""
                and m.group(1)[0] == fence[0]
            ):
                fence = None
        prose.append((i + 1, line))
        i += 1
    flush()
    for n, cell in enumerate(out):  # nbformat 4.5 wants stable ids
        cell["id"] = f"cell-{n}"
    return out


def expressions(markdown: str) -> list[str]:
    """The inline expressions of a Markdown text, in order, each once."""
    found = (m.group(2).strip() for m in INLINE.finditer(markdown))
    return list(dict.fromkeys(found))


def with_inline_cells(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``found`` with a cell after every Markdown cell that has inline
    expressions: it shows their results as one JSON output (``{expr:
    {"status": ..., "data": {mime: text}}}``) and knows each one's line."""
    out = []
    for cell in found:
        out.append(cell)
        if cell["cell_type"] != "markdown" or not expressions(cell["source"]):
            continue
        text = cell["source"].splitlines()
        first = cell["metadata"]["a2_line"]
        lines = {
            e: first + next(n for n, t in enumerate(text) if e in t)
            for e in expressions(cell["source"])
        }
        call = EVALUATE.format(
            asked=json.dumps({e: e for e in lines}),
            limit=INLINE_LIMIT,
            mime=INLINE_MIME,
        )
        extra = _cell("code", call, first, tags=[INLINE_TAG], a2_lines=lines)
        out.append({**extra, "id": f"{cell['id']}-inline"})
    return out


def notebook(
    path: Path, inline: bool = False, where: str = ""
) -> dict[str, Any]:
    """The .qmd at ``path`` as an nbformat-4 notebook (a dict); with
    ``inline``, the cells that evaluate inline expressions too. Messages
    name the file as ``where`` (default: ``path``)."""
    where = where or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BuildError(f"{where}: cannot read ({err})") from None
    found = cells(text, where)
    return {
        "cells": with_inline_cells(found) if inline else found,
        "metadata": {
            "kernelspec": KERNEL,
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# --- values into the prose -----------------------------------------------


def shown(data: dict[str, Any]) -> str:
    """An inline value's MIME bundle as Markdown: ``text/markdown`` as it
    is; otherwise its text, every character escaped, so that a string
    holding HTML, math, shortcodes or references reads as written in the
    site and the PDF. A string's ``text/plain`` is its repr: the string
    itself is read back from it (quotes and escapes as Python wrote
    them)."""
    if "text/markdown" in data:
        return _joined(data["text/markdown"])
    text = _joined(data.get("text/plain", ""))
    try:
        value = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        value = None
    return code(value if isinstance(value, str) else text, plain=True)


def substitute(
    markdown: str, values: dict[str, dict[str, Any]], where: str
) -> str:
    """Inline expressions replaced by their values (:func:`shown`)."""

    def value(m: re.Match) -> str:
        expr = m.group(2).strip()
        if expr not in values:
            raise BuildError(
                f"{where}: `{{python}} {expr}` has no value: the section was "
                f"executed without it; run `make section S={Path(where).stem}`"
            )
        return m.group(1) + shown(values[expr])

    return INLINE.sub(value, markdown)


def _joined(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)
