"""The rules behind the report's verdict words.

Every comparison the report states in words ("coincide", "rises", "Yes",
"duller", "no measurable change", "slower") is decided here by a named
function, with its threshold a module constant, so that a reader can
find the rule behind a word and a test covers each side of it. Each rule
returns one word or short phrase from a fixed set, listed in its
docstring; the section's Markdown is written to read correctly with any
of them. Each rule's docstring names its section.

In sections 4 and 5, differences of losses and colours count only
beyond a noise margin, :func:`margin`: a stated floor, or
:data:`NOISE_FACTOR` standard deviations of the spread over seeds,
whichever is larger. Timings are decided from paired repeats
(:func:`time_ratio`): a verdict on them holds only when the interval of
the paired ratio lies beyond 1 or within :data:`TIME_MARGIN` of it, and
says it cannot decide otherwise.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# --- section 1.2: the minimum-norm solution --------------------------------

MIN_NORM_ATOL = 1e-6
"""A solution counts as the minimum-norm solution when it lies within
this distance of X^T (X X^T)^-1 t. Converged runs in section 1 land
within 1e-9 of their limit, and the adaptive limit of the hint's example
lies 0.3 away: the rule separates them with margin on both sides."""


def min_norm(distance: float, atol: float = MIN_NORM_ATOL) -> str:
    """1.2: is a solution at ``distance`` from the minimum-norm solution
    that solution? "yes" or "no"."""
    return "yes" if distance <= atol else "no"


# --- section 2.2: L2 regularisation against weight decay -------------------

SAME_RTOL = 1e-12
"""L2 and decoupled decay "give the same trajectory" when their largest
distance over all steps is below SAME_RTOL times the largest weight norm
on the way: float64 rounding (about 1e-16 per operation) accumulated over
thousands of steps stays far below it, and any real difference far
above."""


def same_trajectory(gap: float, norm: float, rtol: float = SAME_RTOL) -> bool:
    """2.2.3: do two trajectories coincide, given their largest distance
    ``gap`` and the largest weight norm ``norm`` on the way?"""
    return bool(gap <= rtol * norm)


def agreement(gap: float, norm: float, rtol: float = SAME_RTOL) -> str:
    """2.2.3, :func:`same_trajectory` as words: "coincide" or "part
    ways"."""
    return "coincide" if same_trajectory(gap, norm, rtol) else "part ways"


# --- section 3.1: the noisy quadratic model ---------------------------------

STEP_RTOL = 0.01
"""A sequence "rises" when each value exceeds the one before by more than
this fraction (1%), "falls" when each is lower by more, "stays flat" when
every change is smaller; otherwise it "changes direction"."""


def stepwise_trend(values: Sequence[float], rtol: float = STEP_RTOL) -> str:
    """3.1.1: how a sequence (the best eta per batch size) changes from
    each entry to the next (at least two): "rises", "falls", "stays
    flat" or "changes direction". Unlike :func:`trend_by_steps`, every
    step counts, relative to its value."""
    v = np.asarray(values, dtype=float)
    if v.size < 2:
        raise ValueError("a trend needs at least two values")
    change = np.diff(v) / np.abs(v[:-1])
    if np.all(change > rtol):
        return "rises"
    if np.all(change < -rtol):
        return "falls"
    if np.all(np.abs(change) <= rtol):
        return "stays flat"
    return "changes direction"


LINEAR_TOL = 0.15
"""A fitted exponent of eta against B within this distance of 1 counts as
"in proportion to B" (the eta grid's spacing alone moves the fit by a few
hundredths)."""


def growth(exponent: float, tol: float = LINEAR_TOL) -> str:
    """3.1.1: words for eta ~ B^exponent."""
    if abs(exponent - 1) <= tol:
        return "in proportion to $B$"
    return "more slowly than $B$" if exponent < 1 else "faster than $B$"


class OperatingPoint(Protocol):
    """A marked point of handout Fig. 1 (``a2.questions.nqm.Point``)."""

    name: str
    steps: float
    examples: float


def best_tradeoff(
    points: Mapping[str, OperatingPoint],
    steps_floor: float,
    examples_floor: float,
) -> str:
    """3.1.2(a): the point with the best trade-off of training time
    against compute: the smallest product of its two overheads, steps
    over the fewest steps any batch size needs (time, with batches
    parallelised) and examples over the fewest examples any batch size
    needs (compute). Equal weight to both: a factor 2 in time costs as
    much as a factor 2 in compute."""

    def cost(p: OperatingPoint) -> float:
        return (p.steps / steps_floor) * (p.examples / examples_floor)

    return min(points.values(), key=cost).name


