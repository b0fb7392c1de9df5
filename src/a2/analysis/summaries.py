"""What sections 4 and 5 state about their runs, as print text.

Each function takes runs (``a2.colour.experiments.load``) and returns a small
dataclass of formatted values, one field per number or verdict word that
the section's prose cites inline (`` `{python} pool.acc` ``). The numbers
come from the runs' histories and from ``a2.analysis.colourstats``, the
words from the named rules of ``a2.report.rules``; the rows of the
sections' tables are assembled here too. Text is Markdown
(``a2.report.Md``), except what a run's manifest holds (its devices),
which the build escapes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
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
    train_seconds,
)
from a2.config.params import Training
from a2.report import Md, code, fmt, plural, rules

PAIR = ("pool_upsample", "conv_transpose")  # what 5.3 asks to compare


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
    train_s: Md
    train_loss: Md
    valid_loss: Md
    best_loss: Md
    best_epoch: Md
    acc: Md
    gap: Md  # validation against training loss: "0.007 nats below"
    rate: Md  # recent change of the validation loss: "fell by 0.0030"
    tail: Md  # the epochs that rate is taken over
    state: Md  # rules.training_state
    uniform: Md  # ln NC, the loss of a uniform guess
    below_uniform: Md  # % below it


def _signed(x: float, digits: int, down: str, up: str) -> Md:
    """A signed difference in words: ``down`` or ``up`` around its size."""
    return fmt((down if x < 0 else up).format(f"{abs(x):.{digits}f}"))


def summary(run: Run, data: ColourData) -> RunSummary:
    c, h = run.config, run.history
    last, best = h.last, min(h, key=lambda r: r.valid_loss)
    valid = [r.valid_loss for r in h]
    uniform = math.log(data.num_colours)
    steps = optimiser_steps(len(data.train_grey), c.batch_size, c.epochs)
    return RunSummary(
        epochs=plural(c.epochs, "epoch"),
        batch=fmt(c.batch_size),
        lr=fmt(c.lr),
        seed=fmt(c.seed),
        key=Md(code(run.key)),
        device=devices(run),
        steps=fmt(steps),
        train_s=fmt(train_seconds(run), 0),
        train_loss=fmt(last.train_loss, 3),
        valid_loss=fmt(last.valid_loss, 3),
        best_loss=fmt(best.valid_loss, 3),
        best_epoch=fmt(best.epoch),
        acc=fmt(last.valid_acc, 1),
        gap=_signed(
            last.valid_loss - last.train_loss,
            3,
            "{} nats below",
            "{} nats above",
        ),
        rate=_signed(rules.recent_rate(valid), 4, "fell by {}", "rose by {}"),
        tail=plural(min(rules.TAIL_EPOCHS, max(len(h) - 1, 1)), "epoch"),
        state=fmt(rules.training_state(valid)),
        uniform=fmt(uniform, 3),
        below_uniform=fmt(100 * (1 - last.valid_loss / uniform), 0),
    )


@dataclass(frozen=True)
class Colours:
    """What 4.2 says of a model's colours (``a2.analysis.colourstats``)."""

    majority: Md  # % right when always guessing the commonest colour
    err_pred: Md  # mean RGB error of the prediction
    err_truth: Md  # ... of the truth quantised to the palette
    err_ratio: Md
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
    return Colours(
        majority=fmt(s.majority_acc, 1),
        err_pred=fmt(s.pred_rgb_error, 3),
        err_truth=fmt(s.quantised_rgb_error, 3),
        err_ratio=fmt(s.pred_rgb_error / s.quantised_rgb_error, 1),
        good=fmt(rules.looks_good(s.pred_rgb_error, s.quantised_rgb_error)),
        sat_pred=fmt(s.pred_saturation, 2),
        sat_truth=fmt(s.truth_saturation, 2),
        vivid=fmt(rules.vividness(s.pred_saturation, s.truth_saturation)),
        top_n=fmt(len(s.top)),
        share_pred=fmt(s.pred_share, 0),
        share_truth=fmt(s.truth_share, 0),
        leans=fmt(rules.leaning(s.pred_share, s.truth_share)),
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
    loss_margin: Md
    noise_factor: Md
    time_se: Md  # standard errors either side of a time ratio
    time_margin: Md  # in %


def thresholds() -> Thresholds:
    return Thresholds(
        good_ratio=fmt(rules.GOOD_RGB_RATIO),
        sat_margin=fmt(rules.SATURATION_MARGIN),
        lean_ratio=fmt(rules.LEAN_RATIO),
        plateau=fmt(rules.PLATEAU_RATE),
        loss_margin=fmt(rules.LOSS_MARGIN),
        noise_factor=fmt(rules.NOISE_FACTOR),
        time_se=fmt(rules.TIME_SE_FACTOR),
        time_margin=fmt(100 * rules.TIME_MARGIN, 0),
    )


# --- 5.3: the networks compared ---------------------------------------------


@dataclass(frozen=True)
class SeedStudy:
    """5.3's runs over seeds: final validation loss and accuracy of each
    network, mean saturation of the pair's colours, and the noise
    margins their spreads give (``rules.margin``)."""

    loss: dict[str, list[float]]
    acc: dict[str, list[float]]
    saturation: dict[str, list[float]]  # the pair only
    loss_sd: float | None
    sat_sd: float | None
    loss_tol: float
    sat_tol: float

    def rows(self) -> list[tuple[str, str, str, str]]:
        """The rows of 5.3's table over seeds (mean ± sd)."""
        return [
            (
                model_label(m),
                pm(self.loss[m], 4),
                pm(self.acc[m], 2),
                pm(self.saturation[m], 3) if m in self.saturation else "",
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
    def stat(runs: list[Run], f: str) -> list[float]:
        return [getattr(r.history.last, f) for r in runs]

    sat = {
        m: [
            colourstats.colour_stats(r.model, data).pred_saturation
            for r in seeds[m]
        ]
        for m in PAIR
    }
    loss = {m: stat(runs, "valid_loss") for m, runs in seeds.items()}
    loss_sd = rules.largest_spread([loss[m] for m in PAIR])
    sat_sd = rules.largest_spread([sat[m] for m in PAIR])
    return SeedStudy(
        loss=loss,
        acc={m: stat(runs, "valid_acc") for m, runs in seeds.items()},
        saturation=sat,
        loss_sd=loss_sd,
        sat_sd=sat_sd,
        loss_tol=rules.margin(rules.LOSS_MARGIN, loss_sd),
        sat_tol=rules.margin(rules.SATURATION_MARGIN, sat_sd),
    )


@dataclass(frozen=True)
class Comparison:
    """5.3's answer: ConvTransposeNet against PoolUpsampleNet (and UNet),
    at the section's seed and over seeds."""

    lower: Md
    pool_loss: Md
    ct_loss: Md
    pool_acc: Md
    ct_acc: Md
    unet_loss: Md
    unet_acc: Md
    n_seeds: Md
    gap: Md  # PoolUpsampleNet's mean loss minus ConvTransposeNet's
    beyond: Md
    loss_tol: Md
    loss_sd: Md
    sat_pool: Md
    sat_ct: Md
    vivid: Md
    sat_tol: Md
    sat_sd: Md
    weights: Md  # ConvTransposeNet's (and PoolUpsampleNet's)


def comparison(head: Mapping[str, Run], s: SeedStudy) -> Comparison:
    mean = {m: statistics.fmean(v) for m, v in s.loss.items()}
    sat = {m: statistics.fmean(v) for m, v in s.saturation.items()}
    gap = mean["pool_upsample"] - mean["conv_transpose"]
    last = {m: r.history.last for m, r in head.items()}
    pool, ct = sat["pool_upsample"], sat["conv_transpose"]
    seeds = len(s.loss["conv_transpose"])
    lower = rules.lower(
        mean["conv_transpose"], mean["pool_upsample"], s.loss_tol
    )

    def sd(x: float | None, digits: int) -> Md:
        return fmt("not measured" if x is None else fmt(x, digits))

    return Comparison(
        lower=fmt(lower),
        pool_loss=fmt(last["pool_upsample"].valid_loss, 4),
        ct_loss=fmt(last["conv_transpose"].valid_loss, 4),
        pool_acc=fmt(last["pool_upsample"].valid_acc, 2),
        ct_acc=fmt(last["conv_transpose"].valid_acc, 2),
        unet_loss=fmt(last["unet"].valid_loss, 4),
        unet_acc=fmt(last["unet"].valid_acc, 2),
        n_seeds=plural(seeds, "seed"),
        gap=fmt(f"{gap:+.4f}"),
        beyond=fmt(rules.beyond(gap, s.loss_tol)),
        loss_tol=fmt(s.loss_tol, 4),
        loss_sd=sd(s.loss_sd, 4),
        sat_pool=fmt(pool, 3),
        sat_ct=fmt(ct, 3),
        vivid=fmt(rules.vividness(ct, pool, s.sat_tol)),
        sat_tol=fmt(s.sat_tol, 3),
        sat_sd=sd(s.sat_sd, 3),
        weights=fmt(counting.conv_weights(head["conv_transpose"].model)),
    )


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


COMPARE_DIGITS = (None, 4, 2, None, None, 2)


def compare_header(c: Cost) -> tuple[str, ...]:
    """The header of 5.3's table; the timed column names its images."""
    return (
        "model",
        "validation loss",
        "validation accuracy (%)",
        "weights",
        "multiply-adds per image",
        f"s per epoch of {fmt(c.timed.images)} images, in turns (median)",
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
            c.timed.median(m),
        )
        for m, r in head.items()
    ]


@dataclass(frozen=True)
class Timing:
    """What the prose says of a paired timing (5.3, 5.5): the images of
    a timed epoch, the rounds, the paired ratio and its interval
    (``a2.report.rules.time_ratio``)."""

    images: Md
    rounds: Md
    looks: Md  # the round counts after which a verdict is tried
    outcome: Md  # "decided" or "still undecided" after those rounds
    ratio: Md
    low: Md
    high: Md


def timing_facts(t: timing.Timed) -> Timing:
    looks = timing.LOOKS
    return Timing(
        images=fmt(t.images),
        rounds=plural(t.ratio.rounds, "round"),
        looks=Md(", ".join(map(str, looks[:-1])) + f" and {looks[-1]}"),
        outcome=fmt(
            "still undecided"
            if rules.time_change(t.ratio) == rules.UNDECIDED
            else "decided"
        ),
        ratio=fmt(t.ratio.value, 2),
        low=fmt(t.ratio.low, 2),
        high=fmt(t.ratio.high, 2),
    )


@dataclass(frozen=True)
class CostFacts:
    """What 5.3 says of the cost: multiply-adds and times."""

    macs_pool: Md
    macs_ct: Md
    macs_less: Md  # % fewer for ConvTransposeNet
    t_pool: Md  # median s per timed epoch
    t_ct: Md
    timed: Timing  # ConvTransposeNet's time over PoolUpsampleNet's
    speed: Md  # rules.speed
    device: str  # where ConvTransposeNet was trained


def cost_facts(c: Cost, head: Mapping[str, Run]) -> CostFacts:
    pool, ct = c.macs["pool_upsample"], c.macs["conv_transpose"]
    return CostFacts(
        macs_pool=fmt(pool),
        macs_ct=fmt(ct),
        macs_less=fmt(100 * (1 - ct / pool), 0),
        t_pool=fmt(c.timed.median("pool_upsample"), 2),
        t_ct=fmt(c.timed.median("conv_transpose"), 2),
        timed=timing_facts(c.timed),
        speed=fmt(rules.speed(c.timed.ratio)),
        device=devices(head["conv_transpose"]),
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


@dataclass(frozen=True)
class Sweep:
    """What 5.5 says of the sweep, smallest batch against largest."""

    epochs: Md
    b_small: Md
    b_large: Md
    steps_small: Md
    steps_large: Md
    train_trend: Md
    valid_trend: Md
    train_small: Md
    train_large: Md
    valid_small: Md
    valid_large: Md
    acc_small: Md
    acc_large: Md
    sat_small: Md
    sat_large: Md
    vivid: Md
    time_trend: Md  # rules.time_trend
    times: Md  # every batch size's median time per timed epoch
    timed: Timing  # the largest batch's time over the smallest's


def sweep(
    runs: Sequence[SweepRun],
    data: ColourData,
    s: SeedStudy,
    timed: timing.Timed,
) -> Sweep:
    """The sweep's facts; its loss and saturation words use 5.3's noise
    margins (``s``), the nearest spreads measured; its time words the
    paired timing ``timed`` (:func:`sweep_timing`)."""
    small, large = runs[0], runs[-1]
    last = [r.run.history.last for r in runs]
    lt, lv = [r.train_loss for r in last], [r.valid_loss for r in last]
    sat = [
        colourstats.colour_stats(r.run.model, data).pred_saturation
        for r in (small, large)
    ]
    times = [
        f"{fmt(timed.median(r.batch_size), 2)} s at $B = {r.batch_size}$"
        for r in runs
    ]
    return Sweep(
        epochs=plural(small.run.config.epochs, "epoch"),
        b_small=fmt(small.batch_size),
        b_large=fmt(large.batch_size),
        steps_small=fmt(small.steps),
        steps_large=fmt(large.steps),
        train_trend=fmt(rules.overall_trend(lt, s.loss_tol)),
        valid_trend=fmt(rules.overall_trend(lv, s.loss_tol)),
        train_small=fmt(lt[0], 4),
        train_large=fmt(lt[-1], 4),
        valid_small=fmt(lv[0], 4),
        valid_large=fmt(lv[-1], 4),
        acc_small=fmt(last[0].valid_acc, 2),
        acc_large=fmt(last[-1].valid_acc, 2),
        sat_small=fmt(sat[0], 3),
        sat_large=fmt(sat[1], 3),
        vivid=fmt(rules.vividness(sat[1], sat[0], s.sat_tol)),
        time_trend=fmt(rules.time_trend(timed.ratio)),
        times=Md(
            ", ".join(times[:-1]) + " and " * (len(times) > 1) + times[-1]
        ),
        timed=timing_facts(timed),
    )


SWEEP_DIGITS = (None, None, 4, 4, 2, 2)


def sweep_header(timed: timing.Timed) -> tuple[str, ...]:
    """The header of 5.5's table; the timed column names its images."""
    return (
        "batch size",
        "optimiser steps",
        "training loss",
        "validation loss",
        "validation accuracy (%)",
        f"s per epoch of {fmt(timed.images)} images, in turns (median)",
    )


def sweep_rows(runs: Sequence[SweepRun], timed: timing.Timed) -> list[tuple]:
    """The rows of 5.5's table, one per batch size."""
    return [
        (
            r.batch_size,
            r.steps,
            r.run.history.last.train_loss,
            r.run.history.last.valid_loss,
            r.run.history.last.valid_acc,
            timed.median(r.batch_size),
        )
        for r in runs
    ]
