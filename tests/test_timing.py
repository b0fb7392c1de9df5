"""Training epochs timed in turns until the verdict can decide (5.3,
5.5): the real loop on real images, and the deciding loop on synthetic
timings whose spread is known."""

from __future__ import annotations

import random

import pytest

from a2.analysis import timing
from a2.config.params import RunConfig
from a2.report import rules


def test_subset_keeps_the_first_training_images(tiny_data):
    small = timing.subset(tiny_data, 10)
    assert len(small.train_grey) == len(small.train_target) == 10
    assert len(small.valid_grey) == len(tiny_data.valid_grey)


def test_paired_epochs_time_each_config_once_per_round(tiny_data):
    configs = {
        m: RunConfig(model=m, num_filters=2, batch_size=32)
        for m in ("pool_upsample", "conv_transpose")
    }
    pair = ("conv_transpose", "pool_upsample")
    t = timing.paired_epochs(configs, tiny_data, pair, images=64, looks=(2, 3))
    assert t.images == 64 and t.pair == pair
    rounds = {len(s) for s in t.seconds.values()}
    assert rounds == {t.ratio.rounds} and 2 <= t.ratio.rounds <= 3
    assert all(min(s) > 0 for s in t.seconds.values())
    assert t.ratio == rules.time_ratio(*(t.seconds[m] for m in pair))


def synthetic(means: dict[str, float], noise: float, seed: int = 0):
    """Epoch functions returning ``mean * (1 + noise * N(0, 1))`` seconds,
    and the order in which they were called."""
    rng, calls = random.Random(seed), []

    def epoch(name: str):
        def run() -> float:
            calls.append(name)
            return means[name] * max(0.05, 1 + noise * rng.gauss(0, 1))

        return run

    return {m: epoch(m) for m in means}, calls


def test_a_clear_difference_is_decided_after_the_fewest_rounds():
    epochs, _ = synthetic({"a": 1.0, "b": 1.25}, noise=0.02)
    times = timing.in_turns(epochs, ("a", "b"))
    r = rules.time_ratio(times["a"], times["b"])
    assert r.rounds == timing.LOOKS[0]
    assert rules.speed(r) == "faster than"
    assert r.low < 0.8 < r.high


def test_equal_times_with_little_noise_are_about_the_same():
    epochs, _ = synthetic({"a": 1.0, "b": 1.0}, noise=0.01)
    times = timing.in_turns(epochs, ("a", "b"))
    r = rules.time_ratio(times["a"], times["b"])
    assert r.rounds == timing.LOOKS[0]
    assert rules.speed(r) == "about as fast as"


def test_noise_wider_than_the_difference_cannot_decide():
    """Equal times under 30% noise per epoch: every round is used, and
    the verdict says the measurements cannot decide."""
    epochs, _ = synthetic({"a": 1.0, "b": 1.0}, noise=0.3, seed=1)
    times = timing.in_turns(epochs, ("a", "b"))
    r = rules.time_ratio(times["a"], times["b"])
    assert r.rounds == timing.LOOKS[-1]
    assert rules.speed(r) == "not clearly faster or slower than"
    assert rules.time_change(r) == rules.UNDECIDED


def test_equal_times_are_rarely_called_different():
    """Stopping at the first decided look must not turn noise into a
    verdict: over 400 measurements of two equal times, under 8% say
    "faster" or "slower" (about 4% expected, rules.TIME_SE_FACTOR)."""
    wrong = 0
    for seed in range(400):
        epochs, _ = synthetic({"a": 1.0, "b": 1.0}, noise=0.2, seed=seed)
        times = timing.in_turns(epochs, ("a", "b"))
        change = rules.time_change(rules.time_ratio(*times.values()))
        wrong += change in ("lower", "higher")
    assert wrong < 0.08 * 400


def test_more_rounds_decide_what_a_few_cannot():
    """A 10% difference under 10% noise: undecided within 3 rounds,
    decided within 20, on the same stream of timings."""
    few, _ = synthetic({"a": 1.0, "b": 1.1}, noise=0.1, seed=5)
    times = timing.in_turns(few, ("a", "b"), looks=(2, 3))
    assert rules.time_change(rules.time_ratio(*times.values())) == (
        rules.UNDECIDED
    )
    many, _ = synthetic({"a": 1.0, "b": 1.1}, noise=0.1, seed=5)
    times = timing.in_turns(many, ("a", "b"))
    assert rules.time_change(rules.time_ratio(*times.values())) == "lower"


def test_turns_alternate_so_that_none_always_goes_first():
    epochs, calls = synthetic({"a": 1.0, "b": 2.0, "c": 3.0}, noise=0.0)
    timing.in_turns(epochs, ("a", "b"), looks=(2,))
    assert calls == ["a", "b", "c", "c", "b", "a"]


def test_rounds_must_allow_a_spread():
    epochs, _ = synthetic({"a": 1.0, "b": 2.0}, noise=0.0)
    for looks in [(1, 4), (5, 4), ()]:
        with pytest.raises(ValueError, match="looks"):
            timing.in_turns(epochs, ("a", "b"), looks=looks)
