"""Section sources are Quarto Markdown (``report/<stem>.qmd``): prose as
Markdown, code in ```` ```{python} ```` chunks whose leading ``#|`` lines
are Quarto cell options. They diff as text; the build turns each into a
Jupyter notebook for papermill with :func:`notebook`.

The conversion keeps every chunk's source as written (Quarto and the
embedded renderer read the ``#|`` options from it) and moves
``#| tags: [...]`` into the cell's metadata, where papermill looks for the
``parameters`` tag. A YAML front matter block becomes a raw cell, as
Quarto expects of a notebook.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline.sections import BuildError

CHUNK = re.compile(r"^```\{python\}\s*$")
FENCE = re.compile(r"^(`{3,}|~{3,})")
OPTION = re.compile(r"^#\|\s*([\w-]+):\s*(.*?)\s*$")
DIV = re.compile(r"^(:{3,})\s*(.*?)\s*$")
FIGURE = re.compile(r"^#\|\s*label:\s*[\"']?fig-", re.MULTILINE)


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
    fence: str | None = None  # an open Markdown code fence
    divs: list[tuple[int, str]] = []  # open fenced divs: (line, attributes)

    def flush() -> None:
        body = "\n".join(prose).strip("\n")
        if body.strip():
            out.append(
                {"cell_type": "markdown", "metadata": {}, "source": body}
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
                    "metadata": {"tags": tags} if tags else {},
                    "outputs": [],
                    "source": source,
                }
            )
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


def notebook(path: Path) -> dict[str, Any]:
    """The .qmd at ``path`` as an nbformat-4 notebook (a dict)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BuildError(f"{path}: cannot read ({err})") from None
    return {
        "cells": cells(text, str(path)),
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
    """All code of a .qmd, for import analysis."""
    return "\n".join(
        c["source"]
        for c in notebook(path)["cells"]
        if c["cell_type"] == "code"
    )
