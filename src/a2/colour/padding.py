"""The paddings that keep handout Fig. 4's shapes (no torch: the
parameters are checked with them before any work).

PyTorch's output sizes: ``Conv2d`` gives
``floor((H + 2p - d(k-1) - 1) / s) + 1``, ``ConvTranspose2d`` gives
``(H - 1)s - 2p + d(k-1) + op + 1``. ``a2.colour.models`` builds its
layers with these paddings; ``a2.analysis.convarith`` derives them
independently (5.4).
"""

from __future__ import annotations

import math


def conv_padding(kernel: int, stride: int = 1, dilation: int = 1) -> int:
    """Padding for ``nn.Conv2d`` so that ``H_out = H_in / stride``.

    PyTorch: ``H_out = floor((H_in + 2p - d(k-1) - 1) / s) + 1``. For
    ``H_in`` a multiple of ``s``, ``H_out = H_in / s`` holds exactly when
    ``d(k-1) + 1 - s <= 2p <= d(k-1)``; the smallest such p is returned.
    Raises ValueError when no integer p fits (stride 1, even kernel: a
    'same' convolution would need one more row on one side).
    """
    span = dilation * (kernel - 1)  # d(k-1)
    p = max(0, math.ceil((span + 1 - stride) / 2))
    if 2 * p > span:
        raise ValueError(
            f"kernel {kernel} cannot keep the size in a stride-{stride} "
            f"convolution: 2*padding would have to lie in "
            f"[{span + 1 - stride}, {span}]"
            + (", so the kernel must be odd" if stride == 1 else "")
        )
    return p


def transpose_padding(
    kernel: int, stride: int = 2, dilation: int = 1
) -> tuple[int, int]:
    """(padding, output_padding) for ``nn.ConvTranspose2d`` so that
    ``H_out = stride * H_in``.

    PyTorch: ``H_out = (H_in - 1)s - 2p + d(k-1) + output_padding + 1``,
    so ``2p - output_padding = d(k-1) + 1 - s``, with ``p >= 0`` and
    ``0 <= output_padding < max(s, d)``. The smallest p is returned: kernel
    3 gives (1, 1) (the handout's), 4 gives (1, 0), 5 gives (2, 1).
    """
    need = dilation * (kernel - 1) + 1 - stride  # 2p - output_padding
    p = max(0, math.ceil(need / 2))
    out_pad = 2 * p - need
    if not 0 <= out_pad < max(stride, dilation):
        raise ValueError(
            f"kernel {kernel}, stride {stride}, dilation {dilation}: a "
            f"transposed convolution cannot multiply the size by {stride} "
            f"(needs output_padding {out_pad}, below max(stride, "
            f"dilation) = {max(stride, dilation)})"
        )
    return p, out_pad


def same_padding(kernel: int) -> tuple[int, int]:
    """(before, after) zero padding that keeps the size in a stride-1
    convolution: ``kernel - 1`` in all, the extra one after when even."""
    return (kernel - 1) // 2, kernel // 2


def check_kernel(model_name: str, kernel: int, dilation: int = 1) -> None:
    """Raise ValueError when ``kernel`` cannot keep handout Fig. 4's shapes."""
    if model_name == "pool_upsample":
        conv_padding(kernel, stride=1)
    elif model_name in ("conv_transpose", "unet"):
        conv_padding(kernel, stride=2)
        transpose_padding(kernel, 2, dilation)
    else:
        raise ValueError(
            f"unknown model '{model_name}'; valid: pool_upsample, "
            f"conv_transpose, unet"
        )
