"""Question 3.2: the published scaling-law fits of Kaplan et al. (2020).

Constants (arXiv:2001.08361v1):
- eq. (1.4): B_crit(L) = B_* / L^(1/alpha_B), B_* ~ 2e8 tokens,
  alpha_B ~ 0.21;
- eq. (1.6) = (5.6): L(N, S_min) = (N_c/N)^alpha_N + (S_c/S_min)^alpha_S
  with Table 3: alpha_N = 0.077, alpha_S = 0.76, N_c = 6.5e13, S_c = 2.1e3;
- eq. (5.4): S_min = S / (1 + B_crit(L)/B);
- section 2.1: training compute C ~ 6 N B S FLOPs (B in tokens);
- eq. (1.8): alpha_C^min = 1 / (1/alpha_S + 1/alpha_B + 1/alpha_N).
The single-factor fit (1.1) (N_c = 8.8e13, alpha_N = 0.076) belongs to
L(N) alone; the joint form (1.6) uses its own fitted constants above.
N counts non-embedding parameters; losses are in nats per token.

Used by report/3-resources.qmd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from a2.config.params import Resources
from a2.report import Md, check, check_true, fmt, sci

NS = dict(alpha_n=0.077, alpha_s=0.76, n_c=6.5e13, s_c=2.1e3)  # Table 3
B_STAR, ALPHA_B = 2e8, 0.21  # eq. (1.4)
PF_DAY = 1e15 * 24 * 3600  # FLOPs in one petaflop/s-day


def loss_ns(n: np.ndarray, s_min: np.ndarray) -> np.ndarray:
    """Eq. (1.6): test loss after S_min steps for N parameters."""
    return (NS["n_c"] / np.asarray(n, float)) ** NS["alpha_n"] + (
        NS["s_c"] / np.asarray(s_min, float)
    ) ** NS["alpha_s"]


def b_crit(loss: np.ndarray) -> np.ndarray:
    """Eq. (1.4): critical batch size in tokens."""
    return B_STAR / np.asarray(loss, float) ** (1 / ALPHA_B)


def flops(n: float, batch: float, steps: float) -> float:
    """C = 6 N B S (forward and backward pass, B in tokens)."""
    return 6.0 * n * batch * steps


def trained_loss(n: float, batch: float, steps: float) -> tuple[float, float]:
    """(L, S_min) after S steps at batch size B (tokens).

    Eq. (5.4) ties S_min to L through B_crit(L): solve
    S_min (1 + B_crit(L(N, S_min)) / B) = S, whose left side grows with
    S_min (L falls, B_crit rises), by bisection in log S_min.
    """
    lo, hi = np.log(steps) - 60.0, np.log(steps)
    for _ in range(200):
        mid = (lo + hi) / 2
        x = np.exp(mid)
        over = x * (1 + float(b_crit(loss_ns(n, x))) / batch) > steps
        lo, hi = (lo, mid) if over else (mid, hi)
    s_min = float(np.exp((lo + hi) / 2))
    return float(loss_ns(n, s_min)), s_min


@dataclass
class Option:
    """One way to spend the extra compute of question 3.2(a)."""

    name: str
    n: float
    batch: float  # tokens per step
    steps: float
    s_min: float
    loss: float
    pf_days: float


def options(
    base_params: float, base_steps: float, compute_factor: float
) -> dict[str, Option]:
    """Baseline at its critical batch size, then A (k x steps), B (k x
    batch), C (k x parameters), each with k times the compute."""
    # Baseline batch = B_crit(L0), so S_min = S/2 and L0 = L(N0, S0/2);
    # a batch is a whole number of tokens.
    l0 = float(loss_ns(base_params, base_steps / 2))
    b0 = float(round(float(b_crit(l0))))
    k = compute_factor
    plans = {
        "baseline": (base_params, b0, base_steps),
        "A": (base_params, b0, k * base_steps),
        "B": (base_params, k * b0, base_steps),
        "C": (k * base_params, b0, base_steps),
    }
    out = {}
    for name, (n, b, s) in plans.items():
        loss, s_min = trained_loss(n, b, s)
        out[name] = Option(name, n, b, s, s_min, loss, flops(n, b, s) / PF_DAY)
    return out


def alpha_c_min() -> float:
    """Eq. (1.8): alpha_C^min = 1 / (1/alpha_S + 1/alpha_B + 1/alpha_N)."""
    return 1 / (1 / NS["alpha_s"] + 1 / ALPHA_B + 1 / NS["alpha_n"])


def frontier_exponent() -> float:
    """Derived: N_opt ∝ C^(alpha_C^min / alpha_N), eq. (1.7)-(1.8)."""
    return alpha_c_min() / NS["alpha_n"]


def allocation_exponents() -> dict[str, float]:
    """How the compute-efficient N, B_crit and S_min grow with compute C:
    the exponents of C^x (eq. (1.7)-(1.8); at the optimum the two loss
    terms keep a fixed ratio, so L ∝ N^-alpha_N, S_min ∝ N^(alpha_N /
    alpha_S) and B_crit ∝ L^(-1/alpha_B) ∝ N^(alpha_N / alpha_B))."""
    a_c = alpha_c_min()
    return {
        "N": a_c / NS["alpha_n"],
        "B": a_c / ALPHA_B,
        "S": a_c / NS["alpha_s"],
    }


def s_min_for_compute(n: np.ndarray, flop: float) -> np.ndarray:
    """S_min with 6 N B_crit(L(N, S_min)) S_min = C, per N. The left side
    grows with S_min (L falls, B_crit rises), so bisection in log S."""
    n = np.asarray(n, float)
    lo, hi = np.full_like(n, -10.0), np.full_like(n, 60.0)
    for _ in range(100):
        mid = (lo + hi) / 2
        s = np.exp(mid)
        over = 6 * n * b_crit(loss_ns(n, s)) * s > flop
        hi, lo = np.where(over, mid, hi), np.where(over, lo, mid)
    return np.exp((lo + hi) / 2)


def compute_optimal(
    pf_days: np.ndarray, grid: int = 2001
) -> tuple[np.ndarray, np.ndarray]:
    """Independent route: for each budget C_min (training at the critical
    batch size, C_min = 6 N B_crit(L) S_min), search N on a log grid and
    refine with a parabola in log N; returns (best N, its loss)."""
    best_n, best_l = [], []
    ns = np.logspace(2, 16, grid)
    for c in np.atleast_1d(pf_days) * PF_DAY:
        loss = loss_ns(ns, s_min_for_compute(ns, c))
        i = int(np.clip(np.argmin(loss), 1, grid - 2))
        x = np.log(ns[i - 1 : i + 2]) - np.log(ns[i])
        p = np.polyfit(x, loss[i - 1 : i + 2], 2)
        best_n.append(ns[i] * np.exp(-p[1] / (2 * p[0])))
        best_l.append(np.polyval(p, -p[1] / (2 * p[0])))
    return np.array(best_n), np.array(best_l)


def frontier_steps(n: float) -> float:
    """Steps S (= 2 S_min at the critical batch) where training at the
    compute-efficient frontier stops for N parameters: there the step
    term is alpha_N/alpha_S times the parameter term (Kaplan et al.,
    appendix B), L = (1 + alpha_N/alpha_S) L(N, infinity)."""
    a_n, a_s = NS["alpha_n"], NS["alpha_s"]
    s_term = a_n / a_s * (NS["n_c"] / n) ** a_n
    return 2 * NS["s_c"] / s_term ** (1 / a_s)


def baseline_steps(base_params: float, base_steps: int | None) -> int:
    """3.2: the baseline's training steps, a whole number: those given,
    or where training at the compute-efficient frontier stops."""
    if base_steps is not None:
        return int(base_steps)
    return round(frontier_steps(base_params))


def options_sweep(
    base_params: float, base_steps: np.ndarray, compute_factor: float
) -> dict[str, np.ndarray]:
    """Loss after each option against the baseline's training length."""
    out: dict[str, list[float]] = {k: [] for k in ("baseline", "A", "B", "C")}
    for s in np.atleast_1d(base_steps):
        for k, o in options(base_params, s, compute_factor).items():
            out[k].append(o.loss)
    return {k: np.array(v) for k, v in out.items()}


