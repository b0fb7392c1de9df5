"""Thin orchestration for the colourisation sections (4 and 5).

Sections 4 and 5 call one function here per experiment: load the data,
train (or load from the cache) one run or a set of runs, and turn runs or
models into the tables the report prints. Training goes through
``a2.cache.train_or_load`` only, so a run that is already stored is loaded,
never retrained; its progress goes to stderr, which the report drops.
"""
from __future__ import annotations

import inspect
import math
import statistics
import sys
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from a2 import cache, counting, data as _data, models, train as _train
from a2.data import ColourData
from a2.train import RunConfig

Log = Callable[[str], None] | None

MODEL_NAMES = {k: cls.__name__ for k, cls in models.MODELS.items()}


def stderr_log(line: str) -> None:
    """Training progress for the build log, not for the report."""
    print(line, file=sys.stderr, flush=True)


# --- data and runs ---------------------------------------------------------

def load_data(n_train: int | None = None, n_valid: int | None = None,
              label: int = _data.HORSE) -> ColourData:
    """The class's images from ``a2.settings.data_source()`` (A2_DATA)."""
    return _data.load(label=label, n_train=n_train, n_valid=n_valid)


def run_config(model: str, **params: Any) -> RunConfig:
    """A RunConfig from a section's parameters; keys that are not run
    settings (n_train, n_samples, seeds, ...) are ignored."""
    keys = set(_train.run_config_keys())
    return RunConfig(model=model,
                     **{k: v for k, v in params.items() if k in keys})


def run(model: str, data: ColourData, retrain: bool = False,
        log: Log = stderr_log, **params: Any) -> cache.Run:
    """Train ``model`` with ``params`` or load it from the cache."""
    return cache.train_or_load(run_config(model, **params), data,
                               retrain=retrain, log=log)


def seed_study(models: Sequence[str], seeds: Sequence[int],
               data: ColourData, log: Log = stderr_log,
               **params: Any) -> dict[str, list[cache.Run]]:
    """One cached run per model and seed: ``{model: [run per seed]}``."""
    params = {k: v for k, v in params.items() if k != "seed"}
    return {m: [run(m, data, log=log, seed=s, **params) for s in seeds]
            for m in models}


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


def batch_size_sweep(batch_sizes: Sequence[int], epochs: int,
                     data: ColourData, model: str = "conv_transpose",
                     log: Log = stderr_log,
                     **params: Any) -> list[SweepRun]:
    """One cached run per batch size, all for ``epochs`` epochs with the
    same learning rate and seed (question 5.5)."""
    params = {k: v for k, v in params.items()
              if k not in ("batch_size", "epochs")}
    n = len(data.train_grey)
    out = []
    for bs in batch_sizes:
        r = run(model, data, log=log, batch_size=bs, epochs=epochs,
                **params)
        out.append(SweepRun(bs, r, optimiser_steps(n, bs, epochs),
                            train_seconds(r)))
    return out


def train_seconds(r: cache.Run) -> float:
    """Training time of a run as recorded when it was trained (a loaded
    run keeps the time of the machine that trained it)."""
    return float(sum(r.history.columns()["train_s"]))


def devices(r: cache.Run) -> str:
    return ", ".join(r.meta.get("devices", [])) or "unknown"


# --- the networks' shapes (questions 4.1, 5.1, 5.4) -----------------------

# Figure 4: (channels, size divisor) of each block's output for a
# (BS, NIC, S, S) input; a, b and c share them.
FIGURE_4 = (("NF", 2), ("2NF", 4), ("NF", 2), ("NC", 1), ("NC", 1))


