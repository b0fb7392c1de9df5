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
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
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
    ``a2.config.params.load`` gives them, or their values) into the cache: the
    runs its plan declares (``a2.colour.experiments.plan``), which the section
    then loads. All sections' runs go into one pool per data subset
    (n_train, n_valid); a section that trains nothing adds none."""
    from a2.colour import experiments

    groups: dict[tuple, list[RunConfig]] = {}
    for stem, values in sections.items():
        p = values if isinstance(values, Params) else load(stem, values)
        if isinstance(p, Pooling):  # sections 4 and 5
            runs = experiments.plan(p).configs()
            groups.setdefault((p.n_train, p.n_valid), []).extend(runs)
    out: list[Outcome] = []
    for (n_train, n_valid), runs in groups.items():
        data = experiments.load_data(n_train, n_valid)
        out += train_many(
            runs, data, workers=workers, threads=threads, log=log
        )
    return out


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
    'cached' (it already was), 'failed' or 'stopped' (Ctrl-C)."""

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

    Each worker is a spawned process training on ``threads`` threads
    (``a2.colour.train.CPU_THREADS`` by default; another count changes a CPU
    run's last bits, so only benchmarks pass one). Its lines come
    prefixed by the run's label. A failing run is reported in one line and
    the others go on. Ctrl-C (or SIGTERM) stops every worker after its
    current step; finished epochs are cached, and the next call resumes.
    Returns one ``Outcome`` per distinct run, in the order given.
    """

    def say(line: str) -> None:
        if log is not None:
            log(line)
            sys.stdout.flush()  # lines appear as runs progress

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
        say(
            f"training {len(pending)} run(s) in {n} worker(s) x {threads} "
            f"thread(s); {len(outcomes)} already cached"
        )
        start = time.perf_counter()
        with _terminate_as_interrupt():
            outcomes.update(_pool(pending, keys, data, n, threads, width, say))
        failed = sum(o.status == "failed" for o in outcomes.values())
        say(
            f"trained {len(pending) - failed} run(s) in "
            f"{time.perf_counter() - start:.0f} s"
            + (f"; {failed} failed" if failed else "")
        )
    return [outcomes[c] for c in dict.fromkeys(configs)]


def _pool(
    jobs: list[RunConfig],
    keys: dict[RunConfig, str],
    data: ColourData,
    n: int,
    threads: int,
    width: int,
    say: Callable[[str], None],
) -> dict[RunConfig, Outcome]:
    ctx = mp.get_context("spawn")
    tasks, events = ctx.Queue(), ctx.Queue()
    for i, c in enumerate(jobs):
        tasks.put((i, c))
    for _ in range(n):
        tasks.put(None)  # one stop mark per worker
    done: dict[RunConfig, Outcome] = {}
    running: dict[int, int] = {}  # worker pid -> job index
    labels = [run_label(c).ljust(width) for c in jobs]

    def start() -> mp.Process:
        p = ctx.Process(
            target=_worker, args=(tasks, events, data, threads), daemon=True
        )
        p.start()
        return p

    procs = [start() for _ in range(n)]
    spares = len(jobs)  # replacements for workers that die
    try:
        while len(done) < len(jobs):
            try:
                kind, pid, i, text = events.get(timeout=0.5)
            except queue.Empty:
                spares = _check_workers(
                    procs, running, jobs, keys, done, say, start, spares
                )
                if not any(p.is_alive() for p in procs):
                    for c in jobs:  # nobody left to train them
                        done.setdefault(
                            c, Outcome(c, keys[c], "failed", "no worker left")
                        )
                continue
            if kind == "start":
                running[pid] = i
            elif kind == "log":
                say(f"{labels[i]} | {text}")
            else:  # 'done' or 'failed'
                running.pop(pid, None)
                c = jobs[i]
                if kind == "failed":
                    say(f"run {run_label(c)} ({keys[c]}) failed: {text}")
                done[c] = Outcome(
                    c,
                    keys[c],
                    "trained" if kind == "done" else "failed",
                    "" if kind == "done" else text,
                )
        for p in procs:
            p.join(timeout=10)
    except KeyboardInterrupt:
        tasks.cancel_join_thread()  # runs left unsent: exit without them
        _stop(procs)
        for i in running.values():
            c = jobs[i]
            say(
                f"run {run_label(c)} stopped after epoch "
                f"{cache.stored_epochs(keys[c])}; rerun to resume"
            )
        raise
    return done


def _check_workers(
    procs: list[mp.Process],
    running: dict[int, int],
    jobs: list[RunConfig],
    keys: dict[RunConfig, str],
    done: dict[RunConfig, Outcome],
    say: Callable[[str], None],
    start: Callable[[], mp.Process],
    spares: int,
) -> int:
    """A worker that died (killed, out of memory) fails its run; a new
    one takes its place while runs remain. Returns the spares left."""
    for p in [p for p in procs if p.exitcode not in (None, 0)]:
        procs.remove(p)
        i = running.pop(p.pid, None)
        if i is not None:
            c = jobs[i]
            msg = f"worker died (exit code {p.exitcode})"
            say(f"run {run_label(c)} ({keys[c]}) failed: {msg}")
            done[c] = Outcome(c, keys[c], "failed", msg)
        if spares > 0 and len(done) < len(jobs):
            spares -= 1
            procs.append(start())
    return spares


def _stop(procs: list[mp.Process]) -> None:
    """Stop every worker with one SIGINT (they sit in their own process
    groups, so a terminal's Ctrl-C reaches only this process): a run
    stops after its step with its finished epochs saved; a worker that
    does not stop within ``STOP_S`` is killed."""
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_S
    for p in procs:
        p.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()


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


def _worker(tasks: Any, events: Any, data: ColourData, threads: int) -> None:
    """A worker process: take runs from ``tasks`` until a stop mark."""
    os.setpgrp()  # Ctrl-C goes to the parent, which stops us once
    _die_with_parent()
    os.environ.pop(provenance.ENV, None)  # the sections note their runs
    torch.set_num_threads(threads)
    train.CPU_THREADS = threads  # this process trains nothing else
    pid = os.getpid()
    try:
        while True:
            job = tasks.get()
            if job is None:
                return
            i, config = job
            events.put(("start", pid, i, ""))

            def log(line: str, i: int = i) -> None:
                events.put(("log", pid, i, line))

            try:
                cache.train_or_load(config, data, log=log)
            except Exception as err:  # reported; the next run goes on
                first = str(err).splitlines()[0] if str(err) else ""
                events.put(
                    ("failed", pid, i, f"{type(err).__name__}: {first}")
                )
            else:
                events.put(("done", pid, i, ""))
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        events.close()
        events.join_thread()  # every line reaches the parent


def _die_with_parent() -> None:
    """Linux: SIGTERM this worker when the parent dies (else an orphan
    would go on training the queue)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
