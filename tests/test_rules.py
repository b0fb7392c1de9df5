"""The rules behind the verdict words: each side of each rule, on
constructed numbers."""

from __future__ import annotations

import pytest

from a2.questions import nqm
from a2.report import rules

# --- section 1.2: the minimum-norm solution ----------------------------------


def test_min_norm_within_the_distance_and_not_beyond():
    assert rules.min_norm(0.0) == "yes"
    assert rules.min_norm(rules.MIN_NORM_ATOL) == "yes"
    assert rules.min_norm(2 * rules.MIN_NORM_ATOL) == "no"
    assert rules.min_norm(0.3) == "no"  # the hint's adaptive limit


# --- section 2.2: L2 against weight decay -----------------------------------


def test_trajectories_coincide_below_rounding_and_part_ways_above():
    assert rules.same_trajectory(0.5 * rules.SAME_RTOL, 1.0)
    assert rules.agreement(0.5 * rules.SAME_RTOL, 1.0) == "coincide"
    assert not rules.same_trajectory(2 * rules.SAME_RTOL, 1.0)
    assert rules.agreement(2 * rules.SAME_RTOL, 1.0) == "part ways"
    assert rules.same_trajectory(50 * rules.SAME_RTOL, 100.0)


# --- section 3.1: the noisy quadratic model ---------------------------------


@pytest.mark.parametrize(
    "values, word",
    [
        ([1.0, 1.1, 1.3], "rises"),
        ([1.0, 0.9, 0.5], "falls"),
        ([1.0, 1.005, 0.999], "stays flat"),
        ([1.0, 1.2, 1.0], "changes direction"),
        ([1.0, 1.02, 1.005], "changes direction"),  # one rise, one flat step
    ],
)
def test_stepwise_trend_names_how_a_sequence_changes(values, word):
    assert rules.stepwise_trend(values) == word


def test_stepwise_trend_threshold_is_one_percent_per_step():
    above = 1 + 1.5 * rules.STEP_RTOL
    below = 1 + 0.5 * rules.STEP_RTOL
    assert rules.stepwise_trend([1.0, above, above**2]) == "rises"
    assert rules.stepwise_trend([1.0, below, below**2]) == "stays flat"


@pytest.mark.parametrize(
    "exponent, word",
    [
        (1.0, "in proportion to $B$"),
        (1 - 0.9 * rules.LINEAR_TOL, "in proportion to $B$"),
        (1 + 0.9 * rules.LINEAR_TOL, "in proportion to $B$"),
        (1 - 1.1 * rules.LINEAR_TOL, "more slowly than $B$"),
        (1 + 1.1 * rules.LINEAR_TOL, "faster than $B$"),
    ],
)
def test_growth_calls_an_exponent_near_one_proportional(exponent, word):
    assert rules.growth(exponent) == word


def _point(name, batch, steps):
    return nqm.Point(name, batch, steps, steps, steps)


def test_best_tradeoff_weighs_time_and_compute_overheads_equally():
    # floors: 100 steps, 1000 examples
    pts = {
        "A": _point("A", 1.0, 1000.0),  # 10x steps, 1x examples
        "C": _point("C", 10.0, 200.0),  # 2x steps, 2x examples
        "B": _point("B", 100.0, 100.0),
    }  # 1x steps, 10x examples
    assert rules.best_tradeoff(pts, 100.0, 1000.0) == "C"
    pts["C"] = _point("C", 10.0, 600.0)  # 6x steps, 6x examples
    assert rules.best_tradeoff(pts, 100.0, 1000.0) in ("A", "B")


def test_regime_is_noise_dominated_below_the_critical_batch_size():
    assert rules.regime(77.0, 78.0) == "noise dominated"
    assert rules.regime(78.0, 78.0) == "curvature dominated"
    assert rules.regime(1248.0, 78.0) == "curvature dominated"


def test_regime_boundary_is_where_the_model_doubles_the_examples():
    """In S = S_min (1 + B_crit / B), noise's steps S_min B_crit / B
    exceed the curvature's S_min exactly where the examples B S are under
    the critical ratio times their least value, S_min B_crit."""
    s_min, critical = 500.0, 64.0
    for b in (8.0, 63.0, 65.0, 512.0):
        steps = s_min * (1 + critical / b)
        noise_more = steps - s_min > s_min
        examples = b * steps / (s_min * critical)
        assert (examples < rules.CRITICAL_EXAMPLES_RATIO) == noise_more
        assert (rules.regime(b, critical) == "noise dominated") == noise_more


def test_remedy_is_the_option_that_saves_more_steps():
    assert rules.remedy(500.0, 1600.0) == "seek parallel compute"
    assert rules.remedy(500.0, 25.0) == "use higher order optimizers"


# --- sections 4 and 5: noise margins ---------------------------------------


def test_margin_is_the_floor_without_a_measured_spread():
    assert rules.margin(0.01) == 0.01
    assert rules.margin(0.01, None) == 0.01


