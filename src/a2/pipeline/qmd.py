"""Section sources are Quarto Markdown (``report/<stem>.qmd``): prose as
Markdown with inline values `` `{python} expr` ``, code in
```` ```{python} ```` chunks whose leading ``#|`` lines are Quarto cell
options. The build turns each into a Jupyter notebook for papermill with
:func:`notebook`.

The conversion keeps every chunk's source as written (Quarto reads the
``#|`` options from it) and moves ``#| tags: [...]`` into the cell's
metadata, where papermill looks for the ``parameters`` tag. A YAML front
matter block becomes a raw cell, as Quarto expects of a notebook.

Inline values: papermill runs no Markdown, so for execution each Markdown
cell with inline expressions is followed by a code cell (tagged
``a2-inline``) that evaluates them with IPython's ``user_expressions``,
as Quarto's Jupyter engine does at that point of the document;
:func:`substitute` writes the results into the Markdown as Quarto would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import BuildError

CHUNK = re.compile(r"^```\{python\}\s*$")
FENCE = re.compile(r"^(`{3,}|~{3,})")
OPTION = re.compile(r"^#\|\s*([\w-]+):\s*(.*?)\s*$")
DIV = re.compile(r"^(:{3,})\s*(.*?)\s*$")
FIGURE = re.compile(r"^#\|\s*label:\s*[\"']?fig-", re.MULTILINE)
# Quarto's pattern for an inline expression (execute-inline.ts), on one line.
INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`\n]+)`", re.MULTILINE)
INLINE_TAG = "a2-inline"
INLINE_MIME = "application/vnd.a2.inline+json"


def _boxed(attrs: str) -> bool:
    """Whether a fenced div with these attributes stays a box in print: a
    callout that is not collapsed (collapsed ones are unfolded there)."""
    return bool(re.search(r"\.callout-", attrs)) and not re.search(
        r"collapse\s*=\s*[\"']?true", attrs
    )


def _tags(source: str, where: str) -> list[str]:
    for line in source.splitlines():
        m = OPTION.match(line)
        if not m:
            break
        if m.group(1) == "tags":
            try:
                tags = yaml.safe_load(m.group(2))
            except yaml.YAMLError:
                tags = None
            if not (
                isinstance(tags, list)
                and all(isinstance(t, str) for t in tags)
            ):
                raise BuildError(
                    f"{where}: '#| tags:' needs a list of "
                    f"names, e.g. [parameters]"
                )
            return tags
    return []


def cells(text: str, where: str = "qmd") -> list[dict[str, Any]]:
    """The notebook cells of a .qmd text, as nbformat-4 dicts."""
    out: list[dict[str, Any]] = []
    lines = text.splitlines()
    i = 0
    if lines and lines[0].strip() == "---":
        end = next(
            (
                j
                for j in range(1, len(lines))
                if lines[j].strip() in ("---", "...")
            ),
            None,
        )
        if end is None:
            raise BuildError(f"{where}: front matter is not closed by ---")
        out.append(
            {
                "cell_type": "raw",
                "metadata": {},
                "source": "\n".join(lines[: end + 1]),
            }
        )
        i = end + 1
    prose: list[str] = []
    prose_line = i + 1  # where the pending Markdown starts (1-based)
    fence: str | None = None  # an open Markdown code fence
    divs: list[tuple[int, str]] = []  # open fenced divs: (line, attributes)

    def flush() -> None:
        body = "\n".join(prose).strip("\n")
        if body.strip():
            lead = len(prose) - len("\n".join(prose).lstrip("\n").split("\n"))
            out.append(
                {
                    "cell_type": "markdown",
                    "metadata": {"a2_line": prose_line + lead},
                    "source": body,
                }
            )
        prose.clear()

    while i < len(lines):
        line = lines[i]
        if fence is None and CHUNK.match(line):
            flush()
            start = i + 1
            i = start
            while i < len(lines) and lines[i].rstrip() != "```":
                i += 1
            if i == len(lines):
                raise BuildError(
                    f"{where}: the python chunk opened at "
                    f"line {start} is not closed by ```"
                )
            source = "\n".join(lines[start:i])
            where_chunk = f"{where}:{start}"
            tags = _tags(source, where_chunk)
            boxes = [n for n, attrs in divs if _boxed(attrs)]
            if boxes and FIGURE.search(source):
                # Typst floats a figure only within its container: boxed,
                # it cannot float and leaves a hole at the page's foot.
                raise BuildError(
                    f"{where_chunk}: a figure inside the callout opened "
                    f"at line {boxes[-1]} cannot float in the PDF; place "
                    f"it after the callout's closing :::"
                )
            out.append(
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {
                        "a2_line": start,
                        **({"tags": tags} if tags else {}),
                    },
                    "outputs": [],
                    "source": source,
                }
            )
            prose_line = i + 2
        else:
            m = FENCE.match(line.lstrip())
            div = DIV.match(line) if fence is None else None
            if div and div.group(2):
                divs.append((i + 1, div.group(2)))
            elif div and divs:
                divs.pop()
            if m and fence is None:
                fence = m.group(1)
            elif (
                m
                and fence is not None
                and line.strip().startswith(fence)
                and not line.strip().strip(fence[0])
            ):
                fence = None
            prose.append(line)
        i += 1
    flush()
    for n, cell in enumerate(out):  # nbformat 4.5 wants stable ids
        cell["id"] = f"cell-{n}"
    return out


def expressions(markdown: str) -> list[str]:
    """The inline expressions of a Markdown text, in order, each once."""
    return list(
        dict.fromkeys(m.group(2).strip() for m in INLINE.finditer(markdown))
    )


def _inline_cell(exprs: dict[str, int]) -> dict[str, Any]:
    """A code cell that shows the results of ``exprs`` (each with its
    line in the .qmd) as one JSON output (``{expr: {"status": ...,
    "data": {mime: text}}}``)."""
    exprs_json = json.dumps({e: e for e in exprs})
    call = (
        f"__import__('IPython').display.display({{{INLINE_MIME!r}: "
        f"get_ipython().user_expressions({exprs_json})}}, raw=True)"
    )
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": [INLINE_TAG], "a2_lines": exprs},
        "outputs": [],
        "source": call,
    }


def with_inline_cells(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``found`` with an evaluating cell after every Markdown cell that
    has inline expressions."""
    out = []
    for cell in found:
        out.append(cell)
        exprs = (
            expressions(cell["source"])
            if cell["cell_type"] == "markdown"
            else []
        )
        if exprs:
            first = cell["metadata"].get("a2_line", 1)
            lines = cell["source"].splitlines()
            extra = _inline_cell(
                {
                    e: first + next(i for i, ln in enumerate(lines) if e in ln)
                    for e in exprs
                }
            )
            extra["id"] = f"{cell['id']}-inline"
            out.append(extra)
    return out


