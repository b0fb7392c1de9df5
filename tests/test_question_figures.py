"""Figures of sections 1-3: every piece of text prints at 7 pt or more
once the PDF scales the figure to its text width (about 14 cm); in
every figure, drawn from the report's parameters, no label or legend
covers a curve, a marker or another label (Figure 3.3(a) once stacked
"base", "A", "B" and "C" on one another and on the curves)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

from a2.config import params
from a2.questions import (
    figures,
    hyperopt,
    minnorm,
    nqm,
    scaling,
    weightdecay,
)
from a2.report.figures import MIN_PRINT_PT, PRINT_WIDTH, SMALL, WIDTH


def _figures():
    runs = minnorm.sgd_experiment(6, 15, 2, 2, 1.0, 50, seed=0)
    trajs = minnorm.adaptive_experiment(0.05, 50, 0.9, 1e-8)
    trials = hyperopt.experiment(12, 5, 2, 201, seed=0)
    _, comp = weightdecay.decay_experiment(
        15, 6, 0.02, 0.01, 0.01, 50, 0.9, 1e-8, seed=0
    )
    p = params.load("3-resources")  # the report's, for the layout
    r = nqm.lr_vs_batch(
        p.curvature,
        p.noise_std,
        p.batch_sizes,
        p.steps,
        p.trials,
        p.grid_points,
        p.seed,
    )
    curve = nqm.steps_curve(p.d, p.target_loss, p.grid_points)
    pts = nqm.operating_points(curve, p.d, p.target_loss, p.grid_points)
    base = scaling.baseline_steps(p.base_params, p.base_steps)
    opts = scaling.options(p.base_params, base, p.compute_factor)
    curves = scaling.curves(p.base_params, p.compute_factor)
    return {
        "sgd_min_norm": figures.sgd_min_norm(runs),
        "adaptive_paths": figures.adaptive_paths(trajs),
        "one_step_loss": figures.one_step_loss(trials),
        "decay_gaps": figures.decay_gaps(comp),
        "lr_vs_batch": figures.lr_vs_batch(r, curve, p.curvature),
        "steps_vs_batch": figures.steps_vs_batch(curve, pts),
        "scaling_options": figures.scaling_options(
            curves, opts, p.compute_factor
        ),
    }


FIGURES = _figures()


def test_smallest_drawn_font_prints_at_seven_points():
    assert SMALL * PRINT_WIDTH / WIDTH == pytest.approx(MIN_PRINT_PT)


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_label_and_legend_prints_at_seven_points_or_more(name):
    fig = FIGURES[name]
    FigureCanvasAgg(fig).draw()  # creates the tick labels
    scale = PRINT_WIDTH / fig.get_figwidth()
    small = sorted(
        {
            (round(t.get_fontsize() * scale, 2), t.get_text())
            for t in fig.findobj(Text)
            if t.get_text().strip()
            and t.get_visible()
            and t.get_fontsize() * scale < MIN_PRINT_PT - 1e-9
        }
    )
    assert small == []


# --- section 3: no label or legend covers a curve, a marker or another -----

SECTION_3 = ("lr_vs_batch", "steps_vs_batch", "scaling_options")


def _boxes(fig, renderer):
    """(name, display box) of every annotation and legend of ``fig``,
    with the axes it lies in (None for a figure legend)."""
    out = []
    for ax in fig.axes:
        for t in ax.texts:
            out.append((f"label {t.get_text()!r}", t, ax))
        if ax.get_legend() is not None:
            out.append(("legend", ax.get_legend(), ax))
    out += [("figure legend", leg, None) for leg in fig.legends]
    return [(n, a.get_window_extent(renderer), ax) for n, a, ax in out]


def _drawn_points(line, renderer) -> np.ndarray:
    """Display points along a line (its segments sampled finely) and its
    markers, inside its axes."""
    xy = line.get_transform().transform(line.get_xydata())
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if line.get_linestyle() not in ("None", "", " ") and len(xy) > 1:
        t = np.linspace(0, 1, 50)[:, None, None]
        xy = (xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2)
    box = line.axes.get_window_extent(renderer)
    return xy[_within(box, xy)]


def _within(box, xy: np.ndarray) -> np.ndarray:
    """Which display points ``xy`` (n, 2) lie in ``box``, edges in."""
    x, y = xy[:, 0], xy[:, 1]
    return (box.x0 <= x) & (x <= box.x1) & (box.y0 <= y) & (y <= box.y1)


def overlaps(fig) -> list[str]:
    """Annotations and legends that cover a curve or a marker of their
    axes, or one another."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    boxes = _boxes(fig, renderer)
    found = []
    for name, box, ax in boxes:
        for line in [] if ax is None else ax.get_lines():
            pad = line.get_markersize() * fig.dpi / 72 / 2
            if line.get_marker() in (None, "None", "", " "):
                pad = line.get_linewidth() * fig.dpi / 72 / 2
            grown = box.expanded(1, 1).padded(pad)
            pts = _drawn_points(line, renderer)
            if _within(grown, pts).any():
                found.append(f"{name} covers {line.get_label()!r}")
    for i, (n1, b1, _) in enumerate(boxes):
        for n2, b2, _ in boxes[i + 1 :]:
            if b1.overlaps(b2):
                found.append(f"{n1} overlaps {n2}")
    return found


