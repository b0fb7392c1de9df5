"""Weights, outputs and connections of PoolUpsampleNet (question 4.3).

Counting convention (stated in the report): biases are ignored; a *unit* is
an output of a Conv2d, MaxPool2d or Upsample layer; BatchNorm2d and ReLU act
element-wise on units already counted, so they add no outputs, weights or
connections (the handout accepts either choice for BatchNorm). A connection
joins one output unit to one input unit it reads: ``C_in k^2`` for a
convolution, 4 for a 2x2 max-pool and 1 for nearest-neighbour upsampling.

``formula_counts`` is the closed form derived in the report;
``measured_counts`` counts a real model independently, from its parameters and
from forward hooks on every layer.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Counts:
    weights: int
    outputs: int
    connections: int


def formula_counts(nic: int, nf: int, nc: int, size: int = 32,
                   kernel: int = 3) -> Counts:
    """Closed form for PoolUpsampleNet on a ``size x size`` input.

    With ``A = size^2`` input pixels and ``k = kernel``:

    - weights = k^2 (NIC NF + 4 NF^2 + NF NC + NC^2)
    - outputs = A (NF + NF/4 + NF/2 + NF/8 + NF/16 + NF/4 + NC/4 + 2 NC)
      = A (35 NF / 16 + 9 NC / 4)
    - connections = A k^2 (NIC NF + NF^2/2 + NF^2/8 + NF NC/4 + NC^2)
      + A (NF + NF/2 + NF/4 + NC)   (pooling and upsampling)
    """
    a, k2 = size * size, kernel * kernel
    weights = k2 * (nic * nf + 4 * nf * nf + nf * nc + nc * nc)
    # Sixteenths keep the fractional per-pixel counts exact in integers.
    outputs = a * (35 * nf + 36 * nc) // 16
    conv = a * k2 * (16 * nic * nf + 8 * nf * nf + 2 * nf * nf
                     + 4 * nf * nc + 16 * nc * nc) // 16
    cheap = a * (16 * nf + 8 * nf + 4 * nf + 16 * nc) // 16
    return Counts(weights, outputs, conv + cheap)


_COUNTED = (nn.Conv2d, nn.ConvTranspose2d, nn.MaxPool2d, nn.Upsample)


def measured_counts(model: nn.Module, nic: int, size: int = 32) -> Counts:
    """Count a model by inspection, independently of ``formula_counts``.

    Weights come from the convolution weight tensors; outputs and connections
    from forward hooks that see each counted layer's real input and output.
    """
    weights = sum(m.weight.numel() for m in model.modules()
                  if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    totals = {"outputs": 0, "connections": 0}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        n_out = output[0].numel()  # one example of the batch
        totals["outputs"] += n_out
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            fan_in = module.in_channels // module.groups * kh * kw
        elif isinstance(module, nn.MaxPool2d):
            k = module.kernel_size
            fan_in = k * k if isinstance(k, int) else k[0] * k[1]
        elif isinstance(module, nn.Upsample):
            fan_in = 1  # nearest neighbour: each output copies one input
        else:
            raise TypeError(f"no connection rule for {type(module).__name__}")
        totals["connections"] += n_out * fan_in

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, _COUNTED)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, nic, size, size))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return Counts(weights, totals["outputs"], totals["connections"])
