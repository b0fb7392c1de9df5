"""Orchestration for sections 4 and 5: shape tables, sweeps, tables."""
from __future__ import annotations

import pytest
import torch

from a2 import experiments as ex
from a2.models import ConvTransposeNet, PoolUpsampleNet


def test_shape_table_matches_figure_4a():
    rows = ex.shape_table(PoolUpsampleNet(3, 8, 24),
                          torch.zeros(2, 1, 32, 32))
    assert ex.block_shapes(rows) == [(2, 8, 16, 16), (2, 16, 8, 8),
                                     (2, 8, 16, 16), (2, 24, 32, 32),
                                     (2, 24, 32, 32)]
    assert [r.name for r in rows if r.block_end] == [
        "block1.3", "block2.3", "block3.3", "block4.3", "block5"]
    assert sum(r.weights for r in rows) == 9 * (8 + 4 * 64 + 8 * 24
                                                + 24 * 24)


def test_shape_table_matches_figure_4b_and_lists_every_layer():
    net = ConvTransposeNet(3, 8, 24)
    rows = ex.shape_table(net, torch.zeros(1, 1, 32, 32))
    assert ex.block_shapes(rows) == ex.figure_shapes(1, 8, 24)
    leaves = [m for m in net.modules() if not list(m.children())]
    assert len(rows) == len(leaves)
    assert "ConvTranspose2d(16->8, k=3, s=2, p=1, op=1)" in [
        r.layer for r in rows]


def test_shape_markdown_labels_each_block_with_figure_4():
    rows = ex.shape_table(PoolUpsampleNet(3, 8, 24),
                          torch.zeros(1, 1, 32, 32))
    text = ex.shape_markdown(rows)
    for label in ex.figure_labels():
        assert label in text
    assert len(text.splitlines()) == 2 + len(rows)


def test_optimiser_steps_count_the_partial_last_batch():
    assert ex.optimiser_steps(5000, 100, 25) == 1250
    assert ex.optimiser_steps(5000, 128, 15) == 40 * 15
    assert ex.optimiser_steps(200, 64, 2) == 8


def test_run_config_ignores_section_only_keys():
    c = ex.run_config("conv_transpose", kernel=4, n_train=10, seeds=[0],
                      n_samples=3, batch_size=7)
    assert (c.model, c.kernel, c.batch_size) == ("conv_transpose", 4, 7)


def test_batch_size_sweep_returns_one_run_per_batch_size(tiny_data,
                                                         a2_cache):
    sweep = ex.batch_size_sweep([64, 128], 1, tiny_data, num_filters=2,
                                log=None)
    assert [s.batch_size for s in sweep] == [64, 128]
    n = len(tiny_data.train_grey)
    assert [s.steps for s in sweep] == [-(-n // 64), -(-n // 128)]
    assert all(len(s.run.history) == 1 for s in sweep)
    assert all(s.run.config.model == "conv_transpose" for s in sweep)
    assert len({s.run.key for s in sweep}) == 2
    # A second sweep is served by the cache, not retrained.
    again = ex.batch_size_sweep([64], 1, tiny_data, num_filters=2,
                                log=None)
    assert again[0].run.key == sweep[0].run.key
    assert again[0].run.history.to_list() == sweep[0].run.history.to_list()


def test_results_table_has_settings_metrics_and_provenance(tiny_data,
                                                           a2_cache):
    r = ex.run("pool_upsample", tiny_data, log=None, epochs=1,
               num_filters=2, batch_size=100)
    (row,) = ex.results_table([r])
    assert set(row) == {"model", "kernel", "num_filters", "lr",
                        "batch_size", "epochs", "seed", "key",
                        "train_loss", "valid_loss", "valid_acc",
                        "train_s", "device"}
    assert row["key"] == r.key and row["epochs"] == 1
    assert row["valid_loss"] == r.history.last.valid_loss
    table = ex.reproducibility_markdown([r, r])
    assert table.count(r.key) == 1  # a run used twice is listed once


def test_mean_std_reports_spread_only_for_several_seeds():
    assert ex.mean_std([1.0]) == (1.0, None)
    m, sd = ex.mean_std([1.0, 3.0])
    assert m == 2.0 and sd == pytest.approx(2 ** 0.5)
    assert ex.pm([1.0]).endswith("(one seed)")


def test_count_polynomials_give_the_weight_formula_at_kernel_3():
    poly = ex.count_polynomials(32)
    assert poly["weights"] == {
        r"\mathrm{NIC}\,\mathrm{NF}": 9, r"\mathrm{NF}^2": 36,
        r"\mathrm{NF}\,\mathrm{NC}": 9, r"\mathrm{NC}^2": 9}
    assert ex.count_polynomials(64)["outputs"] == {
        r"\mathrm{NF}": 8960, r"\mathrm{NC}": 9216}


def test_colour_stats_are_shares_and_saturations(tiny_data, a2_cache):
    r = ex.run("pool_upsample", tiny_data, log=None, epochs=1,
               num_filters=2, batch_size=100)
    s = ex.colour_stats(r.model, tiny_data)
    assert 0 <= s.truth_share <= 100 and 0 < s.pred_share <= 100
    assert 0 <= s.pred_saturation <= 1 and 0 <= s.truth_saturation <= 1
    assert 1 <= s.pred_colours <= tiny_data.num_colours
    assert s.quantised_rgb_error <= s.pred_rgb_error + 1e-9


def test_colour_stats_of_a_perfect_colouriser_match_the_truth(
        tiny_data, monkeypatch):
    monkeypatch.setattr(ex, "predict",
                        lambda model, x: tiny_data.valid_target)
    s = ex.colour_stats(None, tiny_data)
    assert s.pred_share == pytest.approx(s.truth_share)
    assert s.pred_colours == s.truth_colours
    assert s.pred_saturation == pytest.approx(s.truth_saturation)
    assert s.pred_rgb_error == pytest.approx(s.quantised_rgb_error)
    counts = torch.bincount(tiny_data.valid_target.ravel())
    assert s.majority_acc == pytest.approx(
        100.0 * counts.max().item() / tiny_data.valid_target.numel())


def test_colour_stats_of_a_one_colour_colouriser(tiny_data, monkeypatch):
    monkeypatch.setattr(ex, "predict", lambda model, x: torch.full_like(
        tiny_data.valid_target, 5))
    s = ex.colour_stats(None, tiny_data)
    assert s.pred_colours == 1 and s.top[0] == 5
    assert s.pred_share == pytest.approx(100.0)
    assert s.pred_rgb_error > s.quantised_rgb_error
