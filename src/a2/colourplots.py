"""Figures for the colourisation sections (4 and 5): learning curves,
image grids and the batch-size sweep.

Each function takes what ``a2.experiments`` returned (runs, histories,
colourisations) and draws it; none trains. Styling comes from
``a2.plots`` (page width, Okabe-Ito colours, font sizes).
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from a2 import plots
from a2.train import History

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


@plots.styled
def learning_curves(histories: Mapping[str, History]) -> Figure:
    """(a) training and validation loss per epoch, (b) validation
    accuracy per epoch; one colour per run, training solid, validation
    dashed. Markers keep one-epoch runs visible."""
    fig, (ax_loss, ax_acc) = plots.figure(ncols=2, height=2.5)
    for i, (label, h) in enumerate(histories.items()):
        c, cols = plots.COLOURS[i % len(plots.COLOURS)], h.columns()
        m = MARKERS[i % len(MARKERS)]
        ax_loss.plot(cols["epoch"], cols["train_loss"], "-", color=c,
                     marker=m, ms=3, label=f"{label}, training")
        ax_loss.plot(cols["epoch"], cols["valid_loss"], "--", color=c,
                     marker=m, ms=3, mfc="white",
                     label=f"{label}, validation")
        ax_acc.plot(cols["epoch"], cols["valid_acc"], "-", color=c,
                    marker=m, ms=3, label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy per pixel (nats)")
    ax_acc.set(xlabel="epoch", ylabel="validation accuracy (% of pixels)")
    plots.panel_label(ax_loss, "(a) loss")
    plots.panel_label(ax_acc, "(b) validation accuracy")
    ax_loss.legend(loc="upper right")
    if len(histories) > 1:
        ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.get_major_locator().set_params(integer=True)
    return fig


@plots.styled
def image_grid(rows: Sequence[tuple[str, np.ndarray]],
               col_titles: Sequence[str] | None = None,
               cell: float = 0.62) -> Figure:
    """One row per (title, images): greyscale (n, H, W) or RGB
    (n, H, W, 3) images in [0, 1], no ticks, row titles on the left."""
    n_rows, n_cols = len(rows), len(rows[0][1])
    width = min(plots.WIDTH, 1.3 + cell * n_cols)
    fig = Figure(figsize=(width, 0.25 + cell * n_rows),
                 layout="constrained")
    axes = np.atleast_2d(fig.subplots(n_rows, n_cols, squeeze=False))
    for r, (title, images) in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r, c]
            img = np.clip(np.asarray(images[c]), 0.0, 1.0)
            if img.ndim == 2:
                ax.imshow(img, cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if c == 0:
                ax.set_ylabel(title, rotation=0, ha="right", va="center",
                              fontsize=7)
            if r == 0 and col_titles is not None:
                ax.set_title(col_titles[c], fontsize=7)
    return fig


def colourisation_rows(samples: Mapping[str, Any],
                       predictions: Mapping[str, np.ndarray] | None = None
                       ) -> list[tuple[str, np.ndarray]]:
    """Grid rows: greyscale input, each model's prediction, the palette-
    quantised truth and the original (from ``a2.train.colourise``)."""
    rows = [("greyscale\ninput", samples["grey"])]
    if predictions is None:
        rows.append(("prediction", samples["pred"]))
    else:
        rows += [(name, p) for name, p in predictions.items()]
    rows += [("truth,\npalette", samples["quantised"]),
             ("truth", samples["truth"])]
    return rows


@plots.styled
def sweep_curves(sweep: Sequence[Any]) -> Figure:
    """Batch-size sweep: (a) training loss, (b) validation loss, (c)
    validation accuracy per epoch, one colour per batch size."""
    fig, axes = plots.figure(ncols=3, height=2.4)
    for i, s in enumerate(sweep):
        cols = s.run.history.columns()
        kw = dict(color=plots.COLOURS[i % len(plots.COLOURS)],
                  marker=MARKERS[i % len(MARKERS)], ms=3,
                  label=f"B = {s.batch_size}")
        axes[0].plot(cols["epoch"], cols["train_loss"], **kw)
        axes[1].plot(cols["epoch"], cols["valid_loss"], **kw)
        axes[2].plot(cols["epoch"], cols["valid_acc"], **kw)
    axes[0].set(xlabel="epoch", ylabel="cross-entropy per pixel (nats)")
    axes[1].set(xlabel="epoch", ylabel="cross-entropy per pixel (nats)")
    axes[2].set(xlabel="epoch", ylabel="% of pixels")
    for ax, title in zip(axes, ("(a) training loss", "(b) validation loss",
                                "(c) validation accuracy")):
        plots.panel_label(ax, title)
        ax.xaxis.get_major_locator().set_params(integer=True)
    axes[2].legend(loc="lower right")
    return fig


@plots.styled
def sweep_summary(sweep: Sequence[Any]) -> Figure:
    """Against batch size (log2 axis): (a) final losses, (b) final
    validation accuracy, (c) training time and optimiser steps."""
    fig, axes = plots.figure(ncols=3, height=2.4)
    bs = [s.batch_size for s in sweep]
    last = [s.run.history.last for s in sweep]
    axes[0].plot(bs, [r.train_loss for r in last], "o-",
                 label="training")
    axes[0].plot(bs, [r.valid_loss for r in last], "s--",
                 label="validation")
    axes[0].set(ylabel="final cross-entropy (nats)")
    axes[0].legend()
    axes[1].plot(bs, [r.valid_acc for r in last], "o-",
                 color=plots.COLOURS[2])
    axes[1].set(ylabel="final validation accuracy (%)")
    axes[2].plot(bs, [s.train_s for s in sweep], "o-",
                 color=plots.COLOURS[3], label="training time")
    axes[2].set(ylabel="training time (s)")
    steps = axes[2].twinx()
    steps.plot(bs, [s.steps for s in sweep], "^:", color=plots.COLOURS[4],
               label="optimiser steps")
    steps.set_ylabel("optimiser steps")
    steps.set_yscale("log", base=2)
    steps.grid(False)
    handles = axes[2].get_lines() + steps.get_lines()
    axes[2].legend(handles, [h.get_label() for h in handles],
                   loc="upper right")
    for ax, title in zip(axes, ("(a) final loss", "(b) final accuracy",
                                "(c) cost")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(bs, [str(b) for b in bs])
        ax.minorticks_off()
        ax.set_xlabel("batch size B (images)")
        plots.panel_label(ax, title)
    return fig
