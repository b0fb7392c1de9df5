"""Computed values as the prose shows them.

A section's prose shows a value inline as `` `{python} name` ``. The
helpers here turn numbers into that text (:func:`fmt`, :func:`sci`,
:func:`plural`) and return :class:`Md`, so math and code spans in it
reach the page as Markdown, where a plain string would be escaped.
:func:`md` shows computed Markdown (a list) as a cell output, and
:func:`source` names the trained models behind a cell's figure or
table for its caption's source line.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from a2.text import code

SOURCE_MIME = "application/vnd.a2.source+json"


def display_bundle(data: dict[str, Any]) -> None:
    """Display a raw MIME bundle as the cell's output."""
    from IPython.display import display

    display(data, raw=True)


def md(text: str) -> None:
    """Display Markdown as a cell output (a computed table or list)."""
    from IPython.display import Markdown, display

    display(Markdown(text))


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


def source(*runs: Any) -> None:
    """Name the trained models (runs or cache keys) that the figure or
    table of this cell shows; the build adds them to its caption's source
    line, which links them to the appendix."""
    keys = [str(getattr(r, "key", r)) for r in runs]
    display_bundle({SOURCE_MIME: {"runs": keys}, "text/plain": ""})
