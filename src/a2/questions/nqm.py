"""Question 3.1: the noisy quadratic model (NQM) of Zhang et al. (2019).

Scalar model: L(w) = a w^2 / 2, minibatch gradient a w + xi with
xi ~ N(0, sigma^2 / B). SGD w <- w - eta (a w + xi) gives the recursion

    E[w^2]_{k+1} = (1 - eta a)^2 E[w^2]_k + eta^2 sigma^2 / B,

and the expected loss a E[w^2]_k / 2. The multi-dimensional model is a sum
of independent scalar ones, curvature h_i and gradient-noise variance c_i.

The verdict words of section 3.1 come from the rules in ``a2.report.rules``
(``stepwise_trend``, ``growth``, ``best_tradeoff``, ``regime``,
``remedy``), each with its threshold a constant there.

Used by report/3-resources.qmd.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from a2.config.params import Resources
from a2.report import Md, Verdict, VerdictTable, check, check_true, fmt, rules


def expected_loss(
    a: float,
    sigma: float,
    batch: np.ndarray,
    eta: np.ndarray,
    steps: int,
    w0: float = 1.0,
) -> np.ndarray:
    """Derived expected loss after `steps` steps by the recursion;
    batch and eta broadcast against each other."""
    batch = np.asarray(batch, dtype=float)
    eta = np.asarray(eta, dtype=float)
    m = np.full(np.broadcast(batch, eta).shape, w0**2)
    for _ in range(steps):
        m = (1 - eta * a) ** 2 * m + eta**2 * sigma**2 / batch
    return a * m / 2


def steady_state_loss(
    a: float, sigma: float, batch: float, eta: np.ndarray
) -> np.ndarray:
    """Fixed point of the recursion: a/2 * eta sigma^2 / (B a (2 - eta a))."""
    eta = np.asarray(eta, dtype=float)
    return eta * sigma**2 / (2 * batch * (2 - eta * a))


def small_lr_optimum(
    a: float, sigma: float, batch: np.ndarray, steps: int, w0: float = 1.0
) -> np.ndarray:
    """Derived approximation of the best eta after T steps for eta a << 1:
    minimising e^{-2 eta a T} w0^2 + eta sigma^2 / (2 a B) gives
    eta* = ln(4 a^2 T w0^2 B / sigma^2) / (2 a T)."""
    batch = np.asarray(batch, dtype=float)
    return np.log(4 * a**2 * steps * w0**2 * batch / sigma**2) / (
        2 * a * steps
    )


def lr_grid(a: float, points: int) -> np.ndarray:
    """Learning rates from 1e-3/a to 1/a (log-spaced); beyond 1/a the
    iterate overshoots the minimum and, without noise, only loses."""
    return np.logspace(-3, 0, points) / a


def monte_carlo_loss(
    a: float,
    sigma: float,
    batch: int,
    etas: np.ndarray,
    steps: int,
    chains: int,
    rng: np.random.Generator,
    w0: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Independent route: simulate `chains` SGD runs per learning rate.

    Each step draws B per-example noises and averages them (no use of the
    sigma^2/B variance formula); every learning rate sees the same draws
    (common random numbers), so curves over eta are smooth. Returns the
    mean loss after `steps` steps and its standard error, per eta.
    """
    w = np.full((chains, len(etas)), w0)
    for _ in range(steps):
        xi = sigma * rng.standard_normal((chains, batch)).mean(axis=1)
        w = w - etas * (a * w + xi[:, None])
    loss = a * w**2 / 2
    return loss.mean(axis=0), loss.std(axis=0, ddof=1) / np.sqrt(chains)


@dataclass
class LrVsBatch:
    """Question 3.1.1: best learning rate after a fixed number of steps."""

    batch_sizes: np.ndarray
    etas: np.ndarray  # coarse grid shared by both routes
    closed: np.ndarray  # derived expected loss, (batch, eta)
    mc: np.ndarray  # Monte-Carlo mean loss, (batch, eta)
    mc_se: np.ndarray  # its standard error
    eta_closed: np.ndarray  # argmin of the derived loss on a fine grid
    eta_mc: np.ndarray  # argmin of the Monte-Carlo loss on the coarse grid
    eta_small: np.ndarray  # the small-eta formula