def substitute(
    markdown: str, values: dict[str, dict[str, Any]], where: str
) -> str:
    """Inline expressions replaced by their values, as Quarto does
    (jupyter-inline.ts): ``text/markdown`` as it is, ``text/plain`` with
    a string's quotes dropped and its Markdown characters escaped."""

    def value(m: re.Match) -> str:
        expr = m.group(2).strip()
        if expr not in values:
            raise BuildError(
                f"{where}: `{{python}} {expr}` has no value: the section was "
                f"executed without it; run `make section S={Path(where).stem}`"
            )
        data = values[expr]
        if "text/markdown" in data:
            text = _joined(data["text/markdown"])
        else:
            text = _plain(_joined(data.get("text/plain", "")))
        return m.group(1) + text

    return INLINE.sub(value, markdown)


def _joined(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def _plain(s: str) -> str:
    if len(s) > 1 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1].replace("\\", "\\\\")
        return re.sub(r"([\\`*_{}\[\]()>#+\-.!])", r"\\\1", s)
    return s


def notebook(path: Path, inline: bool = False) -> dict[str, Any]:
    """The .qmd at ``path`` as an nbformat-4 notebook (a dict); with
    ``inline``, the cells that evaluate inline expressions too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BuildError(f"{path}: cannot read ({err})") from None
    found = cells(text, str(path))
    return {
        "cells": with_inline_cells(found) if inline else found,
        "metadata": {
            "kernelspec": {
                "display_name": "Python (a2)",
                "language": "python",
                "name": "a2",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def code(path: Path) -> str:
    """All code of a .qmd, inline expressions included (for import
    analysis)."""
    return "\n".join(
        c["source"]
        for c in notebook(path, inline=True)["cells"]
        if c["cell_type"] == "code"
    )
