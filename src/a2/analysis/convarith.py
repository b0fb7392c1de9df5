"""Convolution arithmetic for question 5.4.

PyTorch's documented output sizes (dilation ``d``, stride ``s``, padding ``p``,
output padding ``op``, kernel ``k``)::

    Conv2d:          H_out = floor((H + 2p - d(k-1) - 1) / s) + 1
    ConvTranspose2d: H_out = (H - 1)s - 2p + d(k-1) + op + 1

``solve_paddings`` searches these formulas for the paddings that keep the
handout Fig. 4b shapes; the report compares the answer with the closed
form below and with real layers. The last, stride-1 convolution keeps
its size only with ``k - 1`` zero rows in all (``final_padding``), which
an even kernel cannot split evenly (``keeping_paddings`` searches).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from a2.report import Md


def conv_out(h: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output height of ``nn.Conv2d`` (PyTorch docs formula)."""
    return (h + 2 * p - d * (k - 1) - 1) // s + 1


def tconv_out(
    h: int, k: int, s: int = 1, p: int = 0, op: int = 0, d: int = 1
) -> int:
    """Output height of ``nn.ConvTranspose2d`` (PyTorch docs formula)."""
    return (h - 1) * s - 2 * p + d * (k - 1) + op + 1


@dataclass(frozen=True)
class Paddings:
    kernel: int
    conv_padding: int  # the two stride-2 Conv2d layers: 32 -> 16 -> 8
    tconv_padding: int  # the two ConvTranspose2d layers: 8 -> 16 -> 32
    output_padding: int


def closed_form(kernel: int, stride: int = 2, dilation: int = 1) -> Paddings:
    """The paddings derived in the report for halving / doubling a size.

    Halving an even size with stride 2 needs ``2p - d(k-1)`` in ``{-1, 0}``,
    so ``p = d(k-1) // 2``. Doubling with the same ``p`` then needs
    ``op = s - 1 + 2p - d(k-1)``, which must satisfy ``0 <= op < max(s, d)``.
    """
    span = dilation * (kernel - 1)
    p = span // 2
    op = stride - 1 + 2 * p - span
    return Paddings(kernel, p, p, op)


def solve_paddings(
    kernel: int,
    size: int = 32,
    stride: int = 2,
    dilation: int = 1,
    max_pad: int = 8,
) -> list[Paddings]:
    """Every (padding, output_padding) that keeps the handout Fig. 4b shapes.

    Brute force over the documented formulas: the two strided convolutions
    must map 32 -> 16 -> 8 and the two transposed ones 8 -> 16 -> 32, with
    PyTorch's constraint ``output_padding < max(stride, dilation)``.
    """
    half, quarter = size // 2, size // 4
    convs = [
        p
        for p in range(max_pad + 1)
        if conv_out(size, kernel, stride, p, dilation) == half
        and conv_out(half, kernel, stride, p, dilation) == quarter
    ]
    tconvs = [
        (p, op)
        for p in range(max_pad + 1)
        for op in range(max(stride, dilation))
        if tconv_out(quarter, kernel, stride, p, op, dilation) == half
        and tconv_out(half, kernel, stride, p, op, dilation) == size
    ]
    return [Paddings(kernel, pc, pt, op) for pc in convs for pt, op in tconvs]


def final_padding(kernel: int) -> tuple[int, int]:
    """Zero rows (and columns) before and after the input of the last,
    stride-1 ``Conv2d`` that keep its size: ``H + before + after - (k-1)
    = H`` needs ``k - 1`` in all, split evenly, the odd one after (as
    PyTorch's ``padding='same'`` does)."""
    total = kernel - 1
    return total // 2, total - total // 2


def keeping_paddings(
    kernel: int, size: int = 32, max_pad: int = 8
) -> list[tuple[int, int]]:
    """Every (before, after) zero padding with which a stride-1 ``Conv2d``
    keeps ``size``: brute force over the documented formula."""
    return [
        (b, a)
        for b in range(max_pad + 1)
        for a in range(max_pad + 1)
        if conv_out(size + b + a, kernel) == size
    ]