CRITICAL_EXAMPLES_RATIO = 2.0
"""The critical batch size B_crit is where the examples processed reach
this many times the fewest (the steps reach twice the perfect-scaling
line: the knee). In the model S = S_min (1 + B_crit / B) of McCandlish
et al. and Kaplan et al., the examples are B S = E_min (1 + B / B_crit),
twice E_min exactly at B = B_crit."""


def regime(batch: float, critical: float) -> str:
    """3.1.2(b): "noise dominated" below the critical batch size,
    "curvature dominated" from it on. In the model S = S_min (1 + B_crit
    / B) the curvature sets S_min of the steps and the noise adds
    S_min B_crit / B, the larger part exactly when B < B_crit."""
    if batch < critical:
        return "noise dominated"
    return "curvature dominated"


def remedy(parallel_steps: float, precond_steps: float) -> str:
    """3.1.2(b): the option that saves more steps, as the handout words
    it: more parallel compute (as large a batch as helps: the plateau's
    steps) or a higher-order optimiser (the preconditioner's steps)."""
    if parallel_steps < precond_steps:
        return "seek parallel compute"
    return "use higher order optimizers"


# --- sections 4 and 5: the colourisation networks ---------------------------

NOISE_FACTOR = 2.0
"""A difference is beyond noise when it exceeds this many standard
deviations of the measured spread (about 95% for a normal spread)."""

GOOD_RGB_RATIO = 1.5
"""4.2, "the colours look good": the prediction's mean RGB error is
within this factor of the palette-quantised truth's, the best any
classifier over the palette can do."""

LOSS_MARGIN = 0.01
"""Smallest difference in validation cross-entropy (nats per pixel)
called a difference, when no larger seed spread is measured."""

SATURATION_MARGIN = 0.02
"""Smallest difference in mean HSV saturation (0 to 1) called "duller"
or "more vivid", when no larger seed spread is measured; a mean of about
0.2 shifted by 0.02 is a tenth of it."""

LEAN_RATIO = 1.2
"""A model "leans on" its commonest colours when they cover this many
times more of its pixels than of the truth's."""

PLATEAU_RATE = 0.002
"""Validation loss still "improving" when it fell by more than this
many nats per pixel per epoch over the last epochs (slower, ten more
epochs would gain under 0.02)."""

TAIL_EPOCHS = 3
"""Epochs over which the recent change of the validation loss is
averaged."""


def margin(floor: float, sd: float | None = None) -> float:
    """The larger of ``floor`` and :data:`NOISE_FACTOR` times ``sd``
    (``sd`` None: no spread measured, the floor alone)."""
    return floor if sd is None else max(floor, NOISE_FACTOR * sd)


def spread(values: Sequence[float]) -> float | None:
    """Sample standard deviation (None for fewer than two values)."""
    vals = [float(v) for v in values]
    return statistics.stdev(vals) if len(vals) > 1 else None


def largest_spread(groups: Sequence[Sequence[float]]) -> float | None:
    """The largest spread of several groups, e.g. of two models' losses
    over seeds; None when a group has a single value, so that no spread
    was measured."""
    sds = [spread(g) for g in groups]
    return None if not sds or None in sds else max(sds)


def looks_good(pred_rgb_error: float, quantised_rgb_error: float) -> str:
    """4.2: "Yes" when the prediction's mean RGB error is within
    :data:`GOOD_RGB_RATIO` times the palette ceiling's, else "No"."""
    return (
        "Yes"
        if pred_rgb_error <= GOOD_RGB_RATIO * quantised_rgb_error
        else "No"
    )


def lower(a: float, b: float, tol: float = LOSS_MARGIN) -> str:
    """Is ``a`` lower than ``b``? "Yes" when lower by more than ``tol``,
    "No" when higher by more than ``tol``, else "Not clearly".

    5.3: ``a`` ConvTransposeNet's validation loss, ``b``
    PoolUpsampleNet's, ``tol`` from :func:`margin` on the seed spread.
    """
    if a < b - tol:
        return "Yes"
    if a > b + tol:
        return "No"
    return "Not clearly"


CLOSE_FACTOR = 1.25
"""A difference beyond its noise margin by less than this factor is
"only just beyond" it: a verdict resting on a few thousandths says so."""


def beyond(gap: float, tol: float) -> str:
    """Whether a difference clears its noise margin: "beyond", "only just
    beyond" (by less than :data:`CLOSE_FACTOR` times the margin) or
    "within" (as in "the gap is beyond the noise margin")."""
    if abs(gap) <= tol:
        return "within"
    return "only just beyond" if abs(gap) < CLOSE_FACTOR * tol else "beyond"


