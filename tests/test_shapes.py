"""Questions 4.1, 5.1: every layer's shape, against handout Fig. 4."""

from __future__ import annotations

import torch

from a2.analysis import shapes
from a2.colour import models
from a2.colour.models import ConvTransposeNet, PoolUpsampleNet


def test_shape_table_matches_figure_4a():
    rows = shapes.shape_table(
        PoolUpsampleNet(3, 8, 24), torch.zeros(2, 1, 32, 32)
    )
    assert shapes.block_shapes(rows) == [
        (2, 8, 16, 16),
        (2, 16, 8, 8),
        (2, 8, 16, 16),
        (2, 24, 32, 32),
        (2, 24, 32, 32),
    ]
    assert [r.name for r in rows if r.block_end] == [
        "block1.3",
        "block2.3",
        "block3.3",
        "block4.3",
        "block5",
    ]
    assert sum(r.weights for r in rows) == 9 * (8 + 4 * 64 + 8 * 24 + 24 * 24)


def test_shape_table_matches_figure_4b_and_lists_every_layer():
    net = ConvTransposeNet(3, 8, 24)
    rows = shapes.shape_table(net, torch.zeros(1, 1, 32, 32))
    assert shapes.block_shapes(rows) == shapes.figure_shapes(1, 8, 24)
    leaves = [m for m in net.modules() if not list(m.children())]
    assert len(rows) == len(leaves)
    assert "ConvTranspose2d(16->8, k=3, s=2, p=1, p_out=1)" in [
        r.layer for r in rows
    ]


def test_shape_table_leaves_the_network_in_its_mode():
    net = PoolUpsampleNet(3, 4, 6)
    net.train()
    shapes.shape_table(net, torch.zeros(1, 1, 32, 32))
    assert net.training
    assert not any(m._forward_hooks for m in net.modules())


def test_shape_rows_label_each_block_with_figure_4():
    rows = shapes.shape_table(
        PoolUpsampleNet(3, 8, 24), torch.zeros(1, 1, 32, 32)
    )
    table = shapes.shape_rows(rows)
    assert len(table) == len(rows)
    given = [r[3] for r in table if r[3] != "inside a block"]
    assert given == shapes.figure_labels()  # every other cell says why
    assert all(len(r) == len(shapes.header("4a")) for r in table)
    assert shapes.header("4a")[-1] == "handout Fig. 4a"
    assert table[0][2] == "[BS, 8, 32, 32]"


def test_source_listing_is_the_library_code():
    text = shapes.source_listing(models.PoolUpsampleNet)
    assert text.startswith("```python\nclass PoolUpsampleNet")
    code, _, words = text[3:].partition("```")
    assert "conv_padding(kernel" in code
    # The helper it calls, said in words below the code.
    assert words.strip().startswith("One function that the listing calls")
    assert "`conv_padding` gives" in words


def test_a_listing_says_what_each_helper_computes():
    text = shapes.source_listing(models.up_block, models.final_conv)
    words = text.rpartition("```")[2]
    assert words.strip().startswith("Two functions that the listing calls")
    for name in ("transpose_padding", "same_padding"):
        assert f"- `{name}` gives" in words, name


def test_a_listing_says_what_a_flag_it_shows_turns_on():
    """ConvTransposeNet's listing shows ``skips`` but not the forward
    pass that uses it (UNet's): a sentence says what it changes."""
    words = shapes.source_listing(models.ConvTransposeNet).rpartition("```")[2]
    assert "skip connections are switched off" in words
    assert "UNet" in words
