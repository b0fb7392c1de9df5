"""A section's .qmd as a notebook for papermill: chunks keep their source
(Quarto reads the ``#|`` options there), ``#| tags`` go into the cell's
metadata, ``a2_line`` is a cell's line in the .qmd. Papermill runs no
Markdown, so a Markdown cell with inline `` `{python} expr` `` values is
followed by a cell that evaluates them (IPython's ``user_expressions``,
as Quarto does there); :func:`substitute` writes them in as Quarto would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import BuildError

CHUNK = re.compile(r"^```\{python\}\s*$")
FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
TAGS = re.compile(r"^#\|\s*tags:\s*(.*?)\s*$")
# Quarto's pattern for an inline expression (execute-inline.ts), on one line.
INLINE = re.compile(r"(^|[^`])`\{python\}[ \t]([^`\n]+)`", re.MULTILINE)
INLINE_TAG = "a2-inline"
INLINE_MIME = "application/vnd.a2.inline+json"


def _tags(source: str, where: str) -> list[str]:
    for line in source.splitlines():
        if not line.startswith("#|"):
            break
        if m := TAGS.match(line):
            try:
                tags = yaml.safe_load(m.group(1))
            except yaml.YAMLError:
                tags = None
            if isinstance(tags, list) and all(
                isinstance(t, str) for t in tags
            ):
                return tags
            raise BuildError(
                f"{where}: '#| tags:' needs a list of names, e.g. [parameters]"
            )
    return []


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

    def flush() -> None:
        body = [(n, t) for n, t in prose]
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
            tags = _tags(source, f"{where}:{start}")
            out.append(
                _cell(
                    "code", source, start, **({"tags": tags} if tags else {})
                )
            )
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
        asked = json.dumps({e: e for e in lines})
        call = (
            f"__import__('IPython').display.display({{{INLINE_MIME!r}: "
            f"get_ipython().user_expressions({asked})}}, raw=True)"
        )
        extra = _cell("code", call, first, tags=[INLINE_TAG], a2_lines=lines)
        out.append({**extra, "id": f"{cell['id']}-inline"})
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
        text = _joined(data.get("text/markdown", ""))
        if "text/markdown" not in data:
            text = _joined(data.get("text/plain", ""))
            if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
                text = text[1:-1].replace("\\", "\\\\")
                text = re.sub(r"([\\`*_{}\[\]()>#+\-.!])", r"\\\1", text)
        return m.group(1) + text

    return INLINE.sub(value, markdown)


def _joined(text: Any) -> str:
    return "".join(text) if isinstance(text, list) else str(text)


def notebook(path: Path, inline: bool = False) -> dict[str, Any]:
    """The .qmd at ``path`` as an nbformat-4 notebook (a dict); with
    ``inline``, the cells that evaluate inline expressions too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BuildError(f"{path}: cannot read ({err})") from None
    found = cells(text, str(path))
    kernel = {
        "display_name": "Python (a2)",
        "language": "python",
        "name": "a2",
    }
    return {
        "cells": with_inline_cells(found) if inline else found,
        "metadata": {
            "kernelspec": kernel,
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
