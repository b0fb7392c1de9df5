"""What sections 4 and 5 state about their runs, as print text.

Each function takes runs (``a2.colour.experiments.load``) and returns a small
dataclass of formatted values, one field per number or verdict word that
the section's prose cites inline (`` `{python} pool.acc` ``). The numbers
come from the runs' histories and from ``a2.analysis.colourstats``, the
words from the named rules of ``a2.report.rules``; the rows of the
sections' tables are assembled here too. Text is Markdown
(``a2.report.Md``), except what a run's manifest holds (its devices),
which the build escapes.

A value printed next to the values it is computed from (a difference, a
ratio, a multiple) is computed from them as printed (:func:`printed`),
so that a reader who redoes the arithmetic finds the same digits.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from a2.analysis import colourstats, counting, timing
from a2.colour.cache import Run
from a2.colour.data import ColourData
from a2.colour.experiments import (
    MODEL_NAMES,
    SweepRun,
    devices,
    optimiser_steps,
    pm,
)
from a2.config.params import RunConfig, Training
from a2.report import Md, code, fmt, plural, rules

PAIR = ("pool_upsample", "conv_transpose")  # what 5.3 asks to compare


def printed(x: float, digits: int) -> float:
    """``x`` as it is printed with ``digits`` decimals: the operand a
    reader takes when redoing the arithmetic."""
    return float(f"{x:.{digits}f}")


def typical_seconds(timed: timing.Timed, name: Hashable) -> float:
    """The time per epoch a table shows for ``name``: the geometric
    mean over rounds, so that the ratio of two of them is the mean
    paired ratio that the verdict reads (same rounds, same images)."""
    return statistics.geometric_mean(timed.seconds[name])


SECONDS_DIGITS = 3  # times per epoch, in the tables and the prose
# Losses, accuracies (%) and mean saturations: one number of digits for
# each, wherever a run's value is printed (prose, tables, appendix).
LOSS_DIGITS, ACC_DIGITS, SAT_DIGITS = 4, 2, 3


def model_label(model: str) -> str:
    """A network's name in the tables of 5.3."""
    beyond = " (beyond the handout)" if model == "unet" else ""
    return MODEL_NAMES[model] + beyond


@dataclass(frozen=True)
class Setup:
    """Sections 4 and 5 open with the data and the networks' sizes."""

    n_train: Md
    n_valid: Md
    label: Md
    nc: Md  # the palette's colours
    k: Md  # the kernel size
    nf: Md


def setup(data: ColourData, p: Training) -> Setup:
    return Setup(
        fmt(len(data.train_grey)),
        fmt(len(data.valid_grey)),
        fmt(data.identity["label"]),
        fmt(data.num_colours),
        fmt(p.kernel),
        fmt(p.num_filters),
    )


@dataclass(frozen=True)
class RunSummary:
    """A trained run (4.2, 5.2): how it was trained, where it ended
    (losses in nats per pixel, accuracy in % of validation pixels) and
    where training stands."""

    epochs: Md
    batch: Md
    lr: Md
    seed: Md
    key: Md
    device: str  # from the run's manifest
    steps: Md
    train_loss: Md
    valid_loss: Md
    lowest: Md  # "also its lowest" or "lowest 1.580, after epoch 12"
    acc: Md
    gap: Md  # validation against training loss: "0.007 nats below"
    state: Md  # rules.training_state
    evidence: Md  # what the state rests on: the loss's recent change
    uniform: Md  # ln NC, the loss of a uniform guess
    below_uniform: Md  # % below it


def _signed(x: float, digits: int, down: str, up: str) -> Md:
    """A signed difference in words: ``down`` or ``up`` around its size."""
    return Md((down if x < 0 else up).format(f"{abs(x):.{digits}f}"))


