"""Computed tables: a pipe table from rows (:func:`table`), and tables
whose verdict columns are decided by a rule from the figures of the same
row (:class:`VerdictTable`), so a reader can check every verdict
against the numbers beside it."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from a2.report import prose
from a2.report.prose import fmt

# A code span, a backslash escape, or a bare pipe (a cell's end, unless
# escaped; a pipe inside a code span is text to pandoc).
_PIPE = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)|\\.|\|", re.S)


def _cell(v: Any, digits: int | None) -> str:
    """A cell: a string is Markdown (text from outside goes through
    ``code``), anything else is formatted by :func:`fmt`."""
    text = fmt(v, digits) if not isinstance(v, str) else v
    text = _PIPE.sub(lambda m: "\\|" if m[0] == "|" else m[0], text)
    return text.replace("\n", " ")


def table_markdown(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    digits: Sequence[int | None] | None = None,
) -> str:
    """A pipe table; numeric columns are right-aligned (so decimals line
    up: a column's numbers share ``digits``), text columns left."""
    digits = list(digits or [None] * len(header))
    if any(len(r) != len(header) for r in rows):
        raise ValueError("every row needs one value per column")

    def numeric(j: int) -> bool:
        return all(
            isinstance(r[j], numbers.Real) and not isinstance(r[j], bool)
            for r in rows
        )

    def width(j: int) -> int:
        """Dashes for column j: pandoc sizes a wide table's columns in
        proportion to them, so they follow the longest cell or header
        word, plus room for the gap between columns."""
        texts = [_cell(r[j], digits[j]) for r in rows]
        words = str(header[j]).split() or [""]
        return min(40, max(len(t) for t in texts + words)) + 3

    align = [
        ("-" * (width(j) - 1) + ":")
        if rows and numeric(j)
        else (":" + "-" * (width(j) - 1))
        for j in range(len(header))
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += [
        "| " + " | ".join(_cell(v, digits[j]) for j, v in enumerate(r)) + " |"
        for r in rows
    ]
    return "\n".join(lines)


def table(
    rows: Sequence[Sequence[Any]],
    header: Sequence[str],
    digits: Sequence[int | None] | None = None,
) -> None:
    """Show a computed table; give its cell ``#| label: tbl-...`` and
    ``#| tbl-cap: "..."`` for a number and a caption."""
    prose.md(table_markdown(rows, header, digits))


@dataclass(frozen=True)
class Verdict:
    """A table column of words that ``rule`` (``a2.report.rules``) picks from
    the columns ``reads`` of the same row, in its argument order: every
    verdict can be checked against the figures shown beside it."""

    header: str
    rule: Callable[..., str]
    reads: tuple[int, ...]


@dataclass(frozen=True)
class VerdictTable:
    """A table of figures with verdict columns after them, each decided
    from the row's own figures by its rule (the class of Table 3.3's old
    fault: a verdict decided from a figure the table did not show)."""

    header: tuple[str, ...]  # the figures' columns
    digits: tuple[int | None, ...]
    verdicts: tuple[Verdict, ...]

    def rows(self, figures: Sequence[Sequence[Any]]) -> list[tuple]:
        return [
            (*r, *(v.rule(*(r[i] for i in v.reads)) for v in self.verdicts))
            for r in figures
        ]

    def markdown(self, figures: Sequence[Sequence[Any]]) -> str:
        return table_markdown(
            self.rows(figures),
            (*self.header, *(v.header for v in self.verdicts)),
            (*self.digits, *(None for _ in self.verdicts)),
        )

    def show(self, figures: Sequence[Sequence[Any]]) -> None:
        """Show the table (give its cell a label and a caption)."""
        prose.md(self.markdown(figures))
