"""The runs of sections 4 and 5: configs, sweeps, seed summaries."""

from __future__ import annotations

import pytest

from a2 import experiments as ex


def test_optimiser_steps_count_the_partial_last_batch():
    assert ex.optimiser_steps(5000, 100, 25) == 1250
    assert ex.optimiser_steps(5000, 128, 15) == 40 * 15
    assert ex.optimiser_steps(200, 64, 2) == 8


def test_run_config_ignores_section_only_keys():
    c = ex.run_config(
        "conv_transpose",
        kernel=4,
        n_train=10,
        seeds=[0],
        n_samples=3,
        batch_size=7,
    )
    assert (c.model, c.kernel, c.batch_size) == ("conv_transpose", 4, 7)


def test_batch_size_sweep_returns_one_run_per_batch_size(tiny_data, a2_cache):
    sweep = ex.batch_size_sweep(
        [64, 128], 1, tiny_data, num_filters=2, log=None
    )
    assert [s.batch_size for s in sweep] == [64, 128]
    n = len(tiny_data.train_grey)
    assert [s.steps for s in sweep] == [-(-n // 64), -(-n // 128)]
    assert all(len(s.run.history) == 1 for s in sweep)
    assert all(s.run.config.model == "conv_transpose" for s in sweep)
    assert len({s.run.key for s in sweep}) == 2
    assert sweep[0].train_s == pytest.approx(
        sum(ex.epoch_seconds(sweep[0].run))
    )
    # A second sweep is served by the cache, not retrained.
    again = ex.batch_size_sweep([64], 1, tiny_data, num_filters=2, log=None)
    assert again[0].run.key == sweep[0].run.key
    assert again[0].run.history.to_list() == sweep[0].run.history.to_list()


def test_seed_study_trains_one_run_per_model_and_seed(tiny_data, a2_cache):
    study = ex.seed_study(
        ["pool_upsample"],
        [0, 1],
        tiny_data,
        log=None,
        seed=5,
        epochs=1,
        num_filters=2,
    )
    assert [r.config.seed for r in study["pool_upsample"]] == [0, 1]


def test_mean_std_reports_spread_only_for_several_seeds():
    assert ex.mean_std([1.0]) == (1.0, None)
    m, sd = ex.mean_std([1.0, 3.0])
    assert m == 2.0 and sd == pytest.approx(2**0.5)
    assert ex.pm([1.0]).endswith("(one seed)")
    assert ex.pm([1.0, 3.0], 1) == "2.0 ± 1.4"