def _recent_change(valid: Sequence[float]) -> Md:
    """The evidence of ``rules.training_state``, with the rule's
    threshold beside it: how far the last validation loss lies above the
    lowest, or how it changed per epoch over the last epochs."""
    if len(valid) < 2:
        return Md("there is no earlier epoch to compare with")
    above = valid[-1] - min(valid)
    if above > rules.LOSS_MARGIN:
        return Md(
            f"the last validation loss lies {above:.4f} nats above its "
            f"lowest, more than the {fmt(rules.LOSS_MARGIN)} allowed"
        )
    rate = rules.recent_rate(valid)
    change = _signed(rate, 4, "fell by {}", "rose by {}")
    tail = plural(min(rules.TAIL_EPOCHS, len(valid) - 1), "epoch")
    plateau = fmt(rules.PLATEAU_RATE)
    rule = (
        f"{'more' if rate < -rules.PLATEAU_RATE else 'less'} than the "
        f"{plateau} that counts as still improving"
        if rate < 0
        else f"while only a fall of more than {plateau} counts as still "
        "improving"
    )
    return Md(
        f"over the last {tail} the validation loss {change} nats per "
        f"epoch, {rule}"
    )


def _device_words(device: str) -> str:
    """A run's device as the prose names it: "cpu" is "the CPU"."""
    return "the CPU" if device == "cpu" else device


def summary(run: Run, data: ColourData) -> RunSummary:
    c, h = run.config, run.history
    last, best = h.last, min(h, key=lambda r: r.valid_loss)
    valid = [r.valid_loss for r in h]
    uniform = math.log(data.num_colours)
    steps = optimiser_steps(len(data.train_grey), c.batch_size, c.epochs)
    train = printed(last.train_loss, LOSS_DIGITS)
    final = printed(last.valid_loss, LOSS_DIGITS)
    lowest = (
        "also its lowest"
        if best.epoch == last.epoch
        else f"lowest {best.valid_loss:.{LOSS_DIGITS}f}, after epoch "
        f"{best.epoch}"
    )
    return RunSummary(
        epochs=plural(c.epochs, "epoch"),
        batch=fmt(c.batch_size),
        lr=fmt(c.lr),
        seed=fmt(c.seed),
        key=Md(code(run.key)),
        device=_device_words(devices(run)),
        steps=fmt(steps),
        train_loss=fmt(train, LOSS_DIGITS),
        valid_loss=fmt(final, LOSS_DIGITS),
        lowest=Md(lowest),
        acc=fmt(last.valid_acc, ACC_DIGITS),
        gap=_signed(
            final - train, LOSS_DIGITS, "{} nats below", "{} nats above"
        ),
        state=fmt(rules.training_state(valid)),
        evidence=_recent_change(valid),
        uniform=fmt(uniform, 3),
        below_uniform=fmt(100 * (1 - final / printed(uniform, 3)), 0),
    )


@dataclass(frozen=True)
class Colours:
    """What 4.2 says of a model's colours (``a2.analysis.colourstats``)."""

    majority: Md  # % right when always guessing the commonest colour
    err_pred: Md  # mean RGB error of the prediction
    err_truth: Md  # ... of the truth quantised to the palette
    err_ratio: Md  # of the two as printed
    good: Md
    sat_pred: Md  # mean saturation of the prediction
    sat_truth: Md
    vivid: Md
    top_n: Md  # how many commonest colours are followed
    share_pred: Md  # % of predicted pixels in them
    share_truth: Md
    leans: Md
    top: Md  # those colours in 8-bit RGB
    colours_pred: Md  # palette colours on at least `present` % of pixels
    colours_truth: Md
    present: Md


