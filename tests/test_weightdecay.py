"""Question 2.2: L2 regularisation against weight decay."""

import numpy as np

from a2.questions import weightdecay as wd
from a2.report import rules


def _problem(seed: int = 0, spread: float = 1.0):
    return wd.random_problem(15, 6, np.random.default_rng(seed), spread)


def test_l2_step_equals_decay_step_when_lambda_tilde_is_lambda_over_2eta():
    X, t, w0 = _problem()
    eta, lam = 0.05, 0.02
    np.testing.assert_allclose(
        wd.step_l2(X, t, w0, eta, wd.matching_l2(lam, eta)),
        wd.step_decay(X, t, w0, eta, lam),
        rtol=1e-13,
    )
    assert wd.matching_l2(lam, eta) == lam / (2 * eta)


def test_a_different_lambda_tilde_gives_a_different_step():
    X, t, w0 = _problem()
    assert not np.allclose(
        wd.step_l2(X, t, w0, 0.05, 0.02 / 0.05),
        wd.step_decay(X, t, w0, 0.05, 0.02),
    )


def test_derived_steps_match_autograd_steps():
    X, t, w0 = _problem(1)
    np.testing.assert_allclose(
        wd.step_l2(X, t, w0, 0.1, 0.3),
        wd.step_l2_autograd(X, t, w0, 0.1, 0.3),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        wd.step_decay(X, t, w0, 0.1, 0.03),
        wd.step_decay_autograd(X, t, w0, 0.1, 0.03),
        rtol=1e-12,
    )


def test_gd_trajectories_coincide_but_adaptive_ones_do_not():
    _, comp = wd.decay_experiment(
        15, 6, 0.02, 0.01, 0.01, 300, 0.9, 1e-8, seed=2
    )
    assert comp["gd"].gap.max() < 1e-12
    assert comp["rmsprop"].gap[-1] > 1e-2
    assert comp["adam"].gap[-1] > 1e-2


def test_adam_with_l2_converges_to_the_ridge_solution():
    X, t, w0 = _problem(3, spread=10.0)
    traj = wd.train(X, t, w0, "adam", 0.01, 3000, 0.01, "l2")
    ridge = wd.ridge_solution(X, t, wd.matching_l2(0.01, 0.01))
    np.testing.assert_allclose(traj[-1], ridge, atol=1e-6)


def _comparison(gap: float, norm: float = 1.0) -> wd.Comparison:
    a = np.zeros((3, 2))
    a[:, 0] = norm
    b = a.copy()
    b[-1, 1] = gap
    return wd.Comparison("gd", a, b, np.linalg.norm(a - b, axis=1))


def word(c: wd.Comparison) -> str:
    return rules.agreement(c.largest_gap, c.largest_norm)


def test_trajectories_coincide_below_rounding_and_part_ways_above():
    assert word(_comparison(0.5 * rules.SAME_RTOL)) == "coincide"
    assert word(_comparison(2 * rules.SAME_RTOL)) == "part ways"


def test_the_rule_is_relative_to_the_size_of_the_weights():
    c = _comparison(50 * rules.SAME_RTOL, norm=100.0)
    assert c.largest_norm == 100.0 and word(c) == "coincide"
