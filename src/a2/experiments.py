"""The runs of the colourisation sections (4 and 5).

Sections 4 and 5 call one function here per experiment: load the data,
train (or load from the cache) one run, a run per seed or a run per batch
size. Training goes through ``a2.cache.train_or_load`` only, so a run that
is already stored is loaded, never retrained; its progress goes to
stderr, which the report drops. What the runs are made into lives
elsewhere: shapes in ``a2.shapes``, counts in ``a2.counting``, colour
statistics in ``a2.colourstats``, verdicts in ``a2.rules``.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from a2 import cache, models
from a2 import data as _data
from a2 import train as _train
from a2.data import ColourData
from a2.train import RunConfig

Log = Callable[[str], None] | None

MODEL_NAMES = {k: cls.__name__ for k, cls in models.MODELS.items()}


def stderr_log(line: str) -> None:
    """Training progress for the build log, not for the report."""
    print(line, file=sys.stderr, flush=True)


def load_data(
    n_train: int | None = None,
    n_valid: int | None = None,
    label: int = _data.HORSE,
) -> ColourData:
    """The class's images from ``a2.settings.data_source()`` (A2_DATA)."""
    return _data.load(label=label, n_train=n_train, n_valid=n_valid)


def run_config(model: str, **params: Any) -> RunConfig:
    """A RunConfig from a section's parameters; keys that are not run
    settings (n_train, n_samples, seeds, ...) are ignored."""
    keys = set(_train.run_config_keys())
    return RunConfig(
        model=model, **{k: v for k, v in params.items() if k in keys}
    )


def run(
    model: str,
    data: ColourData,
    retrain: bool = False,
    log: Log = stderr_log,
    **params: Any,
) -> cache.Run:
    """Train ``model`` with ``params`` or load it from the cache."""
    return cache.train_or_load(
        run_config(model, **params), data, retrain=retrain, log=log
    )


def seed_study(
    names: Sequence[str],
    seeds: Sequence[int],
    data: ColourData,
    log: Log = stderr_log,
    **params: Any,
) -> dict[str, list[cache.Run]]:
    """One cached run per model and seed: ``{model: [run per seed]}``."""
    params = {k: v for k, v in params.items() if k != "seed"}
    return {
        m: [run(m, data, log=log, seed=s, **params) for s in seeds]
        for m in names
    }


def optimiser_steps(n: int, batch_size: int, epochs: int) -> int:
    """Adam steps of a run: ceil(N / B) batches per epoch (the last one
    may be partial)."""
    return math.ceil(n / batch_size) * epochs


@dataclass
class SweepRun:
    batch_size: int
    run: cache.Run
    steps: int  # optimiser steps over the whole run
    train_s: float  # training time summed over epochs (no validation)


def batch_size_sweep(
    batch_sizes: Sequence[int],
    epochs: int,
    data: ColourData,
    model: str = "conv_transpose",
    log: Log = stderr_log,
    **params: Any,
) -> list[SweepRun]:
    """One cached run per batch size, all for ``epochs`` epochs with the
    same learning rate and seed (question 5.5)."""
    params = {
        k: v for k, v in params.items() if k not in ("batch_size", "epochs")
    }
    n = len(data.train_grey)
    out = []
    for bs in batch_sizes:
        r = run(model, data, log=log, batch_size=bs, epochs=epochs, **params)
        out.append(
            SweepRun(bs, r, optimiser_steps(n, bs, epochs), train_seconds(r))
        )
    return out


def epoch_seconds(r: cache.Run) -> list[float]:
    """Training seconds of each epoch, as recorded when the run was
    trained (a loaded run keeps the times of the machine that trained
    it)."""
    return [float(s) for s in r.history.columns()["train_s"]]


def train_seconds(r: cache.Run) -> float:
    """Training time of a run, summed over its epochs."""
    return sum(epoch_seconds(r))


def devices(r: cache.Run) -> str:
    return ", ".join(r.meta.get("devices", [])) or "unknown"


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    vals = [float(v) for v in values]
    sd = statistics.stdev(vals) if len(vals) > 1 else None
    return statistics.fmean(vals), sd


def pm(values: Sequence[float], digits: int = 3) -> str:
    """'mean ± sd' for a table ('mean (one seed)' for a single run)."""
    m, sd = mean_std(values)
    if sd is None:
        return f"{m:.{digits}f} (one seed)"
    return f"{m:.{digits}f} ± {sd:.{digits}f}"
