"""The style every figure of the report shares, and how a figure is
shown.

Figures are matplotlib ``Figure`` objects not registered with pyplot (no
duplicate inline output); :func:`show` displays one as a PNG. Sizes are
set for print: a figure drawn :data:`WIDTH` wide prints about
:data:`PRINT_WIDTH` wide, so text drawn at :data:`SMALL` prints at
:data:`MIN_PRINT_PT`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
COLOURS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
WIDTH = 6.5  # inches, drawn; the PDF scales a figure to its text width
PRINT_WIDTH = 14 / 2.54  # inches: about 14 cm of text width in the PDF
DPI = 200
TINY = 1e-18  # floor for exact zeros on log axes
MIN_PRINT_PT = 7.0  # smallest legible text in print
# The smallest font drawn, so that it prints at MIN_PRINT_PT or more once
# the figure is scaled from WIDTH to PRINT_WIDTH (8.3 pt at 6.5 in).
SMALL = MIN_PRINT_PT * WIDTH / PRINT_WIDTH

_RC = {
    "font.size": SMALL + 0.5,
    "axes.titlesize": SMALL + 0.5,
    "axes.labelsize": SMALL + 0.5,
    "legend.fontsize": SMALL,
    "xtick.labelsize": SMALL,
    "ytick.labelsize": SMALL,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.3,
}


def styled(make: Callable[..., Figure]) -> Callable[..., Figure]:
    """Run a figure function under the report's rc settings (font sizes
    are fixed when text is created, so the whole body needs them)."""

    @functools.wraps(make)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        import matplotlib

        with matplotlib.rc_context(_RC):
            return make(*args, **kwargs)

    return wrapper


def figure(
    ncols: int = 1, height: float = 2.6, nrows: int = 1
) -> tuple[Figure, Any]:
    """A page-wide figure; returns (fig, axes). Call inside @styled."""
    fig = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat:
        ax.set_prop_cycle(color=COLOURS)
    return fig, (axes.flat[0] if axes.size == 1 else axes.flatten())


FONT_KEY = "a2 smallest text (pt)"  # PNG text chunks: what a figure holds
IMAGE_KEY = "a2 narrowest image (in)"


def sizes(fig: Figure) -> tuple[float, float | None]:
    """The smallest text drawn in ``fig`` (points) and its narrowest
    image (inches; None without images), at the figure's drawn size: the
    PDF's scale of the figure gives their printed sizes
    (``tests/test_pdf_layout.py``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import AxesImage
    from matplotlib.text import Text

    FigureCanvasAgg(fig).draw()  # creates the tick labels
    fonts = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]
    width = fig.get_figwidth()
    images = [
        im.axes.get_position().width * width for im in fig.findobj(AxesImage)
    ]
    return min(fonts, default=0.0), min(images, default=None)


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes, with its smallest text and narrowest image
    (:func:`sizes`) in text chunks."""
    import matplotlib

    font, image = sizes(fig)
    meta = {FONT_KEY: f"{font:.3f}"}
    if image is not None:
        meta[IMAGE_KEY] = f"{image:.4f}"
    buf = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="png", dpi=DPI, metadata=meta)
    return buf.getvalue()


def show(fig: Figure) -> None:
    """Display a figure as a PNG cell output."""
    from IPython.display import Image, display

    display(Image(data=png(fig), format="png"))


def floor(values: np.ndarray) -> np.ndarray:
    """Exact zeros lifted to TINY so they show on a log axis."""
    return np.maximum(np.asarray(values, dtype=float), TINY)


def panel_label(ax: Any, text: str) -> None:
    ax.set_title(text, loc="left")