def learning_curves(
    sizes: list[float], steps: np.ndarray
) -> dict[float, dict[str, np.ndarray]]:
    """Figures 2-3 in spirit: per model size, loss against S_min and
    against compute when training at the critical batch size
    (S = 2 S_min, C = 6 N B_crit(L) S)."""
    out = {}
    for n in sizes:
        loss = loss_ns(n, steps)
        c = flops(n, b_crit(loss), 2 * steps) / PF_DAY
        out[n] = {
            "s_min": steps,
            "loss": loss,
            "pf_days": c,
            "tokens": b_crit(loss) * 2 * steps,
        }
    return out


@dataclass
class Curves:
    """What 3.2's figure draws besides the options: learning curves per
    model size (:func:`learning_curves`), each option's loss against the
    baseline's length (:func:`options_sweep`) and where training at the
    compute-efficient frontier stops."""

    learning: dict[float, dict[str, np.ndarray]]
    sweep_steps: np.ndarray
    sweep: dict[str, np.ndarray]
    frontier: float


def curves(
    base_params: float,
    compute_factor: float,
    sizes: tuple[float, ...] = tuple(10.0**k for k in range(3, 10)),
    steps: np.ndarray | None = None,
    sweep_steps: np.ndarray | None = None,
) -> Curves:
    """3.2's figure's curves: models of ``sizes`` parameters over
    ``steps`` (S_min, default 10^2.5 to 10^6), and the options from
    baselines of ``sweep_steps`` steps (default 10^3 to 10^6)."""
    steps = np.logspace(2.5, 6, 200) if steps is None else steps
    if sweep_steps is None:
        sweep_steps = np.logspace(3, 6, 40)
    return Curves(
        learning_curves(list(sizes), steps),
        sweep_steps,
        options_sweep(base_params, sweep_steps, compute_factor),
        frontier_steps(base_params),
    )