def figure_shapes(bs: int, nf: int, nc: int, size: int = 32
                  ) -> list[tuple[int, int, int, int]]:
    """The output shapes of blocks 1-5 that Figure 4 prescribes."""
    channels = {"NF": nf, "2NF": 2 * nf, "NC": nc}
    return [(bs, channels[c], size // d, size // d) for c, d in FIGURE_4]


def figure_labels(size: int = 32) -> list[str]:
    """Figure 4's shapes as printed in the handout, e.g. [BS, NF, 16, 16]."""
    return [f"[BS, {c}, {size // d}, {size // d}]" for c, d in FIGURE_4]


@dataclass(frozen=True)
class ShapeRow:
    name: str  # module path, e.g. block1.0
    layer: str  # what the layer does, e.g. Conv2d(1->32, k=3, s=1, p=1)
    shape: tuple[int, ...]  # output shape for the probe input
    weights: int  # elements of its weight tensors (no biases)
    block_end: bool  # the last layer of a top-level block


def describe(m: nn.Module) -> str:
    """A short, table-friendly description of a layer."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        extra = ""
        if isinstance(m, nn.ConvTranspose2d):
            extra = f", op={m.output_padding[0]}"
        pad = m.padding if isinstance(m.padding, str) else m.padding[0]
        return (f"{type(m).__name__}({m.in_channels}->{m.out_channels}, "
                f"k={m.kernel_size[0]}, s={m.stride[0]}, p={pad}{extra})")
    if isinstance(m, nn.MaxPool2d):
        return f"MaxPool2d({m.kernel_size})"
    if isinstance(m, nn.Upsample):
        return f"Upsample(x{m.scale_factor:g}, {m.mode})"
    if isinstance(m, nn.BatchNorm2d):
        return f"BatchNorm2d({m.num_features})"
    if isinstance(m, nn.ZeroPad2d):
        left, right, top, bottom = m.padding
        return f"ZeroPad2d(l={left}, r={right}, t={top}, b={bottom})"
    return type(m).__name__


def shape_table(model: nn.Module, x: torch.Tensor) -> list[ShapeRow]:
    """Every leaf layer's output shape for input ``x``, in call order,
    recorded with forward hooks on a real forward pass."""
    leaves = [(n, m) for n, m in model.named_modules()
              if n and not list(m.children())]
    ends = set()
    for name, child in model.named_children():
        sub = [n for n, m in child.named_modules() if not list(m.children())]
        ends.add(name if sub == [""] else f"{name}.{sub[-1]}")
    rows: list[ShapeRow] = []

    def hook(name: str) -> Callable:
        def record(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
            w = m.weight.numel() if isinstance(
                m, (nn.Conv2d, nn.ConvTranspose2d)) else 0
            rows.append(ShapeRow(name, describe(m), tuple(out.shape), w,
                                 name in ends))
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return rows


def block_shapes(rows: Iterable[ShapeRow]) -> list[tuple[int, ...]]:
    """Output shapes of the top-level blocks (their last layers)."""
    return [r.shape for r in rows if r.block_end]


def shape_markdown(rows: Sequence[ShapeRow], size: int = 32) -> str:
    """The shape table as Markdown; a block's last row carries the
    shape Figure 4 gives for it."""
    labels = iter(figure_labels(size))
    # Pandoc sizes wide tables' columns by the dashes below the header.
    lines = ["| layer | module | output shape | Figure 4 |",
             "|" + "|".join("-" * w for w in (10, 40, 17, 17)) + "|"]
    for r in rows:
        shape = "[" + ", ".join(["BS", *map(str, r.shape[1:])]) + "]"
        fig = next(labels, "") if r.block_end else ""
        lines.append(f"| `{r.name}` | `{r.layer}` | {shape} | {fig} |")
    return "\n".join(lines)


def source_markdown(*objs: Any) -> str:
    """Library source as a Markdown python code block (the report shows
    the code that runs, not a copy)."""
    parts = [textwrap.dedent(inspect.getsource(o)).rstrip() for o in objs]
    return "```python\n" + "\n\n\n".join(parts) + "\n```"


# --- results ---------------------------------------------------------------

def results_table(runs: Sequence[cache.Run]) -> list[dict[str, Any]]:
    """One row per run: its settings, final metrics, time and device."""
    rows = []
    for r in runs:
        c, last = r.config, r.history.last
        rows.append({
            "model": c.model, "kernel": c.kernel,
            "num_filters": c.num_filters, "lr": c.lr,
            "batch_size": c.batch_size, "epochs": c.epochs,
            "seed": c.seed, "key": r.key,
            "train_loss": last.train_loss, "valid_loss": last.valid_loss,
            "valid_acc": last.valid_acc, "train_s": train_seconds(r),
            "device": devices(r),
        })
    return rows


def mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value)."""
    vals = [float(v) for v in values]
    sd = statistics.stdev(vals) if len(vals) > 1 else None
    return statistics.fmean(vals), sd


def pm(values: Sequence[float], digits: int = 3) -> str:
    """'mean ± sd' for the report ('mean (one seed)' for a single run)."""
    m, sd = mean_std(values)
    if sd is None:
        return f"{m:.{digits}f} (one seed)"
    return f"{m:.{digits}f} ± {sd:.{digits}f}"


def reproducibility_markdown(runs: Sequence[cache.Run]) -> str:
    """Every distinct run once: cache key, settings, device, time, final
    metrics."""
    seen, lines = set(), [
        "| key | model | k, NF, lr, B, epochs, seed | device "
        "| time (s) | valid loss | valid acc (%) |",
        "|" + "|".join("-" * w for w in (18, 17, 22, 7, 8, 9, 9)) + "|"]
    for row in results_table(runs):
        if row["key"] in seen:
            continue
        seen.add(row["key"])
        lines.append(
            f"| `{row['key']}` | {MODEL_NAMES[row['model']]} "
            f"| {row['kernel']}, {row['num_filters']}, {row['lr']:g}, "
            f"{row['batch_size']}, {row['epochs']}, {row['seed']} "
            f"| {row['device']} | {row['train_s']:.1f} "
            f"| {row['valid_loss']:.4f} | {row['valid_acc']:.2f} |")
    return "\n".join(lines)


# --- what the colourisations look like (question 4.2) ---------------------

@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 500
            ) -> torch.Tensor:
    """Predicted colour class of every pixel: (N, H, W) int64 on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = [model(x[s:s + batch].to(device)).argmax(dim=1).cpu()
           for s in range(0, len(x), batch)]
    model.train(was_training)
    return torch.cat(out)


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation (max - min) / max of RGB pixels (..., 3)."""
    hi, lo = rgb.max(axis=-1), rgb.min(axis=-1)
    return np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-12), 0.0)