def colours(run: Run, data: ColourData) -> Colours:
    s = colourstats.colour_stats(run.model, data)
    names = (colourstats.colour_name(data.palette[i]) for i in s.top)
    # The words are decided from the values as printed beside them.
    pred, truth = (
        printed(s.pred_rgb_error, 4),
        printed(s.quantised_rgb_error, 4),
    )
    sat_pred = printed(s.pred_saturation, 3)
    sat_truth = printed(s.truth_saturation, 3)
    share_pred, share_truth = (
        printed(s.pred_share, 0),
        printed(s.truth_share, 0),
    )
    return Colours(
        majority=fmt(s.majority_acc, 1),
        err_pred=fmt(pred, 4),
        err_truth=fmt(truth, 4),
        err_ratio=fmt(pred / truth, 1),
        good=fmt(rules.looks_good(pred, truth)),
        sat_pred=fmt(sat_pred, 3),
        sat_truth=fmt(sat_truth, 3),
        vivid=fmt(rules.vividness(sat_pred, sat_truth)),
        top_n=fmt(len(s.top)),
        share_pred=fmt(share_pred, 0),
        share_truth=fmt(share_truth, 0),
        leans=fmt(rules.leaning(share_pred, share_truth)),
        top=fmt(", ".join(names)),
        colours_pred=fmt(s.pred_colours),
        colours_truth=fmt(s.truth_colours),
        present=fmt(100 * colourstats.PRESENT),
    )


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of ``a2.report.rules`` that the prose states (4.2, 5.3,
    5.5)."""

    good_ratio: Md
    sat_margin: Md
    lean_ratio: Md
    plateau: Md
    tail: Md  # the last epochs that "still improving" reads
    loss_margin: Md
    noise_factor: Md
    close: Md  # below this many times its margin: "only just beyond"
    rgb_ratio: Md  # one mean RGB error "worse" beyond this many times another
    time_se: Md  # standard errors either side of a time ratio
    time_margin: Md  # in %


def thresholds() -> Thresholds:
    return Thresholds(
        good_ratio=fmt(rules.GOOD_RGB_RATIO),
        sat_margin=fmt(rules.SATURATION_MARGIN),
        lean_ratio=fmt(rules.LEAN_RATIO),
        plateau=fmt(rules.PLATEAU_RATE),
        tail=plural(rules.TAIL_EPOCHS, "epoch"),
        loss_margin=fmt(rules.LOSS_MARGIN),
        noise_factor=fmt(rules.NOISE_FACTOR),
        close=fmt(rules.CLOSE_FACTOR),
        rgb_ratio=fmt(rules.RGB_ERROR_RATIO),
        time_se=fmt(rules.TIME_SE_FACTOR),
        time_margin=fmt(100 * rules.TIME_MARGIN, 0),
    )


# --- 5.3: the networks compared ---------------------------------------------


@dataclass(frozen=True)
class SeedStudy:
    """5.3's runs over seeds: final validation loss, accuracy and mean
    saturation of each network's colours, and the noise margins that the
    pair's spreads give (``rules.margin``). Each seed's value is kept as
    printed (:data:`LOSS_DIGITS`, :data:`ACC_DIGITS`, :data:`SAT_DIGITS`
    decimals; the appendix prints the runs' losses and accuracies with
    the same digits), and means and standard deviations are computed from
    those, then rounded to the same digits: a mean or spread follows from
    the seeds as printed, and a margin or a difference the prose computes
    follows from the table's digits."""

    loss: dict[str, list[float]]
    acc: dict[str, list[float]]
    saturation: dict[str, list[float]]
    loss_sd: float | None  # the larger of the pair's, as printed
    sat_sd: float | None
    loss_tol: float
    sat_tol: float

    def mean(self, quantity: str, model: str) -> float:
        """A mean over seeds as the table prints it."""
        digits = {"loss": LOSS_DIGITS, "saturation": SAT_DIGITS}[quantity]
        values = getattr(self, quantity)[model]
        return printed(statistics.fmean(values), digits)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The rows of 5.3's table over seeds (mean ± sd)."""
        return [
            (
                model_label(m),
                pm(self.loss[m], LOSS_DIGITS),
                pm(self.acc[m], ACC_DIGITS),
                pm(self.saturation[m], SAT_DIGITS),
            )
            for m in self.loss
        ]


SEEDS_HEADER = (
    "model",
    "validation loss",
    "validation accuracy (%)",
    "mean saturation",
)


