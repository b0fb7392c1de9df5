"""What a section notebook needs to show results.

- :func:`fmt` formats a computed value for the prose, which shows it
  inline as `` `{python} name` ``; the result is :class:`Md`, so math
  (``sci``) and code spans in it reach the page as Markdown.
- :func:`table` shows a computed table (one helper, not f-strings);
  :class:`VerdictTable` one whose verdict columns are decided from its
  own figures.
- :func:`check` / :func:`check_true` compare a derivation with an
  independent computation and fail the build when they disagree;
  :func:`checks` shows the ones made since the last call as one folded
  line ("5 checks passed").
- :func:`source` names the trained models behind the figure or table of
  its cell; the build adds them to that caption's source line.
- :func:`code` / :func:`link` (``a2.text``) show text from outside
  (file names, manifest fields) verbatim, never as markup.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from a2.text import code
from a2.text import link as link  # the build's source lines use it

SOURCE_MIME = "application/vnd.a2.source+json"


class CheckFailed(AssertionError):
    """A derivation disagrees with its independent computation."""


def _display(data: dict[str, Any]) -> None:
    from IPython.display import display

    display(data, raw=True)


def md(text: str) -> None:
    """Display Markdown as a cell output (a computed table or list)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


# --- numbers as text -------------------------------------------------------


class Md(str):
    """Text that is Markdown: shown inline (`` `{python} x` ``) as it is,
    where a plain string would be escaped (Quarto's rule for
    ``text/plain``)."""

    def _repr_markdown_(self) -> str:
        return str(self)


def sci(x: float, digits: int = 1) -> Md:
    """``x`` in scientific notation as inline math, e.g. 9.0 x 10^-15,
    typeset as a power of ten (never "9.0e + 00")."""
    x = float(x)
    if x == 0:
        return Md("$0$")
    if not math.isfinite(x):
        return Md(str(x))
    exp = math.floor(math.log10(abs(x)))
    mant = round(x / 10**exp, digits)
    if abs(mant) >= 10:
        mant, exp = mant / 10, exp + 1
    return Md(f"${mant:.{digits}f} \\times 10^{{{exp}}}$")


def fmt(value: Any, digits: int | None = None) -> Md:
    """A value as print text: ints with thousands separators, floats with
    ``digits`` decimals (or a short general form), very large or small
    floats as powers of ten, lists item by item; a string (a parameter
    value, say) or any other object is shown as written, never as markup
    (``a2.text.code``): text meant as Markdown is :class:`Md` already."""
    if isinstance(value, Md):
        return value
    if isinstance(value, bool) or value is None:
        return Md("null" if value is None else str(value))
    if isinstance(value, numbers.Integral):
        return Md(f"{int(value):,}")
    if isinstance(value, numbers.Real):
        x = float(value)
        if x != 0 and math.isfinite(x) and not 1e-3 <= abs(x) < 1e6:
            return sci(x, 1 if digits is None else digits)
        if digits is not None:
            return Md(f"{x:,.{digits}f}")
        return Md(f"{x:g}")
    if isinstance(value, (list, tuple)):
        return Md("[" + ", ".join(fmt(v, digits) for v in value) + "]")
    return Md(code(value, plain=True))


def plural(n: int, word: str, many: str | None = None) -> Md:
    """'1 epoch', '25 epochs'."""
    return Md(f"{fmt(n)} {word if n == 1 else (many or word + 's')}")


# --- tables ----------------------------------------------------------------


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
    md(table_markdown(rows, header, digits))


