"""The Figure 4 networks keep their shapes; paddings follow PyTorch's
output-size formulas."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from a2.colour.models import (
    ConvTransposeNet,
    PoolUpsampleNet,
    UNet,
    build_model,
    check_kernel,
    conv_padding,
    network,
    transpose_padding,
)
from a2.config.params import MODELS, RunConfig

NIC, NF, NC, BS = 1, 8, 24, 2


def block_shapes(model: nn.Module) -> list[tuple[int, ...]]:
    """Output shape of each of block1..block5 for a (BS, NIC, 32, 32)
    input, recorded with forward hooks."""
    shapes = []
    hooks = [
        getattr(model, f"block{i}").register_forward_hook(
            lambda m, i, o: shapes.append(tuple(o.shape))
        )
        for i in range(1, 6)
    ]
    model(torch.zeros(BS, NIC, 32, 32))
    for h in hooks:
        h.remove()
    return shapes


FIGURE_4 = [
    (BS, NF, 16, 16),
    (BS, 2 * NF, 8, 8),
    (BS, NF, 16, 16),
    (BS, NC, 32, 32),
    (BS, NC, 32, 32),
]


@pytest.mark.parametrize("kernel", [3, 5])
def test_pool_upsample_net_keeps_figure_4a_shapes(kernel):
    model = PoolUpsampleNet(kernel, NF, NC, NIC)
    assert block_shapes(model) == FIGURE_4


def test_pool_upsample_net_rejects_even_kernel_with_clear_error():
    with pytest.raises(ValueError, match="odd"):
        PoolUpsampleNet(4, NF, NC, NIC)


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_conv_transpose_net_keeps_figure_4b_shapes(kernel):
    model = ConvTransposeNet(kernel, NF, NC, NIC)
    assert block_shapes(model) == FIGURE_4


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_unet_keeps_figure_4c_shapes_with_skip_connections(kernel):
    model = UNet(kernel, NF, NC, NIC)
    assert block_shapes(model) == FIGURE_4
    conv4 = model.block4[0]
    final = [m for m in model.block5.modules() if isinstance(m, nn.Conv2d)]
    assert conv4.in_channels == NF + NF
    assert final[0].in_channels == NIC + NC


def test_pool_upsample_weight_count_matches_closed_form_at_kernel_3():
    nic, nf, nc = 2, 5, 7
    model = PoolUpsampleNet(3, nf, nc, nic)
    weights = sum(
        m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d)
    )
    assert weights == 9 * nic * nf + 36 * nf**2 + 9 * nf * nc + 9 * nc**2


def test_paddings_for_kernel_3_are_the_handouts():
    assert conv_padding(3, stride=1) == 1
    assert conv_padding(3, stride=2) == 1
    assert transpose_padding(3, stride=2, dilation=1) == (1, 1)


@pytest.mark.parametrize(
    "kernel,conv,transpose", [(4, 1, (1, 0)), (5, 2, (2, 1))]
)
def test_paddings_for_kernels_4_and_5_keep_the_sizes(kernel, conv, transpose):
    assert conv_padding(kernel, stride=2) == conv
    assert transpose_padding(kernel, stride=2) == transpose
    x = torch.zeros(1, 1, 16, 16)
    down = nn.Conv2d(1, 1, kernel, stride=2, padding=conv)(x)
    p, op = transpose
    up = nn.ConvTranspose2d(
        1, 1, kernel, stride=2, padding=p, output_padding=op
    )(x)
    assert down.shape[-1] == 8 and up.shape[-1] == 32


def test_dilated_transposed_convolutions_keep_the_shapes():
    model = ConvTransposeNet(3, NF, NC, NIC, dilation=2)
    assert block_shapes(model) == FIGURE_4


def test_check_kernel_accepts_what_the_models_build_and_rejects_rest():
    check_kernel("conv_transpose", 4)
    check_kernel("unet", 5)
    with pytest.raises(ValueError):
        check_kernel("pool_upsample", 4)
    with pytest.raises(ValueError):
        check_kernel("no_such_model", 3)


def test_build_model_knows_every_configured_model_name():
    for name in MODELS:
        out = build_model(name, 3, NF, NC)(torch.zeros(BS, 1, 32, 32))
        assert out.shape == (BS, NC, 32, 32)
    with pytest.raises(ValueError, match="pool_upsample"):
        build_model("resnet", 3, NF, NC)


@pytest.mark.parametrize("model", MODELS)
def test_a_runs_network_has_the_runs_sizes(model):
    config = RunConfig(model=model, kernel=5, num_filters=6, num_colours=10)
    convs = [
        m
        for m in network(config).modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
    ]
    assert {c.kernel_size for c in convs} == {(5, 5)}
    assert convs[0].out_channels == 6 and convs[-1].out_channels == 10


def test_unet_is_conv_transpose_net_with_two_skip_connections():
    """Same layers but for the channels the skips add to blocks 4 and 5,
    and, from the same seed, the same initial weights elsewhere."""
    torch.manual_seed(0)
    plain = ConvTransposeNet(3, NF, NC, NIC)
    torch.manual_seed(0)
    unet = UNet(3, NF, NC, NIC)
    a, b = plain.state_dict(), unet.state_dict()
    assert a.keys() == b.keys()
    differ = {k for k in a if a[k].shape != b[k].shape}
    assert differ == {"block4.0.weight", "block5.weight"}
    before = ("block1", "block2", "block3")
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(before))
