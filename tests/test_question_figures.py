"""Figures of sections 1-3: every piece of text prints at 7 pt or more
once the PDF scales the figure to its text width (about 14 cm)."""

from __future__ import annotations

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
