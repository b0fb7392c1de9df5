"""Questions 1.1-1.2: which interpolating solution an optimiser finds.

Loss throughout: L(w) = (1/n) ||X w - t||^2 (equation (1) of the handout),
so the full gradient is (2/n) X^T (X w - t) and the loss of one example is
(x_j^T w - t_j)^2 with gradient 2 (x_j^T w - t_j) x_j.

Used by report/1-optimization.qmd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2.config.params import Optimization
from a2.report import (
    Check,
    Md,
    Verdict,
    VerdictTable,
    check,
    check_true,
    fmt,
    sci,
    worst,
)
from a2.report.rules import MIN_NORM_ATOL, min_norm

ADAM_BETA1 = 0.9  # Adam's usual first-moment decay (Kingma and Ba)
ADAM_BETA2 = 0.999  # and second-moment decay
METHODS = ("gd", "rmsprop", "adagrad", "adam")


def random_problem(
    n: int, d: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An over-parameterised least-squares problem, X of shape (n, d).

    Entries have variance 1/d so rows have norm about 1 and one learning
    rate suits every size; Gaussian X has full row rank almost surely.
    """
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    t = rng.standard_normal(n)
    return X, t


def min_norm_solution(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The derived closed form w* = X^T (X X^T)^{-1} t (X full row rank)."""
    return X.T @ np.linalg.solve(X @ X.T, t)


def min_norm_lstsq(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Independent route: LAPACK's SVD least squares, min-norm by design."""
    return np.linalg.lstsq(X, t, rcond=None)[0]


def off_row_space(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Norm of the part of w (or of each row of w) outside span{rows of X}."""
    q, _ = np.linalg.qr(X.T)  # orthonormal basis of the row space, (d, n)
    w = np.atleast_2d(w)
    return np.linalg.norm(w - (w @ q) @ q.T, axis=1)


@dataclass
class SGDRun:
    """One mini-batch SGD run; arrays are indexed by step 0..steps."""

    w: np.ndarray  # final weights, (d,)
    w_star: np.ndarray  # the min-norm solution, (d,)
    dist: np.ndarray  # ||w_k - w*||
    off_row: np.ndarray  # ||(I - P_row) w_k||
    loss: np.ndarray  # L(w_k)
    residual: float  # largest |x_j^T w - t_j| at the end
    longest: float  # largest ||w_k|| on the way


def sgd(
    X: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    eta: float,
    steps: int,
    rng: np.random.Generator,
) -> SGDRun:
    """Mini-batch SGD from w0 = 0, equation (2): a batch is drawn without
    replacement and the step averages the per-example gradients."""
    n, d = X.shape
    w = np.zeros(d)
    ws = np.empty((steps + 1, d))
    ws[0] = w
    for k in range(steps):
        j = rng.choice(n, size=batch_size, replace=False)
        r = X[j] @ w - t[j]  # residuals of the batch, (b,)
        w = w - eta / batch_size * (2 * r @ X[j])
        ws[k + 1] = w
    w_star = min_norm_solution(X, t)
    return SGDRun(
        w=w,
        w_star=w_star,
        dist=np.linalg.norm(ws - w_star, axis=1),
        off_row=off_row_space(X, ws),
        loss=np.mean((ws @ X.T - t) ** 2, axis=1),
        residual=float(np.abs(X @ w - t).max()),
        longest=float(np.linalg.norm(ws, axis=1).max()),
    )


def sgd_experiment(
    n: int,
    d: int,
    instances: int,
    batch_size: int,
    eta: float,
    steps: int,
    seed: int,
) -> list[SGDRun]:
    """Question 1.1.1 on several random problems (one seed for all)."""
    if d <= n:
        raise ValueError(
            f"need d > n for an over-parameterised model, got n={n}, d={d}"
        )
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(instances):
        X, t = random_problem(n, d, rng)
        runs.append(sgd(X, t, batch_size, eta, steps, rng))
    return runs


# --- 1.2: adaptive methods -------------------------------------------------

HINT_X = np.array([[2.0, 1.0]])  # question 1.2.1's hint: x_1 = [2, 1]
HINT_T = np.array([2.0])  # t = [2], w0 = [0, 0]


class Stepper:
    """One method's update rule, with its running state.

    rmsprop follows equations (3)-(4) with v_{-1} = 0; adagrad sums g^2;
    adam uses (ADAM_BETA1, ADAM_BETA2) with bias correction. ``update(g)``
    returns the step to subtract from w.
    """

    def __init__(
        self,
        method: str,
        lr: float,
        d: int,
        beta: float = 0.9,
        eps: float = 1e-8,
        methods: tuple[str, ...] = METHODS,
    ):
        if method not in methods:
            raise ValueError(f"method {method!r}; valid: {', '.join(methods)}")
        self.method, self.lr, self.beta, self.eps = method, lr, beta, eps
        self.m = np.zeros(d)
        self.v = np.zeros(d)
        self.k = 0  # steps taken, for Adam's bias correction

    def update(self, g: np.ndarray) -> np.ndarray:
        self.k += 1
        lr, beta, eps = self.lr, self.beta, self.eps
        if self.method == "gd":
            return lr * g
        if self.method == "rmsprop":
            self.v = beta * self.v + (1 - beta) * g**2
            return lr * g / (np.sqrt(self.v) + eps)
        if self.method == "adagrad":
            self.v = self.v + g**2
            return lr * g / (np.sqrt(self.v) + eps)
        self.m = ADAM_BETA1 * self.m + (1 - ADAM_BETA1) * g
        self.v = ADAM_BETA2 * self.v + (1 - ADAM_BETA2) * g**2
        m_hat = self.m / (1 - ADAM_BETA1**self.k)
        v_hat = self.v / (1 - ADAM_BETA2**self.k)
        return lr * m_hat / (np.sqrt(v_hat) + eps)


def optimise(
    X: np.ndarray,
    t: np.ndarray,
    method: str,
    lr: float,
    steps: int,
    beta: float = 0.9,
    eps: float = 1e-8,
) -> np.ndarray:
    """Full-batch trajectory (steps + 1, d) from w0 = 0 (see Stepper)."""
    n, d = X.shape
    stepper = Stepper(method, lr, d, beta, eps)
    traj = np.zeros((steps + 1, d))
    for k in range(steps):
        w = traj[k]
        g = 2.0 / n * X.T @ (X @ w - t)
        traj[k + 1] = w - stepper.update(g)
    return traj


def first_step(
    x: np.ndarray,
    t: float,
    method: str,
    lr: float,
    beta: float = 0.9,
    eps: float = 1e-8,
) -> np.ndarray:
    """Derived w_1 for one example (n = 1) from w0 = 0.

    g_0 = -2 t x. RMSProp: v_0 = (1 - beta) g_0^2, so
    w_1 = -lr g_0 / (sqrt(1 - beta) |g_0| + eps); Adagrad and bias-corrected
    Adam have v_0 (resp. v_hat_0) = g_0^2, so w_1 = -lr g_0 / (|g_0| + eps);
    gradient descent: w_1 = -lr g_0.
    """
    g = -2.0 * t * np.asarray(x, dtype=float)
    if method == "gd":
        return -lr * g
    scale = np.sqrt(1 - beta) if method == "rmsprop" else 1.0
    return -lr * g / (scale * np.abs(g) + eps)


def adaptive_limit(x: np.ndarray, t: float) -> np.ndarray:
    """Derived limit (eps -> 0) for one example from w0 = 0.

    Every gradient is a multiple of x, so each v_i (and Adam's m_i) is the
    same sequence times x_i^2 (times x_i): every step is a multiple of
    sign(x). The iterate stays on the ray through sign(x) and stops where
    it meets x^T w = t: w = t sign(x) / ||x||_1.
    """
    x = np.asarray(x, dtype=float)
    return t * np.sign(x) / np.abs(x).sum()


def adaptive_experiment(
    lr: float, steps: int, beta: float, eps: float
) -> dict[str, np.ndarray]:
    """Trajectories of every method on the hint's example (1.2.1-1.2.2)."""
    return {
        m: optimise(HINT_X, HINT_T, m, lr, steps, beta, eps) for m in METHODS
    }


# --- whether a solution is the minimum-norm one (a2.report.rules) ---------


def distance_to_min_norm(X: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    """Euclidean distance of ``w`` from X^T (X X^T)^-1 t."""
    return float(
        np.linalg.norm(np.asarray(w, float) - min_norm_solution(X, t))
    )


def is_min_norm(
    X: np.ndarray, t: np.ndarray, w: np.ndarray, atol: float = MIN_NORM_ATOL
) -> bool:
    """Is ``w`` the minimum-norm solution of X w = t (X full row rank)?
    (``a2.report.rules.min_norm``)"""
    return min_norm(distance_to_min_norm(X, t, w), atol) == "yes"


LABELS = {
    "gd": "gradient descent",
    "rmsprop": "RMSProp",
    "adagrad": "Adagrad",
    "adam": "Adam",
}

LIMITS = VerdictTable(
    (
        "method",
        "final $w_1$",
        "final $w_2$",
        "norm",
        "distance to $\\mathbf{w}^*$",
    ),
    (None, 6, 6, 4, None),
    (Verdict("minimum norm?", min_norm, (4,)),),
)
"""1.2: where each method stops on the hint's example, and whether that
is the minimum-norm solution, decided from the distance shown. For a
solution of x^T w = t the distance to w* is also its distance from
span{x} (w* is where that line meets the span), so one column shows
both."""

DISTANCE_DIGITS = 4  # decimals of a distance in Table 1.1


def shown_distance(d: float) -> float:
    """A distance as Table 1.1 prints it: to DISTANCE_DIGITS decimals,
    or, at rounding level (below 1e-3), as a power of ten with the
    digits of the check that states it (``fmt`` of a float)."""
    return d if d < 1e-3 else round(d, DISTANCE_DIGITS)


def limit_figures(trajs: dict[str, np.ndarray]) -> list[tuple]:
    """The figures of :data:`LIMITS`, one row per method of ``trajs``
    (:func:`adaptive_experiment`)."""
    rows = []
    for m, traj in trajs.items():
        w = traj[-1]
        rows.append(
            (
                LABELS[m],
                float(w[0]),
                float(w[1]),
                float(np.linalg.norm(w)),
                shown_distance(distance_to_min_norm(HINT_X, HINT_T, w)),
            )
        )
    return rows


# --- what section 1 prints, and its checks ----------------------------------


def check_sgd(runs: list[SGDRun]) -> tuple[list[Check], list[Check]]:
    """1.1.1, per problem: the SGD limit against the minimum-norm
    solution, and the largest component of any iterate outside the row
    space against zero."""
    limits = [
        check(
            f"SGD's limit = minimum-norm solution (problem {i + 1})",
            r.w_star,
            r.w,
            atol=1e-8,
        )
        for i, r in enumerate(runs)
    ]
    inside = [
        check(
            f"every iterate lies in the row space of X (problem {i + 1})",
            0.0,
            r.off_row.max(),
            atol=1e-12,
        )
        for i, r in enumerate(runs)
    ]
    return limits, inside


def check_closed_form(n: int, d: int, seed: int) -> None:
    """1.1.1: the closed form X^T (X X^T)^-1 t against the minimum-norm
    least-squares solution of an SVD, on a random problem."""
    X, t = random_problem(n, d, np.random.default_rng(seed))
    check(
        "closed form = minimum-norm solution by singular value decomposition",
        min_norm_solution(X, t),
        min_norm_lstsq(X, t),
        atol=1e-10,
    )


EPS = float(np.finfo(float).eps)  # double precision's machine epsilon
LONGEST_DIGITS = 1  # decimals of the longest iterate's length, as printed


def longest_iterate(runs: list[SGDRun]) -> float:
    """The largest length ||w_k|| of any iterate of any run."""
    return max(r.longest for r in runs)


def rounding_drift(runs: list[SGDRun], steps: int) -> float:
    """What rounding can build up outside the row space in ``steps``
    steps: each step rounds every weight by about eps times its size,
    and no step pulls that part back. From eps and the longest iterate
    as the prose prints them, so the product follows from them."""
    eps = float(f"{EPS:.1e}")
    return steps * eps * round(longest_iterate(runs), LONGEST_DIGITS)


def check_rounding(runs: list[SGDRun]) -> None:
    """1.1.1: the part outside the row space stays below what rounding
    can build up over the run."""
    steps = len(runs[0].off_row) - 1
    check_true(
        "every iterate's part outside the row space is below "
        "steps × ε × longest iterate",
        max(r.off_row.max() for r in runs) <= rounding_drift(runs, steps),
    )


@dataclass(frozen=True)
class SgdFacts:
    """1.1.1's values as the prose prints them (``a2.report.Md``)."""

    instances: Md  # random problems
    n: Md
    d: Md
    batch: Md
    steps: Md
    distance: Md  # largest |SGD limit - w*| in any coordinate (a check's)
    off: Md  # largest component of an iterate outside the row space
    residual: Md  # largest final |x_j^T w - t_j|
    eps: Md  # double-precision machine epsilon
    longest: Md  # largest ||w_k|| of any iterate
    drift: Md  # steps x eps x longest, from the two as printed


def sgd_facts(
    runs: list[SGDRun],
    limits: list[Check],
    inside: list[Check],
    p: Optimization,
) -> SgdFacts:
    return SgdFacts(
        instances=fmt(p.instances),
        n=fmt(p.n),
        d=fmt(p.d),
        batch=fmt(p.batch_size),
        steps=fmt(p.steps),
        distance=worst(limits).value,
        off=worst(inside).value,
        residual=sci(max(r.residual for r in runs)),
        eps=sci(EPS),
        longest=fmt(longest_iterate(runs), LONGEST_DIGITS),
        drift=sci(rounding_drift(runs, p.steps)),
    )


def check_adaptive(trajs: dict[str, np.ndarray], p: Optimization) -> None:
    """1.2.1 on the hint's example: w*, gradient descent's limit, and
    RMSProp's first step and limit against their derivations."""
    x, t = HINT_X[0], float(HINT_T[0])
    w_star = min_norm_solution(HINT_X, HINT_T)
    w_gd, w_rms = trajs["gd"][-1], trajs["rmsprop"][-1]
    check("w∗ = [0.8, 0.4]", [0.8, 0.4], w_star, atol=1e-12)
    check(  # the distance Table 1.1 prints, to the check's digits
        "gradient descent reaches w∗",
        0.0,
        distance_to_min_norm(HINT_X, HINT_T, w_gd),
        atol=1e-9,
    )
    check_true(
        "gradient descent's limit counts as the minimum-norm solution",
        is_min_norm(HINT_X, HINT_T, w_gd),
    )
    check(
        "RMSProp's first step = derived step",
        first_step(x, t, "rmsprop", p.adaptive_lr, p.beta, p.eps),
        trajs["rmsprop"][1],
        rtol=1e-12,
    )
    check(
        "RMSProp's limit = [2/3, 2/3]",
        adaptive_limit(x, t),
        w_rms,
        atol=1e-6,
    )
    check("RMSProp's limit solves xᵀw = t", t, float(x @ w_rms), atol=1e-9)
    check_true(
        "RMSProp's limit does not count as the minimum-norm solution",
        not is_min_norm(HINT_X, HINT_T, w_rms),
    )
    check_true(
        "RMSProp's limit is longer than w∗",
        np.linalg.norm(w_rms) > np.linalg.norm(w_star),
    )
    check(
        "RMSProp's distance from span{x} = 2/(3√5)",
        2 / (3 * np.sqrt(5)),
        float(off_row_space(HINT_X, w_rms)[0]),
        atol=1e-6,
    )


def check_other_adaptive(
    trajs: dict[str, np.ndarray], p: Optimization
) -> None:
    """1.2.2: Adagrad's and Adam's first steps and limits against their
    derivations."""
    x, t = HINT_X[0], float(HINT_T[0])
    for m in ("adagrad", "adam"):
        name = LABELS[m]
        check(
            f"{name}'s first step = derived step",
            first_step(x, t, m, p.adaptive_lr, p.beta, p.eps),
            trajs[m][1],
            rtol=1e-12,
        )
        check(
            f"{name}'s limit = [2/3, 2/3]",
            adaptive_limit(x, t),
            trajs[m][-1],
            atol=1e-6,
        )
        check_true(
            f"{name}'s limit does not count as the minimum-norm solution",
            not is_min_norm(HINT_X, HINT_T, trajs[m][-1]),
        )
    check_true(  # the overshoot the text and Figure 1.2 show
        "Adam passes [2/3, 2/3] along [1, 1] before it settles",
        overshoot(trajs["adam"], x, t) > 1e-3,
    )


def overshoot(traj: np.ndarray, x: np.ndarray, t: float) -> float:
    """How far past the solution line x^T w = t a path from w0 = 0
    goes, as the largest x^T w_k - t (0 when it never crosses)."""
    return max(float((traj @ x).max() - t), 0.0)


@dataclass(frozen=True)
class AdaptiveFacts:
    """1.2.1's values as the prose prints them: the hint's example
    simulated with RMSProp and gradient descent."""

    lr: Md  # eta
    beta: Md
    eps: Md
    steps: Md
    rms_first: Md  # RMSProp's first step
    rms_first_derived: Md  # eta / sqrt(1 - beta), per coordinate
    rms_residual: Md  # x^T w - t there
    min_norm_atol: Md  # the rule's distance to w*
    adam_peak: Md  # the largest coordinate of Adam's path (it overshoots)


def adaptive_facts(
    trajs: dict[str, np.ndarray], p: Optimization
) -> AdaptiveFacts:
    x, t = HINT_X[0], float(HINT_T[0])
    w_rms = trajs["rmsprop"][-1]
    return AdaptiveFacts(
        lr=fmt(p.adaptive_lr),
        beta=fmt(p.beta),
        eps=sci(p.eps, 0),
        steps=fmt(p.adaptive_steps),
        rms_first=fmt(list(trajs["rmsprop"][1]), 4),
        rms_first_derived=fmt(p.adaptive_lr / np.sqrt(1 - p.beta), 4),
        rms_residual=sci(x @ w_rms - t),
        min_norm_atol=sci(MIN_NORM_ATOL, 0),
        adam_peak=fmt(float(trajs["adam"].max()), 2),
    )
