"""Counting weights, outputs, connections and multiply-adds (questions
4.3 and 5.3).

Two conventions for 4.3, both ignoring biases and ``BatchNorm2d`` (the
handout's note) and ``ReLU`` (element-wise, no weights):

- ``resampling=False`` (the report's headline): only the five ``Conv2d``
  layers count. Their outputs are the units, and each unit has one
  connection per input value it reads, ``C_in k^2`` (padded zeros
  included, so every unit of a 'same' convolution has the same fan-in).
- ``resampling=True``: ``MaxPool2d`` and ``Upsample`` outputs count as
  units too, with 4 connections each for a 2x2 max-pool and 1 for
  nearest-neighbour upsampling.

:func:`formula_counts` is the closed form derived in the report;
:func:`measured_counts` counts a real network independently (weight
tensors, and forward hooks that see each layer's real input and output).
:func:`count_polynomials` reads the closed form's coefficients back as a
polynomial in NIC, NF and NC, for the report's table.

For 5.3, :func:`formula_macs` and :func:`measured_macs` count the
multiply-adds of one forward pass (FLOPs are about twice as many).
:func:`check_counts` (4.3) and :func:`check_cost` (5.3) are the
sections' checks of one count against the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from a2.analysis import probe
from a2.colour import models
from a2.report import Md, check, check_true, fmt

COUNTS = ("weights", "outputs", "connections")
SIZES = (32, 64)  # the input sizes of 4.3


@dataclass(frozen=True)
class Counts:
    weights: int
    outputs: int
    connections: int


def formula_counts(
    nic: int,
    nf: int,
    nc: int,
    size: int = 32,
    kernel: int = 3,
    resampling: bool = False,
) -> Counts:
    """Closed form for PoolUpsampleNet on a ``size x size`` input.

    With ``A = size^2`` input pixels and ``k = kernel``, convolutions only:

    - weights = k^2 (NIC NF + 4 NF^2 + NF NC + NC^2)
    - outputs = A (NF + NF/2 + NF/16 + NC/4 + NC) = A (25 NF/16 + 5 NC/4)
    - connections = A k^2 (NIC NF + NF^2/2 + NF^2/8 + NF NC/4 + NC^2)

    With ``resampling``, the pooling and upsampling layers add
    A (NF/4 + NF/8 + NF/4 + NC) outputs and
    A (NF + NF/2 + NF/4 + NC) connections.
    """
    a, k2 = size * size, kernel * kernel
    weights = k2 * (nic * nf + 4 * nf * nf + nf * nc + nc * nc)
    # Sixteenths keep the fractional per-pixel counts exact in integers.
    outputs = a * (25 * nf + 20 * nc) // 16
    connections = (
        a
        * k2
        * (
            16 * nic * nf
            + 8 * nf * nf
            + 2 * nf * nf
            + 4 * nf * nc
            + 16 * nc * nc
        )
        // 16
    )
    if resampling:
        outputs += a * (10 * nf + 16 * nc) // 16
        connections += a * (28 * nf + 16 * nc) // 16
    return Counts(weights, outputs, connections)


def conv_weights(model: nn.Module) -> int:
    """Elements of the (transposed) convolution kernels: no biases, no
    BatchNorm."""
    return sum(
        m.weight.numel()
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    )


def _fan_in(m: nn.Module) -> int:
    """Input values one output unit reads."""
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        return m.in_channels // m.groups * kh * kw
    if isinstance(m, nn.MaxPool2d):
        k = m.kernel_size
        return k * k if isinstance(k, int) else k[0] * k[1]
    if isinstance(m, nn.Upsample):
        return 1  # nearest neighbour: each output copies one input
    raise TypeError(f"no connection rule for {type(m).__name__}")


def measured_counts(
    model: nn.Module, nic: int, size: int = 32, resampling: bool = False
) -> Counts:
    """Count a network by inspection, independently of
    :func:`formula_counts`: weights from its kernels, outputs and
    connections from hooks on every counted layer of a forward pass."""
    kinds = (
        (nn.Conv2d, nn.MaxPool2d, nn.Upsample) if resampling else (nn.Conv2d,)
    )
    layers = [(n, m) for n, m in probe.leaves(model) if isinstance(m, kinds)]
    totals = {"outputs": 0, "connections": 0}

    def hook(
        name: str, m: nn.Module, _: torch.Tensor, out: torch.Tensor
    ) -> None:
        n_out = out[0].numel()  # one example of the batch
        totals["outputs"] += n_out
        totals["connections"] += n_out * _fan_in(m)

    probe.hooked_forward(model, torch.zeros(1, nic, size, size), hook, layers)
    return Counts(
        conv_weights(model), totals["outputs"], totals["connections"]
    )


def batchnorm_counts(nf: int, nc: int, size: int = 32) -> Counts:
    """4.3 with ``BatchNorm2d`` counted as a layer: its outputs,
    A (NF/4 + NF/8 + NF/4 + NC) = A (5/8 NF + NC) after the pooling and
    upsampling, one connection each, and one scale weight per channel,
    4 NF + NC (its shifts are biases)."""
    outputs = size * size * 5 * nf // 8 + size * size * nc
    return Counts(4 * nf + nc, outputs, outputs)


def measured_batchnorm(model: nn.Module, nic: int, size: int = 32) -> Counts:
    """:func:`batchnorm_counts` counted on a real network: its
    ``BatchNorm2d`` layers' scale weights, and outputs by hooks."""
    layers = [
        (n, m) for n, m in probe.leaves(model) if isinstance(m, nn.BatchNorm2d)
    ]
    outputs = [0]

    def hook(name: str, m: nn.Module, _: torch.Tensor, out: torch.Tensor):
        outputs[0] += out[0].numel()

    probe.hooked_forward(model, torch.zeros(1, nic, size, size), hook, layers)
    weights = sum(m.weight.numel() for _, m in layers)
    return Counts(weights, outputs[0], outputs[0])


