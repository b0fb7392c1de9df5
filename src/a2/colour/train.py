"""Training the colourisation networks (questions 4.2, 5.2, 5.5).

Adam on the pixel-wise cross-entropy, as in the course's helper, with these
departures, each for speed or exactness and none changing the method:

- the data sit on the device as tensors; a batch is an index slice of a
  permutation, with no per-step numpy conversion and no DataLoader;
- losses are weighted by pixels (the last batch may be partial), not means
  of batch means;
- ``shuffle='once'`` (default, the helper's) draws one permutation of the
  training set before training and keeps its order every epoch;
  ``shuffle='epoch'`` draws a new one each epoch;
- every random draw comes from ``seed``, so a run is repeatable on the CPU,
  and the state after each epoch (weights, optimiser, RNGs, history) can be
  saved and resumed bit for bit (see ``a2.colour.cache``);
- on the CPU a run trains on ``CPU_THREADS`` threads whatever the machine
  has: oneDNN splits the weight gradients' sums by thread, so the thread
  count changes the last bits, and a run must not depend on who trains it.
  Runs go side by side instead (``a2.colour.schedule``).

Speed (``bench/bench_train.py``, ``bench/bench_candidates.py``): on the
CPU the model, its inputs and so its logits are channels-last (oneDNN's
fast layout), the loss reads the logits as a (pixels, NC) view with no
copy, and freed memory stays in the process (no page faults per step).
On CUDA nothing waits for the device within an epoch; ``graphs=True``
replays each full batch's step as one CUDA graph.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from a2.analysis import probe
from a2.colour.data import ColourData
from a2.colour.models import network
from a2.config.files import ParamsError
from a2.config.params import RunConfig

EVAL_BATCH = 500  # validation batch size: eval mode, so it only sets speed
# Threads of one CPU run (see the module's docstring). One: two 1-thread
# runs side by side trained the build's runs 1.14x sooner than one run at
# a time on 2 threads (bench/bench_schedule.py, 2-core CPU).
CPU_THREADS = 1
# CUDA graphs (Trainer(graphs=...)) when not asked: off until
# bench/gpu_check.sh has shown on a GPU that they pay and agree.
GRAPHS_ON_CUDA = False


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float  # mean over training pixels, while training
    valid_loss: float  # mean over validation pixels, eval mode
    valid_acc: float  # % of validation pixels whose colour class is right
    train_s: float  # seconds of training (not validation) this epoch
    valid_s: float


@dataclass
class History:
    """Per-epoch records; ``columns()`` gives lists for plotting."""

    records: list[EpochRecord] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[EpochRecord]:
        return iter(self.records)

    def __getitem__(self, i: int) -> EpochRecord:
        return self.records[i]

    @property
    def last(self) -> EpochRecord:
        return self.records[-1]

    def columns(self) -> dict[str, list]:
        names = [f.name for f in fields(EpochRecord)]
        return {n: [getattr(r, n) for r in self.records] for n in names}

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.records]

    @classmethod
    def from_list(cls, rows: list[dict[str, Any]]) -> History:
        return cls([EpochRecord(**r) for r in rows])


HEADER = (
    f"{'epoch':>5} {'train loss':>10} {'valid loss':>10} "
    f"{'valid acc%':>10} {'train s':>8} {'valid s':>8}"
)


def format_row(r: EpochRecord) -> str:
    return (
        f"{r.epoch:>5d} {r.train_loss:>10.4f} {r.valid_loss:>10.4f} "
        f"{r.valid_acc:>10.2f} {r.train_s:>8.2f} {r.valid_s:>8.2f}"
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt options
_kept: list[bool] = []


def keep_freed_memory() -> None:
    """Let glibc keep freed memory for reuse instead of handing it back.

    A step frees and allocates activations of ~10 MB; by default glibc
    returns them to the OS and the next step faults the pages in again
    (about 10,000 page faults per step; keeping them trains 1.1-1.25x
    faster, bench/bench_candidates.py). Process-wide and harmless
    elsewhere; a no-op without glibc.
    """
    if _kept:
        return
    _kept.append(True)
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    for size in (1 << 28, 1 << 25):  # glibc may cap the threshold
        if libc.mallopt(_M_MMAP_THRESHOLD, size):
            break


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n``, then put back."""
    old = torch.get_num_threads()
    if old != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if old != n:
            torch.set_num_threads(old)


