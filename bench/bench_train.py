"""Training throughput: the a2 Trainer against a plain PyTorch loop and
against the course helper's loop, for each of the three networks.

Claim: on the CPU the a2 Trainer trains every network at least 1.3x as
many images per second as a plain PyTorch loop at the same thread count,
to the same numbers' maths (Adam, pixel-wise cross-entropy, BatchNorm in
training mode, the same data order).

The loops, all at the handout's defaults (NF 32, kernel 3, batch 100,
24 colours) on the same images:

- course: the helper's way: numpy batches turned into tensors each step,
  targets computed per batch in numpy, the loss on a transposed copy of
  the outputs, ``loss.item()`` every batch;
- plain: targets precomputed as tensors, NCHW, ``F.cross_entropy`` on
  (B, NC, H, W), ``zero_grad(set_to_none=True)``, default Adam;
- a2: ``a2.colour.train.Trainer.train_epoch`` (channels-last, the loss on a
  pixel view, freed memory kept; see its docstring).

Epochs take turns (course, plain, a2, GEMM, then plain, a2, course, ...)
so that a busy machine slows all alike, and each figure is the median
over epochs. Two threads on two cores that other jobs also use wait for
each other and vary by 2x from epoch to epoch: on a shared machine
compare at ``--threads 1`` too.
GFLOP/s come from counted FLOPs: the forward multiply-adds of every
convolution (hooks on the real layers), x2 for FLOPs, x3 for training
(forward + two backward products). "% GEMM" divides by this machine's
fp32 matrix-multiply rate, measured in the same turns with a 2048^3
``torch.mm`` at the same thread count.

    .venv/bin/python bench/bench_train.py                # ~6 min
    .venv/bin/python bench/bench_train.py --short        # ~1 min check
    .venv/bin/python bench/bench_train.py --threads 1 --epochs 5 --n 2000
    git show 6a49249:src/a2/train.py > /tmp/train_before.py
    .venv/bin/python bench/bench_train.py --before /tmp/train_before.py

``--before FILE`` adds a column for the Trainer of another train.py (an
earlier commit's), measured in the same turns: a before/after table from
one run.

Data: A2_DATA (or --data).

Evidence (2-core AMD EPYC VM, torch 2.14.1, CPU; 2026-11-29; 5,000 images
per epoch, median of 5 interleaved epochs; "before" is the Trainer of
commit 6a49249):

    2 threads, load average 0.97 -> 1.97 (our processes alone)
    fp32 GEMM 163 GFLOP/s
    network           course  plain before     a2 GFLOP/s %GEMM a2/plain
    PoolUpsampleNet      547    839   1253   1407   112.0   69%    1.68x
    ConvTransposeNet     803   1126   1539   1712    97.7   60%    1.52x
    UNet                 653    940   1129   1392    96.1   59%    1.48x

    1 thread, load average 2.52 -> 2.91 (other jobs running)
    fp32 GEMM 90 GFLOP/s
    PoolUpsampleNet      441    523    778    827    65.8   73%    1.58x
    ConvTransposeNet     576    706    941    990    56.5   63%    1.40x
    UNet                 522    633    722    870    60.0   67%    1.37x
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from multiprocessing.connection import Connection

import numpy as np
import torch
import torch.nn.functional as F

from a2.colour import data as a2_data
from a2.colour.models import network
from a2.colour.schedule import forward_macs
from a2.colour.train import RunConfig, Trainer
from a2.config import environment
from a2.fileio import os_error_line

MODELS = {
    "pool_upsample": "PoolUpsampleNet",
    "conv_transpose": "ConvTransposeNet",
    "unet": "UNet",
}
GEMM = 2048  # square matrix size for the reference rate


def course_targets(rgb: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The helper's nearest colour: direct distances in numpy, per batch.
    (N, 3, 32, 32) -> (N, 1, 32, 32)."""
    cs = np.reshape(colours, [len(colours), 1, 3, 1, 1])
    dists = np.linalg.norm(np.expand_dims(rgb, 0) - cs, axis=2)
    return np.expand_dims(np.argmin(dists, axis=0), axis=1)


