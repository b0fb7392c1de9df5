"""Question 2.2: L2 regularisation against (decoupled) weight decay.

L2:           L~(w) = (1/n) ||X w - t||^2 + lam_tilde ||w||^2, one GD step
              w1 = (1 - 2 eta lam_tilde) w0 - (2 eta / n) X^T (X w0 - t).
Weight decay: equation (5), w1 = (1 - lam) w0 - (2 eta / n) X^T (X w0 - t).
They agree for every w0 exactly when lam_tilde = lam / (2 eta).

Under an adaptive method the L2 term's gradient is rescaled per coordinate
with the data gradient; decoupled decay is not (Loshchilov and Hutter).

Used by report/2-hyperparameters.qmd; its verdict word comes from
``a2.report.rules.agreement``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from a2.questions.minnorm import Stepper
from a2.report import Verdict, VerdictTable, rules

METHODS = ("gd", "rmsprop", "adam")


def random_problem(
    n: int, d: int, rng: np.random.Generator, spread: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, t, w0); feature j is scaled by spread^(j/(d-1)) so gradients
    differ in size per coordinate (what adaptive methods react to)."""
    scales = spread ** (np.arange(d) / max(d - 1, 1))
    X = rng.standard_normal((n, d)) / np.sqrt(d) * scales
    return X, rng.standard_normal(n), rng.standard_normal(d)


def matching_l2(lam: float, eta: float) -> float:
    """Derived lam_tilde that makes one L2 step equal one decay step."""
    return lam / (2 * eta)


def step_l2(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: float, lam_tilde: float
) -> np.ndarray:
    """Derived w1 for gradient descent on L~."""
    n = X.shape[0]
    return (1 - 2 * eta * lam_tilde) * w0 - 2 * eta / n * X.T @ (X @ w0 - t)


def step_decay(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: float, lam: float
) -> np.ndarray:
    """Derived w1 for equation (5): decay, then a gradient step on L."""
    n = X.shape[0]
    return (1 - lam) * w0 - 2 * eta / n * X.T @ (X @ w0 - t)


def _autograd_grad(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, lam_tilde: float
) -> torch.Tensor:
    Xt = torch.tensor(X, dtype=torch.float64)
    tt = torch.tensor(t, dtype=torch.float64)
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    obj = torch.mean((Xt @ w - tt) ** 2) + lam_tilde * torch.sum(w**2)
    (g,) = torch.autograd.grad(obj, w)
    return g


def step_l2_autograd(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: float, lam_tilde: float
) -> np.ndarray:
    """Independent route: w0 - eta * (autograd gradient of L~)."""
    return w0 - eta * _autograd_grad(X, t, w0, lam_tilde).numpy()


def step_decay_autograd(
    X: np.ndarray, t: np.ndarray, w0: np.ndarray, eta: float, lam: float
) -> np.ndarray:
    """Independent route: (1 - lam) w0 - eta * (autograd gradient of L)."""
    return (1 - lam) * w0 - eta * _autograd_grad(X, t, w0, 0.0).numpy()


def ridge_solution(
    X: np.ndarray, t: np.ndarray, lam_tilde: float
) -> np.ndarray:
    """Minimiser of L~: (X^T X / n + lam_tilde I)^{-1} X^T t / n."""
    n, d = X.shape
    return np.linalg.solve(X.T @ X / n + lam_tilde * np.eye(d), X.T @ t / n)


def train(
    X: np.ndarray,
    t: np.ndarray,
    w0: np.ndarray,
    method: str,
    lr: float,
    steps: int,
    lam: float,
    coupling: str,
    beta: float = 0.9,
    eps: float = 1e-8,
) -> np.ndarray:
    """Trajectory (steps + 1, d) with either regulariser.

    coupling "l2": the gradient of L~ with lam_tilde = lam / (2 lr) goes
    through the method's preconditioner; "decoupled": equation (5),
    w <- (1 - lam) w - (method's step on L).
    """
    if coupling not in ("l2", "decoupled"):
        raise ValueError(f"coupling {coupling!r}; valid: l2, decoupled")
    n, d = X.shape
    lam_tilde = matching_l2(lam, lr)
    stepper = Stepper(method, lr, d, beta, eps, methods=METHODS)
    traj = np.empty((steps + 1, d))
    traj[0] = w0
    for k in range(steps):
        w = traj[k]
        g = 2.0 / n * X.T @ (X @ w - t)
        if coupling == "l2":
            g = g + 2 * lam_tilde * w
        step = stepper.update(g)
        traj[k + 1] = (
            (1 - lam) * w - step if coupling == "decoupled" else w - step
        )
    return traj


@dataclass
class Comparison:
    """L2 against decoupled decay for one method, same lam and lr."""

    method: str
    l2: np.ndarray  # trajectory with L2, (steps + 1, d)
    decoupled: np.ndarray  # trajectory with weight decay
    gap: np.ndarray  # ||w_l2 - w_decoupled|| per step

    @property
    def largest_gap(self) -> float:
        return float(self.gap.max())

    @property
    def largest_norm(self) -> float:
        """The largest weight norm on either trajectory (the scale that
        ``a2.report.rules.same_trajectory`` measures the gap against)."""
        norms = [
            np.linalg.norm(w, axis=1).max() for w in (self.l2, self.decoupled)
        ]
        return float(max(norms))


def decay_experiment(
    n: int,
    d: int,
    eta: float,
    lr: float,
    weight_decay: float,
    steps: int,
    beta: float,
    eps: float,
    seed: int,
    spread: float = 10.0,
) -> tuple[tuple[np.ndarray, np.ndarray], dict[str, Comparison]]:
    """Question 2.2.3: run every method with both regularisers.

    Gradient descent uses `eta`, the adaptive methods `lr`; returns the
    problem (X, t) and one Comparison per method.
    """
    rng = np.random.default_rng(seed)
    X, t, w0 = random_problem(n, d, rng, spread)
    out = {}
    for method in METHODS:
        rate = eta if method == "gd" else lr
        a = train(X, t, w0, method, rate, steps, weight_decay, "l2", beta, eps)
        b = train(
            X, t, w0, method, rate, steps, weight_decay, "decoupled", beta, eps
        )
        out[method] = Comparison(method, a, b, np.linalg.norm(a - b, axis=1))
    return (X, t), out


LABELS = {"gd": "gradient descent", "rmsprop": "RMSProp", "adam": "Adam"}

GAPS = VerdictTable(
    (
        "method",
        "largest distance",
        "largest $\\lVert\\mathbf{w}\\rVert_2$",
    ),
    (None, 2, 2),
    (Verdict("trajectories", rules.agreement, (1, 2)),),
)
"""2.2.3: L2 against decoupled decay per method, and whether the two
trajectories coincide, decided from the two figures shown."""


def gap_figures(comp: dict[str, Comparison]) -> list[tuple[str, float, float]]:
    """The figures of :data:`GAPS`: per method, the largest distance
    between the two trajectories and the largest weight norm on them."""
    return [
        (LABELS[m], c.largest_gap, c.largest_norm) for m, c in comp.items()
    ]