# --- the counts as polynomials in NIC, NF, NC ------------------------------

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


def count_polynomials(
    size: int, kernel: int = 3, resampling: bool = False
) -> dict[str, dict[str, int]]:
    """:func:`formula_counts` as integer polynomials in NIC, NF, NC:
    ``{count: {monomial: coefficient}}`` (zero terms left out).

    Fitted exactly on a 3x3x3 grid of (NIC, NF, NC), which determines a
    quadratic, then checked at every grid point; raises if any count is
    not such a polynomial.
    """
    grid = [
        (i, f, c) for i in (1, 2, 3) for f in (16, 32, 48) for c in (1, 2, 3)
    ]
    design = np.array(
        [[fn(*p) for _, fn in MONOMIALS] for p in grid], dtype=float
    )
    out = {}
    for name in COUNTS:
        y = np.array(
            [
                getattr(formula_counts(*p, size, kernel, resampling), name)
                for p in grid
            ],
            dtype=float,
        )
        coef = np.rint(np.linalg.lstsq(design, y, rcond=None)[0])
        if not np.array_equal(design @ coef, y):
            raise ValueError(f"{name} is not a quadratic in NIC, NF, NC")
        out[name] = {m: int(a) for (m, _), a in zip(MONOMIALS, coef) if a != 0}
    return out


def evaluate_polynomial(
    poly: Mapping[str, int], nic: int, nf: int, nc: int
) -> int:
    """A polynomial of :func:`count_polynomials` at (NIC, NF, NC)."""
    fns = dict(MONOMIALS)
    return sum(a * fns[m](nic, nf, nc) for m, a in poly.items())


def polynomial_latex(poly: Mapping[str, int]) -> str:
    r"""E.g. ``9\,\mathrm{NIC}\,\mathrm{NF} + 36\,\mathrm{NF}^2`` (no
    digit grouping: in maths a comma reads as a list separator)."""
    terms = []
    for mono, a in poly.items():
        body = str(a)
        terms.append(body if mono == "1" else body + r"\," + mono)
    return " + ".join(terms).replace("+ -", "- ")


TABLE_HEADER = ("count", "32 × 32 input", "64 × 64 input", "ratio")
TABLE_DIGITS = (None, None, None, 0)


