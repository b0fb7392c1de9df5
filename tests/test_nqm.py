"""Question 3.1: the noisy quadratic model."""

import numpy as np
import pytest

from a2.questions import nqm


def test_recursion_matches_monte_carlo_with_per_example_noise():
    etas = np.array([0.05, 0.2, 0.6])
    rng = np.random.default_rng(0)
    for b in (1, 8):
        mc, se = nqm.monte_carlo_loss(1.5, 2.0, b, etas, 20, 4000, rng)
        closed = nqm.expected_loss(1.5, 2.0, b, etas, 20)
        assert np.all(np.abs(mc - closed) < 5 * se)


def test_steady_state_is_the_fixed_point_of_the_recursion():
    etas = np.array([0.1, 0.5, 1.5])
    np.testing.assert_allclose(
        nqm.expected_loss(
            1.0,
            1.0,
            4,
            etas,
            2000,
            w0=np.sqrt(2 * nqm.steady_state_loss(1.0, 1.0, 4, 0.1)),
        ),
        nqm.steady_state_loss(1.0, 1.0, 4, etas),
        rtol=1e-9,
    )


def test_best_learning_rate_grows_with_batch_size():
    r = nqm.lr_vs_batch(1.0, 1.0, [1, 16, 256], 50, 200, 10, seed=0)
    assert np.all(np.diff(r.eta_closed) > 0)


def test_steps_curve_has_slope_minus_one_then_a_plateau():
    c = nqm.steps_curve(100, 0.1, 30, log2_max_batch=12)
    assert list(c.batch[:4]) == [1, 2, 3, 4]  # whole batch sizes
    small = np.log2(c.steps[1] / c.steps[0])  # B = 1 to 2
    large = np.log2(c.steps[-1] / c.steps[-3])
    assert abs(small + 1) < 0.1
    assert abs(large) < 0.05


def test_knee_is_where_steps_reach_twice_perfect_scaling():
    c = nqm.steps_curve(100, 0.1, 30, log2_max_batch=12)
    ratio = nqm.interp_steps(c, c.knee) * c.knee / (c.steps[0] * c.batch[0])
    assert abs(ratio - 2) < 0.05


def test_preconditioning_helps_most_on_the_plateau():
    c = nqm.steps_curve(100, 0.1, 30, log2_max_batch=12)
    fix = nqm.remedies(100, 0.1, 30, nqm.point_batches(c.knee)["B"])
    assert fix["double_batch"] / fix["steps"] > 0.95
    assert fix["precond"] / fix["steps"] < 0.5


def test_operating_points_are_computed_at_their_own_batch_sizes():
    c = nqm.steps_curve(100, 0.1, 30, log2_max_batch=12)
    pts = nqm.operating_points(c, 100, 0.1, 30)
    assert list(pts) == ["A", "C", "B"]
    assert pts["C"].batch == round(c.knee)  # a batch size is a count
    a = round(round(c.knee) / 16)
    assert pts["A"].steps == nqm.remedies(100, 0.1, 30, a)["steps"]
    assert pts["B"].examples == pts["B"].batch * pts["B"].steps


def test_growth_exponent_ignores_learning_rates_at_the_cap():
    b = 2.0 ** np.arange(8)
    eta = np.minimum(0.01 * b, 0.5)
    assert nqm.growth_exponent(b, eta, cap=0.5) == pytest.approx(1.0)


def test_points_a_and_b_follow_from_c_as_printed():
    """B is 16 times C's whole batch size and A the whole number nearest
    a sixteenth of it: a reader multiplies the printed batch sizes."""
    assert nqm.point_batches(78.34) == {"A": 5, "C": 78, "B": 1248}
    assert nqm.point_batches(20.4) == {"A": 1, "C": 20, "B": 320}
    assert nqm.point_batches(3.0)["A"] == 1  # never a batch of 0


def test_regime_boundary_on_the_computed_curve_is_the_knee():
    """Below the knee the examples stay under twice the fewest, above it
    they exceed it; the steps fall to twice the fewest at a smaller batch
    size (the curve bends more sharply than S_min (1 + B_crit / B))."""
    c = nqm.steps_curve(100, 0.1, 30, log2_max_batch=12)
    examples = c.batch * c.steps / nqm.fewest_examples(c)
    assert np.array_equal(examples < 2, c.batch < c.knee)
    boundary = nqm.steps_boundary(c)
    assert nqm.interp_steps(c, boundary) == pytest.approx(
        2 * nqm.fewest_steps(c), rel=0.05
    )
    assert boundary < c.knee


def test_table_3_3_regime_reads_the_critical_batch_size_of_point_c():
    c = nqm.steps_curve(100, 0.1, 30, log2_max_batch=12)
    pts = nqm.operating_points(c, 100, 0.1, 30)
    rows = nqm.REMEDIES.rows(nqm.remedy_figures(pts, nqm.fewest_steps(c)))
    assert [r[2] for r in rows] == [pts["C"].batch] * 2
    assert [r[5] for r in rows] == ["noise dominated", "curvature dominated"]