def seed_study(seeds: Mapping[str, list[Run]], data: ColourData) -> SeedStudy:
    def stat(runs: list[Run], f: str, digits: int) -> list[float]:
        return [printed(getattr(r.history.last, f), digits) for r in runs]

    def spread(values: dict[str, list[float]], digits: int) -> float | None:
        sd = rules.largest_spread([values[m] for m in PAIR])
        return None if sd is None else printed(sd, digits)

    sat = {
        m: [
            printed(
                colourstats.colour_stats(r.model, data).pred_saturation,
                SAT_DIGITS,
            )
            for r in rs
        ]
        for m, rs in seeds.items()
    }
    loss = {
        m: stat(runs, "valid_loss", LOSS_DIGITS) for m, runs in seeds.items()
    }
    loss_sd, sat_sd = spread(loss, LOSS_DIGITS), spread(sat, SAT_DIGITS)
    return SeedStudy(
        loss=loss,
        acc={
            m: stat(runs, "valid_acc", ACC_DIGITS) for m, runs in seeds.items()
        },
        saturation=sat,
        loss_sd=loss_sd,
        sat_sd=sat_sd,
        loss_tol=rules.margin(rules.LOSS_MARGIN, loss_sd),
        sat_tol=rules.margin(rules.SATURATION_MARGIN, sat_sd),
    )


@dataclass(frozen=True)
class Comparison:
    """5.3's answer: ConvTransposeNet against PoolUpsampleNet over seeds,
    from the means and spreads of the table over seeds."""

    lower: Md  # rules.lower: is ConvTransposeNet's mean loss lower?
    winner: Md  # the same in words: "ConvTransposeNet's ... is lower"
    n_seeds: Md
    gap: Md  # of the mean losses, unsigned
    beyond: Md
    loss_tol: Md
    loss_tol_from: Md  # where the margin comes from, in words
    vivid: Md  # ConvTransposeNet's colours against PoolUpsampleNet's
    sat_gap: Md  # of the mean saturations over seeds, unsigned
    sat_beyond: Md  # how it stands against its margin
    sat_tol: Md


def comparison(s: SeedStudy) -> Comparison:
    pool, ct = (
        s.mean("loss", "pool_upsample"),
        s.mean("loss", "conv_transpose"),
    )
    gap = printed(pool - ct, LOSS_DIGITS)
    verdict = rules.lower(ct, pool, s.loss_tol)
    sat_pool = s.mean("saturation", "pool_upsample")
    sat_ct = s.mean("saturation", "conv_transpose")
    sat_gap = printed(abs(sat_ct - sat_pool), SAT_DIGITS)
    if s.loss_tol == rules.LOSS_MARGIN:
        source = "the rule's floor: the seeds spread less"
    else:
        source = (
            "twice the larger of the two networks' standard deviations in "
            "@tbl-seeds"
        )
    return Comparison(
        lower=fmt(verdict),
        winner=Md(WINNER[verdict]),
        n_seeds=plural(len(s.loss["conv_transpose"]), "seed"),
        gap=fmt(abs(gap), LOSS_DIGITS),
        beyond=fmt(rules.beyond(gap, s.loss_tol)),
        loss_tol=fmt(s.loss_tol, LOSS_DIGITS),
        loss_tol_from=Md(source),
        vivid=fmt(rules.vividness(sat_ct, sat_pool, s.sat_tol)),
        sat_gap=fmt(sat_gap, SAT_DIGITS),
        sat_beyond=fmt(rules.beyond(sat_gap, s.sat_tol)),
        sat_tol=fmt(s.sat_tol, SAT_DIGITS),
    )


WINNER = {  # 5.3's answer after rules.lower's word
    "Yes": "ConvTransposeNet's validation loss is lower than "
    "PoolUpsampleNet's",
    "No": "ConvTransposeNet's validation loss is higher than "
    "PoolUpsampleNet's",
    "Not clearly": "neither network's validation loss is clearly lower",
}


def head_gap(head: Mapping[str, Run]) -> Md:
    """5.3: the pair's difference of validation losses at the section's
    own seed, from the values as the table of the networks prints them
    (a different quantity from the gap of the means over seeds)."""
    pool, ct = (
        printed(head[m].history.last.valid_loss, LOSS_DIGITS) for m in PAIR
    )
    return fmt(abs(pool - ct), LOSS_DIGITS)