def lr_vs_batch(
    curvature: float,
    noise_std: float,
    batch_sizes: list[int],
    steps: int,
    trials: int,
    grid_points: int,
    seed: int,
) -> LrVsBatch:
    """Best eta per batch size, by the recursion and by simulation."""
    rng = np.random.default_rng(seed)
    bs = np.asarray(batch_sizes, dtype=float)
    etas = lr_grid(curvature, grid_points)
    closed = expected_loss(curvature, noise_std, bs[:, None], etas, steps)
    fine = lr_grid(curvature, 4000)
    fine_loss = expected_loss(curvature, noise_std, bs[:, None], fine, steps)
    mc, se = zip(
        *(
            monte_carlo_loss(
                curvature, noise_std, int(b), etas, steps, trials, rng
            )
            for b in bs
        )
    )
    mc, se = np.array(mc), np.array(se)
    return LrVsBatch(
        bs,
        etas,
        closed,
        mc,
        se,
        fine[np.argmin(fine_loss, axis=1)],
        etas[np.argmin(mc, axis=1)],
        small_lr_optimum(curvature, noise_std, bs, steps),
    )


# --- 3.1.2: steps to a target loss ----------------------------------------


def spectrum(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Curvatures h_i = 1/i and noise variances c_i = h_i (i = 1..d), the
    NQM of Zhang et al. (2019) (gradient covariance equal to the Hessian)."""
    h = 1.0 / np.arange(1, d + 1)
    return h, h.copy()


def steps_to_target(
    h: np.ndarray,
    c: np.ndarray,
    etas: np.ndarray,
    batch: float,
    target: float,
    w0_sq: float = 1.0,
    precond: float = 0.0,
) -> np.ndarray:
    """Fewest SGD steps until the expected loss is <= target, per eta.

    Per dimension, E[w_i^2]_k = q_i^k (m0 - s_i) + s_i with
    q_i = (1 - eta_i h_i)^2 and s_i = eta_i^2 c_i / (B (1 - q_i)), where
    eta_i = eta h_i^-precond (precond > 0: a diagonal preconditioner
    H^-precond, a stand-in for a higher-order optimiser). With
    eta_i h_i <= 1 and s_i <= m0 every term falls monotonically, so the
    first crossing is found by bisection. inf where never reached.
    """
    lr = etas[:, None] * h[None, :] ** (-precond)  # (E, d)
    q = (1 - lr * h) ** 2
    s = lr**2 * c / (batch * (1 - q))
    if np.any(lr * h > 1 + 1e-12) or np.any(s > w0_sq):
        raise ValueError("learning rate outside the monotone range")

    def loss(k: np.ndarray) -> np.ndarray:
        return 0.5 * np.sum(h * (q ** k[:, None] * (w0_sq - s) + s), axis=1)

    ok = 0.5 * np.sum(h * s, axis=1) < target
    hi = np.ones(len(etas))
    while True:
        grow = ok & (loss(hi) > target)
        if not grow.any():
            break
        hi = np.where(grow, hi * 2, hi)
    lo = np.zeros(len(etas))
    while np.any(hi - lo > 1):
        mid = np.floor((lo + hi) / 2)
        good = loss(mid) <= target
        hi, lo = np.where(good, mid, hi), np.where(good, lo, mid)
    return np.where(ok, hi, np.inf)


@dataclass
class StepsCurve:
    """Figure 1 from the NQM: tuned steps to target against batch size."""

    batch: np.ndarray
    steps: np.ndarray  # fewest steps over the eta grid
    eta: np.ndarray  # the eta that achieves it
    perfect: np.ndarray  # perfect scaling from the smallest batch
    knee: float  # steps = 2 x perfect scaling (point C, once whole)


def tuned_steps(
    h: np.ndarray,
    c: np.ndarray,
    batch: np.ndarray,
    target: float,
    grid_points: int,
    precond: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(steps, best eta) per batch size, eta tuned over a log grid up to
    the largest rate that keeps every mode monotone."""
    top = 1.0 / np.max(h ** (1 - precond))
    etas = top * np.logspace(-4, 0, grid_points)
    steps, best = [], []
    for b in batch:
        # s_i <= m0 needs eta_i^2 c_i / (B (1 - q_i)) <= 1; drop the rest.
        lr = etas[:, None] * h ** (-precond)
        s = lr**2 * c / (b * (1 - (1 - lr * h) ** 2))
        use = etas[np.all(s <= 1.0, axis=1)]
        k = steps_to_target(h, c, use, b, target, precond=precond)
        i = int(np.argmin(k))
        steps.append(k[i])
        best.append(use[i])
    return np.array(steps), np.array(best)


def knee(batch: np.ndarray, steps: np.ndarray) -> float:
    """The critical batch size: where the steps first reach twice the
    perfect-scaling line S(B_1) B_1 / B, i.e. the examples twice the
    fewest (:data:`rules.CRITICAL_EXAMPLES_RATIO`; log-log interpolation
    between grid points)."""
    ratio = steps * batch / (steps[0] * batch[0])
    return _crossing(batch, ratio, rules.CRITICAL_EXAMPLES_RATIO)


def _crossing(batch: np.ndarray, ratio: np.ndarray, at: float) -> float:
    """Batch size where ``ratio`` first reaches ``at``, by log-log
    interpolation (``ratio`` rising with the batch size)."""
    i = int(np.argmax(ratio >= at))
    if ratio[i] < at or i == 0:
        raise ValueError("curve never leaves perfect scaling")
    lb, lr_ = np.log(batch[i - 1 : i + 1]), np.log(ratio[i - 1 : i + 1])
    return float(np.exp(np.interp(np.log(at), lr_, lb)))


def steps_boundary(curve: StepsCurve) -> float:
    """Batch size where the steps fall to twice the fewest: the boundary
    a rule on the steps would draw (in the model S = S_min (1 + B_crit /
    B) it is B_crit too; the computed curve bends more sharply)."""
    at = rules.CRITICAL_EXAMPLES_RATIO
    return _crossing(curve.batch, at * fewest_steps(curve) / curve.steps, 1)


def steps_curve(
    d: int,
    target_loss: float,
    grid_points: int,
    log2_max_batch: int = 16,
) -> StepsCurve:
    """Steps to target against batch size 2^0 .. 2^log2_max_batch, and
    its knee. Batch sizes are counts: the grid of powers of sqrt(2) is
    rounded to integers."""
    h, c = spectrum(d)
    powers = 2.0 ** np.arange(0, log2_max_batch + 0.25, 0.5)
    batch = np.unique(np.round(powers))
    steps, eta = tuned_steps(h, c, batch, target_loss, grid_points)
    perfect = steps[0] * batch[0] / batch
    return StepsCurve(batch, steps, eta, perfect, knee(batch, steps))


def interp_steps(curve: StepsCurve, b: float) -> float:
    """Steps at batch size b, log-log interpolation on the curve."""
    return float(
        np.exp(np.interp(np.log(b), np.log(curve.batch), np.log(curve.steps)))
    )


def remedies(
    d: int,
    target_loss: float,
    grid_points: int,
    batch: float,
    precond: float = 0.5,
) -> dict[str, float]:
    """Steps at batch size `batch`, with twice the batch (more parallel
    compute) and with a preconditioner H^-precond (higher order)."""
    h, c = spectrum(d)
    b = np.array([batch, 2 * batch])
    plain, _ = tuned_steps(h, c, b, target_loss, grid_points)
    pre, _ = tuned_steps(h, c, b[:1], target_loss, grid_points, precond)
    return {
        "steps": float(plain[0]),
        "double_batch": float(plain[1]),
        "precond": float(pre[0]),
    }


@dataclass
class Point:
    """One marked point of handout Fig. 1, computed at its own batch size
    (one source for the text, the tables and the figure's markers)."""

    name: str
    batch: float
    steps: float  # tuned steps to the target
    double_batch: float  # steps with twice the batch (more parallel compute)
    precond: float  # steps with the preconditioner H^-1/2 (higher order)

    @property
    def examples(self) -> float:
        """Examples processed, B x steps: the compute spent."""
        return self.batch * self.steps


SPACING = 16
"""Points A and B lie this factor below and above point C's batch size:
far enough from the knee to sit on the slope and on the plateau."""


def point_batches(knee_batch: float) -> dict[str, int]:
    """Batch sizes of A, C and B, whole numbers: C nearest the knee, B
    :data:`SPACING` times C's and A the whole number nearest C's over
    :data:`SPACING` (so each follows from C's as printed)."""
    c = max(1, round(knee_batch))
    return {"A": max(1, round(c / SPACING)), "C": c, "B": c * SPACING}


def operating_points(
    curve: StepsCurve, d: int, target_loss: float, grid_points: int
) -> dict[str, Point]:
    """A, C and B of handout Fig. 1 with each remedy's steps (3.1.2), at
    the batch sizes of :func:`point_batches`."""
    out = {}
    for name, whole in point_batches(curve.knee).items():
        b = float(whole)
        r = remedies(d, target_loss, grid_points, b)
        out[name] = Point(name, b, r["steps"], r["double_batch"], r["precond"])
    return out


REMEDIES = VerdictTable(
    (
        "",
        "batch size $B$",
        "critical batch size (point C)",
        "fewest steps at any $B$ (parallel compute)",
        "steps with $H^{-1/2}$ (higher order)",
    ),
    (None, 0, 0, 0, 0),
    (
        Verdict("regime", rules.regime, (1, 2)),
        Verdict("remedy", rules.remedy, (3, 4)),
    ),
)
"""3.1.2(b): the regime and remedy at A and B, each decided from the
figures beside it."""


def remedy_figures(
    points: dict[str, Point], fewest: float
) -> list[tuple[str, float, float, float, float]]:
    """The figures of :data:`REMEDIES` at A and B: the point's batch
    size, the critical batch size (point C's, the whole number nearest
    the knee), the fewest steps any batch size reaches (as large a batch
    as helps: more parallel compute) and the steps with the
    preconditioner H^-1/2 (a higher-order optimiser)."""
    critical = points["C"].batch
    return [
        (f"point\u00a0{p.name}", p.batch, critical, fewest, p.precond)
        for p in points.values()
        if p.name != "C"
    ]


def fewest_steps(curve: StepsCurve) -> float:
    """Fewest steps at any batch size on the curve (its plateau)."""
    return float(curve.steps.min())


def fewest_examples(curve: StepsCurve) -> float:
    """Fewest examples processed at any batch size (perfect scaling)."""
    return float(np.min(curve.steps * curve.batch))


def growth_exponent(batch: np.ndarray, eta: np.ndarray, cap: float) -> float:
    """Least-squares slope of log eta against log B over the batch sizes
    whose tuned eta is below the cap (the part that can still grow)."""
    batch, eta = np.asarray(batch, float), np.asarray(eta, float)
    below = eta < cap * (1 - 1e-9)
    if below.sum() < 2:
        raise ValueError("fewer than two learning rates below the cap")
    return float(np.polyfit(np.log(batch[below]), np.log(eta[below]), 1)[0])


# --- what section 3.1 prints ------------------------------------------------


@dataclass(frozen=True)
class LrFacts:
    """3.1.1's values as the prose prints them (``a2.report.Md``)."""

    steps: Md  # T, the SGD steps of the scalar model
    curvature: Md  # a
    noise: Md  # sigma
    trials: Md  # Monte-Carlo chains per batch size and learning rate
    trend: Md  # rules.stepwise_trend of the best eta over B
    eta_first: Md  # best eta at the smallest batch size
    eta_last: Md
    b_first: Md
    b_last: Md
    z_max: Md  # largest |Monte Carlo - recursion| in standard errors
    d: Md  # dimensions of the model of 3.1.2
    growth: Md  # rules.growth of the tuned eta of the d-dimensional model
    exponent: Md  # fitted exponent of that eta against B, below the cap
    cap: Md  # 1 / h_max
    cap_from: Md  # the first batch size whose tuned eta reaches the cap
    trend_rtol: Md  # in %
    linear_tol: Md


def lr_facts(r: LrVsBatch, curve: StepsCurve, p: Resources) -> LrFacts:
    h, _ = spectrum(p.d)
    cap = 1 / h.max()
    exponent = growth_exponent(curve.batch, curve.eta, cap)
    return LrFacts(
        steps=fmt(p.steps),
        curvature=fmt(p.curvature),
        noise=fmt(p.noise_std),
        trials=fmt(p.trials),
        trend=fmt(rules.stepwise_trend(r.eta_closed)),
        eta_first=fmt(r.eta_closed[0], 4),
        eta_last=fmt(r.eta_closed[-1], 4),
        b_first=fmt(int(r.batch_sizes[0])),
        b_last=fmt(int(r.batch_sizes[-1])),
        z_max=fmt(float(np.max(np.abs(r.mc - r.closed) / r.mc_se)), 1),
        d=fmt(p.d),
        growth=Md(rules.growth(exponent)),  # its words hold math ($B$)
        exponent=fmt(exponent, 2),
        cap=fmt(cap, 2),
        cap_from=fmt(int(curve.batch[np.argmax(curve.eta >= cap)])),
        trend_rtol=Md(f"{rules.STEP_RTOL:.0%}"),
        linear_tol=fmt(rules.LINEAR_TOL),
    )


LR_HEADER = (
    "$B$",
    "best $\\eta$ (recursion)",
    "best $\\eta$ (Monte Carlo)",
    "small-$\\eta$ formula",
)
LR_DIGITS = (0, 4, 4, 4)


def lr_rows(r: LrVsBatch) -> list[tuple[int, float, float, float]]:
    """3.1.1's table: the best eta per batch size by each route."""
    return [
        (int(b), float(e), float(m), float(s))
        for b, e, m, s in zip(
            r.batch_sizes, r.eta_closed, r.eta_mc, r.eta_small
        )
    ]


@dataclass(frozen=True)
class PointsFacts:
    """3.1.2's values as the prose prints them: the fewest steps and
    examples, the point with the best trade-off, and each regime and
    remedy (A and B)."""

    d: Md  # dimensions of the model
    target: Md  # the target loss
    fewest_examples: Md
    fewest_steps: Md  # as Table 3.3 prints them
    best: Md  # rules.best_tradeoff
    examples_ratio: Md  # rules.CRITICAL_EXAMPLES_RATIO: the knee
    critical: Md  # point C's batch size: the knee, B_crit
    critical_steps: Md  # point C's steps over the fewest, as Table 3.2
    spacing: Md  # A and B this factor below and above C's batch size
    regime_a: Md
    regime_b: Md
    remedy_a: Md
    remedy_b: Md


def points_facts(
    points: dict[str, Point], curve: StepsCurve, p: Resources
) -> PointsFacts:
    fewest, least = fewest_steps(curve), fewest_examples(curve)
    a, b, critical = points["A"], points["B"], points["C"].batch
    return PointsFacts(
        d=fmt(p.d),
        target=fmt(p.target_loss),
        fewest_examples=fmt(int(least)),
        fewest_steps=fmt(int(fewest)),
        best=fmt(rules.best_tradeoff(points, fewest, least)),
        examples_ratio=fmt(rules.CRITICAL_EXAMPLES_RATIO),
        critical=fmt(int(critical)),
        critical_steps=fmt(int(points["C"].steps) / int(fewest), 2),
        spacing=fmt(SPACING),
        regime_a=fmt(rules.regime(a.batch, critical)),
        regime_b=fmt(rules.regime(b.batch, critical)),
        remedy_a=fmt(rules.remedy(fewest, a.precond)),
        remedy_b=fmt(rules.remedy(fewest, b.precond)),
    )


POINTS_HEADER = (
    "",
    "batch size $B$",
    "steps",
    "× fewest steps",
    "examples",
    "× fewest examples",
)
POINTS_DIGITS = (None, 0, 0, 2, 0, 2)


def points_rows(points: dict[str, Point], curve: StepsCurve) -> list[tuple]:
    """3.1.2's table of A, C and B: steps (training time) and examples
    (compute), each also as a multiple of the fewest any batch size
    needs. Steps and examples are counts, so each multiple follows from
    the integers printed beside it."""
    fewest, least = int(fewest_steps(curve)), int(fewest_examples(curve))
    return [
        (
            f"point\u00a0{k}",  # a no-break space: one line in a column
            int(v.batch),
            int(v.steps),
            int(v.steps) / fewest,
            int(v.examples),
            int(v.examples) / least,
        )
        for k, v in points.items()
    ]


# --- the checks of section 3.1 ----------------------------------------------


MC_SE_LIMIT = 4.0  # standard errors: a simulation off by more is wrong


def check_lr(r: LrVsBatch, curve: StepsCurve, p: Resources) -> None:
    """3.1.1: the recursion against the Monte-Carlo simulation and the
    small-eta formula, the trend rule, the noiseless best step 1/a, and
    the tuned eta of the d-dimensional model reaching 1/h_max."""
    check(
        "Monte-Carlo loss = recursion, in standard errors of the simulation "
        "(every batch size and learning rate)",
        (r.mc - r.closed) / r.mc_se,
        np.zeros_like(r.mc),
        atol=MC_SE_LIMIT,
    )
    check(
        "Monte-Carlo best learning rate = recursion's",
        r.eta_closed,
        r.eta_mc,
        rtol=0.25,
    )
    check(
        "small-learning-rate formula = recursion's best learning rate",
        r.eta_closed,
        r.eta_small,
        rtol=0.1,
    )
    check_true(
        "the best learning rate rises with the batch size (rule)",
        rules.stepwise_trend(r.eta_closed) == "rises",
    )
    etas = np.linspace(0, 2 / p.curvature, 4001)
    quiet = expected_loss(p.curvature, 0.0, 1, etas, 1)
    check(
        "without noise the best learning rate is 1/a",
        1 / p.curvature,
        etas[np.argmin(quiet)],
        atol=etas[1],
    )
    h, _ = spectrum(p.d)
    check(
        "tuned learning rate reaches its search's top, 1 / the largest "
        "curvature",
        1 / h.max(),
        curve.eta.max(),
        rtol=1e-12,
    )


def check_points(
    points: dict[str, Point], curve: StepsCurve, p: Resources
) -> None:
    """3.1.2: slope -1 at A, the plateau's steps those of noiseless
    gradient descent, C at the knee, B on the plateau, C the best
    trade-off by its rule, and the regime rule derived from the model
    S = S_min (1 + B_crit / B) drawing its boundary at the knee of the
    computed curve."""
    h, c = spectrum(p.d)
    a, knee, b = points["A"], points["C"], points["B"]
    fewest, least = fewest_steps(curve), fewest_examples(curve)
    noiseless = steps_to_target(
        h, 0 * c, np.array([1 / h.max()]), 1.0, p.target_loss
    )[0]
    check(
        "slope at point A = −1 (doubling the batch halves the steps)",
        -1.0,
        np.log2(a.double_batch / a.steps),
        atol=0.1,
    )
    check(
        "fewest steps on the curve = noiseless gradient descent's",
        noiseless,
        fewest,
        rtol=0.01,
    )
    check(
        "steps at point B within 2% of noiseless gradient descent's",
        b.steps,
        noiseless,
        rtol=0.02,
    )
    check(
        "point C's examples = 2 × the fewest (the knee)",
        2.0,
        knee.examples / least,
        atol=0.05,
    )
    check_true(
        "at point B, doubling the batch saves under 5% of the steps",
        b.double_batch > 0.95 * b.steps,
    )
    check_true(
        "point C has the best trade-off of time and compute (rule)",
        rules.best_tradeoff(points, fewest, least) == "C",
    )
    check_regime_rule(points, curve)


def check_regime_rule(points: dict[str, Point], curve: StepsCurve) -> None:
    """3.1.2(b): the regime rule against the model it is derived from
    and against the computed curve."""
    ratio = rules.CRITICAL_EXAMPLES_RATIO
    # The model S = S_min (1 + B_crit / B), in units of S_min and B_crit:
    # the noise adds 1 / B to the curvature's 1; examples are 1 + B.
    model = np.logspace(-2, 2, 401)
    noise_costs_more = 1 / model > 1
    check_true(
        "model: noise outweighs curvature exactly when examples < 2 × fewest",
        np.array_equal(noise_costs_more, 1 + model < ratio),
    )
    check_true(
        "model: rule says noise dominated exactly when noise outweighs "
        "curvature",
        [rules.regime(b, 1.0) == "noise dominated" for b in model]
        == list(noise_costs_more),
    )
    examples = curve.batch * curve.steps / fewest_examples(curve)
    below = curve.batch < curve.knee
    check_true(
        "computed curve: examples < 2 × fewest exactly below the knee",
        np.array_equal(examples < ratio, below),
    )
    critical = points["C"].batch
    whole = np.abs(curve.batch - curve.knee) >= 0.5  # C's rounding aside
    check_true(
        "computed curve: the rule says noise dominated below point C only",
        [
            rules.regime(b, critical) == "noise dominated"
            for b in curve.batch[whole]
        ]
        == list(below[whole]),
    )
    check_true(
        "computed curve: steps fall to 2 × fewest below point C's batch",
        steps_boundary(curve) < critical,
    )
