"""Questions 1.1-1.2: which solution SGD and adaptive methods find."""

import numpy as np
import pytest

from a2.questions import minnorm


def _problem(seed: int = 0, n: int = 6, d: int = 15):
    return minnorm.random_problem(n, d, np.random.default_rng(seed))


def test_closed_form_min_norm_solution_matches_lapack_lstsq():
    X, t = _problem()
    np.testing.assert_allclose(
        minnorm.min_norm_solution(X, t),
        minnorm.min_norm_lstsq(X, t),
        atol=1e-12,
    )


def test_min_norm_solution_is_shorter_than_any_other_solution():
    X, t = _problem()
    w = minnorm.min_norm_solution(X, t)
    u = np.linalg.svd(X)[2][-1]  # a null-space direction of X
    np.testing.assert_allclose(X @ (w + u), t, atol=1e-12)
    assert np.linalg.norm(w) < np.linalg.norm(w + 0.1 * u)


def test_minibatch_sgd_from_zero_reaches_min_norm_and_stays_in_row_space():
    runs = minnorm.sgd_experiment(6, 15, 2, 2, 1.0, 1500, seed=1)
    for r in runs:
        assert np.linalg.norm(r.w - r.w_star) < 1e-8
        assert r.off_row.max() < 1e-12


def test_sgd_experiment_refuses_an_underparameterised_problem():
    with pytest.raises(ValueError):
        minnorm.sgd_experiment(10, 5, 1, 2, 0.1, 10, seed=0)


@pytest.mark.parametrize("method", ["gd", "rmsprop", "adagrad", "adam"])
def test_first_step_matches_derivation(method):
    traj = minnorm.optimise(minnorm.HINT_X, minnorm.HINT_T, method, 0.05, 1)
    np.testing.assert_allclose(
        traj[1], minnorm.first_step([2.0, 1.0], 2.0, method, 0.05), rtol=1e-12
    )


def test_rmsprop_first_step_is_along_ones_not_along_x():
    w1 = minnorm.first_step([2.0, 1.0], 2.0, "rmsprop", 0.05, beta=0.9)
    np.testing.assert_allclose(w1, 0.05 / np.sqrt(0.1) * np.ones(2), rtol=1e-6)


def test_gradient_descent_reaches_min_norm_solution_of_hint_example():
    traj = minnorm.optimise(minnorm.HINT_X, minnorm.HINT_T, "gd", 0.05, 200)
    np.testing.assert_allclose(traj[-1], [0.8, 0.4], atol=1e-12)


@pytest.mark.parametrize("method", ["rmsprop", "adagrad", "adam"])
def test_adaptive_methods_converge_to_two_thirds_not_min_norm(method):
    traj = minnorm.optimise(minnorm.HINT_X, minnorm.HINT_T, method, 0.05, 2000)
    limit = minnorm.adaptive_limit([2.0, 1.0], 2.0)
    np.testing.assert_allclose(limit, [2 / 3, 2 / 3], rtol=1e-15)
    np.testing.assert_allclose(traj[-1], limit, atol=1e-6)
    assert np.linalg.norm(traj[-1]) > np.linalg.norm([0.8, 0.4]) + 0.04


def test_single_example_adaptive_limit_solves_and_is_no_shorter():
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, t = rng.standard_normal(4), float(rng.standard_normal())
        w = minnorm.adaptive_limit(x, t)
        assert x @ w == pytest.approx(t)
        assert np.linalg.norm(w) >= abs(t) / np.linalg.norm(x) - 1e-12


def test_is_min_norm_accepts_w_star_and_a_solution_within_tolerance():
    X, t = minnorm.HINT_X, minnorm.HINT_T
    w = np.array([0.8, 0.4])
    u = np.array([1.0, -2.0]) / np.sqrt(5)  # null space of x = [2, 1]
    assert minnorm.is_min_norm(X, t, w)
    assert minnorm.is_min_norm(X, t, w + 0.5 * minnorm.MIN_NORM_ATOL * u)
    assert not minnorm.is_min_norm(X, t, w + 2 * minnorm.MIN_NORM_ATOL * u)


def test_is_min_norm_rejects_the_adaptive_limit_of_the_hint():
    limit = minnorm.adaptive_limit([2.0, 1.0], 2.0)
    assert not minnorm.is_min_norm(minnorm.HINT_X, minnorm.HINT_T, limit)


def test_adam_overshoots_the_hint_limit_and_rmsprop_does_not():
    """Figure 1.2's caption and 1.2.2 say Adam passes [2/3, 2/3]."""
    trajs = minnorm.adaptive_experiment(0.05, 300, 0.9, 1e-8)
    x, t = minnorm.HINT_X[0], float(minnorm.HINT_T[0])
    assert minnorm.overshoot(trajs["adam"], x, t) > 0.1
    assert minnorm.overshoot(trajs["rmsprop"], x, t) < 1e-6


def test_table_1_1_prints_rounding_level_distances_as_powers_of_ten():
    assert minnorm.shown_distance(1.24e-16) == 1.24e-16
    assert minnorm.shown_distance(0.29814239) == 0.2981


def test_sgd_run_records_its_final_residual():
    (r,) = minnorm.sgd_experiment(6, 15, 1, 2, 1.0, 1500, seed=1)
    assert 0 <= r.residual < 1e-12
