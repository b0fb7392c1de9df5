"""Paired timing of training epochs (question 5.3)."""

from __future__ import annotations

from a2 import timing
from a2.params import RunConfig


def test_subset_keeps_the_first_training_images(tiny_data):
    small = timing.subset(tiny_data, 10)
    assert len(small.train_grey) == len(small.train_target) == 10
    assert len(small.valid_grey) == len(tiny_data.valid_grey)


def test_paired_epochs_time_each_config_repeatedly(tiny_data):
    configs = {
        m: RunConfig(model=m, num_filters=2, batch_size=32)
        for m in ("pool_upsample", "conv_transpose")
    }
    times = timing.paired_epochs(configs, tiny_data, images=64, repeats=2)
    assert set(times) == set(configs)
    assert all(len(t) == 2 and min(t) > 0 for t in times.values())
    assert timing.median([3.0, 1.0, 2.0]) == 2.0