@dataclass(frozen=True)
class CountTable:
    """4.3's counts of PoolUpsampleNet for each input size of
    :data:`SIZES`, as polynomials in NIC, NF and NC and as values at the
    section's (NIC, NF, NC)."""

    polys: dict[int, dict[str, dict[str, int]]]  # size -> count -> poly
    counts: dict[tuple[str, int], int]  # (count, size) -> value

    def rows(self) -> list[tuple[str, int, int, float]]:
        """Rows for ``a2.report.table(rows, TABLE_HEADER, TABLE_DIGITS)``:
        each count at both sizes and their ratio."""
        c = self.counts
        return [(n, c[n, 32], c[n, 64], c[n, 64] / c[n, 32]) for n in COUNTS]

    def latex(self) -> dict[str, Md]:
        """The polynomials as inline maths for the prose, by the count's
        initial and the size: ``{'w32': '$...$', 'o64': ...}``."""
        return {
            f"{n[0]}{s}": Md(f"${polynomial_latex(self.polys[s][n])}$")
            for n in COUNTS
            for s in SIZES
        }

    def display(self, *keys: str) -> Md:
        """Polynomials too long for a line of text (``'c64'``: the
        connections at 64 x 64) as one display equation, one line per
        input size, each broken in two halves so that the lines leave
        room for the equation's number; a comma after each but the last,
        a full stop after it."""
        names = {n[0]: n for n in COUNTS}
        lines = []
        for i, key in enumerate(keys):
            size = int(key[1:])
            poly = polynomial_latex(self.polys[size][names[key[0]]])
            terms = poly.split(" + ")
            half = (len(terms) + 1) // 2
            first, rest = " + ".join(terms[:half]), " + ".join(terms[half:])
            end = "." if i == len(keys) - 1 else ","
            lines.append(
                f"{size} \\times {size}{{:}}\\quad & {first}"
                + (f" + \\\\\n & \\quad {rest}" if rest else "")
                + end
            )
        body = " \\\\\n".join(lines)
        return Md(f"$$\\begin{{aligned}}\n{body}\n\\end{{aligned}}$$")

    def texts(self) -> dict[str, Md]:
        """The counts for the prose: ``{'w32': '49,248', ...}``."""
        return {k: fmt(self.counts[n, s]) for k, (n, s) in _KEYS.items()}


_KEYS = {f"{n[0]}{s}": (n, s) for n in COUNTS for s in SIZES}


def count_table(
    kernel: int, nic: int, nf: int, nc: int, resampling: bool = False
) -> CountTable:
    """4.3's counts in one convention (``resampling``: pooling and
    upsampling counted as layers too)."""
    polys = {s: count_polynomials(s, kernel, resampling) for s in SIZES}
    counts = {
        (n, s): evaluate_polynomial(polys[s][n], nic, nf, nc)
        for n in COUNTS
        for s in SIZES
    }
    return CountTable(polys, counts)


def check_counts(
    kernel: int, nic: int, nf: int, nc: int, table: CountTable
) -> None:
    """4.3's checks: the closed forms equal the counts of real networks
    for several channel counts, both sizes and both conventions; the
    answer's ``table`` (convolutions only) equals a real network's
    counts; the weights' polynomial does not depend on the input size;
    doubling the input multiplies the weights by 1 and the rest by 4;
    and BatchNorm's closed form equals its layers' count."""
    for i, f, c in [(nic, nf, nc), (1, 8, 24), (3, 16, 10), (2, 5, 7)]:
        net = models.PoolUpsampleNet(kernel, f, c, num_in_channels=i)
        for size in SIZES:
            for resampling in (False, True):
                a = formula_counts(i, f, c, size, kernel, resampling)
                b = measured_counts(net, i, size, resampling)
                check(
                    f"{'with' if resampling else 'without'} pooling and "
                    f"upsampling counted, NIC = {i}, NF = {f}, NC = {c}, "
                    f"{size} × {size} input: closed forms equal the counts",
                    [a.weights, a.outputs, a.connections],
                    [b.weights, b.outputs, b.connections],
                    rtol=0,
                )
    net = models.PoolUpsampleNet(kernel, nf, nc, num_in_channels=nic)
    measured = {s: measured_counts(net, nic, s) for s in SIZES}
    for s in SIZES:
        check(
            f"the answer's values at {s} × {s} equal the measured counts",
            [table.counts[n, s] for n in COUNTS],
            [getattr(measured[s], n) for n in COUNTS],
            rtol=0,
        )
    check_true(
        "the weights' polynomial is the same at 32 × 32 and 64 × 64",
        table.polys[32]["weights"] == table.polys[64]["weights"],
    )
    check(
        "doubling the input: weights × 1, outputs × 4, connections × 4",
        [getattr(measured[64], n) / getattr(measured[32], n) for n in COUNTS],
        [1, 4, 4],
    )
    for s in SIZES:
        a, b = batchnorm_counts(nf, nc, s), measured_batchnorm(net, nic, s)
        check(
            f"BatchNorm2d as a layer, {s} × {s}: its weights and outputs "
            "equal the measured ones",
            [a.weights, a.outputs],
            [b.weights, b.outputs],
            rtol=0,
        )