@dataclass(frozen=True)
class Cost:
    """5.3's cost of each network: multiply-adds of one forward pass
    (hooks) and training seconds per epoch timed in turns until the pair
    of 5.3 is decided (``a2.analysis.timing.paired_epochs``)."""

    macs: dict[str, int]
    timed: timing.Timed


def cost(head: Mapping[str, Run], data: ColourData, images: int) -> Cost:
    from a2.colour.models import network

    macs = {
        m: counting.measured_macs(network(r.config), 1)
        for m, r in head.items()
    }
    configs = {m: r.config for m, r in head.items()}
    pair = (PAIR[1], PAIR[0])  # ConvTransposeNet's time over the other's
    return Cost(macs, timing.paired_epochs(configs, data, pair, images))


COMPARE_DIGITS = (None, LOSS_DIGITS, ACC_DIGITS, None, None, SECONDS_DIGITS)


def seconds_header(timed: timing.Timed) -> str:
    """The header of a column of times per epoch, naming its images."""
    return f"s per epoch of {fmt(timed.images)} images (geometric mean)"


def compare_header(c: Cost) -> tuple[str, ...]:
    """The header of 5.3's table; the timed column names its images."""
    return (
        "model",
        "validation loss",
        "validation accuracy (%)",
        "weights",
        "multiply-adds per image",
        seconds_header(c.timed),
    )


def compare_rows(head: Mapping[str, Run], c: Cost) -> list[tuple]:
    """The rows of 5.3's table of the three networks."""
    return [
        (
            model_label(m),
            r.history.last.valid_loss,
            r.history.last.valid_acc,
            counting.conv_weights(r.model),
            c.macs[m],
            typical_seconds(c.timed, m),
        )
        for m, r in head.items()
    ]


@dataclass(frozen=True)
class Timing:
    """What the prose says of a paired timing (5.3, 5.5): where and on
    what it was measured, the rounds, and the ratio of the two times as
    the table prints them, with the interval of the paired ratios
    (``a2.report.rules.time_ratio``)."""

    images: Md
    device: Md  # where the epochs were timed: "the CPU (2 threads)"
    on_cpu: bool
    rounds: Md
    looks: Md  # the round counts after which a verdict is tried
    outcome: Md  # "decided" or "still undecided" after those rounds
    ratio: Md  # of the pair's times per epoch as the table prints them
    low: Md
    high: Md


def cpu_name() -> str:
    """The CPU's model name (Linux), or the platform's word for it."""
    import platform
    from pathlib import Path

    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def where_timed(configs: Mapping[Hashable, RunConfig]) -> tuple[Md, bool]:
    """Where the timed epochs ran (the runs' own device setting), in
    words, and whether it was the CPU: a CPU run trains on
    ``a2.colour.train.CPU_THREADS`` threads."""
    import torch

    from a2.colour.train import CPU_THREADS, resolve_device

    device = resolve_device(next(iter(configs.values())).device)
    if device.type == "cuda":
        name = code(torch.cuda.get_device_name(device), plain=True)
        return Md(f"a GPU ({name})"), False
    threads = "one thread" if CPU_THREADS == 1 else f"{CPU_THREADS} threads"
    name = code(cpu_name(), plain=True)
    return Md(f"{threads} of this machine's CPU ({name})"), True


def timing_facts(
    t: timing.Timed, configs: Mapping[Hashable, RunConfig]
) -> Timing:
    looks = timing.LOOKS
    a, b = (printed(typical_seconds(t, k), SECONDS_DIGITS) for k in t.pair)
    device, on_cpu = where_timed(configs)
    return Timing(
        images=fmt(t.images),
        device=device,
        on_cpu=on_cpu,
        rounds=plural(t.ratio.rounds, "round"),
        looks=Md(", ".join(map(str, looks[:-1])) + f" and {looks[-1]}"),
        outcome=fmt(
            "still undecided"
            if rules.time_change(t.ratio) == rules.UNDECIDED
            else "decided"
        ),
        ratio=fmt(a / b, rules.RATIO_DIGITS),
        low=fmt(t.ratio.low, rules.RATIO_DIGITS),
        high=fmt(t.ratio.high, rules.RATIO_DIGITS),
    )


