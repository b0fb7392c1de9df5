"""Question 4.2: colour statistics, against exact colourisers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from a2.analysis import colourstats
from a2.colour import cache
from a2.colour.train import History
from a2.config.params import RunConfig
from a2.report import CheckFailed


def tiny_run(data) -> cache.Run:
    config = RunConfig(epochs=1, num_filters=2, batch_size=100)
    return cache.train_or_load(config, data, log=None)


def test_colour_stats_are_shares_and_saturations(tiny_data, a2_cache):
    r = tiny_run(tiny_data)
    s = colourstats.colour_stats(r.model, tiny_data)
    assert 0 <= s.truth_share <= 100 and 0 < s.pred_share <= 100
    assert 0 <= s.pred_saturation <= 1 and 0 <= s.truth_saturation <= 1
    assert 1 <= s.pred_colours <= tiny_data.num_colours
    assert len(s.top) == colourstats.TOP_COLOURS


def test_colour_stats_of_a_perfect_colouriser_match_the_truth(
    tiny_data, monkeypatch
):
    monkeypatch.setattr(
        colourstats, "predict", lambda model, x: tiny_data.valid_target
    )
    s = colourstats.colour_stats(None, tiny_data)
    assert s.pred_share == pytest.approx(s.truth_share)
    assert s.pred_colours == s.truth_colours
    assert s.pred_saturation == pytest.approx(s.truth_saturation)
    assert s.pred_rgb_error == pytest.approx(s.quantised_rgb_error)
    counts = torch.bincount(tiny_data.valid_target.ravel())
    assert s.majority_acc == pytest.approx(
        100.0 * counts.max().item() / tiny_data.valid_target.numel()
    )


def test_colour_stats_of_a_one_colour_colouriser(tiny_data, monkeypatch):
    monkeypatch.setattr(
        colourstats,
        "predict",
        lambda model, x: torch.full_like(tiny_data.valid_target, 5),
    )
    s = colourstats.colour_stats(None, tiny_data)
    assert s.pred_colours == 1 and s.top[0] == 5
    assert s.pred_share == pytest.approx(100.0)
    assert s.pred_rgb_error > s.quantised_rgb_error


def test_saturation_of_greys_is_zero_and_of_pure_colours_one():
    rgb = np.array(
        [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [1.0, 0.0, 0.0], [0.2, 0.1, 0.1]]
    )
    assert colourstats.saturation(rgb) == pytest.approx([0, 0, 1, 0.5])


def test_rescore_recomputes_what_a_run_recorded(tiny_data, a2_cache):
    r = tiny_run(tiny_data)
    last = r.history.last
    again = colourstats.rescore(r.model, tiny_data)
    assert again.acc == pytest.approx(last.valid_acc, rel=1e-9)
    assert again.loss == pytest.approx(last.valid_loss, rel=1e-5)
    colourstats.check_recorded(r, tiny_data)
    off = dataclasses.replace(last, valid_loss=last.valid_loss * 1.001)
    r.history = History([off])
    with pytest.raises(CheckFailed, match="recomputed cross-entropy"):
        colourstats.check_recorded(r, tiny_data)


def test_predict_restores_training_mode(tiny_data, a2_cache):
    r = tiny_run(tiny_data)
    r.model.train()
    pred = colourstats.predict(r.model, tiny_data.valid_grey[:3])
    assert pred.shape == (3, 32, 32) and r.model.training


def test_colour_name_is_8_bit_rgb():
    assert colourstats.colour_name([1.0, 0.5, 0.0]) == "(255, 128, 0)"
