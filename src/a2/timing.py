"""How long training takes, measured fairly (question 5.3).

The times recorded with each trained run depend on what else the
machine was doing when it ran. :func:`paired_epochs` instead trains the
networks to compare in turn, epoch for epoch, with the real training
loop (``a2.train.Trainer``) on the same images, so that the machine's
load falls on all of them alike; the spread over repeats measures what
noise is left.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping

from a2.data import ColourData
from a2.train import RunConfig, Trainer

IMAGES = 1000  # training images per timed epoch (fewer if the data has)
REPEATS = 5  # timed epochs per network, after one untimed warm-up


def subset(data: ColourData, n: int) -> ColourData:
    """The first ``n`` training images of ``data`` (validation kept)."""
    return dataclasses.replace(
        data,
        train_grey=data.train_grey[:n],
        train_rgb=data.train_rgb[:n],
        train_target=data.train_target[:n],
    )


def paired_epochs(
    configs: Mapping[str, RunConfig],
    data: ColourData,
    images: int = IMAGES,
    repeats: int = REPEATS,
) -> dict[str, list[float]]:
    """Seconds per training epoch of each config, scaled to the full
    training set: ``{name: [seconds per repeat]}``.

    Each network trains one untimed epoch (warm-up), then ``repeats``
    timed epochs, taking turns, on the first ``images`` training images.
    Weights, optimiser and order are the runs' own (same seeds), so the
    work per epoch is what a real run does.
    """
    n = min(images, len(data.train_grey))
    small = subset(data, n)
    trainers = {name: Trainer(c, small) for name, c in configs.items()}
    for t in trainers.values():
        t.train_epoch()
    times: dict[str, list[float]] = {name: [] for name in trainers}
    scale = len(data.train_grey) / n
    for _ in range(repeats):
        for name, t in trainers.items():
            times[name].append(t.train_epoch()[1] * scale)
    return times


def median(times: list[float]) -> float:
    return float(statistics.median(times))
