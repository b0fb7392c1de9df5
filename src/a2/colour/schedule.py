"""Training many runs side by side: the build's runs, before its sections.

Sections 4 and 5 train 14 independent runs. On a small CPU one run keeps
a core busy better than two threads share one run (measured in
``bench/bench_schedule.py``), so ``train_many`` trains runs in parallel
worker processes, each on ``a2.colour.train.CPU_THREADS`` threads, through
``a2.colour.cache.train_or_load``: a finished run is never trained twice, a
stopped one resumes, and a run that another process is training is
waited for (the cache locks each run). The sections then load every run
from the cache.

    runs = a2.colour.experiments.plan(p).configs()  # what section 5 loads
    train_many(runs, data)                    # into the cache
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from a2.colour import cache, train
from a2.colour.data import ColourData
from a2.colour.models import network
from a2.config.params import Params, Pooling, RunConfig, load
from a2.report import provenance

Log = Callable[[str], None] | None
STOP_S = 30.0  # after Ctrl-C: time for workers to save and exit


# --- what the sections train -----------------------------------------------


def train_sections(
    sections: Mapping[str, Params | Mapping[str, Any]],
    workers: int | None = None,
    threads: int | None = None,
    log: Log = print,
) -> list[Outcome]:
    """Train the runs of every section of ``{stem: its parameters}`` (as
    ``a2.config.params.load`` gives them, or their values) into the cache:
    the runs its plan declares (:func:`planned`), which the section then
    loads. All sections' runs go into one pool per data subset."""
    out: list[Outcome] = []
    for data, runs in planned(sections):
        out += train_many(
            runs, data, workers=workers, threads=threads, log=log
        )
    return out


def planned(
    sections: Mapping[str, Params | Mapping[str, Any]],
) -> list[tuple[ColourData, list[RunConfig]]]:
    """The runs the sections of ``{stem: its parameters}`` declare
    (``a2.colour.experiments.plan``), with the data they train on: one
    group per data subset (n_train, n_valid); a section that trains
    nothing adds none. What the build trains, ``make checkpoints`` packs
    and ``CHECKPOINTS=`` imports."""
    from a2.colour import experiments

    groups: dict[tuple, list[RunConfig]] = {}
    for stem, values in sections.items():
        p = values if isinstance(values, Params) else load(stem, values)
        if isinstance(p, Pooling):  # sections 4 and 5
            runs = experiments.plan(p).configs()
            groups.setdefault((p.n_train, p.n_valid), []).extend(runs)
    return [
        (experiments.load_data(n_train, n_valid), list(dict.fromkeys(runs)))
        for (n_train, n_valid), runs in groups.items()
    ]


# --- cost, for the order -----------------------------------------------------


