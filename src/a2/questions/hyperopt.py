"""Question 2.1: the loss after one gradient step as a function of the
learning rate, its derivatives and its minimiser.

Loss: L(w) = (1/n) ||X w - t||^2, gradient (2/n) X^T (X w - t). With
a = X w0 - t, one step gives w1 = w0 - (2 eta / n) X^T a and

    L1(eta) = c0 - c1 eta + c2 eta^2,
    c0 = ||a||^2 / n, c1 = 4 ||X^T a||^2 / n^2, c2 = 4 ||X X^T a||^2 / n^3.

Used by report/2-hyperparameters.qmd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from a2.report import check, check_true


def random_problem(
    n: int, d: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, t, w0): Gaussian data, targets and a random starting point."""
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    return X, rng.standard_normal(n), rng.standard_normal(d)


def loss(X: np.ndarray, t: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(1/n) ||X w - t||^2; w may be (d,) or a stack (k, d)."""
    return np.mean((np.atleast_2d(w) @ X.T - t) ** 2, axis=1)


def gd_step(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: np.ndarray | float
) -> np.ndarray:
    """w1 = w0 - (2 eta / n) X^T (X w0 - t), one row per eta."""
    n = X.shape[0]
    grad = 2.0 / n * X.T @ (X @ w0 - t)
    return w0 - np.multiply.outer(np.atleast_1d(eta), grad)


def coefficients(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray
) -> tuple[float, float, float]:
    """(c0, c1, c2) with L1(eta) = c0 - c1 eta + c2 eta^2."""
    n = X.shape[0]
    a = X @ w0 - t
    xta = X.T @ a
    return (
        float(a @ a) / n,
        4 * float(xta @ xta) / n**2,
        4 * float(np.sum((X @ xta) ** 2)) / n**3,
    )


def l1_closed(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: np.ndarray | float
) -> np.ndarray:
    """The derived L1(eta)."""
    c0, c1, c2 = coefficients(X, t, w0)
    eta = np.asarray(eta, dtype=float)
    return c0 - c1 * eta + c2 * eta**2


def dl1_closed(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: np.ndarray | float
) -> tuple[np.ndarray, float]:
    """Derived (dL1/deta, d2L1/deta2) = (-c1 + 2 c2 eta, 2 c2)."""
    _, c1, c2 = coefficients(X, t, w0)
    return -c1 + 2 * c2 * np.asarray(eta, dtype=float), 2 * c2


def eta_star(X: np.ndarray, t: np.ndarray, w0: np.ndarray) -> float:
    """eta* = c1 / (2 c2) = n ||X^T a||^2 / (2 ||X X^T a||^2)."""
    _, c1, c2 = coefficients(X, t, w0)
    return c1 / (2 * c2)


def l1_autograd(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: float
) -> tuple[float, float, float]:
    """Independent route: (L1, dL1/deta, d2L1/deta2) by torch autograd.

    Both the inner gradient and the outer derivatives come from autograd,
    so no hand-derived formula is involved.
    """
    Xt = torch.tensor(X, dtype=torch.float64)
    tt = torch.tensor(t, dtype=torch.float64)
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    e = torch.tensor(float(eta), dtype=torch.float64, requires_grad=True)
    inner = torch.mean((Xt @ w - tt) ** 2)
    (g,) = torch.autograd.grad(inner, w, create_graph=True)
    l1 = torch.mean((Xt @ (w - e * g) - tt) ** 2)
    (d1,) = torch.autograd.grad(l1, e, create_graph=True)
    (d2,) = torch.autograd.grad(d1, e)
    return float(l1.detach()), float(d1.detach()), float(d2)


@dataclass
class Trial:
    """One random problem of question 2.1."""

    X: np.ndarray
    t: np.ndarray
    w0: np.ndarray
    eta_star: float  # derived minimiser
    eta_grid: float  # argmin of a grid search over actual GD steps
    spacing: float  # grid spacing, the grid search's resolution
    etas: np.ndarray  # the probe learning rates for derivatives
    derivs: np.ndarray  # derived (L1, dL1, d2L1) at the probes, (k, 3)
    autograd: np.ndarray  # autograd (L1, dL1, d2L1) at the probes, (k, 3)
    grid: np.ndarray  # the grid of learning rates
    grid_loss: np.ndarray  # L(w1) at the grid, from actual steps


def experiment(
    n: int, d: int, trials: int, grid_points: int, seed: int
) -> list[Trial]:
    """Derived eta*, L1 and its derivatives against autograd and a grid
    search, on `trials` random problems."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        X, t, w0 = random_problem(n, d, rng)
        # A range that brackets the minimiser without using it: eta* is
        # n/2 times a Rayleigh quotient of (X X^T)^{-1} on range(X), so it
        # is at most n / (2 s_min^2); the grid goes to twice that.
        s_min = np.linalg.svd(X, compute_uv=False)[min(n, d) - 1]
        grid = np.linspace(0.0, n / s_min**2, grid_points)
        grid_loss = loss(X, t, gd_step(X, t, w0, grid))
        probes = rng.uniform(0.0, grid[-1], size=5)
        d1, d2 = dl1_closed(X, t, w0, probes)
        derived = np.stack(
            [l1_closed(X, t, w0, probes), d1, np.full_like(probes, d2)], axis=1
        )
        auto = np.array([l1_autograd(X, t, w0, e) for e in probes])
        out.append(
            Trial(
                X,
                t,
                w0,
                eta_star(X, t, w0),
                float(grid[np.argmin(grid_loss)]),
                float(grid[1] - grid[0]),
                probes,
                derived,
                auto,
                grid,
                grid_loss,
            )
        )
    return out


# --- the checks and table of section 2.1 ------------------------------------


def check_loss(trials: list[Trial]) -> None:
    """2.1.1: the derived L1(eta) against the loss after an actual step
    and against automatic differentiation, at random learning rates."""
    derived = np.array([tr.derivs for tr in trials])  # (trials, probes, 3)
    auto = np.array([tr.autograd for tr in trials])
    actual = np.array(
        [
            loss(tr.X, tr.t, gd_step(tr.X, tr.t, tr.w0, tr.etas))
            for tr in trials
        ]
    )
    check(
        "ℒ₁(η) = loss after an actual step",
        derived[..., 0],
        actual,
        rtol=1e-12,
        atol=1e-15,
    )
    check(
        "ℒ₁(η) = automatic differentiation",
        derived[..., 0],
        auto[..., 0],
        rtol=1e-9,
        atol=1e-12,
    )


def check_curvature(trials: list[Trial]) -> float:
    """2.1.2: the derived second derivative against automatic
    differentiation, and its sign; returns the smallest found."""
    derived = np.array([tr.derivs for tr in trials])
    auto = np.array([tr.autograd for tr in trials])
    check(
        "d²ℒ₁/dη² = automatic differentiation",
        derived[..., 2],
        auto[..., 2],
        rtol=1e-9,
        atol=1e-12,
    )
    smallest = float(auto[..., 2].min())
    check_true(
        "d²ℒ₁/dη² > 0 on every problem (automatic differentiation)",
        smallest > 0,
    )
    return smallest


def check_eta_star(trials: list[Trial]) -> None:
    """2.1.3: the derived slope against automatic differentiation, eta*
    against a grid search over actual steps, and the slope at eta*."""
    derived = np.array([tr.derivs for tr in trials])
    auto = np.array([tr.autograd for tr in trials])
    check(
        "dℒ₁/dη = automatic differentiation",
        derived[..., 1],
        auto[..., 1],
        rtol=1e-9,
        atol=1e-12,
    )
    check(
        "η∗ = grid-search minimum, in grid steps (within one)",
        [(tr.eta_star - tr.eta_grid) / tr.spacing for tr in trials],
        np.zeros(len(trials)),
        atol=1.0,
    )
    check(
        "dℒ₁/dη at η∗ = 0 (automatic differentiation)",
        np.zeros(len(trials)),
        [l1_autograd(tr.X, tr.t, tr.w0, tr.eta_star)[1] for tr in trials],
        atol=1e-10,
    )


ETA_STAR_HEADER = (
    "problem",
    "$\\eta^*$ derived",
    "$\\eta$ grid minimum",
    "grid step",
    "$\\mathcal{L}_0$",
    "$\\mathcal{L}_1(\\eta^*)$",
)
ETA_STAR_DIGITS = (0, 4, 4, 4, 4, 4)


def eta_star_rows(trials: list[Trial]) -> list[tuple]:
    """2.1.3's table: per problem, eta* against the grid search, and the
    loss before and after the optimal step."""
    return [
        (
            i + 1,
            tr.eta_star,
            tr.eta_grid,
            tr.spacing,
            float(l1_closed(tr.X, tr.t, tr.w0, 0.0)),
            float(l1_closed(tr.X, tr.t, tr.w0, tr.eta_star)),
        )
        for i, tr in enumerate(trials)
    ]
