"""How to spend the CPUs on the build's runs: W workers x T threads.

Claim: on a 2-core CPU, two single-threaded workers train the report's 14
runs faster than one worker on two threads (this picks
``a2.colour.train.CPU_THREADS`` and ``a2.colour.schedule.default_workers``).

The run list is the real one (``a2.colour.experiments.plan`` of sections 4
and 5 with their parameters), shortened to ``--epochs`` epochs per run
(sweep runs too). Each layout trains the whole list with
``a2.colour.schedule.train_many`` into a fresh scratch cache, spawning
included;
layouts take turns (A, B, A, B, ...) and the median wall time is
compared.

    .venv/bin/python bench/bench_schedule.py [--epochs 3] [--rounds 2]
        [--layouts 2x1,1x2]

Data: A2_DATA (or --data). About 4 x rounds x (minutes per layout).

Evidence (2-core AMD EPYC VM, torch 2.14.1, 2026-11-29, load average
about 2.0 while it ran, i.e. these runs alone; 14 runs x 3 epochs):

    round 1: 2 workers x 1 thread 129 s, 1 worker x 2 threads 140 s
    round 2: 2 workers x 1 thread 126 s, 1 worker x 2 threads 145 s
    round 3: 2 workers x 1 thread 127 s, 1 worker x 2 threads 159 s
    median: 127 s against 145 s, two 1-thread workers 1.14x faster
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

from a2.colour import data as a2_data
from a2.colour import experiments, schedule
from a2.config import environment
from a2.config import params as a2_params
from a2.fileio import os_error_line

STEMS = ("4-pooling", "5-transposed")


def run_list(epochs: int) -> list:
    """The sections' runs, each cut to ``epochs`` epochs."""
    runs = []
    for stem in STEMS:
        overrides = a2_params.overrides(stem)
        overrides["epochs"] = epochs
        if stem == "5-transposed":
            overrides["sweep_epochs"] = epochs
        p = a2_params.load(stem, overrides)
        runs += experiments.plan(p).configs()
    return list(dict.fromkeys(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=environment.data_source())
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--layouts", default="2x1,1x2", help="WORKERSxTHREADS, comma-separated"
    )
    args = parser.parse_args()
    runs = run_list(args.epochs)
    try:
        d = a2_data.load(source=args.data)
    except a2_data.DataError as err:
        sys.exit(f"bench_schedule: {err}")
    layouts = [tuple(map(int, s.split("x"))) for s in args.layouts.split(",")]
    print(
        f"{len(runs)} runs of sections 4-5 at {args.epochs} epochs each, "
        f"{len(d.train_grey)} training images; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f} at start",
        flush=True,
    )
    times: dict[tuple, list[float]] = {lay: [] for lay in layouts}
    for r in range(args.rounds):
        for workers, threads in layouts:
            scratch = tempfile.mkdtemp(prefix="a2-bench-schedule-")
            os.environ["A2_CACHE"] = scratch
            start = time.perf_counter()
            outcomes = schedule.train_many(
                runs, d, workers=workers, threads=threads, log=None
            )
            seconds = time.perf_counter() - start
            shutil.rmtree(scratch)
            assert all(o.status == "trained" for o in outcomes), outcomes
            times[(workers, threads)].append(seconds)
            print(
                f"round {r + 1}: {workers} worker(s) x {threads} "
                f"thread(s): {seconds:.0f} s (load average "
                f"{os.getloadavg()[0]:.2f})",
                flush=True,
            )
    base = statistics.median(times[layouts[0]])
    print(f"\n{'layout':>22} {'median s':>9} {'vs first':>9}")
    for (w, t), v in times.items():
        m = statistics.median(v)
        print(
            f"{f'{w} worker(s) x {t} thread(s)':>22} {m:>9.0f} "
            f"{base / m:>8.2f}x"
        )
    print(
        "(vs first: the first layout's time over this one's; above 1 "
        "means this layout is faster)"
    )


if __name__ == "__main__":
    try:
        main()
    except OSError as err:  # a path the system refuses: one line
        sys.exit(f"bench_schedule: {os_error_line(err)}")
