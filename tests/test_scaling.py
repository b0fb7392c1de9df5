"""Question 3.2: Kaplan et al. (2020) fits and the three options."""

import numpy as np
import pytest

from a2.questions import scaling


def test_constants_are_kaplan_table_3_and_eq_1_4():
    assert scaling.NS == dict(
        alpha_n=0.077, alpha_s=0.76, n_c=6.5e13, s_c=2.1e3
    )
    assert (scaling.B_STAR, scaling.ALPHA_B) == (2e8, 0.21)


def test_s_min_solves_eq_5_4():
    loss, s_min = scaling.trained_loss(1e8, 1e6, 2e4)
    assert s_min * (1 + scaling.b_crit(loss) / 1e6) == pytest.approx(2e4)


def test_frontier_exponent_matches_numerical_compute_optimum():
    c = np.logspace(-4, 1, 4)
    n_opt, _ = scaling.compute_optimal(c)
    slope = np.polyfit(np.log(c), np.log(n_opt), 1)[0]
    assert slope == pytest.approx(scaling.frontier_exponent(), rel=1e-4)


def test_increasing_model_size_beats_more_steps_and_bigger_batches():
    base = scaling.frontier_steps(1e8)
    o = scaling.options(1e8, base, 10.0)
    assert o["C"].loss < o["A"].loss < o["baseline"].loss
    assert o["C"].loss < o["B"].loss < o["baseline"].loss
    assert o["A"].pf_days == pytest.approx(10 * o["baseline"].pf_days)


def test_a_larger_batch_at_most_doubles_s_min_from_the_critical_batch():
    o = scaling.options(1e8, 2e4, 1000.0)
    assert o["B"].s_min < 2 * o["baseline"].s_min


def _opts(**losses):
    return {
        k: scaling.Option(k, 1.0, 1.0, 1.0, 1.0, v, 1.0)
        for k, v in losses.items()
    }


def test_best_option_is_the_lowest_loss_by_more_than_the_tie():
    tie = scaling.LOSS_TIE
    assert (
        scaling.best_option(_opts(baseline=2.0, A=3.0, B=3.1, C=3.0 - 2 * tie))
        == "C"
    )
    assert (
        scaling.best_option(
            _opts(baseline=2.0, A=3.0, B=3.1, C=3.0 - 0.5 * tie)
        )
        == "none"
    )


def test_allocation_exponents_match_kaplan_eq_1_8():
    e = scaling.allocation_exponents()
    a_c = 1 / (1 / 0.76 + 1 / 0.21 + 1 / 0.077)
    assert e == pytest.approx(
        {"N": a_c / 0.077, "B": a_c / 0.21, "S": a_c / 0.76}
    )
    assert e["N"] == pytest.approx(scaling.frontier_exponent())