def _order(n: int, seed: int = 0) -> torch.Tensor:
    """The Trainer's data order (shuffle='once')."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


class CourseLoop:
    """One epoch the way the course's helper trains."""

    def __init__(self, name: str, d: a2_data.ColourData, batch_size: int):
        torch.manual_seed(0)
        self.model = network(RunConfig(model=name))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        order = _order(len(d.train_rgb)).numpy()
        self.rgb = d.train_rgb.numpy().astype(np.float64)[order]
        self.grey = np.mean(self.rgb, axis=1, keepdims=True)
        self.colours = d.palette.astype(np.float64)
        self.batch_size = batch_size

    def epoch(self) -> None:
        self.model.train()
        for s in range(0, len(self.rgb), self.batch_size):
            xs = self.grey[s : s + self.batch_size]
            ys = course_targets(
                self.rgb[s : s + self.batch_size], self.colours
            )
            images = torch.from_numpy(xs).float()
            labels = torch.from_numpy(ys).long()
            self.opt.zero_grad()
            outputs = self.model(images)
            nc = outputs.shape[1]
            loss = F.cross_entropy(
                outputs.transpose(1, 3).contiguous().view(-1, nc),
                labels.transpose(1, 3).contiguous().view(-1),
            )
            loss.backward()
            self.opt.step()
            _ = loss.item()  # the helper logs every batch's loss


class PlainLoop:
    """One epoch as a plain PyTorch loop would train: tensors made once."""

    def __init__(self, name: str, d: a2_data.ColourData, batch_size: int):
        torch.manual_seed(0)
        self.model = network(RunConfig(model=name))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x, self.t = d.train_grey, d.train_target
        self.order, self.batch_size = _order(len(self.x)), batch_size

    def epoch(self) -> float:
        self.model.train()
        total = torch.zeros((), dtype=torch.float64)
        for s in range(0, len(self.order), self.batch_size):
            idx = self.order[s : s + self.batch_size]
            loss = F.cross_entropy(self.model(self.x[idx]), self.t[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += loss.detach().double() * len(idx)
        return total.item() / len(self.order)

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, t: torch.Tensor) -> None:
        self.model.eval()
        for s in range(0, len(x), 500):
            logits = self.model(x[s : s + 500])
            F.cross_entropy(logits, t[s : s + 500], reduction="sum").item()
            (logits.argmax(dim=1) == t[s : s + 500]).sum().item()


def load_trainer(path: str) -> type:
    """The Trainer class of another train.py (same package around it)."""
    spec = importlib.util.spec_from_file_location("a2._train_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.Trainer


def gemm_seconds(n: int = GEMM) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(3):
        torch.mm(a, b)
    return (time.perf_counter() - start) / 3


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s)"
    )