def crossover_steps(base_params: float, compute_factor: float) -> float:
    """Baseline steps beyond which option C beats option A (bisection in
    log S; A wins only for baselines stopped this early)."""

    def c_minus_a(s: float) -> float:
        o = options(base_params, s, compute_factor)
        return o["C"].loss - o["A"].loss

    lo, hi = np.log(1e2), np.log(1e8)
    if c_minus_a(np.exp(lo)) < 0 or c_minus_a(np.exp(hi)) > 0:
        raise ValueError("no crossover in 1e2..1e8 steps")
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if c_minus_a(np.exp(mid)) > 0 else (lo, mid)
    return float(np.exp((lo + hi) / 2))


# --- rule: the option question 3.2(a) picks, chosen from the numbers -------

LOSS_TIE = 1e-3
"""Options whose test losses differ by less than this (nats per token)
count as a tie: the fits are not that precise, and no option "beats"
another by less."""


def best_option(opts: dict[str, Option], tie: float = LOSS_TIE) -> str:
    """The option (A, B or C) with the lowest test loss, or "none" when
    the runner-up is within `tie` of it."""
    ranked = sorted(
        (o for k, o in opts.items() if k != "baseline"), key=lambda o: o.loss
    )
    if len(ranked) > 1 and ranked[1].loss - ranked[0].loss < tie:
        return "none"
    return ranked[0].name


# --- what section 3.2 prints ------------------------------------------------


def _significant(x: float, digits: int = 3) -> Md:
    """``x`` to ``digits`` significant digits: a multiple of it prints
    as that multiple of the digits shown."""
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return fmt(x, decimals)


@dataclass(frozen=True)
class OptionsFacts:
    """3.2(a)'s values as the prose prints them: the baseline and the
    loss each option reaches with the extra compute."""

    factor: Md  # how many times the baseline's compute
    base_params: Md
    tie: Md  # rule: the best option leads by at least this (nats)
    crossover: Md  # baseline steps below which A would beat C
    crossover_share: Md  # that, over the baseline's steps as printed
    steps_at: Md  # S / S_min at `factor` times the critical batch
    cut: Md  # the steps saved there against the critical batch, in %
    compute_at: Md  # the compute spent there, over the critical batch's


