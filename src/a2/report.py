"""What a section notebook needs to show results: Markdown output for prose
that carries computed numbers, the models behind a figure or table, and
checks that fail the build loudly."""
from __future__ import annotations

from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """A derivation disagrees with its independent computation."""


def md(text: str) -> None:
    """Display Markdown (prose with computed numbers) as a cell output."""
    from IPython.display import Markdown, display

    display(Markdown(text))


def source(*runs: Any) -> None:
    """Name the trained models that the figure or table just shown comes
    from (runs or cache keys): the renderer moves them into the source
    line under it, which links them to the appendix."""
    keys = ", ".join(f"`{getattr(r, 'key', r)}`" for r in runs)
    md(f'<span class="a2-models">Trained models shown: {keys}</span>')


def check(name: str, derived: Any, independent: Any, rtol: float = 1e-6,
          atol: float = 0.0) -> float:
    """Compare a derived value with an independent computation.

    Returns the largest absolute difference; raises :class:`CheckFailed`
    (failing the notebook, hence the build) when they disagree.
    """
    a = np.asarray(derived, dtype=float)
    b = np.asarray(independent, dtype=float)
    if a.shape != b.shape:
        raise CheckFailed(f"check '{name}': shapes differ, "
                          f"{a.shape} vs {b.shape}")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not np.allclose(a, b, rtol=rtol, atol=atol):
        raise CheckFailed(f"check '{name}' failed: derived {a} vs independent "
                          f"{b} (max |diff| = {diff:.3g}, rtol={rtol}, "
                          f"atol={atol})")
    print(f"check passed: {name} (max |diff| = {diff:.3g})")
    return diff