@dataclass(frozen=True)
class ColourStats:
    top: list[int]  # the `k` colours the model predicts most often
    pred_share: float  # % of predicted pixels in those colours
    truth_share: float  # % of (palette-quantised) true pixels in them
    pred_saturation: float  # mean saturation of the predicted colours
    truth_saturation: float  # ... of the palette-quantised truth
    majority_acc: float  # % right when always predicting the commonest
    pred_colours: int  # palette colours predicted for >= 0.1% of pixels
    truth_colours: int  # ... present in the truth
    pred_rgb_error: float  # mean |RGB error| of the prediction vs original
    quantised_rgb_error: float  # ... of the quantised truth (the ceiling)


def colour_stats(model: nn.Module, data: ColourData, k: int = 3
                 ) -> ColourStats:
    """How washed-out a model's colourisations are, on the whole
    validation set: does it pile onto a few colours, and how saturated
    are they compared with the palette-quantised truth?"""
    nc = data.num_colours
    pred = predict(model, data.valid_grey).numpy().ravel()
    truth = data.valid_target.numpy().ravel()
    p_counts = np.bincount(pred, minlength=nc)
    t_counts = np.bincount(truth, minlength=nc)
    top = [int(i) for i in np.argsort(-p_counts, kind="stable")[:k]]
    colours = np.asarray(data.palette, dtype=np.float64)
    sat = saturation(colours)
    rgb = data.valid_rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    floor = 0.001 * len(pred)
    return ColourStats(
        top=top,
        pred_share=100.0 * p_counts[top].sum() / len(pred),
        truth_share=100.0 * t_counts[top].sum() / len(truth),
        pred_saturation=float(sat[pred].mean()),
        truth_saturation=float(sat[truth].mean()),
        majority_acc=100.0 * t_counts.max() / len(truth),
        pred_colours=int((p_counts >= floor).sum()),
        truth_colours=int((t_counts >= floor).sum()),
        pred_rgb_error=float(np.abs(colours[pred] - rgb).mean()),
        quantised_rgb_error=float(np.abs(colours[truth] - rgb).mean()),
    )


def colour_name(rgb: Sequence[float]) -> str:
    """The colour as 8-bit RGB, e.g. (121, 98, 77)."""
    return "(" + ", ".join(str(int(round(255 * v))) for v in rgb) + ")"


# --- counting formulas as polynomials (question 4.3) ----------------------

# Monomials of a quadratic in (NIC, NF, NC), LaTeX and value.
MONOMIALS: tuple[tuple[str, Callable[[int, int, int], int]], ...] = (
    (r"\mathrm{NIC}\,\mathrm{NF}", lambda i, f, c: i * f),
    (r"\mathrm{NF}^2", lambda i, f, c: f * f),
    (r"\mathrm{NF}\,\mathrm{NC}", lambda i, f, c: f * c),
    (r"\mathrm{NC}^2", lambda i, f, c: c * c),
    (r"\mathrm{NIC}^2", lambda i, f, c: i * i),
    (r"\mathrm{NIC}\,\mathrm{NC}", lambda i, f, c: i * c),
    (r"\mathrm{NIC}", lambda i, f, c: i),
    (r"\mathrm{NF}", lambda i, f, c: f),
    (r"\mathrm{NC}", lambda i, f, c: c),
    ("1", lambda i, f, c: 1),
)
COUNTS = ("weights", "outputs", "connections")


def count_polynomials(size: int, kernel: int = 3
                      ) -> dict[str, dict[str, int]]:
    """``counting.formula_counts`` as integer polynomials in NIC, NF, NC:
    ``{count: {monomial: coefficient}}`` (zero terms left out).

    Fitted exactly on a 3x3x3 grid of (NIC, NF, NC), which determines a
    quadratic, then checked at every grid point; raises if any count is
    not such a polynomial.
    """
    grid = [(i, f, c) for i in (1, 2, 3) for f in (16, 32, 48)
            for c in (1, 2, 3)]
    design = np.array([[fn(*p) for _, fn in MONOMIALS] for p in grid],
                      dtype=float)
    out = {}
    for name in COUNTS:
        y = np.array([getattr(counting.formula_counts(*p, size, kernel),
                              name) for p in grid], dtype=float)
        coef = np.rint(np.linalg.lstsq(design, y, rcond=None)[0])
        if not np.array_equal(design @ coef, y):
            raise ValueError(f"{name} is not a quadratic in NIC, NF, NC")
        out[name] = {m: int(a) for (m, _), a in zip(MONOMIALS, coef)
                     if a != 0}
    return out


def polynomial_latex(poly: Mapping[str, int]) -> str:
    r"""E.g. ``9\,\mathrm{NIC}\,\mathrm{NF} + 36\,\mathrm{NF}^2`` (no
    digit grouping: in maths a comma reads as a list separator)."""
    terms = []
    for mono, a in poly.items():
        body = str(a)
        terms.append(body if mono == "1" else body + r"\," + mono)
    return " + ".join(terms).replace("+ -", "- ")