def pixel_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """``F.cross_entropy`` over pixels: (B, NC, H, W) logits, (B, H, W)
    colour classes.

    Channels-last logits are already a (B*H*W, NC) matrix in memory; the
    loss on that view spares the copies and zero-fills that the 4-D form
    makes on them (same maths, its sums taken in another order).
    """
    if not logits.is_contiguous(memory_format=torch.channels_last):
        return F.cross_entropy(logits, target, reduction=reduction)
    flat = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    return F.cross_entropy(flat, target.reshape(-1), reduction=reduction)


class Trainer:
    """One run: the model, Adam, the shuffling generator and the history.

    ``state_dict``/``load_state_dict`` capture everything needed to go on
    after a finished epoch exactly as if never stopped. ``threads`` (CPU)
    and ``graphs`` (CUDA) only change speed, except that another thread
    count changes the last bits, so ``a2.colour.cache`` never passes one.
    """

    def __init__(
        self,
        config: RunConfig,
        data: ColourData,
        threads: int | None = None,
        graphs: bool | None = None,
    ):
        if data.num_colours != config.num_colours:
            raise ParamsError(
                f"num_colours is {config.num_colours} but the palette has "
                f"{data.num_colours} colours"
            )
        self.config, self.device = config, resolve_device(config.device)
        dev, on_cpu = self.device, self.device.type == "cpu"
        self.threads = CPU_THREADS if threads is None else threads
        torch.manual_seed(config.seed)
        self.model = network(config).to(dev)
        # oneDNN's CPU convolutions, transposed ones included, run 1.2-1.5x
        # faster on NHWC (bench/bench_candidates.py); the maths is the same.
        layout = torch.channels_last if on_cpu else torch.contiguous_format
        if on_cpu:
            keep_freed_memory()
            self.model = self.model.to(memory_format=layout)
        # Fused Adam: one kernel for all weights on CUDA, steps counted on
        # the device (no sync, capturable); the CPU keeps the default.
        cuda = dev.type == "cuda"
        fused = {"fused": True, "capturable": True} if cuda else {}
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.lr, **fused
        )
        # Moved to the device once: (N, 1, 32, 32) inputs, (N, 32, 32)
        # targets. A one-channel NHWC input keeps UNet's concatenation
        # with NHWC features NHWC (else it and its gradient are copied).
        self.x_train = data.train_grey.to(dev, memory_format=layout)
        self.t_train = data.train_target.to(dev)
        self.x_valid = data.valid_grey.to(dev, memory_format=layout)
        self.t_valid = data.valid_target.to(dev)
        # A CPU generator, so the order is the same on every device.
        self.generator = torch.Generator().manual_seed(config.seed)
        self.order = None
        if config.shuffle == "once":
            self.order = self._permutation()
        self.history = History()
        if graphs is None:
            graphs = GRAPHS_ON_CUDA
        self._graph = _GraphStep(self) if graphs and cuda else None

    def _permutation(self) -> torch.Tensor:
        n = len(self.x_train)
        return torch.randperm(n, generator=self.generator).to(self.device)

    def _speed(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cpu":
            return _threads(self.threads)
        return contextlib.nullcontext()

    def step(self, idx: torch.Tensor) -> torch.Tensor:
        """One Adam step on the images ``idx``: the batch's summed pixel
        loss as a float64 tensor on the device (read later: no sync)."""
        logits = self.model(self.x_train[idx])  # (B, NC, 32, 32)
        loss = pixel_cross_entropy(logits, self.t_train[idx])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach().double() * len(idx)

    def train_epoch(self) -> tuple[float, float]:
        """One pass over the training set: (mean pixel loss, seconds)."""
        bs = self.config.batch_size
        order = self.order if self.order is not None else self._permutation()
        self.model.train()
        with self._speed():
            _sync(self.device)
            start = time.perf_counter()
            total = torch.zeros((), dtype=torch.float64, device=self.device)
            for s in range(0, len(order), bs):
                idx = order[s : s + bs]
                if self._graph is not None and len(idx) == bs:
                    total += self._graph(idx)
                else:
                    total += self.step(idx)
            mean = total.item() / len(order)  # .item() syncs the device
        return mean, time.perf_counter() - start

    def evaluate(self) -> tuple[float, float]:
        """Validation (mean pixel loss, % of pixels right), eval mode."""
        with self._speed():
            return evaluate(self.model, self.x_valid, self.t_valid)

    def fit(
        self,
        on_epoch: Callable[[Trainer], None] | None = None,
        log: Callable[[str], None] | None = print,
    ) -> History:
        """Train up to ``config.epochs``, logging one table row per epoch
        and calling ``on_epoch(self)`` after each (the cache saves there).
        """
        say = _logger(log)
        if len(self.history) < self.config.epochs:
            if len(self.history):
                say(f"resuming after epoch {len(self.history)}")
            say(HEADER)
        while len(self.history) < self.config.epochs:
            train_loss, train_s = self.train_epoch()
            start = time.perf_counter()
            valid_loss, valid_acc = self.evaluate()
            record = EpochRecord(
                len(self.history) + 1,
                train_loss,
                valid_loss,
                valid_acc,
                train_s,
                time.perf_counter() - start,
            )
            self.history.records.append(record)
            say(format_row(record))
            if on_epoch is not None:
                on_epoch(self)
        self.model.eval()
        return self.history

    def state_dict(self) -> dict[str, Any]:
        state = {
            "epoch": len(self.history),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": self.history.to_list(),
        }
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.history = History.from_list(state["history"])


class _GraphStep:
    """``Trainer.step`` for full batches on CUDA, captured once as a CUDA
    graph and then replayed: one launch per step instead of hundreds.

    The first ``WARMUP`` steps run eagerly on a side stream (as capture
    requires); capture records the next step without running it, and
    every replay runs the same kernels as an eager step would.
    """

    WARMUP = 3

    def __init__(self, trainer: Trainer):
        self.trainer, self.done = trainer, 0
        self.graph: torch.cuda.CUDAGraph | None = None
        bs = trainer.config.batch_size
        self.idx = torch.zeros(bs, dtype=torch.int64, device=trainer.device)
        self.out = torch.zeros((), dtype=torch.float64, device=trainer.device)

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        if self.graph is None and self.done < self.WARMUP:
            self.done += 1
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                out = self.trainer.step(idx)
            torch.cuda.current_stream().wait_stream(side)
            return out
        if self.graph is None:
            self._capture()
        self.idx.copy_(idx)
        self.graph.replay()
        return self.out  # overwritten by the next replay, read before it

    def _capture(self) -> None:
        t = self.trainer
        t.optimizer.zero_grad(set_to_none=True)  # grads live in the graph
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            logits = t.model(t.x_train[self.idx])
            loss = pixel_cross_entropy(logits, t.t_train[self.idx])
            loss.backward()
            t.optimizer.step()
            self.out = loss.detach().double() * len(self.idx)


def _logger(log: Callable[[str], None] | None) -> Callable[[str], None]:
    def say(line: str) -> None:
        if log is not None:
            log(line)
            sys.stdout.flush()  # rows appear as epochs finish

    return say


def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    target: torch.Tensor,
    batch: int = EVAL_BATCH,
) -> tuple[float, float]:
    """(mean cross-entropy per pixel, % of pixels right), in eval mode."""
    loss = torch.zeros((), dtype=torch.float64, device=x.device)
    right = torch.zeros((), dtype=torch.int64, device=x.device)
    with probe.evaluating(model), torch.inference_mode():
        for s in range(0, len(x), batch):
            logits = model(x[s : s + batch])
            t = target[s : s + batch]
            loss += pixel_cross_entropy(logits, t, reduction="sum").double()
            right += (logits.argmax(dim=1) == t).sum()
    pixels = target.numel()
    return loss.item() / pixels, 100.0 * right.item() / pixels