def test_the_overlap_finder_sees_a_label_on_a_curve():
    from a2.report.figures import figure

    fig, ax = figure(1)
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.annotate("on it", (0.5, 0.5))
    assert overlaps(fig) == ["label 'on it' covers 'diagonal'"]


@pytest.mark.parametrize("name", SECTION_3)
def test_section_3_labels_cover_no_curve_and_no_other_label(name):
    assert overlaps(FIGURES[name]) == []


def _section_1_2_figures():
    """Sections 1-2's figures drawn from the report's parameters, as
    printed (Figure 2.2(b)'s legend once covered weights' markers)."""
    p = params.load("1-optimization")
    q = params.load("2-hyperparameters")
    runs = minnorm.sgd_experiment(
        p.n, p.d, p.instances, p.batch_size, p.eta, p.steps, p.seed
    )
    trajs = minnorm.adaptive_experiment(
        p.adaptive_lr, p.adaptive_steps, p.beta, p.eps
    )
    trials = hyperopt.experiment(q.n, q.d, q.trials, q.grid_points, q.seed)
    _, comp = weightdecay.decay_experiment(
        q.n,
        q.d,
        q.eta,
        q.adaptive_lr,
        q.weight_decay,
        q.steps,
        q.beta,
        q.eps,
        q.seed,
    )
    return {
        "sgd_min_norm": lambda: figures.sgd_min_norm(runs),
        "adaptive_paths": lambda: figures.adaptive_paths(trajs),
        "one_step_loss": lambda: figures.one_step_loss(trials),
        "decay_gaps": lambda: figures.decay_gaps(comp),
    }


SECTIONS_1_2 = _section_1_2_figures()


@pytest.mark.parametrize("name", sorted(SECTIONS_1_2))
def test_sections_1_2_labels_cover_no_curve_marker_or_label(name):
    assert overlaps(SECTIONS_1_2[name]()) == []


# Words a reader of sections 1-2 would need the code for: an undefined
# projector, a number type, an abbreviation the chapters never spell out.
CODE_WORDS = re.compile(r"P_|float64|\bGD\b")


@pytest.mark.parametrize(
    "name", ("sgd_min_norm", "adaptive_paths", "one_step_loss", "decay_gaps")
)
def test_section_1_2_figures_use_only_the_chapters_words(name):
    texts = [t.get_text() for t in FIGURES[name].findobj(Text)]
    found = [t for t in texts if CODE_WORDS.search(t)]
    assert found == []


def test_figure_1_2_keeps_both_solutions_clear_of_its_legend():
    """The limits of Figure 1.2(a) are drawn where a reader sees them:
    not under the legend (the adaptive limit once hid behind it)."""
    fig = FIGURES["adaptive_paths"]
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent()
    points = (
        minnorm.min_norm_solution(minnorm.HINT_X, minnorm.HINT_T),
        minnorm.adaptive_limit(minnorm.HINT_X[0], float(minnorm.HINT_T[0])),
    )
    for point in points:
        x, y = ax.transData.transform(point)
        assert not box.contains(x, y), point


def test_figure_2_1_marks_eta_star_with_table_2_1s_digits():
    trials = hyperopt.experiment(12, 5, 2, 201, seed=0)
    shown = f"{trials[0].eta_star:.{hyperopt.ETA_STAR_DIGITS[1]}f}"
    fig = figures.one_step_loss(trials)
    assert any(shown in t.get_text() for t in fig.findobj(Text)), shown
