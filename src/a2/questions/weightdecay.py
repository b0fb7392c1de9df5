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

from a2.config.params import Hyperparameters
from a2.questions.minnorm import Stepper
from a2.report import (
    Md,
    Verdict,
    VerdictTable,
    check,
    check_true,
    fmt,
    rules,
    sci,
)

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


# --- the checks and values of section 2.2 -----------------------------------


@dataclass
class OneStep:
    """2.2.1: one step of each kind on random problems, taken with
    autograd gradients (the independent route)."""

    problems: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    lam_tilde: float  # lambda / (2 eta)
    l2: np.ndarray  # the L2 step with lam_tilde, one row per problem
    decay: np.ndarray  # the weight-decay step


def check_one_step(p: Hyperparameters) -> OneStep:
    """2.2.1: both derived steps against steps taken with automatic
    differentiation's gradients, on random problems."""
    rng = np.random.default_rng(p.seed)
    problems = [random_problem(p.n, p.d, rng) for _ in range(p.trials)]
    lam_tilde = matching_l2(p.weight_decay, p.eta)
    l2 = np.array(
        [step_l2_autograd(X, t, w0, p.eta, lam_tilde) for X, t, w0 in problems]
    )
    decay = np.array(
        [
            step_decay_autograd(X, t, w0, p.eta, p.weight_decay)
            for X, t, w0 in problems
        ]
    )
    check(
        "derived L2 step = automatic differentiation",
        [step_l2(X, t, w0, p.eta, lam_tilde) for X, t, w0 in problems],
        l2,
        rtol=1e-12,
        atol=1e-15,
    )
    check(
        "derived decay step = automatic differentiation",
        [step_decay(X, t, w0, p.eta, p.weight_decay) for X, t, w0 in problems],
        decay,
        rtol=1e-12,
        atol=1e-15,
    )
    return OneStep(problems, lam_tilde, l2, decay)


@dataclass(frozen=True)
class MatchingFacts:
    """2.2.2's values as the prose prints them."""

    lam: Md
    eta: Md
    lam_tilde: Md  # lambda / (2 eta), from the two values printed
    wrong_gap: Md  # how far lambda / eta misses in one step


def check_matching(step: OneStep, p: Hyperparameters) -> MatchingFacts:
    """2.2.2: with lambda~ = lambda / (2 eta) the two steps agree; the
    distance lambda / eta would miss by."""
    check(
        "L2 step with coefficient λ/(2η) = decay step "
        "(automatic differentiation)",
        step.l2,
        step.decay,
        rtol=1e-12,
        atol=1e-15,
    )
    X, t, w0 = step.problems[-1]
    wrong = step_l2_autograd(X, t, w0, p.eta, p.weight_decay / p.eta)
    return MatchingFacts(
        lam=fmt(p.weight_decay),
        eta=fmt(p.eta),
        lam_tilde=fmt(step.lam_tilde),
        wrong_gap=sci(np.linalg.norm(wrong - step.decay[-1])),
    )


@dataclass(frozen=True)
class DecayFacts:
    """2.2.3's values as the prose prints them."""

    agree: dict[str, Md]  # rules.agreement per method
    steps: Md
    same_rtol: Md  # the rule's threshold
    lam: Md  # lambda, the decay per step
    eta_gd: Md  # gradient descent's learning rate
    eta_adaptive: Md  # RMSProp's and Adam's
    lam_tilde_gd: Md  # lambda / (2 eta) for each
    lam_tilde_adaptive: Md


def decay_facts(comp: dict[str, Comparison], p: Hyperparameters) -> DecayFacts:
    return DecayFacts(
        agree={
            m: fmt(rules.agreement(c.largest_gap, c.largest_norm))
            for m, c in comp.items()
        },
        steps=fmt(p.steps),
        same_rtol=sci(rules.SAME_RTOL, 0),
        lam=fmt(p.weight_decay),
        eta_gd=fmt(p.eta),
        eta_adaptive=fmt(p.adaptive_lr),
        lam_tilde_gd=fmt(matching_l2(p.weight_decay, p.eta)),
        lam_tilde_adaptive=fmt(matching_l2(p.weight_decay, p.adaptive_lr)),
    )


@dataclass(frozen=True)
class RidgeFacts:
    """2.2.3: how far Adam's limits lie from the ridge solution."""

    adam_l2: Md  # the check's figure
    adam_decoupled: Md


def check_decay(
    problem: tuple[np.ndarray, np.ndarray],
    comp: dict[str, Comparison],
    p: Hyperparameters,
) -> RidgeFacts:
    """2.2.3: the rule's words for each method, and the fixed points: L2
    reaches the ridge solution under gradient descent and Adam alike."""
    X, t = problem
    agree = {
        m: rules.agreement(c.largest_gap, c.largest_norm)
        for m, c in comp.items()
    }
    check_true(
        "gradient descent: L2 and decoupled decay trajectories coincide",
        agree["gd"] == "coincide",
    )
    check_true(
        "RMSProp and Adam: L2 and decoupled decay trajectories part ways",
        agree["rmsprop"] == agree["adam"] == "part ways",
    )
    check_true(  # why Table 2.2 shows one norm for every method
        "every trajectory's largest weight norm is that of its start",
        all(
            c.largest_norm == float(np.linalg.norm(c.l2[0]))
            for c in comp.values()
        ),
    )
    ridge_gd = ridge_solution(X, t, matching_l2(p.weight_decay, p.eta))
    check(
        "gradient descent with L2 reaches the ridge solution",
        ridge_gd,
        comp["gd"].l2[-1],
        atol=1e-6,
    )
    ridge = ridge_solution(X, t, matching_l2(p.weight_decay, p.adaptive_lr))
    adam = comp["adam"]
    near = check(
        "Adam with L2 reaches the ridge solution",
        ridge,
        adam.l2[-1],
        atol=1e-4,
    )
    return RidgeFacts(
        adam_l2=near.value,
        adam_decoupled=fmt(np.abs(adam.decoupled[-1] - ridge).max(), 3),
    )