def train(
    config: RunConfig,
    data: ColourData,
    log: Callable[[str], None] | None = print,
) -> tuple[nn.Module, History]:
    """Train from scratch without the cache: (model in eval mode, history).
    Notebooks use ``a2.colour.cache.train_or_load`` instead."""
    trainer = Trainer(config, data)
    history = trainer.fit(log=log)
    return trainer.model, history


def colourise(
    model: nn.Module,
    data: ColourData,
    n: int = 8,
    indices: list[int] | None = None,
) -> dict[str, np.ndarray]:
    """Sample colourisations of fixed validation images, for figures.

    Returns arrays for ``imshow``: ``grey`` (n, 32, 32) input, ``pred``
    (n, 32, 32, 3) predicted palette colours, ``truth`` (n, 32, 32, 3)
    the original, ``quantised`` (n, 32, 32, 3) the truth's palette colours
    (the best any classifier over this palette can do), and ``indices``.
    """
    idx = list(range(n)) if indices is None else list(indices)
    device = next(model.parameters()).device
    grey = data.valid_grey[idx]  # (n, 1, 32, 32)
    with probe.evaluating(model):
        pred = model(grey.to(device)).argmax(dim=1).cpu().numpy()
    colours = np.asarray(data.palette)
    return {
        "grey": grey[:, 0].numpy(),
        "pred": colours[pred],
        "truth": data.valid_rgb[idx].permute(0, 2, 3, 1).numpy(),
        "quantised": colours[data.valid_target[idx].numpy()],
        "indices": np.asarray(idx),
    }