def test_margin_widens_to_twice_a_large_spread():
    assert rules.margin(0.01, 0.002) == 0.01
    assert rules.margin(0.01, 0.02) == pytest.approx(rules.NOISE_FACTOR * 0.02)


def test_spreads_need_two_values():
    assert rules.spread([1.0]) is None
    assert rules.spread([1.0, 3.0]) == pytest.approx(2**0.5)
    assert rules.largest_spread([[1.0, 3.0], [0.0, 0.1]]) == pytest.approx(
        2**0.5
    )
    assert rules.largest_spread([[1.0, 3.0], [0.0]]) is None


# --- 4.2: the colours look good ------------------------------------------


def test_looks_good_within_the_ratio_of_the_palette_ceiling():
    ceiling = 0.04
    assert rules.looks_good(rules.GOOD_RGB_RATIO * ceiling, ceiling) == "Yes"
    assert rules.looks_good(0.05, ceiling) == "Yes"


def test_looks_good_not_beyond_the_ratio():
    assert rules.looks_good(0.061, 0.04) == "No"
    assert rules.looks_good(0.37, 0.04) == "No"


# --- 5.3: ConvTransposeNet beats PoolUpsampleNet -------------------------


def test_lower_beyond_the_margin_is_yes():
    assert rules.lower(1.129, 1.590) == "Yes"
    # The seed spread widens the margin: 0.05 apart with sd 0.01 is beyond.
    assert rules.lower(1.10, 1.15, rules.margin(0.01, 0.01)) == "Yes"


def test_higher_beyond_the_margin_is_no():
    assert rules.lower(1.60, 1.13) == "No"


def test_within_the_margin_is_not_clearly():
    assert rules.lower(1.130, 1.135) == "Not clearly"
    assert rules.lower(1.10, 1.15, rules.margin(0.01, 0.03)) == "Not clearly"


def test_beyond_or_within():
    assert rules.beyond(0.46, 0.01) == "beyond"
    assert rules.beyond(-0.46, 0.01) == "beyond"
    assert rules.beyond(0.005, 0.01) == "within"


def test_a_gap_barely_past_its_margin_is_only_just_beyond():
    # The grader's case: saturations 0.035 apart against a 0.034 margin.
    assert rules.beyond(0.035, 0.034) == "only just beyond"
    assert rules.beyond(-0.035, 0.034) == "only just beyond"
    assert rules.beyond(rules.CLOSE_FACTOR * 0.034, 0.034) == "beyond"


# --- duller colours --------------------------------------------------------


def test_a_saturation_gap_inside_the_margin_is_about_as_vivid():
    # The reviewer's case: 0.17 against 0.18 is no "duller".
    assert rules.vividness(0.17, 0.18) == "about as vivid as"
    assert rules.vividness(0.19, 0.18) == "about as vivid as"


def test_duller_and_more_vivid_beyond_the_margin():
    assert rules.vividness(0.15, 0.18) == "duller than"
    assert rules.vividness(0.21, 0.18) == "more vivid than"


def test_a_measured_seed_spread_widens_the_saturation_margin():
    tol = rules.margin(rules.SATURATION_MARGIN, 0.02)
    assert rules.vividness(0.15, 0.18, tol) == "about as vivid as"


def test_leaning_on_a_few_colours():
    assert rules.leaning(80.0, 50.0) == "leans on"
    assert rules.leaning(55.0, 50.0) == "does not lean on"
    assert rules.leaning(40.0, 50.0) == "does not lean on"


# --- 4.2: where training stands -------------------------------------------


def test_training_state_still_improving():
    v = [2.0, 1.8, 1.7, 1.65, 1.62, 1.59]
    assert rules.training_state(v).startswith("still improving")


def test_training_state_levelling_off():
    v = [2.0, 1.8, 1.7, 1.6, 1.599, 1.598, 1.598]
    assert rules.training_state(v).startswith("levelling off")


def test_training_state_overfitting():
    v = [2.0, 1.6, 1.5, 1.52, 1.55]
    assert rules.training_state(v) == "overfitting"


def test_training_state_of_one_epoch():
    assert rules.training_state([3.17]).startswith("too short")


def test_recent_rate_averages_the_last_epochs():
    v = [10.0, 2.0, 1.9, 1.8, 1.7]
    assert rules.recent_rate(v) == pytest.approx(-0.1)
    assert rules.recent_rate([1.0]) == 0.0
    assert rules.recent_rate([1.0, 0.5]) == pytest.approx(-0.5)


# --- 5.5: how the loss moves with batch size ------------------------------


B = ["32", "64", "128", "256"]


def test_every_step_beyond_the_margin_rises_from_each_to_the_next():
    assert (
        rules.trend_by_steps([1.10, 1.12, 1.20, 1.30], B, 0.01)
        == "rises from each batch size to the next"
    )
    assert (
        rules.trend_by_steps([1.3, 1.2, 1.1], B[:3], 0.01)
        == "falls from each batch size to the next"
    )