KERNELS = (3, 4, 5)  # the handout's and the two that 5.4 asks about
HEADER = (
    "kernel",
    "Conv2d padding",
    "ConvTranspose2d padding",
    "ConvTranspose2d output padding",
    "final Conv2d zeros before",
    "final Conv2d zeros after",
)


def settings(p: Paddings) -> tuple[int, int, int]:
    """(padding, transposed padding, output_padding) of a kernel."""
    return p.conv_padding, p.tconv_padding, p.output_padding


def rows(
    answers: Iterable[Paddings],
) -> list[tuple[int, int, int, int, int, int]]:
    """5.4's table: a row per kernel under :data:`HEADER`; the final
    layer's zeros before and after in columns of their own, numbers
    aligned as numbers (a symmetric padding has both equal)."""
    return [
        (p.kernel, *settings(p), *final_padding(p.kernel)) for p in answers
    ]


def named(answers: Iterable[Paddings]) -> dict[str, Md]:
    """5.4's paddings for the prose: ``{'4_pad': ..., '4_tpad': ...,
    '4_op': ..., '4_before': ..., '4_after': ..., '4_total': ...}`` (the
    last three for the final stride-1 convolution), and so on for each
    kernel."""
    from a2.report import fmt

    out = {}
    for p in answers:
        before, after = final_padding(p.kernel)
        values = (*settings(p), before, after, before + after)
        names = ("pad", "tpad", "op", "before", "after", "total")
        out |= {f"{p.kernel}_{n}": fmt(v) for n, v in zip(names, values)}
    return out


def built_final_padding(kernel: int) -> tuple[int, int]:
    """The zero padding (before, after) of the last convolution that
    ``a2.colour.models`` builds: a ``padding`` of its own, or a ``ZeroPad2d``
    in front of an unpadded one."""
    from torch import nn

    from a2.colour.models import final_conv

    layer = final_conv(1, 1, kernel)
    if isinstance(layer, nn.Conv2d):
        return layer.padding[0], layer.padding[0]
    pad, conv = layer
    _left, _right, top, bottom = pad.padding
    return top + conv.padding[0], bottom + conv.padding[0]


def check_paddings(answers: Iterable[Paddings]) -> None:
    """5.4's checks of the closed form's ``answers``: a brute-force
    search of PyTorch's formulas finds exactly one answer per kernel,
    the same; the networks are built with the same paddings
    (``a2.colour.models``); kernel 3's are the handout's; and the last,
    stride-1 convolution's padding keeps the size, symmetric only for an odd
    kernel, as the networks build it."""
    from a2.colour.models import conv_padding, transpose_padding
    from a2.report import check, check_true

    for p in answers:
        k, found = p.kernel, solve_paddings(p.kernel)
        check(f"kernel {k}: the search finds one answer", len(found), 1)
        check(
            f"kernel {k}: the closed form equals the search's answer",
            settings(p),
            settings(found[0]),
        )
        check(
            f"kernel {k}: the closed form equals the networks' paddings",
            settings(p),
            (conv_padding(k, stride=2), *transpose_padding(k, stride=2)),
        )
        if k == 3:
            check(
                "kernel 3 gives the handout's settings", settings(p), (1, 1, 1)
            )
        final, keeping = final_padding(k), keeping_paddings(k)
        check_true(
            f"kernel {k}: the final padding keeps 32 × 32 (search)",
            final in keeping,
        )
        check_true(
            f"kernel {k}: a symmetric final padding exists only if k is odd",
            any(b == a for b, a in keeping) == (k % 2 == 1),
        )
        check(
            f"kernel {k}: the final padding equals the network's last layer's",
            final,
            built_final_padding(k),
        )