@dataclass(frozen=True)
class CostFacts:
    """What 5.3 says of the cost: multiply-adds and times."""

    macs_pool: Md
    macs_ct: Md
    macs_less: Md  # % fewer for ConvTransposeNet
    timed: Timing  # ConvTransposeNet's time over PoolUpsampleNet's
    speed: Md  # rules.speed


def cost_facts(c: Cost, head: Mapping[str, Run]) -> CostFacts:
    pool, ct = c.macs["pool_upsample"], c.macs["conv_transpose"]
    configs = {m: r.config for m, r in head.items()}
    return CostFacts(
        macs_pool=fmt(pool),
        macs_ct=fmt(ct),
        macs_less=fmt(100 * (1 - ct / pool), 0),
        timed=timing_facts(c.timed, configs),
        speed=fmt(rules.speed(c.timed.ratio)),
    )


# --- 5.5: the batch-size sweep ----------------------------------------------


def sweep_timing(
    runs: Sequence[SweepRun], data: ColourData, images: int
) -> timing.Timed:
    """5.5: an epoch of ``images`` at each batch size, timed in turns until
    the largest batch's time over the smallest's is decided."""
    configs = {r.batch_size: r.run.config for r in runs}
    pair = (runs[-1].batch_size, runs[0].batch_size)
    return timing.paired_epochs(configs, data, pair, images)


# Why 5.5's times go as they do, where they were measured: the usual
# expectation holds on a device that computes a batch in parallel, not
# on a CPU thread, whose cost is each image's arithmetic.
BATCH_TIME_ON_CPU = Md(
    "No GPU was at hand for this book; on one, an epoch is expected to "
    "take less time as $B$ grows, until the device is full."
)
BATCH_TIME_ON_GPU = Md(
    "On this GPU an epoch is expected to take less time as $B$ grows, "
    "until the device is full."
)
BATCH_TIME_WHY = Md(
    "The usual expectation, that an epoch takes less time as $B$ grows, "
    "holds where a batch is computed in parallel. On one CPU thread the "
    "cost is each image's arithmetic, the same at any batch size. A "
    "larger batch saves at most the fixed cost of each optimiser step it "
    "avoids, and its larger feature maps can cost more memory traffic. On "
    "a GPU a small batch leaves most of the parallel units idle: a larger "
    "one fills them, so an epoch takes less time until the device is "
    "full, and then about the same."
)


def _headline(small: int, large: int, loss: int, images: str) -> str:
    """5.5's first words: the largest batch's final validation loss
    against the smallest's (``rules.step_changes`` at the noise margin:
    +1, -1, 0) and its colourings (``rules.image_quality``)."""
    said = {1: "rises", -1: "falls", 0: "stays about the same"}[loss]
    looks = {
        "worse than": "get worse",
        "better than": "get better",
        "about as good as": "stay about as good",
    }[images]
    return (
        f"From $B = {small}$ to $B = {large}$ the final validation loss "
        f"{said} and the colourings {looks}"
    )


@dataclass(frozen=True)
class Sweep:
    """What 5.5 says of the sweep, smallest batch against largest (the
    losses, accuracies and times per batch size are its table's)."""

    epochs: Md
    n_train: Md  # N, the training images
    b_small: Md
    b_large: Md
    steps_small: Md
    steps_large: Md
    train_trend: Md
    valid_trend: Md
    sat_small: Md
    sat_large: Md
    vivid: Md
    images: Md  # rules.image_quality: the largest batch's colourings
    headline: Md  # the answer's first words: loss and colourings
    time_words: Md  # rules.time_by_setting: each batch against the smallest
    timed: Timing  # the largest batch's time over the smallest's
    time_reason: Md  # what to expect on a GPU, for where they ran