def test_a_step_within_the_margin_is_no_measurable_change():
    # The grader's case: 1.2619 -> 1.2647 is no rise at a 0.0184 margin.
    values = [1.2619, 1.2647, 1.3248, 1.4073]
    assert rules.step_changes(values, 0.0184) == [0, 1, 1]
    assert rules.trend_by_steps(values, B, 0.0184) == (
        "shows no measurable change from 32 to 64, then rises from 64 to 256"
    )


def test_a_dip_beyond_the_margin_is_named():
    assert rules.trend_by_steps([1.10, 1.15, 1.13, 1.30], B, 0.01) == (
        "rises from 32 to 64, then falls from 64 to 128, "
        "then rises from 128 to 256"
    )


def test_no_measurable_step_but_a_change_overall_says_both():
    assert rules.trend_by_steps([1.10, 1.108, 1.116, 1.124], B, 0.01) == (
        "shows no measurable change from each batch size to the next, "
        "but rises from 32 to 256 overall"
    )
    assert (
        rules.trend_by_steps([1.10, 1.101, 1.102], B[:3], 0.01)
        == "shows no measurable change from each batch size to the next"
    )
    with pytest.raises(ValueError):
        rules.trend_by_steps([1.1], B[:1], 0.01)


# --- timings: paired ratios decide, or say they cannot ---------------------


def test_time_ratio_is_the_geometric_mean_of_paired_ratios():
    r = rules.time_ratio([1.0, 4.0], [2.0, 2.0])
    assert r.value == pytest.approx(1.0)  # ratios 0.5 and 2
    assert r.rounds == 2
    assert r.low < r.value < r.high
    # equal paired ratios: no spread, the interval is the ratio itself
    r = rules.time_ratio([2.0, 4.0, 1.0], [2.5, 5.0, 1.25])
    assert r.low == pytest.approx(0.8) and r.high == pytest.approx(0.8)


def test_one_pair_has_no_spread_and_decides_nothing():
    r = rules.time_ratio([1.0], [2.0])
    assert (r.low, r.high) == (0.0, float("inf"))
    assert rules.time_change(r) == rules.UNDECIDED


def test_time_ratio_needs_pairs():
    with pytest.raises(ValueError, match="same number of rounds"):
        rules.time_ratio([1.0, 2.0], [1.0])


def ratio(low: float, high: float) -> rules.Ratio:
    return rules.Ratio((low * high) ** 0.5, low, high, 6)


@pytest.mark.parametrize(
    "low, high, change, speed, trend",
    [
        (0.80, 0.90, "lower", "faster than", "is faster"),
        (
            0.90,
            0.99,
            "lower",
            "faster than",
            "is faster",
        ),  # sign beyond spread
        (1.10, 1.30, "higher", "slower than", "is slower"),
        (
            0.97,
            1.04,
            "about the same",
            "about as fast as",
            "is about as fast",
        ),
        # within 5% but below 1: "about the same" comes first
        (
            0.96,
            0.99,
            "about the same",
            "about as fast as",
            "is about as fast",
        ),
        # straddles 1 and leaves the 5% band: the measurements cannot decide
        (
            0.90,
            1.02,
            rules.UNDECIDED,
            "not clearly faster or slower than",
            "is not clearly faster or slower",
        ),
        (
            0.99,
            1.08,
            rules.UNDECIDED,
            "not clearly faster or slower than",
            "is not clearly faster or slower",
        ),
    ],
)
def test_a_time_verdict_decides_only_beyond_its_interval(
    low, high, change, speed, trend
):
    r = ratio(low, high)
    assert rules.time_change(r) == change
    assert rules.speed(r) == speed
    assert rules.time_by_setting([r], ["64"]) == f"{trend} at $B =$ 64"


def test_time_by_setting_groups_the_batch_sizes_by_verdict():
    """5.5 names every batch size shown (the grader's read found a
    verdict on the two ends only, while two in between were slower)."""
    flat, up = ratio(0.98, 1.07), ratio(1.02, 1.06)
    words = rules.time_by_setting(
        [flat, up, up, flat], ["64", "128", "256", "512"]
    )
    assert words == (
        "is not clearly faster or slower at $B =$ 64 and 512, "
        "and is slower at 128 and 256"
    )
    three = rules.time_by_setting(
        [ratio(0.98, 1.02), up, ratio(0.8, 0.9)], ["64", "128", "256"]
    )
    assert three == (
        "is about as fast at $B =$ 64, is slower at 128, and is faster at 256"
    )
    with pytest.raises(ValueError):
        rules.time_by_setting([flat], ["64", "128"])


@pytest.mark.parametrize(
    "error, ref, words",
    [
        (1.8, 1.4, "worse than"),
        (1.4, 1.8, "better than"),
        (1.5, 1.4, "about as good as"),
        (1.4, 1.5, "about as good as"),
    ],
)
def test_image_quality_counts_beyond_ten_percent(error, ref, words):
    assert rules.image_quality(error, ref) == words