def forward_macs(
    model: nn.Module, size: int = 32, in_channels: int = 1
) -> int:
    """Multiply-adds of one image's forward pass through the model's
    convolutions (the rest is a few per output), counted with hooks on a
    real forward pass. Training costs about 3x as much (two backward
    products per forward one)."""
    total = 0

    def count(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = m.weight[0, 0].numel()  # kh * kw
        if isinstance(m, nn.ConvTranspose2d):  # each input feeds C_out k^2
            total += inputs[0][0].numel() * m.out_channels * k // m.groups
        else:  # each output reads C_in k^2
            total += out[0].numel() * m.in_channels * k // m.groups

    convs = [
        m
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    hooks = [m.register_forward_hook(count) for m in convs]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            p = next(model.parameters())
            model(
                torch.zeros(
                    1, in_channels, size, size, device=p.device, dtype=p.dtype
                )
            )
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total


def _cost(
    config: RunConfig, data: ColourData, macs: dict[tuple, int]
) -> float:
    """Relative work of a run: epochs x (3 x training + validation
    images) x forward multiply-adds per image."""
    arch = (
        config.model,
        config.kernel,
        config.num_filters,
        config.num_colours,
        config.dilation,
    )
    if arch not in macs:
        with torch.device("meta"):  # shapes only: no memory, no RNG draws
            model = network(config)
        macs[arch] = forward_macs(model)
    images = 3 * len(data.train_grey) + len(data.valid_grey)
    return float(config.epochs * images * macs[arch])


def run_label(config: RunConfig) -> str:
    """A short name for log lines: the model and what differs from the
    handout's defaults, e.g. 'unet seed=2'."""
    default = RunConfig(model=config.model)
    diff = [
        f"{f.name}={getattr(config, f.name)}"
        for f in fields(config)
        if f.name not in ("model", "device")
        and getattr(config, f.name) != getattr(default, f.name)
    ]
    return " ".join([config.model, *diff])


# --- the pool ----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What became of one run: 'trained' (now complete in the cache),
    'cached' (it already was), 'failed', or 'stopped' (Ctrl-C, or a
    worker beside it died): its finished epochs are cached."""

    config: RunConfig
    key: str
    status: str
    error: str = ""


def default_workers(
    configs: Sequence[RunConfig], threads: int | None = None
) -> int:
    """One worker per ``threads`` CPUs of this process (one in all when
    the runs go to a GPU)."""
    if any(train.resolve_device(c.device).type == "cuda" for c in configs):
        return 1
    threads = threads or train.CPU_THREADS
    try:
        cpus = len(os.sched_getaffinity(0))  # the CPUs this process may use
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // threads)


def train_many(
    configs: Sequence[RunConfig],
    data: ColourData,
    workers: int | None = None,
    threads: int | None = None,
    log: Log = print,
) -> list[Outcome]:
    """Train ``configs`` on ``data`` into the cache, ``workers`` runs at a
    time, largest first; runs already complete are skipped.

    Each run trains on ``threads`` threads (``a2.colour.train.CPU_THREADS``
    by default; another count changes a CPU run's last bits, so only
    benchmarks pass one), in this process when one worker is asked for
    (a GPU; the code notebook, whose library is not importable
    elsewhere), else in a pool of spawned processes. Its lines come
    prefixed by the run's label. A failing run is reported in one line
    and the others go on. Ctrl-C (or SIGTERM) stops every run after its
    current step; finished epochs are cached, and the next call resumes.
    Returns one ``Outcome`` per distinct run, in the order given.
    """
    say = cache.progress(log)  # a closed terminal never stops training
    threads = threads or train.CPU_THREADS
    keys = {c: cache.run_key(c, data) for c in configs}
    outcomes: dict[RunConfig, Outcome] = {}
    pending = []
    for c in dict.fromkeys(configs):
        if cache.stored_epochs(keys[c]) >= c.epochs:
            outcomes[c] = Outcome(c, keys[c], "cached")
        else:
            pending.append(c)
    macs: dict[tuple, int] = {}
    pending.sort(key=lambda c: -_cost(c, data, macs))  # stable sort
    if pending:
        n = min(workers or default_workers(pending, threads), len(pending))
        width = max(len(run_label(c)) for c in pending)
        labels = {c: run_label(c).ljust(width) for c in pending}
        say(
            f"training {len(pending)} run(s) in {n} worker(s) x {threads} "
            f"thread(s); {len(outcomes)} already cached"
        )
        start = time.perf_counter()
        way = _one_by_one if n == 1 else _pool
        with _terminate_as_interrupt():
            outcomes.update(way(pending, keys, labels, data, n, threads, say))
        failed = sum(o.status == "failed" for o in outcomes.values())
        say(
            f"trained {len(pending) - failed} run(s) in "
            f"{time.perf_counter() - start:.0f} s"
            + (f"; {failed} failed" if failed else "")
        )
    return [outcomes[c] for c in dict.fromkeys(configs)]


def _one_by_one(
    jobs: list[RunConfig],
    keys: dict[RunConfig, str],
    labels: dict[RunConfig, str],
    data: ColourData,
    n: int,
    threads: int,
    say: Callable[[str], None],
) -> dict[RunConfig, Outcome]:
    """The runs in this process, one after another."""
    done: dict[RunConfig, Outcome] = {}
    kept = train.CPU_THREADS, os.environ.pop(provenance.ENV, None)
    train.CPU_THREADS = threads
    try:
        for c in jobs:
            try:
                cache.train_or_load(
                    c, data, log=lambda ln, c=c: say(f"{labels[c]} | {ln}")
                )
                done[c] = Outcome(c, keys[c], "trained")
            except KeyboardInterrupt:
                _say_stopped([c], keys, say)
                raise
            except Exception as err:  # reported; the next run goes on
                done[c] = _outcome(c, keys[c], "failed", _line(err), say)
    finally:
        train.CPU_THREADS = kept[0]
        if kept[1] is not None:  # the sections note their own runs
            os.environ[provenance.ENV] = kept[1]
    return done


def _pool(
    jobs: list[RunConfig],
    keys: dict[RunConfig, str],
    labels: dict[RunConfig, str],
    data: ColourData,
    n: int,
    threads: int,
    say: Callable[[str], None],
) -> dict[RunConfig, Outcome]:
    """The runs in ``n`` spawned worker processes
    (``concurrent.futures``), their lines passed on as they come.

    Workers send each run's start, lines and end through one queue, so a
    run's last lines come before its outcome. A worker that dies (killed,
    out of memory) breaks the pool, which stops the other workers: one
    line names the runs that were training, their finished epochs are
    cached, and the next call resumes them."""
    ctx = mp.get_context("spawn")
    events, stop = ctx.Queue(), ctx.Event()
    done: dict[RunConfig, Outcome] = {}
    running: dict[int, int] = {}  # worker pid -> the job it trains

    def relay(timeout: float) -> None:
        """Pass on what the workers sent, waiting up to ``timeout``."""
        with contextlib.suppress(queue.Empty):
            kind, pid, i, text = events.get(timeout=timeout)
            while True:
                c = jobs[i]
                if kind == "start":
                    running[pid] = i
                elif kind == "log":
                    say(f"{labels[c]} | {text}")
                else:  # its end: 'trained', 'failed' or 'stopped'
                    running.pop(pid, None)
                    done[c] = _outcome(c, keys[c], kind, text, say)
                kind, pid, i, text = events.get_nowait()

    pool = ProcessPoolExecutor(
        n,
        ctx,
        initializer=_start_worker,
        initargs=(events, stop, data, threads),
    )
    try:
        futures = [pool.submit(_train_one, i, c) for i, c in enumerate(jobs)]
        while len(done) < len(jobs):
            relay(0.5)
            if any(f.done() and f.exception() for f in futures):
                relay(1.0)  # BrokenProcessPool: a worker died
                dead = [jobs[i] for i in running.values()]
                say(
                    "a worker died (killed, or out of memory) while "
                    f"training {', '.join(map(run_label, dead)) or 'no run'};"
                    " finished epochs are cached; rerun to resume"
                )
                for c in jobs:
                    done.setdefault(
                        c, Outcome(c, keys[c], "failed", "a worker died")
                    )
    except KeyboardInterrupt:
        stop.set()  # the workers take no other run
        pool.shutdown(wait=False, cancel_futures=True)
        stopped, told = [jobs[i] for i in running.values()], set()
        deadline = time.monotonic() + STOP_S
        while running and time.monotonic() < deadline:
            for pid in set(running) - told:  # one started meanwhile too
                os.kill(pid, signal.SIGINT)
                told.add(pid)
            relay(0.2)
        for pid in running:  # did not stop in time
            os.kill(pid, signal.SIGKILL)
        _say_stopped(stopped + [jobs[i] for i in running.values()], keys, say)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return done


def _outcome(
    c: RunConfig, key: str, status: str, error: str, say: Callable[[str], None]
) -> Outcome:
    if status == "failed":
        say(f"run {run_label(c)} ({key}) failed: {error}")
    return Outcome(c, key, status, error)


def _say_stopped(
    runs: list[RunConfig], keys: dict[RunConfig, str], say: Callable
) -> None:
    for c in dict.fromkeys(runs):
        say(
            f"run {run_label(c)} stopped after epoch "
            f"{cache.stored_epochs(keys[c])}; rerun to resume"
        )


def _line(err: Exception) -> str:
    first = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {first}"


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt meanwhile, so a stopped build
    stops its workers too (main thread only: elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


# --- in a worker process -----------------------------------------------------

_worker: dict[str, Any] = {}  # this worker's queue, data and stop mark


def _start_worker(
    events: Any, stop: Any, data: ColourData, threads: int
) -> None:
    """A pool worker's set-up: its own process group (Ctrl-C goes to the
    parent, which stops the workers once), SIGTERM when the parent dies,
    ``threads`` threads, and SIGINT stopping the run it trains."""
    os.setpgrp()
    _die_with_parent()
    os.environ.pop(provenance.ENV, None)  # the sections note their runs
    torch.set_num_threads(threads)
    train.CPU_THREADS = threads  # this process trains nothing else
    _worker.update(events=events, stop=stop, data=data, busy=False)
    signal.signal(signal.SIGINT, _interrupt_run)


def _interrupt_run(signum: int, frame: Any) -> None:
    """KeyboardInterrupt in a run; between runs (a signal sent just as
    one ended) the stop mark alone keeps the worker from the next."""
    if _worker["busy"]:
        raise KeyboardInterrupt


def _train_one(i: int, config: RunConfig) -> None:
    """Job ``i`` in a worker: train or load ``config`` into the cache,
    its start, lines and end sent to the parent."""
    events, pid = _worker["events"], os.getpid()
    if _worker["stop"].is_set():
        return
    events.put(("start", pid, i, ""))
    _worker["busy"] = True
    try:
        cache.train_or_load(
            config,
            _worker["data"],
            log=lambda line: events.put(("log", pid, i, line)),
        )
        events.put(("trained", pid, i, ""))
    except KeyboardInterrupt:
        events.put(("stopped", pid, i, ""))
    except Exception as err:  # reported; the next run goes on
        events.put(("failed", pid, i, _line(err)))
    finally:
        _worker["busy"] = False


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies (else an orphan
    would go on training)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
