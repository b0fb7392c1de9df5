"""The runs of sections 4 and 5: one plan per section, loaded in its
shape, trained once."""

from __future__ import annotations

import pytest

from a2.colour import experiments as ex
from a2.config import params
from a2.config.params import RunConfig
from a2.report import CheckFailed


def test_optimiser_steps_count_the_partial_last_batch():
    assert ex.optimiser_steps(5000, 100, 25) == 1250
    assert ex.optimiser_steps(5000, 128, 15) == 40 * 15
    assert ex.optimiser_steps(200, 64, 2) == 8


def test_section_4_plans_one_pool_upsample_run_at_its_settings():
    p = params.load("4-pooling", {"epochs": 3, "num_filters": 8})
    plan = ex.plan(p)
    assert plan.configs() == [
        RunConfig(model="pool_upsample", epochs=3, num_filters=8)
    ]
    assert plan.seeds == {} and plan.sweep == ()


def test_section_5_plans_each_network_per_seed_and_a_batch_size_sweep():
    p = params.load(
        "5-transposed",
        {"seed": 1, "seeds": [1, 4], "batch_sizes": [16, 64], "lr": 0.01},
    )
    plan = ex.plan(p)
    assert list(plan.head) == ["pool_upsample", "conv_transpose", "unet"]
    for m, c in plan.head.items():
        assert c == p.run(m)
        assert [r.seed for r in plan.seeds[m]] == [1, 4]
        assert plan.seeds[m][0] == c  # the first seed's run is the head's
        assert {r.replace(seed=1) for r in plan.seeds[m]} == {c}
    base = p.run("conv_transpose")
    assert plan.sweep == (
        base.replace(batch_size=16, epochs=p.sweep_epochs),
        base.replace(batch_size=64, epochs=p.sweep_epochs),
    )
    configs = plan.configs()
    assert len(configs) == len(set(configs)) == 3 + 3 + 2
    assert len(ex.plan(params.load("5-transposed")).configs()) == 14


def test_load_gives_the_plans_runs_in_its_shape_from_the_cache(
    tiny_data, a2_cache
):
    p = params.load(
        "5-transposed",
        {
            "num_filters": 2,
            "epochs": 1,
            "seeds": [0, 1],
            "batch_sizes": [64, 128],
            "sweep_epochs": 1,
        },
    )
    plan = ex.plan(p)
    runs = ex.load(plan, tiny_data, log=None)
    for m, c in plan.head.items():
        assert runs.head[m].config == c
        assert [r.config for r in runs.seeds[m]] == list(plan.seeds[m])
    assert runs.seeds["unet"][0] is runs.head["unet"]  # loaded once
    n = len(tiny_data.train_grey)
    assert [s.batch_size for s in runs.sweep] == [64, 128]
    assert [s.steps for s in runs.sweep] == [-(-n // 64), -(-n // 128)]
    ex.check_sweep(runs.sweep, 1, n)
    with pytest.raises(CheckFailed):
        ex.check_sweep(runs.sweep, 2, n)
    # A second load is served by the cache, not retrained.
    again = ex.load(plan, tiny_data, log=None)
    assert again.sweep[1].run.key == runs.sweep[1].run.key
    assert (
        again.sweep[1].run.history.to_list()
        == runs.sweep[1].run.history.to_list()
    )


def test_mean_std_reports_spread_only_for_several_seeds():
    assert ex.mean_std([1.0]) == (1.0, None)
    m, sd = ex.mean_std([1.0, 3.0])
    assert m == 2.0 and sd == pytest.approx(2**0.5)
    assert ex.pm([1.0]).endswith("(one seed)")
    assert ex.pm([1.0, 3.0], 1) == "2.0 ± 1.4"