# --- multiply-adds (question 5.3) ------------------------------------------


def formula_macs(
    model: str, nic: int, nf: int, nc: int, size: int = 32, kernel: int = 3
) -> int:
    """Multiply-adds of one forward pass through the (transposed)
    convolutions, closed form (``A = size^2``, ``k = kernel``).

    A convolution does ``C_in k^2`` per output value. A stride-2
    convolution computes only the outputs it keeps, a quarter of a
    stride-1 one's. A transposed convolution, as implemented, spreads
    each input value over a ``k x k x C_out`` block: ``C_out k^2`` per
    input value (including the products that fall on cropped borders).

    - pool_upsample: A k^2 (NIC NF + NF^2/2 + NF^2/8 + NF NC/4 + NC^2)
    - conv_transpose: A k^2 (NIC NF/4 + NF^2/8 + NF^2/8 + NF NC/4 + NC^2)
    - unet: as conv_transpose, with block 4 reading 2 NF channels and the
      last convolution NIC + NC.
    """
    a, k2 = size * size, kernel * kernel
    if model == "pool_upsample":
        six = (
            16 * nic * nf
            + 8 * nf * nf
            + 2 * nf * nf
            + 4 * nf * nc
            + 16 * nc * nc
        )
    elif model == "conv_transpose":
        six = (
            4 * nic * nf
            + 2 * nf * nf
            + 2 * nf * nf
            + 4 * nf * nc
            + 16 * nc * nc
        )
    elif model == "unet":
        six = (
            4 * nic * nf
            + 2 * nf * nf
            + 2 * nf * nf
            + 8 * nf * nc
            + 16 * (nic + nc) * nc
        )
    else:
        raise ValueError(f"unknown model '{model}'")
    return a * k2 * six // 16  # six: sixteenths of A k^2


def measured_macs(model: nn.Module, nic: int, size: int = 32) -> int:
    """Multiply-adds of one forward pass, counted with hooks on every
    (transposed) convolution; independent of :func:`formula_macs`."""
    total = [0]

    def hook(
        name: str, m: nn.Module, inp: torch.Tensor, out: torch.Tensor
    ) -> None:
        kh, kw = m.kernel_size
        if isinstance(m, nn.ConvTranspose2d):
            per = m.out_channels // m.groups * kh * kw
            total[0] += inp[0].numel() * per
        else:
            per = m.in_channels // m.groups * kh * kw
            total[0] += out[0].numel() * per

    layers = [
        (n, m)
        for n, m in probe.leaves(model)
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    probe.hooked_forward(model, torch.zeros(1, nic, size, size), hook, layers)
    return total[0]


def check_cost(
    nets: Mapping[str, nn.Module],
    macs: Mapping[str, int],
    nf: int,
    nc: int,
    kernel: int,
) -> None:
    """5.3's checks: PoolUpsampleNet and ConvTransposeNet have the same
    weights; each network's multiply-adds (``macs``, by hooks) equal the
    closed form; PoolUpsampleNet's equal its connections of 4.3 (one
    product per connection)."""
    check(
        "PoolUpsampleNet and ConvTransposeNet have as many weights",
        conv_weights(nets["pool_upsample"]),
        conv_weights(nets["conv_transpose"]),
        rtol=0,
    )
    for m, n in macs.items():
        check(
            f"{models.MODELS[m].__name__}: the closed form of the "
            "multiply-adds equals the count on a forward pass",
            formula_macs(m, 1, nf, nc, 32, kernel),
            n,
            rtol=0,
        )
    check(
        "PoolUpsampleNet: its multiply-adds equal its connections of "
        "Section 4.3",
        macs["pool_upsample"],
        formula_counts(1, nf, nc, 32, kernel).connections,
        rtol=0,
    )
