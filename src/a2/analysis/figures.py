"""The figures of the colourisation sections (4 and 5): learning curves,
image grids and the batch-size sweep.

Each function takes what ``a2.colour.experiments`` returned (runs, histories,
colourisations) and draws it; none trains. Styling comes from
``a2.report.figures`` (page width, Okabe-Ito colours), with larger text:
the PDF prints a figure of ``style.WIDTH`` at about 0.89 of its size, so
text drawn at :data:`MIN_PT` or more stays at 7 pt or more on paper.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from a2.colour.data import ColourData
from a2.colour.train import History, colourise
from a2.report import figures as style

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
MIN_PT = 8.5  # smallest text in these figures (legends, ticks, labels)
LEGIBLE = {
    "font.size": 9,
    "axes.titlesize": 9.5,
    "axes.labelsize": 9,
    "legend.fontsize": MIN_PT,
    "xtick.labelsize": MIN_PT,
    "ytick.labelsize": MIN_PT,
}


def styled(make: Callable[..., Figure]) -> Callable[..., Figure]:
    """``style.styled`` with the larger text of :data:`LEGIBLE`."""

    @functools.wraps(make)
    def larger(*args: Any, **kwargs: Any) -> Figure:
        import matplotlib

        with matplotlib.rc_context(LEGIBLE):
            return make(*args, **kwargs)

    return style.styled(larger)


def _epoch_axis(ax: Any, epochs: int) -> None:
    """Whole epochs on the x axis: every one when there are few."""
    if epochs <= 10:
        ax.set_xticks(range(1, epochs + 1))
        ax.set_xlim(0.5, epochs + 0.5)
    else:
        ax.xaxis.get_major_locator().set_params(integer=True)


@styled
def learning_curves(histories: Mapping[str, History]) -> Figure:
    """(a) training and validation loss per epoch, (b) validation
    accuracy per epoch; one colour per run, training solid, validation
    dashed. Markers keep one-epoch runs visible."""
    fig, (ax_loss, ax_acc) = style.figure(ncols=2, height=2.4)
    one = len(histories) == 1
    for i, (label, h) in enumerate(histories.items()):
        c, cols = style.COLOURS[i % len(style.COLOURS)], h.columns()
        m = MARKERS[i % len(MARKERS)]
        name = "" if one else f"{label}, "
        ax_loss.plot(
            cols["epoch"],
            cols["train_loss"],
            "-",
            color=c,
            marker=m,
            ms=3,
            label=f"{name}training",
        )
        ax_loss.plot(
            cols["epoch"],
            cols["valid_loss"],
            "--",
            color=c,
            marker=m,
            ms=3,
            mfc="white",
            label=f"{name}validation",
        )
        ax_acc.plot(
            cols["epoch"],
            cols["valid_acc"],
            "-",
            color=c,
            marker=m,
            ms=3,
            label=label,
        )
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy per pixel (nats)")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (%)")
    style.panel_label(ax_loss, "(a) loss")
    style.panel_label(ax_acc, "(b) validation accuracy")
    ax_loss.legend(loc="upper right")
    if not one:
        ax_acc.legend(loc="lower right")
    epochs = max(len(h) for h in histories.values())
    for ax in (ax_loss, ax_acc):
        _epoch_axis(ax, epochs)
    return fig


THUMBNAIL = 0.78  # inches drawn per image: about 18 mm once printed
GAP = 0.04  # inches between images
SEPARATION = 0.2  # inches between two sets side by side
TITLE = 0.2  # inches above each set for its title
PER_ROW = 8  # images side by side at most


@styled
def image_grid(rows: Sequence[tuple[str, np.ndarray]]) -> Figure:
    """One set per (title, images): greyscale (n, H, W) or RGB
    (n, H, W, 3) images in [0, 1], the title above its first image (a
    long title runs on above the next ones, so no column of titles
    narrows the images). Sets go in rows of :data:`PER_ROW` images: two
    sets of 4 share a row, a set of more than 8 takes several."""
    n = len(rows[0][1])
    cols = min(n, PER_ROW)
    per_row = max(1, PER_ROW // cols)  # sets side by side
    parts = -(-n // cols)  # rows each set takes
    sets = [
        (title if part == 0 else f"{title} (continued)", images[part * cols :])
        for title, images in rows
        for part in range(parts)
    ]
    step = THUMBNAIL + GAP
    span = cols * step - GAP + SEPARATION  # a set's width, with its gap
    lines = -(-len(sets) // per_row)
    width = min(per_row, len(sets)) * span - SEPARATION
    height = lines * (TITLE + step)
    fig = Figure(figsize=(width, height))
    for k, (title, images) in enumerate(sets):
        left = (k % per_row) * span
        top = height - (k // per_row) * (TITLE + step) - TITLE
        fig.text(
            left / width, top / height, title, fontsize=MIN_PT, va="bottom"
        )
        for c, image in enumerate(images[:cols]):
            ax = fig.add_axes(
                (
                    (left + c * step) / width,
                    (top - THUMBNAIL) / height,
                    THUMBNAIL / width,
                    THUMBNAIL / height,
                )
            )
            ax.set_axis_off()
            img = np.clip(np.asarray(image), 0.0, 1.0)
            if img.ndim == 2:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img)
    return fig


def colourisation_rows(
    samples: Mapping[str, Any],
    predictions: Mapping[str, np.ndarray] | None = None,
) -> list[tuple[str, np.ndarray]]:
    """Grid rows: greyscale input, each model's prediction, the palette-
    quantised truth and the original (from ``a2.colour.train.colourise``)."""
    rows = [("greyscale input", samples["grey"])]
    if predictions is None:
        rows.append(("prediction", samples["pred"]))
    else:
        rows += [(name, p) for name, p in predictions.items()]
    rows += [
        ("truth quantised to the palette", samples["quantised"]),
        ("original", samples["truth"]),
    ]
    return rows


def predictions_grid(
    nets: Mapping[str, Any], data: ColourData, n: int
) -> Figure:
    """4.2, 5.3 and 5.5: the first ``n`` validation images as each of
    ``{row title: network}`` colours them, between the greyscale input
    and the truth (quantised to the palette, then the original)."""
    samples = colourise(next(iter(nets.values())), data, n)
    preds = {
        name: colourise(net, data, n)["pred"] for name, net in nets.items()
    }
    return image_grid(colourisation_rows(samples, preds))


def _batch_legend(fig: Figure, axes: Any) -> None:
    """One legend for all panels, in a row above them."""
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside upper center",
        ncol=len(labels),
        frameon=False,
    )


@styled
def sweep_curves(sweep: Sequence[Any]) -> Figure:
    """Batch-size sweep: (a) training loss, (b) validation loss, (c)
    validation accuracy per epoch, one colour per batch size."""
    fig, axes = style.figure(ncols=3, height=2.3)
    for i, s in enumerate(sweep):
        cols = s.run.history.columns()
        kw = dict(
            color=style.COLOURS[i % len(style.COLOURS)],
            marker=MARKERS[i % len(MARKERS)],
            ms=3,
            label=f"B = {s.batch_size}",
        )
        axes[0].plot(cols["epoch"], cols["train_loss"], **kw)
        axes[1].plot(cols["epoch"], cols["valid_loss"], **kw)
        axes[2].plot(cols["epoch"], cols["valid_acc"], **kw)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy per pixel (nats)")
    axes[1].set(xlabel="epoch")
    axes[2].set(xlabel="epoch", ylabel="% of pixels")
    for ax, title in zip(
        axes,
        (
            "(a) training loss",
            "(b) validation loss",
            "(c) validation accuracy",
        ),
    ):
        style.panel_label(ax, title)
        _epoch_axis(ax, max(len(s.run.history) for s in sweep))
    _batch_legend(fig, axes)
    return fig


@styled
def sweep_summary(sweep: Sequence[Any], timed: Any) -> Figure:
    """Against batch size (log2 axis): (a) final losses, (b) final
    validation accuracy, (c) training time per epoch relative to the
    smallest batch's, from epochs timed in turns (``timed``, an
    ``a2.analysis.timing.Timed`` keyed by batch size): each round's time
    over the same round's time at the smallest batch, their geometric
    mean and the interval a time verdict reads (``rules.time_ratio``),
    so that the panel shows what the verdict rests on; and optimiser
    steps per epoch."""
    from a2.report import rules

    fig, axes = style.figure(ncols=3, height=2.3)
    bs = [s.batch_size for s in sweep]
    last = [s.run.history.last for s in sweep]
    epochs = [len(s.run.history) for s in sweep]
    axes[0].plot(bs, [r.train_loss for r in last], "o-", label="training")
    axes[0].plot(bs, [r.valid_loss for r in last], "s--", label="validation")
    axes[0].set(ylabel="final cross-entropy (nats)")
    axes[0].legend()
    axes[1].plot(bs, [r.valid_acc for r in last], "o-", color=style.COLOURS[2])
    axes[1].set(ylabel="final validation accuracy (%)")
    time_c, steps_c = style.COLOURS[0], style.COLOURS[1]
    first = timed.seconds[bs[0]]
    ratios = [rules.time_ratio(timed.seconds[b], first) for b in bs]
    mid = [r.value for r in ratios]
    lo = [r.value - (r.low if r.rounds > 1 else r.value) for r in ratios]
    hi = [(r.high if r.rounds > 1 else r.value) - r.value for r in ratios]
    axes[2].errorbar(bs, mid, yerr=[lo, hi], fmt="o-", color=time_c, capsize=3)
    axes[2].axhline(1, color=time_c, lw=0.6, ls=":")
    # Labels shorter than the panel is tall; the caption says the rest.
    axes[2].set_ylabel(f"time over B = {bs[0]}'s (circles)", color=time_c)
    axes[2].tick_params(axis="y", colors=time_c)
    steps = axes[2].twinx()
    steps.plot(
        bs, [s.steps / e for s, e in zip(sweep, epochs)], "^:", color=steps_c
    )
    steps.set_ylabel("steps per epoch (triangles)", color=steps_c)
    steps.tick_params(axis="y", colors=steps_c)
    steps.set_yscale("log", base=2)
    steps.grid(False)
    for ax, title in zip(
        axes, ("(a) final loss", "(b) final accuracy", "(c) cost per epoch")
    ):
        ax.set_xscale("log", base=2)
        ax.set_xticks(bs, [str(b) for b in bs])
        ax.minorticks_off()
        ax.set_xlabel("batch size B")
        style.panel_label(ax, title)
    return fig