@dataclass(frozen=True)
class Verdict:
    """A table column of words that ``rule`` (``a2.rules``) picks from
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
        md(self.markdown(figures))


# --- checks ----------------------------------------------------------------


DEFAULT_RTOL = 1e-6  # a check's tolerance when it names none


@dataclass(frozen=True)
class Check:
    name: str
    quantity: str  # in the unit of the tolerance: "|diff| 2.3e-15",
    # "rel. diff 3.1e-03", or both; "" for a true/false check
    tolerance: str  # "atol 1e-08", "rtol 2e-02", both, "exact"; or ""
    passed: bool
    abs_diff: float | None = None  # largest |derived - independent|
    rel_diff: float | None = None  # largest of that over |independent|

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        if not self.tolerance:
            return f"{self.name}: {verdict}"
        return f"{self.name}: {self.quantity} ({self.tolerance}): {verdict}"

    @property
    def value(self) -> Md:
        """The figure the check states (its first), for the prose: the
        same digits as its line and the appendix, as a power of ten."""
        figure = self.quantity.split(",")[0].split()[-1]
        if figure == "0":
            return Md("$0$")
        mant, _, exp = figure.partition("e")
        if not exp:  # inf or nan
            return Md(figure)
        return Md(f"${mant} \\times 10^{{{int(exp)}}}$")


_pending: list[Check] = []  # made since the last checks()


def _record(c: Check) -> None:
    from a2 import provenance

    _pending.append(c)
    provenance.note_check(asdict(c))
    if not c.passed:
        raise CheckFailed(
            f"check '{c.name}' failed: {c.quantity}, allowed {c.tolerance}"
        )


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def check(
    name: str,
    derived: Any,
    independent: Any,
    rtol: float | None = None,
    atol: float | None = None,
) -> Check:
    """Compare a derived value with an independent computation,
    elementwise, within the tolerance given: ``rtol``, every
    ``|derived - independent| <= rtol * |independent|`` (the largest
    relative difference is shown); ``atol``, every difference at most
    ``atol`` (the largest absolute difference is shown); both, either
    holds for every element (both are shown); neither, exact for
    integers (counts, shapes, paddings) and :data:`DEFAULT_RTOL` for
    anything else; both 0, exact.

    Returns the :class:`Check`, whose ``value`` the prose cites so that
    it shows the number the check line and the appendix show; raises
    :class:`CheckFailed` (failing the notebook, hence the build) when
    they disagree.
    """
    if rtol is None and atol is None:
        exact = all(
            np.asarray(v).dtype.kind in "biu" for v in (derived, independent)
        )
        rtol = 0.0 if exact else DEFAULT_RTOL
    rtol, atol = rtol or 0.0, atol or 0.0
    a = np.asarray(derived, dtype=float)
    b = np.asarray(independent, dtype=float)
    if a.shape != b.shape:
        raise CheckFailed(
            f"check '{name}': shapes differ, {a.shape} vs {b.shape}"
        )
    d, ref = np.abs(a - b), np.abs(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(d == 0, 0.0, d / ref)
    big = float(np.max(d)) if d.size else 0.0
    big_rel = float(np.max(rel)) if d.size else 0.0
    shown, allowed, ok = [], [], []
    if atol or not rtol:
        shown.append(f"|diff| {_e(big)}")
        allowed.append(f"atol {atol:.0e}" if atol else "exact")
        ok.append(bool(np.all(d <= atol)))
    if rtol:
        shown.append(f"rel. diff {_e(big_rel)}")
        allowed.append(f"rtol {rtol:.0e}")
        ok.append(bool(np.all(d <= rtol * ref)))
    c = Check(
        name,
        ", ".join(shown),
        " or ".join(allowed),
        any(ok),
        big,
        big_rel if rtol else None,
    )
    _record(c)
    return c


def worst(done: Sequence[Check]) -> Check:
    """The check with the largest difference of several alike (one per
    problem, say): the prose cites its ``value`` for all of them."""
    return max(done, key=lambda c: (c.rel_diff or 0.0, c.abs_diff or 0.0))


def check_true(name: str, condition: bool) -> None:
    """A statement that must hold (a sign, an order, a count)."""
    _record(Check(name, "", "", bool(condition)))


def checks(title: str | None = None) -> None:
    """Show the checks made since the last call as one folded callout
    ("N checks passed"), with each check's quantity and tolerance."""
    done = list(_pending)
    _pending.clear()
    if not done:
        return
    head = title or (f"{len(done)} check{'s' if len(done) > 1 else ''} passed")
    items = "\n".join(  # a name is shown as written, never as markup
        f"- {code(c.name, plain=True)}{c.line()[len(c.name) :]}" for c in done
    )
    md(
        f'::: {{.callout-note .a2-checks collapse="true"}}\n'
        f"## {head}\n\n{items}\n:::\n"
    )


# --- provenance --------------------------------------------------------------


def source(*runs: Any) -> None:
    """Name the trained models (runs or cache keys) that the figure or
    table of this cell shows; the build adds them to its caption's source
    line, which links them to the appendix."""
    keys = [str(getattr(r, "key", r)) for r in runs]
    _display({SOURCE_MIME: {"runs": keys}, "text/plain": ""})