def options_facts(
    opts: dict[str, Option], base_steps: int, p: Resources
) -> OptionsFacts:
    cross = round(crossover_steps(p.base_params, p.compute_factor))
    # Eq. (5.4): S = S_min (1 + B_crit / B), 2 S_min at B = B_crit; the
    # part 1 / factor to two significant digits, the cut exact from it.
    places = 1 - math.floor(math.log10(1 / p.compute_factor))
    steps_at = round(1 + 1 / p.compute_factor, places)
    cut = 100 * (1 - steps_at / 2)
    compute_at = f"{p.compute_factor * steps_at / 2:.{places - 1}f}"
    return OptionsFacts(
        factor=fmt(p.compute_factor),
        base_params=sci(p.base_params, 0),
        tie=fmt(LOSS_TIE),
        crossover=fmt(cross),
        crossover_share=fmt(cross / base_steps, 2),
        steps_at=Md(f"{steps_at:.{places}f}".rstrip("0").rstrip(".")),
        cut=Md(f"{cut:.{max(0, places - 2)}f}%"),
        compute_at=Md(compute_at.rstrip("0").rstrip(".")),
    )


OPTIONS_HEADER = (
    "",
    "$N$",
    "batch",
    "$S$",
    "$S_{\\min}$",
    "PF-days",
    "test loss",
)


def options_rows(opts: dict[str, Option]) -> list[tuple[str, ...]]:
    """3.2's table: the baseline and each option. The batch is a whole
    number of tokens, shown in full, so that the compute 6 N B S follows
    from the row as printed; compute is shown to three significant
    digits, so that an option's is visibly the baseline's times the
    factor."""
    return [
        (
            k if k == "baseline" else f"option {k}",
            sci(o.n, 0),
            fmt(round(o.batch)),  # a whole number of tokens, in full
            fmt(round(o.steps)),
            fmt(o.s_min, 0),
            _significant(o.pf_days),
            fmt(o.loss, 3),
        )
        for k, o in opts.items()
    ]


@dataclass(frozen=True)
class FrontierFacts:
    """3.2's compute-efficient frontier: N, B_crit and S_min grow as
    C^e; a tenfold budget multiplies each by 10^e, computed from the
    exponent as printed."""

    e_n: Md
    e_b: Md
    e_s: Md
    e_n_numerical: Md  # the exponent of N by direct minimisation
    gain_n: Md
    gain_b: Md
    gain_s: Md


def frontier_facts(numerical_exponent: float) -> FrontierFacts:
    e = allocation_exponents()
    shown = {k: round(v, 2) for k, v in e.items()}
    return FrontierFacts(
        e_n=fmt(shown["N"], 2),
        e_b=fmt(shown["B"], 2),
        e_s=fmt(shown["S"], 2),
        e_n_numerical=fmt(numerical_exponent, 2),  # as e_n: the same digits
        gain_n=fmt(10 ** shown["N"], 1),
        gain_b=fmt(10 ** shown["B"], 1),
        gain_s=fmt(10 ** shown["S"], 2),
    )


# --- the checks of section 3.2 ----------------------------------------------


def check_frontier(budgets: np.ndarray | None = None) -> float:
    """3.2: the derived exponent of the compute-efficient N against a
    direct numerical minimisation over N at each budget (PF-days, by
    default 1e-6 to 100); returns the numerical exponent."""
    if budgets is None:
        budgets = np.logspace(-6, 2, 9)
    n_opt, _ = compute_optimal(budgets)
    slope = float(np.polyfit(np.log(budgets), np.log(n_opt), 1)[0])
    check(
        "exponent of the compute-efficient model size: derived = numerical",
        frontier_exponent(),
        slope,
        rtol=1e-4,
    )
    e = allocation_exponents()
    check_true(
        "model size has the largest exponent", e["N"] > max(e["B"], e["S"])
    )
    return slope


def check_options(opts: dict[str, Option]) -> None:
    """3.2(a): the options spend the same compute, B at most doubles
    S_min, and C reaches the lowest loss by the rule."""
    check(
        "options A, B and C use the same compute",
        [opts["A"].pf_days] * 2,
        [opts["B"].pf_days, opts["C"].pf_days],
        rtol=1e-12,
    )
    check_true(
        "option B: fewest steps to its loss at most 2 × the baseline's",
        opts["B"].s_min <= 2 * opts["baseline"].s_min,
    )
    check_true(
        "option C reaches the lowest loss (rule)", best_option(opts) == "C"
    )
