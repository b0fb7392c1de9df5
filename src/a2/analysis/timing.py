"""How long training takes, measured in pairs until it can decide (5.3,
5.5).

The times recorded with each trained run depend on what else the
machine was doing when it ran. :func:`paired_epochs` instead trains the
networks to compare with the real training loop (``a2.colour.train.Trainer``)
on the same images, one epoch each per round, in turns (the order
reversed every other round, so that none always goes first), so that
the machine's load falls on all of them alike. Each round gives one
paired ratio of the two times a verdict compares; rounds go on until
``a2.report.rules.time_change`` can decide from their spread, trying after
each of :data:`LOOKS` rounds, and the verdict says when it could not.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from a2.colour.data import ColourData
from a2.colour.train import RunConfig, Trainer
from a2.report import rules

# Rounds after which a verdict is tried: a few looks, not one per round,
# each being a chance of a false verdict (``a2.report.rules.TIME_SE_FACTOR``);
# undecided after the last, and said so.
LOOKS = (6, 12, 20)

K = TypeVar("K", bound=Hashable)


@dataclasses.dataclass(frozen=True)
class Timed:
    """Seconds per epoch of ``images`` training images, one per round
    for each config, and the paired ratio of ``pair[0]`` over
    ``pair[1]``."""

    seconds: dict
    images: int
    pair: tuple
    ratio: rules.Ratio

    def median(self, name: Hashable) -> float:
        return float(statistics.median(self.seconds[name]))


def subset(data: ColourData, n: int) -> ColourData:
    """The first ``n`` training images of ``data`` (validation kept)."""
    return dataclasses.replace(
        data,
        train_grey=data.train_grey[:n],
        train_rgb=data.train_rgb[:n],
        train_target=data.train_target[:n],
    )


def in_turns(
    epochs: Mapping[K, Callable[[], float]],
    pair: tuple[K, K],
    looks: Sequence[int] = LOOKS,
) -> dict[K, list[float]]:
    """Seconds of each timed epoch, ``{name: [one per round]}``: every
    ``epochs[name]()`` once per round, in turns, until the paired ratio
    of ``pair`` is decided (``a2.report.rules.time_change``) after one of
    ``looks`` rounds, or the last of them is done."""
    if not looks or looks[0] < 2 or list(looks) != sorted(set(looks)):
        raise ValueError("looks: increasing round counts, the first >= 2")
    names = list(epochs)
    times: dict[K, list[float]] = {name: [] for name in names}
    for i in range(looks[-1]):
        for name in names if i % 2 == 0 else reversed(names):
            times[name].append(epochs[name]())
        if i + 1 in looks:
            r = rules.time_ratio(times[pair[0]], times[pair[1]])
            if rules.time_change(r) != rules.UNDECIDED:
                break
    return times


def paired_epochs(
    configs: Mapping[K, RunConfig],
    data: ColourData,
    pair: tuple[K, K],
    images: int,
    looks: Sequence[int] = LOOKS,
) -> Timed:
    """Training epochs of each config timed :func:`in_turns` on the first
    ``images`` training images, after one untimed warm-up epoch each.
    Weights, optimiser and order are the runs' own (same seeds), so the
    work per epoch is what a real run does on that many images."""
    n = min(images, len(data.train_grey))
    small = subset(data, n)
    trainers = {name: Trainer(c, small) for name, c in configs.items()}
    for t in trainers.values():
        t.train_epoch()
    epochs = {
        name: (lambda t=t: t.train_epoch()[1]) for name, t in trainers.items()
    }
    seconds = in_turns(epochs, pair, looks)
    ratio = rules.time_ratio(seconds[pair[0]], seconds[pair[1]])
    return Timed(seconds, n, pair, ratio)
