"""Figures of sections 1-3: every piece of text prints at 7 pt or more
once the PDF scales the figure to its text width (about 14 cm)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text

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
    r = nqm.lr_vs_batch(1.0, 1.0, [1, 4, 16], 20, 50, 8, seed=0)
    curve = nqm.steps_curve(100, 0.1, 20, log2_max_batch=10)
    pts = nqm.operating_points(curve, 100, 0.1, 20)
    opts = scaling.options(1e8, scaling.frontier_steps(1e8), 10.0)
    curves = scaling.curves(
        1e8,
        10.0,
        sizes=(1e4, 1e6, 1e8),
        steps=np.logspace(3, 5, 20),
        sweep_steps=np.logspace(3, 5, 5),
    )
    return {
        "sgd_min_norm": figures.sgd_min_norm(runs),
        "adaptive_paths": figures.adaptive_paths(trajs),
        "one_step_loss": figures.one_step_loss(trials),
        "decay_gaps": figures.decay_gaps(comp),
        "lr_vs_batch": figures.lr_vs_batch(r, curve, 1.0),
        "steps_vs_batch": figures.steps_vs_batch(curve, pts),
        "scaling_options": figures.scaling_options(curves, opts, 10.0),
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
