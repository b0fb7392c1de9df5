"""What a network's colourisations look like, in numbers (questions
4.2, 5.2, 5.3 and 5.5).

:func:`rescore` computes a model's validation loss and accuracy again,
apart from the training loop, to check what a run recorded.
:func:`colour_stats` summarises a model's predictions on the whole
validation set against the palette-quantised truth: accuracy of a
trivial baseline, mean RGB error, mean saturation, and how much the
prediction leans on its commonest colours. The report's verdict words
about them ("duller", "looks good") come from ``a2.report.rules``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from a2.analysis import probe
from a2.colour.data import ColourData
from a2.report import check

if TYPE_CHECKING:
    from a2.colour.cache import Run

TOP_COLOURS = 3  # how many of the commonest predicted colours to follow
PRESENT = 0.001  # a colour "is used" on at least this share of pixels


def predict(
    model: nn.Module, x: torch.Tensor, batch: int = 500
) -> torch.Tensor:
    """Predicted colour class of every pixel: (N, H, W) int64 on the CPU."""
    device = next(model.parameters()).device
    with probe.evaluating(model):
        out = [
            model(x[s : s + batch].to(device)).argmax(dim=1).cpu()
            for s in range(0, len(x), batch)
        ]
    return torch.cat(out)


@dataclass(frozen=True)
class Scores:
    loss: float  # mean cross-entropy per validation pixel (nats)
    acc: float  # % of validation pixels given their colour


def rescore(model: nn.Module, data: ColourData, batch: int = 250) -> Scores:
    """The validation loss and accuracy computed again from the model's
    outputs, apart from ``a2.colour.train.evaluate``: the loss in float64 on
    the CPU over other batches, the accuracy from :func:`predict`."""
    pred = predict(model, data.valid_grey)
    acc = 100.0 * (pred == data.valid_target).double().mean().item()
    device, loss = next(model.parameters()).device, 0.0
    with probe.evaluating(model):
        for s in range(0, len(data.valid_grey), batch):
            logits = model(data.valid_grey[s : s + batch].to(device)).cpu()
            target = data.valid_target[s : s + batch]
            loss += F.cross_entropy(
                logits.double(), target, reduction="sum"
            ).item()
    return Scores(loss / data.valid_target.numel(), acc)


def check_recorded(run: Run, data: ColourData) -> None:
    """4.2 and 5.2: the validation accuracy and loss a run recorded after
    its last epoch equal those computed again from the loaded model."""
    again, last = rescore(run.model, data), run.history.last
    check(
        "the validation accuracy equals its recomputation from the "
        "predictions",
        again.acc,
        last.valid_acc,
        rtol=1e-9,
    )
    check(
        "the validation loss equals the recomputed cross-entropy",
        again.loss,
        last.valid_loss,
        rtol=1e-5,
    )


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation (max - min) / max of RGB pixels (..., 3)."""
    hi, lo = rgb.max(axis=-1), rgb.min(axis=-1)
    return np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-12), 0.0)


@dataclass(frozen=True)
class ColourStats:
    top: list[int]  # the colours the model predicts most often
    pred_share: float  # % of predicted pixels in those colours
    truth_share: float  # % of (palette-quantised) true pixels in them
    pred_saturation: float  # mean saturation of the predicted colours
    truth_saturation: float  # ... of the palette-quantised truth
    majority_acc: float  # % right when always predicting the commonest
    pred_colours: int  # palette colours predicted for >= PRESENT of pixels
    truth_colours: int  # ... present in the truth
    pred_rgb_error: float  # mean |RGB error| of the prediction vs original
    quantised_rgb_error: float  # ... of the quantised truth (the ceiling)


def colour_stats(
    model: nn.Module, data: ColourData, k: int = TOP_COLOURS
) -> ColourStats:
    """How a model's colourisations compare with the truth, on the whole
    validation set: does it pile onto a few colours, how saturated are
    they, and how far are they from the original image?"""
    nc = data.num_colours
    pred = predict(model, data.valid_grey).numpy().ravel()
    truth = data.valid_target.numpy().ravel()
    p_counts = np.bincount(pred, minlength=nc)
    t_counts = np.bincount(truth, minlength=nc)
    top = [int(i) for i in np.argsort(-p_counts, kind="stable")[:k]]
    colours = np.asarray(data.palette, dtype=np.float64)
    sat = saturation(colours)
    rgb = data.valid_rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    floor = PRESENT * len(pred)
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