def sweep(
    runs: Sequence[SweepRun],
    data: ColourData,
    s: SeedStudy,
    timed: timing.Timed,
) -> Sweep:
    """The sweep's facts; its loss and saturation words use 5.3's noise
    margins (``s``), the nearest spreads measured, on the values as the
    table prints them; its time words the paired timing ``timed``
    (:func:`sweep_timing`)."""
    small, large = runs[0], runs[-1]
    facts = timing_facts(timed, {r.batch_size: r.run.config for r in runs})
    last = [r.run.history.last for r in runs]
    lt = [printed(r.train_loss, SWEEP_DIGITS[2]) for r in last]
    lv = [printed(r.valid_loss, SWEEP_DIGITS[3]) for r in last]
    batches = [f"$B = {r.batch_size}$" for r in runs]
    batches[1:] = [str(r.batch_size) for r in runs[1:]]
    # Mean saturations, and mean RGB errors over the palette's own, as
    # 5.5 prints them.
    stats = [
        colourstats.colour_stats(r.run.model, data) for r in (small, large)
    ]
    sat = [printed(c.pred_saturation, SAT_DIGITS) for c in stats]
    err = [
        printed(
            printed(c.pred_rgb_error, 4) / printed(c.quantised_rgb_error, 4),
            1,
        )
        for c in stats
    ]
    return Sweep(
        epochs=plural(small.run.config.epochs, "epoch"),
        n_train=fmt(len(data.train_grey)),
        b_small=fmt(small.batch_size),
        b_large=fmt(large.batch_size),
        steps_small=fmt(small.steps),
        steps_large=fmt(large.steps),
        train_trend=Md(rules.trend_by_steps(lt, batches, s.loss_tol)),
        valid_trend=Md(rules.trend_by_steps(lv, batches, s.loss_tol)),
        sat_small=fmt(sat[0], SAT_DIGITS),
        sat_large=fmt(sat[1], SAT_DIGITS),
        vivid=fmt(rules.vividness(sat[1], sat[0], s.sat_tol)),
        images=fmt(rules.image_quality(err[1], err[0])),
        headline=Md(
            _headline(
                small.batch_size,
                large.batch_size,
                rules.step_changes([lv[0], lv[-1]], s.loss_tol)[0],
                rules.image_quality(err[1], err[0]),
            )
        ),
        time_words=Md(
            rules.time_by_setting(
                [
                    rules.time_ratio(
                        timed.seconds[r.batch_size],
                        timed.seconds[small.batch_size],
                    )
                    for r in runs[1:]
                ],
                [str(r.batch_size) for r in runs[1:]],
            )
        ),
        timed=facts,
        time_reason=BATCH_TIME_ON_CPU if facts.on_cpu else BATCH_TIME_ON_GPU,
    )


SWEEP_DIGITS = (
    None,
    None,
    LOSS_DIGITS,
    LOSS_DIGITS,
    ACC_DIGITS,
    SECONDS_DIGITS,
    None,
)


def sweep_header(timed: timing.Timed) -> tuple[str, ...]:
    """The header of 5.5's table; the timed column names its images."""
    return (
        "batch size",
        "optimiser steps",
        "training loss",
        "validation loss",
        "validation accuracy (%)",
        seconds_header(timed),
        "time over the smallest batch's (interval)",
    )


def sweep_rows(runs: Sequence[SweepRun], timed: timing.Timed) -> list[tuple]:
    """The rows of 5.5's table, one per batch size, each time also over
    the smallest batch's: the ratio of the times as printed, and the
    interval of the paired ratios that the time words read."""
    first = runs[0].batch_size
    base = printed(typical_seconds(timed, first), SECONDS_DIGITS)
    rows = []
    for r in runs:
        seconds = printed(typical_seconds(timed, r.batch_size), SECONDS_DIGITS)
        if r.batch_size == first:
            over = "1 (the reference)"
        else:
            ratio = rules.time_ratio(
                timed.seconds[r.batch_size], timed.seconds[first]
            )
            over = (
                f"{fmt(seconds / base, rules.RATIO_DIGITS)} "
                f"({fmt(ratio.low, rules.RATIO_DIGITS)} to "
                f"{fmt(ratio.high, rules.RATIO_DIGITS)})"
            )
        last = r.run.history.last
        rows.append(
            (
                r.batch_size,
                r.steps,
                last.train_loss,
                last.valid_loss,
                last.valid_acc,
                seconds,
                over,
            )
        )
    return rows
