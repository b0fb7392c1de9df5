"""Question 2.1: L1(eta), its derivatives and eta*."""

import numpy as np
import pytest

from a2.questions import hyperopt


@pytest.fixture
def problem():
    return hyperopt.random_problem(12, 5, np.random.default_rng(0))


def test_one_step_loss_closed_form_matches_an_actual_gd_step(problem):
    X, t, w0 = problem
    etas = np.linspace(0, 5, 11)
    np.testing.assert_allclose(
        hyperopt.l1_closed(X, t, w0, etas),
        hyperopt.loss(X, t, hyperopt.gd_step(X, t, w0, etas)),
        rtol=1e-12,
    )


def test_first_and_second_derivatives_match_autograd(problem):
    X, t, w0 = problem
    for eta in (0.0, 0.7, 3.1):
        d1, d2 = hyperopt.dl1_closed(X, t, w0, eta)
        auto = hyperopt.l1_autograd(X, t, w0, eta)
        np.testing.assert_allclose(
            [hyperopt.l1_closed(X, t, w0, eta), d1, d2], auto, rtol=1e-10
        )


def test_one_step_loss_is_convex_in_the_learning_rate(problem):
    X, t, w0 = problem
    assert hyperopt.dl1_closed(X, t, w0, 0.0)[1] > 0


def test_eta_star_is_the_grid_search_minimiser_and_a_stationary_point():
    for tr in hyperopt.experiment(12, 5, 3, 4001, seed=1):
        assert abs(tr.eta_star - tr.eta_grid) <= tr.spacing
        assert hyperopt.l1_autograd(tr.X, tr.t, tr.w0, tr.eta_star)[1] == (
            pytest.approx(0.0, abs=1e-10)
        )