def vividness(sat: float, ref: float, tol: float = SATURATION_MARGIN) -> str:
    """Colours with mean saturation ``sat`` against ``ref``: "duller
    than", "more vivid than" (beyond ``tol``) or "about as vivid as"."""
    if sat < ref - tol:
        return "duller than"
    if sat > ref + tol:
        return "more vivid than"
    return "about as vivid as"


RGB_ERROR_RATIO = 1.1
"""5.5: one network's colourings are "worse" than another's when their
mean RGB error is more than this many times the other's (10%), "better"
when less than its inverse, else "about as good as"."""


def image_quality(
    error: float, ref: float, ratio: float = RGB_ERROR_RATIO
) -> str:
    """5.5: colourings with mean RGB error ``error`` against ``ref``:
    "worse than", "better than" or "about as good as"."""
    if error > ratio * ref:
        return "worse than"
    if error * ratio < ref:
        return "better than"
    return "about as good as"


def leaning(pred_share: float, truth_share: float) -> str:
    """Share of pixels in the model's commonest colours, predicted
    against true: "leans on" when above :data:`LEAN_RATIO` times,
    else "does not lean on" (as in "it leans on a few colours")."""
    return (
        "leans on"
        if pred_share > LEAN_RATIO * truth_share
        else "does not lean on"
    )


def training_state(
    valid_losses: Sequence[float], tol: float = LOSS_MARGIN
) -> str:
    """Where training stands, from the validation loss after each epoch:

    - "overfitting": the last loss is more than ``tol`` above the lowest;
    - "still improving, with no sign of overfitting yet": it fell by more
      than :data:`PLATEAU_RATE` per epoch over the last
      :data:`TAIL_EPOCHS` epochs;
    - "levelling off, with no sign of overfitting": otherwise;
    - "too short to tell (one epoch)": a single epoch.
    """
    v = [float(x) for x in valid_losses]
    if len(v) < 2:
        return "too short to tell (one epoch)"
    if v[-1] - min(v) > tol:
        return "overfitting"
    if recent_rate(v) < -PLATEAU_RATE:
        return "still improving, with no sign of overfitting yet"
    return "levelling off, with no sign of overfitting"


def recent_rate(values: Sequence[float]) -> float:
    """Mean change per epoch over the last :data:`TAIL_EPOCHS` epochs
    (fewer when the run is shorter; 0 for one epoch)."""
    tail = list(values)[-(TAIL_EPOCHS + 1) :]
    return 0.0 if len(tail) < 2 else (tail[-1] - tail[0]) / (len(tail) - 1)


def step_changes(values: Sequence[float], tol: float) -> list[int]:
    """Each step between neighbouring ``values`` against a noise margin
    ``tol``: +1 a rise beyond it, -1 a fall beyond it, 0 no measurable
    change."""
    v = [float(x) for x in values]
    return [(b - a > tol) - (a - b > tol) for a, b in zip(v, v[1:])]


def trend_by_steps(
    values: Sequence[float], labels: Sequence[str], tol: float
) -> str:
    """5.5: how ``values``, ordered by a setting whose values are
    ``labels``, move from each setting to the next, each step judged
    against the noise margin ``tol`` (:func:`step_changes`). Runs of
    steps that go the same way are named by their ends:

    - one run: "rises from each batch size to the next", "falls from
      ...", "shows no measurable change from ..." (then, if the ends
      differ beyond ``tol``, "but rises (falls) from 32 to 512 overall");
    - several: "shows no measurable change from 32 to 64, then rises
      from 64 to 512".
    """
    if len(values) != len(labels) or len(values) < 2:
        raise ValueError("a trend needs a label for each of 2+ values")
    verb = {1: "rises", -1: "falls", 0: "shows no measurable change"}
    steps = step_changes(values, tol)
    runs: list[tuple[int, int, int]] = []  # (direction, first, last index)
    for i, d in enumerate(steps):
        if runs and runs[-1][0] == d:
            runs[-1] = (d, runs[-1][1], i + 1)
        else:
            runs.append((d, i, i + 1))
    if len(runs) == 1:
        words = f"{verb[steps[0]]} from each batch size to the next"
        ends = step_changes([values[0], values[-1]], tol)[0]
        if steps[0] == 0 and ends:
            words += (
                f", but {verb[ends]} from {labels[0]} to {labels[-1]} overall"
            )
        return words
    return ", then ".join(
        f"{verb[d]} from {labels[a]} to {labels[b]}" for d, a, b in runs
    )


# --- timings (5.3, 5.5) ----------------------------------------------------

