"""The figures of questions 1-3, one function per figure.

Each takes the results its experiment module returned (``minnorm``,
``hyperopt``, ``weightdecay``, ``nqm``, ``scaling``) and draws them, so
restyling a figure never reruns an experiment. The shared style and
:func:`a2.report.figures.show` are in ``a2.report.figures``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from a2.report.figures import (
    COLOURS,
    SMALL,
    figure,
    floor,
    panel_label,
    styled,
)

# --- section 1 ---------------------------------------------------------


@styled
def sgd_min_norm(runs: Sequence[Any]) -> Figure:
    """1.1.1: distance to w* and the part outside the row space."""
    fig, (a, b) = figure(2, height=2.5)
    for i, r in enumerate(runs):
        k = np.arange(len(r.dist))
        a.semilogy(
            k, floor(r.dist), color=COLOURS[i % 8], label=f"problem {i + 1}"
        )
        b.semilogy(k, floor(r.off_row), color=COLOURS[i % 8])
    a.set(xlabel="SGD step $k$", ylabel=r"$\|w_k - w^*\|_2$")
    b.set(
        xlabel="SGD step $k$",
        ylabel="distance of $w_k$ from the row space",
        ylim=(1e-18, 1),
    )
    # What rounding can build up in k steps (minnorm.rounding_drift).
    k = np.arange(1, len(runs[0].off_row))
    longest = max(r.longest for r in runs)
    b.semilogy(
        k,
        k * np.finfo(float).eps * longest,
        color="grey",
        ls=":",
        lw=1,
        label="what rounding can build up in $k$ steps",
    )
    panel_label(a, "(a) distance to $w^*$")
    panel_label(b, "(b) part outside the row space of $X$")
    a.legend(ncol=1)
    b.legend(loc="upper left")
    return fig


_METHOD_NAMES = {
    "gd": "gradient descent",
    "rmsprop": "RMSProp",
    "adagrad": "Adagrad",
    "adam": "Adam",
}


@styled
def adaptive_paths(trajs: dict[str, np.ndarray]) -> Figure:
    """1.2.1-1.2.2: trajectories on the hint's example
    (``minnorm.adaptive_experiment``) in the plane, and each method's
    distance to its derived limit."""
    from a2.questions import minnorm

    x, t = minnorm.HINT_X[0], float(minnorm.HINT_T[0])
    w_star = minnorm.min_norm_solution(minnorm.HINT_X, minnorm.HINT_T)
    limit = minnorm.adaptive_limit(x, t)
    fig, (a, b) = figure(2, height=2.6)
    u = np.linspace(-0.1, 1.1, 2)
    a.plot(
        u,
        (t - x[0] * u) / x[1],
        color="grey",
        lw=1,
        label=r"$x^\top w = t$",
    )
    a.plot(
        [0, 1.2 * w_star[0]],
        [0, 1.2 * w_star[1]],
        color="grey",
        ls=":",
        lw=1,
        label=r"span$\{x\}$",
    )
    for i, (m, w) in enumerate(trajs.items()):
        # The adaptive paths lie on one another along [1, 1]: each is
        # drawn thinner than the one before, over it, so all show.
        a.plot(
            w[:, 0],
            w[:, 1],
            color=COLOURS[i],
            marker=".",
            ms=2,
            lw=max(3.2 - 0.8 * i, 0.8),
        )
        d = np.linalg.norm(w - (w_star if m == "gd" else limit), axis=1)
        b.semilogy(
            np.arange(len(w)),
            floor(d),
            color=COLOURS[i],
            label=_METHOD_NAMES[m],
        )
    # The two ends are drawn over the paths, which reach and cover them,
    # and named beside them, where a legend would hide one of them.
    a.plot(*w_star, "k*", ms=9, zorder=5)
    a.plot(*limit, "kD", ms=6, mfc="white", mew=1.2, zorder=5)
    named = (
        (w_star, "$w^*$", (-3, -10), "right"),
        (limit, "adaptive limit", (-7, 3), "right"),
    )
    for point, name, offset, side in named:
        a.annotate(
            name,
            point,
            xytext=offset,
            textcoords="offset points",
            ha=side,
            va="top" if point is w_star else "bottom",
            fontsize=SMALL,
        )
    a.set(
        xlabel="$w_1$",
        ylabel="$w_2$",
        xlim=(-0.05, 1.05),
        ylim=(-0.05, 1.05),
        aspect="equal",
    )
    a.legend(loc="upper left", handlelength=1.5)
    b.set(
        xlabel="step $k$",
        ylabel="distance to the derived limit",
        ylim=(1e-19, 1e5),
    )
    # Above the curves, which all start at or below 1: a legend among
    # them covers one (Adagrad's slope crosses the upper right). The
    # caption says its colours hold in both panels.
    b.legend(
        ncol=2,
        loc="upper right",
        columnspacing=1,
    )
    panel_label(a, "(a) trajectories from $w_0 = 0$")
    panel_label(b, "(b) convergence to the limits")
    return fig


# --- section 2 ---------------------------------------------------------


def _drop_line(
    ax: Any, x: float, top: float, label: str = "_nolegend_"
) -> None:
    """A dashed vertical line at ``x`` from the axis up to ``top``."""
    bottom = ax.get_ylim()[0]
    ax.plot([x, x], [bottom, top], color="k", ls="--", lw=1, label=label)
    ax.set_ylim(bottom=bottom)


@styled
def one_step_loss(trials: Sequence[Any]) -> Figure:
    """2.1: L1(eta) in closed form, grid search, eta* marked."""
    fig, (a, b) = figure(2, height=2.5)
    tr = trials[0]
    from a2.questions.hyperopt import ETA_STAR_DIGITS, l1_closed

    near = tr.grid <= 2.5 * tr.eta_star
    g = tr.grid[near]
    a.plot(
        g,
        l1_closed(tr.X, tr.t, tr.w0, g),
        color=COLOURS[0],
        label=r"closed form $\mathcal{L}_1(\eta)$",
    )
    every = max(len(g) // 30, 1)
    a.plot(
        g[::every],
        tr.grid_loss[near][::every],
        "o",
        ms=2.5,
        color=COLOURS[1],
        label="after an actual step",
    )
    # eta* marked from the axis up to the minimum, so that the legend
    # above the curve covers none of it.
    _drop_line(
        a,
        tr.eta_star,
        float(l1_closed(tr.X, tr.t, tr.w0, tr.eta_star)),
        label=f"$\\eta^* = {tr.eta_star:.{ETA_STAR_DIGITS[1]}f}$",
    )
    a.set(xlabel=r"learning rate $\eta$", ylabel=r"$\mathcal{L}_1(\eta)$")
    a.legend(loc="upper left")
    lowest = 0.0
    for i, tr in enumerate(trials):
        l0 = l1_closed(tr.X, tr.t, tr.w0, 0.0)
        a_ = tr.grid / tr.eta_star
        keep = a_ <= 2.2
        b.plot(
            a_[keep],
            l1_closed(tr.X, tr.t, tr.w0, tr.grid[keep]) / l0,
            color=COLOURS[i % 8],
            # Two problems' curves can lie on each other: each is drawn
            # thinner than the one before, over it, so both show.
            linewidth=max(3.2 - 0.6 * i, 0.8),
            label=f"problem {i + 1}",
        )
        b.plot(
            tr.eta_grid / tr.eta_star,
            np.interp(tr.eta_grid, tr.grid, tr.grid_loss) / l0,
            "o",
            ms=3,
            color=COLOURS[i % 8],
        )
        at = l1_closed(tr.X, tr.t, tr.w0, tr.eta_star) / l0
        lowest = max(lowest, float(at))
    _drop_line(b, 1.0, lowest)
    b.set(
        xlabel=r"$\eta / \eta^*$",
        ylabel=r"$\mathcal{L}_1(\eta) / \mathcal{L}_0$",
    )
    b.legend(ncol=2, columnspacing=0.8, handlelength=1.2, loc="upper center")
    panel_label(a, "(a) problem 1")
    panel_label(b, "(b) all problems; dots: grid minima")
    return fig


@styled
def decay_gaps(comparisons: dict[str, Any]) -> Figure:
    """2.2.3: distance between the L2 and the decoupled trajectories."""
    fig, (a, b) = figure(2, height=2.5)
    for i, (m, c) in enumerate(comparisons.items()):
        a.semilogy(
            np.arange(len(c.gap)),
            floor(c.gap),
            color=COLOURS[i],
            label=_METHOD_NAMES[m],
        )
    a.set(
        xlabel="step $k$",
        ylabel=r"$\|w_k^{\mathrm{L2}} - w_k^{\mathrm{decay}}\|_2$",
        ylim=(1e-18, 10),
    )
    a.legend()
    lim = 0.0
    for i, (m, c) in enumerate(comparisons.items()):
        b.plot(
            c.l2[-1],
            c.decoupled[-1],
            "os^"[i % 3],
            ms=4,
            color=COLOURS[i],
            mfc="none" if i else COLOURS[i],
            label=_METHOD_NAMES[m],
        )
        lim = max(lim, np.abs(c.l2[-1]).max(), np.abs(c.decoupled[-1]).max())
    # The caption names the diagonal: a fourth legend row would reach it.
    b.plot([-lim, lim], [-lim, lim], color="grey", ls=":", lw=1)
    b.set(
        xlabel="final $w_i$ with L2", ylabel="final $w_i$ with decoupled decay"
    )
    # The weights lie near the diagonal; its upper left is empty.
    b.legend(loc="upper left")
    panel_label(a, "(a) L2 against decoupled decay")
    panel_label(b, "(b) final weights, one marker per $i$")
    return fig


# --- section 3 ---------------------------------------------------------


@styled
def lr_vs_batch(r: Any, curve: Any, a: float) -> Figure:
    """3.1.1: best learning rate against batch size."""
    fig, (p, q) = figure(2, height=2.5)
    p.semilogx(
        r.batch_sizes,
        r.eta_closed,
        "-",
        color=COLOURS[0],
        label="recursion (exact)",
    )
    p.semilogx(
        r.batch_sizes, r.eta_mc, "o", color=COLOURS[1], label="Monte Carlo"
    )
    p.semilogx(
        r.batch_sizes,
        r.eta_small,
        "--",
        color=COLOURS[2],
        label=r"small-$\eta$ formula",
    )
    p.set_xscale("log", base=2)
    p.set(xlabel="batch size $B$", ylabel=r"best learning rate $\eta^*$")
    p.legend()
    q.loglog(
        curve.batch,
        curve.eta,
        "-o",
        ms=2.5,
        color=COLOURS[0],
        label="tuned $\\eta$",
    )
    q.set_xscale("log", base=2)
    q.set_yscale("log", base=2)
    q.plot(
        curve.batch,
        curve.eta[0] * curve.batch / curve.batch[0],
        ":",
        color="grey",
        label=r"$\eta \propto B$",
    )
    q.set(
        xlabel="batch size $B$",
        ylabel=r"$\eta$ with fewest steps to target",
        ylim=(curve.eta.min() / 2, curve.eta.max() * 2),
    )
    q.legend(loc="lower right")
    panel_label(p, f"(a) scalar model, $a = {a:g}$, fixed steps")
    panel_label(q, "(b) $d$ dimensions, steps to a target")
    return fig


@styled
def steps_vs_batch(curve: Any, points: dict[str, Any]) -> Figure:
    """3.1.2: handout Fig. 1 from the noisy quadratic model, with points
    A, B and C marked at the steps computed at their own batch sizes
    (a2.questions.nqm.operating_points) and the two regimes on either
    side of the critical batch size, point C's."""
    fig, ax = figure(1, height=2.4)
    ax.loglog(
        curve.batch,
        curve.steps,
        "-",
        color=COLOURS[0],
        label="noisy quadratic model, learning rate tuned per batch size",
    )
    ax.loglog(
        curve.batch,
        curve.perfect,
        ":",
        color="grey",
        label="perfect scaling (slope $-1$)",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    cols = {"A": COLOURS[1], "C": COLOURS[2], "B": COLOURS[3]}
    for name, pt in points.items():
        ax.plot(pt.batch, pt.steps, "o", color=cols[name], ms=6)
        ax.annotate(
            f"point {name}",
            (pt.batch, pt.steps),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=11,
            weight="bold",
            color=cols[name],
        )
    # The regimes of 3.1.2(b), split at the critical batch size (point C),
    # named at the plot's two ends, below the curve and clear of the
    # perfect-scaling line.
    bottom, low = curve.steps.min() / 2, curve.steps.min() / 1.6
    c = points["C"]
    # The critical batch size: a dashed line from the foot to well above
    # point C, named at its top (the legend keeps the plot's top).
    top = c.steps * 6
    ax.plot([c.batch] * 2, [bottom, top], "--", lw=1.0, color="grey")
    ax.annotate(
        "critical batch size",
        (c.batch, top),
        textcoords="offset points",
        xytext=(0, 3),
        ha="center",
        va="bottom",
        fontsize=10,
        color="dimgrey",
    )
    for text, at, side, shift in (
        ("noise dominated", curve.batch.min(), "left", 4),
        ("curvature dominated", curve.batch.max(), "right", -4),
    ):
        ax.annotate(
            text,
            (at, low),
            textcoords="offset points",
            xytext=(shift, 0),
            ha=side,
            va="center",
            fontsize=10,
            color="dimgrey",
        )
    ax.set(
        xlabel="batch size $B$ (examples)",
        ylabel="steps to the target loss",
        ylim=(bottom, curve.steps.max() * 1.5),
    )
    ax.legend()
    return fig


@styled
def scaling_options(drawn: Any, opts: dict[str, Any], factor: float) -> Figure:
    """3.2: learning curves from the fits, and the three options
    (``drawn``: ``a2.questions.scaling.curves``). The options are marked
    in (c) only, on their curves at the baseline's length: in (a) they
    would share one point of compute and cover one another."""
    curves, sweep_steps, sweep = drawn.learning, drawn.sweep_steps, drawn.sweep
    fig, (p, q, r) = figure(3, height=2.8)
    # One model size after another: shades of one sequential map, light
    # to dark, so that the order of N reads off the colour.
    shades = matplotlib.colormaps["viridis"](
        np.linspace(0.9, 0.0, len(curves))
    )
    for i, (n, c) in enumerate(curves.items()):
        col = shades[i]
        p.loglog(
            c["pf_days"],
            c["loss"],
            color=col,
            label=f"$N = 10^{{{np.log10(n):.0f}}}$",
        )
        q.semilogx(c["s_min"], c["loss"], color=col)
    p.set_yscale("linear")
    p.set(
        xlabel="compute (PF-days)",
        ylabel="test loss (nats/token)",
        ylim=(2, 7),
    )
    q.set(xlabel=r"steps $S_{\min}$", ylim=(2, 7))
    marks = {"A": COLOURS[1], "B": COLOURS[3], "C": COLOURS[2]}
    base = opts["baseline"].steps
    for name, col in marks.items():
        r.semilogx(sweep_steps, sweep[name], color=col, label=f"option {name}")
        r.plot(base, opts[name].loss, "o", color=col, ms=3.5)
    r.semilogx(
        sweep_steps, sweep["baseline"], color="k", ls="--", label="baseline"
    )
    r.plot(base, opts["baseline"].loss, "o", color="k", ms=3.5)
    r.axvline(drawn.frontier, color="grey", ls=":", lw=1)
    r.set(
        xlabel="baseline steps $S$",
        ylabel="test loss after the option",
        ylim=(2, 5),  # room to tell the options apart at the dots
    )
    r.legend()
    panel_label(p, "(a) as handout Fig. 2")
    panel_label(q, "(b) as handout Fig. 3")
    panel_label(r, f"(c) options, {factor:g}× compute")
    fig.legend(
        *p.get_legend_handles_labels(),
        loc="outside lower center",
        ncol=len(curves),
        columnspacing=1.0,
        handlelength=1.5,
    )
    return fig
