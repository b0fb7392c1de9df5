"""Checks: a derivation compared with an independent computation.

:func:`check` compares elementwise within a stated tolerance,
:func:`check_true` states a fact that must hold; either records the
check for the appendix (``a2.report.provenance``) and raises
:class:`CheckFailed`, failing the build, when it does not hold.
:func:`checks` shows the checks made since its last call as one folded
line ("5 checks passed").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from a2.report import prose
from a2.report.prose import Md
from a2.text import code


class CheckFailed(AssertionError):
    """A derivation disagrees with its independent computation."""


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
    from a2.report import provenance

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
    prose.md(
        f'::: {{.callout-note .a2-checks collapse="true"}}\n'
        f"## {head}\n\n{items}\n:::\n"
    )
