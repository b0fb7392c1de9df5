"""The colourisation networks of handout Fig. 4 and the paddings that
keep their shapes.

Shapes are ``(BS, C, H, W)``; NIC = ``num_in_channels``, NF =
``num_filters``, NC = ``num_colours``. Every network maps a greyscale
``(BS, NIC, 32, 32)`` batch to per-pixel colour scores
``(BS, NC, 32, 32)``. Paddings are derived from PyTorch's output-size
formulas (``conv_padding``, ``transpose_padding``) so that kernels 3, 4 and
5 keep the figure's shapes (question 5.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

# The networks' paddings, re-exported for the chapters.
from a2.colour.padding import (  # noqa: F401
    check_kernel,
    conv_padding,
    same_padding,
    transpose_padding,
)

if TYPE_CHECKING:  # a2.config.params imports this module to check kernels
    from a2.config.params import RunConfig


def final_conv(in_channels: int, nc: int, kernel: int) -> nn.Module:
    """The last stride-1 ``Conv2d(-> NC)`` of handout Fig. 4b/c.

    An even kernel cannot keep the size with symmetric padding, so it gets
    one extra zero row and column at the bottom and right, as PyTorch's
    ``padding='same'`` would (question 5.4 leaves this layer out).
    """
    if kernel % 2:
        return nn.Conv2d(in_channels, nc, kernel, padding=kernel // 2)
    before, after = same_padding(kernel)
    return nn.Sequential(
        nn.ZeroPad2d((before, after, before, after)),
        nn.Conv2d(in_channels, nc, kernel),
    )


class PoolUpsampleNet(nn.Module):
    """Handout Fig. 4a: stride-1 convolutions, max-pooling, upsampling.

    Every convolution is a stride-1 'same' convolution, which needs an odd
    kernel; an even one raises ValueError.
    """

    def __init__(
        self,
        kernel: int,
        num_filters: int,
        num_colours: int,
        num_in_channels: int = 1,
    ):
        super().__init__()
        nic, nf, nc = num_in_channels, num_filters, num_colours
        padding = conv_padding(kernel, stride=1)
        self.block1 = nn.Sequential(  # -> (BS, NF, 16, 16)
            nn.Conv2d(nic, nf, kernel, padding=padding),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(nf),
            nn.ReLU(),
        )
        self.block2 = nn.Sequential(  # -> (BS, 2NF, 8, 8)
            nn.Conv2d(nf, 2 * nf, kernel, padding=padding),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(2 * nf),
            nn.ReLU(),
        )
        self.block3 = nn.Sequential(  # -> (BS, NF, 16, 16)
            nn.Conv2d(2 * nf, nf, kernel, padding=padding),
            nn.Upsample(scale_factor=2),
            nn.BatchNorm2d(nf),
            nn.ReLU(),
        )
        self.block4 = nn.Sequential(  # -> (BS, NC, 32, 32)
            nn.Conv2d(nf, nc, kernel, padding=padding),
            nn.Upsample(scale_factor=2),
            nn.BatchNorm2d(nc),
            nn.ReLU(),
        )
        self.block5 = nn.Conv2d(nc, nc, kernel, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in (
            self.block1,
            self.block2,
            self.block3,
            self.block4,
            self.block5,
        ):
            x = block(x)
        return x


def down_block(cin: int, cout: int, kernel: int) -> nn.Sequential:
    """A stride-2 convolution that halves H and W, BatchNorm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(
            cin, cout, kernel, stride=2, padding=conv_padding(kernel, 2)
        ),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


def up_block(cin: int, cout: int, kernel: int, dilation: int) -> nn.Sequential:
    """A stride-2 transposed convolution that doubles H and W, BatchNorm,
    ReLU."""
    tpad, out_pad = transpose_padding(kernel, 2, dilation)
    return nn.Sequential(
        nn.ConvTranspose2d(
            cin,
            cout,
            kernel,
            stride=2,
            padding=tpad,
            output_padding=out_pad,
            dilation=dilation,
        ),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class ConvTransposeNet(nn.Module):
    """Handout Fig. 4b: stride-2 convolutions down, transposed ones up.

    The handout fixes padding 1 and output_padding 1 for kernel 3; other
    kernels get the paddings that keep the same shapes (question 5.4).
    ``dilation`` applies to the transposed convolutions (question 5.1).
    """

    skips = False  # UNet's skip connections (handout Fig. 4c)

    def __init__(
        self,
        kernel: int,
        num_filters: int,
        num_colours: int,
        num_in_channels: int = 1,
        dilation: int = 1,
    ):
        super().__init__()
        nic, nf, nc = num_in_channels, num_filters, num_colours
        # Channels that the skip connections add to blocks 4 and 5.
        skip4, skip5 = (nf, nic) if self.skips else (0, 0)
        self.block1 = down_block(nic, nf, kernel)  # -> (BS, NF, 16, 16)
        self.block2 = down_block(nf, 2 * nf, kernel)  # -> (BS, 2NF, 8, 8)
        self.block3 = up_block(
            2 * nf, nf, kernel, dilation
        )  # -> (BS, NF, 16, 16)
        # (BS, NF [+ NF], 16, 16) -> (BS, NC, 32, 32)
        self.block4 = up_block(nf + skip4, nc, kernel, dilation)
        # (BS, NC [+ NIC], 32, 32) -> (BS, NC, 32, 32)
        self.block5 = final_conv(nc + skip5, nc, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in (
            self.block1,
            self.block2,
            self.block3,
            self.block4,
            self.block5,
        ):
            x = block(x)
        return x


class UNet(ConvTransposeNet):
    """Handout Fig. 4c: 4b with two skip connections along channels.

    Block 1's output joins block 3's before block 4; the input image joins
    block 4's output before the final convolution.
    """

    skips = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.block1(x)
        out3 = self.block3(self.block2(out1))
        out4 = self.block4(torch.cat([out1, out3], dim=1))
        return self.block5(torch.cat([x, out4], dim=1))


MODELS = {
    "pool_upsample": PoolUpsampleNet,
    "conv_transpose": ConvTransposeNet,
    "unet": UNet,
}


def build_model(
    name: str,
    kernel: int,
    num_filters: int,
    num_colours: int,
    num_in_channels: int = 1,
    dilation: int = 1,
) -> nn.Module:
    """A network by its name in ``MODELS`` (``a2.config.params.MODELS``)."""
    if name not in MODELS:
        raise ValueError(
            f"unknown model '{name}'; valid: " + ", ".join(MODELS)
        )
    sizes = (kernel, num_filters, num_colours, num_in_channels)
    if name != "pool_upsample":
        return MODELS[name](*sizes, dilation=dilation)
    if dilation != 1:
        raise ValueError(
            "pool_upsample has no transposed convolution; dilation must be 1"
        )
    return MODELS[name](*sizes)


def network(config: RunConfig) -> nn.Module:
    """The network of a run, sized by its configuration (greyscale in)."""
    return build_model(
        config.model,
        config.kernel,
        config.num_filters,
        config.num_colours,
        dilation=config.dilation,
    )