def serve(
    conn: Connection, kind: str, name: str, args: argparse.Namespace
) -> None:
    """One loop in its own process (a2's allocator setting is process-wide
    and must not help the others): an epoch or an evaluation per order,
    answered with its seconds."""
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    d = a2_data.load(source=args.data, n_train=args.n, n_valid=1000)
    config = RunConfig(model=name, batch_size=args.batch_size, device="cpu")
    if kind == "course":
        loop = CourseLoop(name, d, args.batch_size)
        epoch, check = loop.epoch, None
    elif kind == "plain":
        loop = PlainLoop(name, d, args.batch_size)
        epoch = loop.epoch

        def check() -> tuple[float, float]:
            return loop.evaluate(d.valid_grey, d.valid_target)
    elif kind == "a2":
        trainer = Trainer(config, d, threads=threads)
        epoch, check = trainer.train_epoch, trainer.evaluate
    else:  # before
        trainer = load_trainer(args.before)(config, d)
        epoch, check = trainer.train_epoch, None
    epoch()  # warm-up: allocator, oneDNN's kernels
    conn.send("ready")
    while (order := conn.recv()) != "stop":
        conn.send(timed(epoch if order == "epoch" else check))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=environment.data_source())
    parser.add_argument(
        "--n",
        type=int,
        default=5000,
        help="training images per epoch (default 5000)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=5,
        help="timed epochs per loop, after a warm-up",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads for every loop (default: torch's choice)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--before",
        metavar="FILE",
        help="also time the Trainer of this train.py",
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="a quick check: --n 1000 --epochs 2",
    )
    args = parser.parse_args()
    if args.short:
        args.n, args.epochs = 1000, 2
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    if args.before:
        load_trainer(args.before)  # fail now, not in a worker
    try:  # the data too: a worker that fails would leave nothing to say
        a2_data.load(source=args.data, n_train=args.n, n_valid=1000)
    except a2_data.DataError as err:
        sys.exit(f"bench_train: {err}")

    print(f"machine: {machine()}")
    print(
        f"data: {args.data}; {args.n} images per epoch, batch "
        f"{args.batch_size}, median of {args.epochs} interleaved epochs; "
        f"load average {os.getloadavg()[0]:.2f} at start"
    )
    kinds = ["course", "plain", "a2"] + (["before"] if args.before else [])
    ctx = mp.get_context("spawn")
    rows, evals, gemm = [], [], []
    for name in args.models.split(","):
        flops = (
            3 * 2 * forward_macs(network(RunConfig(model=name)))
        )  # per image
        conns = {}
        for kind in kinds:  # one at a time: warm-ups do not overlap
            conns[kind], theirs = ctx.Pipe()
            ctx.Process(
                target=serve, args=(theirs, kind, name, args), daemon=True
            ).start()
            theirs.close()  # so a worker that dies ends recv() with EOFError
            try:
                assert conns[kind].recv() == "ready"
            except EOFError:
                sys.exit(f"bench_train: the {kind} loop for {name} failed")

        def turn(kind: str, order: str, conns=conns) -> float:
            conns[kind].send(order)
            return conns[kind].recv()

        times: dict[str, list[float]] = {k: [] for k in kinds}
        for r in range(args.epochs):
            for k in kinds[r % len(kinds) :] + kinds[: r % len(kinds)]:
                times[k].append(turn(k, "epoch"))  # turns rotate
            gemm.append(2 * GEMM**3 / gemm_seconds() / 1e9)
        speed = {k: args.n / statistics.median(v) for k, v in times.items()}
        rows.append((name, flops, speed))
        # Validation pass, 1000 images: a2's evaluate against plain eval.
        ev = {"plain": [], "a2": []}
        for _ in range(args.epochs):
            for k in ev:
                ev[k].append(turn(k, "evaluate"))
        evals.append(
            (name, {k: 1000 / statistics.median(v) for k, v in ev.items()})
        )
        for conn in conns.values():
            conn.send("stop")
        print(f"  {MODELS[name]} measured", flush=True)

    peak = statistics.median(gemm)
    print(
        f"\nfp32 GEMM ({GEMM}^3 torch.mm, {threads} thread(s)): "
        f"{peak:.0f} GFLOP/s (median; {min(gemm):.0f}-{max(gemm):.0f})"
    )
    print(f"load average {os.getloadavg()[0]:.2f} at end\n")
    before = bool(args.before)
    head = (
        f"{'network':17} {'MFLOP/img':>9} {'course':>7} {'plain':>7} "
        + (f"{'before':>7} " if before else "")
        + f"{'a2':>7} {'a2 GFLOP/s':>10} {'% GEMM':>7} {'a2/plain':>8} "
        f"{'a2/course':>9}" + (f" {'a2/before':>9}" if before else "")
    )
    print("training, img/s\n" + head)
    for name, flops, s in rows:
        gf = s["a2"] * flops / 1e9
        print(
            f"{MODELS[name]:17} {flops / 1e6:>9.1f} {s['course']:>7.0f} "
            f"{s['plain']:>7.0f} "
            + (f"{s['before']:>7.0f} " if before else "")
            + f"{s['a2']:>7.0f} {gf:>10.1f} "
            f"{100 * gf / peak:>6.0f}% {s['a2'] / s['plain']:>7.2f}x "
            f"{s['a2'] / s['course']:>8.2f}x"
            + (f" {s['a2'] / s['before']:>8.2f}x" if before else "")
        )
    if before:
        print(f"(before: the Trainer of {args.before})")
    print(
        f"\nvalidation (eval mode, 1000 images), img/s\n"
        f"{'network':17} {'plain':>7} {'a2':>7} {'a2/plain':>8}"
    )
    for name, s in evals:
        print(
            f"{MODELS[name]:17} {s['plain']:>7.0f} {s['a2']:>7.0f} "
            f"{s['a2'] / s['plain']:>7.2f}x"
        )


if __name__ == "__main__":
    try:
        main()
    except OSError as err:  # a path the system refuses: one line
        sys.exit(f"bench_train: {os_error_line(err)}")
