"""Question 5.4: the paddings that keep Figure 4b's shapes, three ways,
and real networks built with them."""

from __future__ import annotations

import pytest
import torch

from a2.analysis import convarith, shapes
from a2.colour.models import ConvTransposeNet, conv_padding, transpose_padding


@pytest.mark.parametrize("kernel", range(1, 8))
def test_closed_form_equals_brute_force_and_models_paddings(kernel):
    closed = convarith.closed_form(kernel)
    assert convarith.solve_paddings(kernel) == [closed]
    assert (
        closed.conv_padding,
        closed.tconv_padding,
        closed.output_padding,
    ) == (conv_padding(kernel, stride=2), *transpose_padding(kernel, 2))


@pytest.mark.parametrize(
    "kernel,expected", [(3, (1, 1, 1)), (4, (1, 1, 0)), (5, (2, 2, 1))]
)
def test_paddings_for_kernels_3_4_5(kernel, expected):
    p = convarith.closed_form(kernel)
    assert (p.conv_padding, p.tconv_padding, p.output_padding) == expected


def test_output_size_formulas_match_pytorch_layers():
    for k in (3, 4, 5):
        for p in range(3):
            conv = torch.nn.Conv2d(1, 1, k, stride=2, padding=p)
            h = conv(torch.zeros(1, 1, 32, 32)).shape[-1]
            assert h == convarith.conv_out(32, k, 2, p)
            for op in (0, 1):
                t = torch.nn.ConvTranspose2d(
                    1, 1, k, stride=2, padding=p, output_padding=op
                )
                h = t(torch.zeros(1, 1, 8, 8)).shape[-1]
                assert h == convarith.tconv_out(8, k, 2, p, op)


@pytest.mark.parametrize("kernel", [3, 4, 5])
def test_conv_transpose_net_has_figure_4b_shapes_for_kernel(kernel):
    rows = shapes.shape_table(
        ConvTransposeNet(kernel, 4, 6), torch.zeros(2, 1, 32, 32)
    )
    assert shapes.block_shapes(rows) == shapes.figure_shapes(2, 4, 6)


@pytest.mark.parametrize(
    "kernel,expected", [(3, (1, 1)), (4, (1, 2)), (5, (2, 2)), (6, (2, 3))]
)
def test_final_padding_keeps_the_size_and_is_what_the_models_build(
    kernel, expected
):
    final = convarith.final_padding(kernel)
    assert final == expected
    keeping = convarith.keeping_paddings(kernel)
    assert final in keeping
    # symmetric padding keeps the size only for an odd kernel
    assert any(b == a for b, a in keeping) == (kernel % 2 == 1)
    assert convarith.built_final_padding(kernel) == final
    layer = torch.nn.Sequential(
        torch.nn.ZeroPad2d((final[0], final[1]) * 2),
        torch.nn.Conv2d(1, 1, kernel),
    )
    assert layer(torch.zeros(1, 1, 32, 32)).shape[-2:] == (32, 32)


def test_table_gives_the_final_zeros_before_and_after():
    rows = convarith.rows([convarith.closed_form(k) for k in (3, 4, 5)])
    assert [r[-2:] for r in rows] == [(1, 1), (1, 2), (2, 2)]
    assert len(convarith.HEADER) == len(rows[0])
    named = convarith.named([convarith.closed_form(4)])
    assert (named["4_before"], named["4_after"], named["4_total"]) == (
        "1",
        "2",
        "3",
    )
