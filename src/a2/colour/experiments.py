"""The runs of the colourisation sections (4 and 5), declared once.

:func:`plan` lists the runs a section needs, from its parameters; the
section loads them with :func:`load`, and the build trains the same
list beforehand, side by side (``a2.colour.schedule.train_sections``). Training
goes through ``a2.colour.cache.train_or_load`` only, so a run that is already
stored is loaded, never retrained; its progress goes to stderr, which
the report drops. What the runs are made into lives elsewhere: the
prose's numbers in ``a2.analysis.summaries``, shapes in
``a2.analysis.shapes``, counts in ``a2.analysis.counting``, colour
statistics in ``a2.analysis.colourstats``, verdicts in
``a2.report.rules``.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from a2.colour import cache, models
from a2.colour import data as _data
from a2.colour.data import ColourData
from a2.config.params import Pooling, RunConfig, Transposed

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
    """The class's images from ``a2.config.environment.data_source()``
    (A2_DATA)."""
    return _data.load(label=label, n_train=n_train, n_valid=n_valid)


# --- the plan --------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    """The runs of section 4 or 5: ``head``, each network the section
    trains at its settings (4.2, 5.2, 5.3); ``seeds``, each network once
    per seed (5.3); ``sweep``, ConvTransposeNet once per batch size
    (5.5)."""

    head: dict[str, RunConfig]
    seeds: dict[str, tuple[RunConfig, ...]] = field(default_factory=dict)
    sweep: tuple[RunConfig, ...] = ()

    def configs(self) -> list[RunConfig]:
        """Every run, each once, in the order the section loads them."""
        seeds = [c for runs in self.seeds.values() for c in runs]
        return list(dict.fromkeys([*self.head.values(), *seeds, *self.sweep]))


def plan(p: Pooling) -> Plan:
    """The runs that section ``p.stem`` needs with parameters ``p``."""
    head = {m: p.run(m) for m in p.trains}
    if not isinstance(p, Transposed):
        return Plan(head)
    return Plan(
        head,
        seeds={
            m: tuple(c.replace(seed=s) for s in p.seeds)
            for m, c in head.items()
        },
        sweep=tuple(
            head["conv_transpose"].replace(batch_size=b, epochs=p.sweep_epochs)
            for b in p.batch_sizes
        ),
    )


@dataclass
class SweepRun:
    batch_size: int
    run: cache.Run
    steps: int  # optimiser steps over the whole run


@dataclass
class Runs:
    """A plan's runs, trained or loaded (``a2.colour.cache.Run``), in its
    shape."""

    head: dict[str, cache.Run]
    seeds: dict[str, list[cache.Run]]
    sweep: list[SweepRun]


def load(planned: Plan, data: ColourData, log: Log = stderr_log) -> Runs:
    """Every run of ``planned``, from the cache (trained on a miss)."""
    runs = {
        c: cache.train_or_load(c, data, log=log) for c in planned.configs()
    }
    n = len(data.train_grey)
    return Runs(
        {m: runs[c] for m, c in planned.head.items()},
        {m: [runs[c] for c in cs] for m, cs in planned.seeds.items()},
        [
            SweepRun(
                c.batch_size,
                runs[c],
                optimiser_steps(n, c.batch_size, c.epochs),
            )
            for c in planned.sweep
        ],
    )


def check_sweep(runs: Sequence[SweepRun], epochs: int, n: int) -> None:
    """5.5's checks: each run of the sweep recorded ``epochs`` epochs,
    and its optimiser steps are its batches over ``n`` images, counted
    one by one."""
    from a2.report import check

    for s in runs:
        check(
            f"B = {s.batch_size}: {epochs} epochs recorded",
            len(s.run.history),
            epochs,
        )
        check(
            f"B = {s.batch_size}: steps = batches counted",
            s.steps,
            sum(len(range(0, n, s.batch_size)) for _ in range(epochs)),
        )


# --- what a run records ------------------------------------------------------


def optimiser_steps(n: int, batch_size: int, epochs: int) -> int:
    """Adam steps of a run: ceil(N / B) batches per epoch (the last one
    may be partial)."""
    return math.ceil(n / batch_size) * epochs


def devices(r: cache.Run) -> str:
    """The devices a run trained on, as text for the prose (stored in a
    possibly shared cache: never markup)."""
    from a2.text import code

    shown = [code(d, plain=True) for d in r.meta.get("devices", [])]
    return ", ".join(shown) or "unknown"


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


def retrains_the_same(data: ColourData, model: str = "conv_transpose") -> bool:
    """Whether one short run, trained twice from scratch on the CPU,
    gives every weight and every loss bit for bit the same: the evidence
    for the appendix's claim that a CPU run repeats exactly (a GPU may
    add in another order, so this is asked of the CPU only)."""
    import torch

    from a2.colour import train

    config = RunConfig(
        model=model, num_filters=8, batch_size=16, epochs=2, device="cpu"
    )
    (first, h1), (second, h2) = (
        train.train(config, data, log=None) for _ in range(2)
    )
    weights = zip(first.state_dict().values(), second.state_dict().values())
    losses = [(r.train_loss, r.valid_loss, r.valid_acc) for r in h1]
    return all(torch.equal(a, b) for a, b in weights) and losses == [
        (r.train_loss, r.valid_loss, r.valid_acc) for r in h2
    ]