TIME_MARGIN = 0.05
"""Two times whose paired ratio lies, with its whole interval, within
this fraction of 1 are "about the same", however well repeats agree."""


TIME_SE_FACTOR = 3.0
"""Standard errors of the mean log ratio either side of a paired time
ratio. Three, not :data:`NOISE_FACTOR`'s two: the rounds stop as soon as
a verdict is reached, so each look is another chance of a false one, and
the spread of a few rounds is itself uncertain. With looks after 6, 12
and 20 rounds (``a2.analysis.timing.LOOKS``), two equal times are called
different in about 4% of measurements (``tests/test_timing.py``)."""


@dataclass(frozen=True)
class Ratio:
    """The ratio of two times measured in pairs (one pair per round): the
    geometric mean of the paired ratios, and the interval of
    :data:`TIME_SE_FACTOR` standard errors of their mean logarithm, its
    bounds to :data:`RATIO_DIGITS` decimals."""

    value: float
    low: float
    high: float
    rounds: int


def time_ratio(a: Sequence[float], b: Sequence[float]) -> Ratio:
    """5.3, 5.5: ``a`` over ``b``, from times taken in the same rounds
    (``a[i]`` and ``b[i]`` one after the other). With fewer than two
    pairs no spread is known: the interval is (0, inf)."""
    if len(a) != len(b) or not a:
        raise ValueError("paired times need the same number of rounds")
    logs = [math.log(x / y) for x, y in zip(a, b)]
    mean = statistics.fmean(logs)
    if len(logs) < 2:
        return Ratio(math.exp(mean), 0.0, math.inf, len(logs))
    half = TIME_SE_FACTOR * statistics.stdev(logs) / math.sqrt(len(logs))
    # The bounds as the report prints them: a verdict follows from the
    # interval a reader sees.
    low, high = (
        round(math.exp(mean + h), RATIO_DIGITS) for h in (-half, half)
    )
    return Ratio(math.exp(mean), low, high, len(a))


RATIO_DIGITS = 2
"""Decimals of a time ratio and its interval wherever they are printed."""

UNDECIDED = "undecided"


def time_change(r: Ratio, margin: float = TIME_MARGIN) -> str:
    """5.3, 5.5: what a paired ratio of times decides: "about the same"
    (its interval within ``margin`` of 1), else "lower" or "higher" (the
    interval wholly below or above 1), else :data:`UNDECIDED`."""
    if 1 - margin <= r.low and r.high <= 1 + margin:
        return "about the same"
    if r.high < 1:
        return "lower"
    if r.low > 1:
        return "higher"
    return UNDECIDED


def speed(r: Ratio, margin: float = TIME_MARGIN) -> str:
    """5.3, :func:`time_change` in words for "A is ... B" (``r``: A's
    time over B's): "faster than", "slower than", "about as fast as" or
    "not clearly faster or slower than"."""
    return {
        "lower": "faster than",
        "higher": "slower than",
        "about the same": "about as fast as",
        UNDECIDED: "not clearly faster or slower than",
    }[time_change(r, margin)]


TIME_WORDS = {
    "higher": "is slower",
    "lower": "is faster",
    "about the same": "is about as fast",
    UNDECIDED: "is not clearly faster or slower",
}
"""5.5, :func:`time_change` in words for "Against $B =$ 32, an epoch ...
at $B =$ 64": the words of :func:`speed` (5.3), for one verdict one set
of words throughout the report."""


def time_by_setting(
    ratios: Sequence[Ratio], labels: Sequence[str], margin: float = TIME_MARGIN
) -> str:
    """5.5: each batch size's time per epoch against the smallest's
    (``ratios``, one per larger batch size, named by ``labels``), the
    batch sizes grouped by :func:`time_change`'s verdict, e.g. "is not
    clearly faster or slower at $B =$ 64 and 512, and is slower at 128
    and 256" (:data:`TIME_WORDS`)."""
    if len(ratios) != len(labels) or not ratios:
        raise ValueError("a label for each of 1+ ratios")
    groups: dict[str, list[str]] = {}
    for r, label in zip(ratios, labels):
        groups.setdefault(time_change(r, margin), []).append(label)
    parts = []
    for change, group in groups.items():
        where = " and ".join([", ".join(group[:-1]), group[-1]][-2:])
        where = where.removeprefix(" and ")
        prefix = "$B =$ " if not parts else ""
        parts.append(f"{TIME_WORDS[change]} at {prefix}{where}")
    return ", and ".join([", ".join(parts[:-1]), parts[-1]]).removeprefix(
        ", and "
    )
