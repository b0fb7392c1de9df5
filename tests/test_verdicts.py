"""Verdicts that hold on a rebuild: what section 5 states, computed twice
in a row on the smoke profile's sizes (its timings measured afresh each
time), has the same verdict words."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from a2 import experiments as ex
from a2 import params, rules
from a2 import summaries as su

SMOKE = Path(__file__).resolve().parents[1] / "params" / "smoke.yaml"

# Seconds and rounds of the timings differ from one measurement to the
# next; the verdicts drawn from them must not.
MEASURED = {"t_pool", "t_ct", "timed", "times"}


@pytest.fixture(scope="session")
def section5(horse_npz: Path):
    """Section 5's runs at the smoke profile's settings (from the cache
    the smoke build uses, trained if missing), and their data."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_DATA", str(horse_npz))
        stem = "5-transposed"
        p = params.load(stem, params.overrides(stem, profile=SMOKE))
        data = ex.load_data(p.n_train, p.n_valid)
        return ex.load(ex.plan(p), data, log=None), data


def stated(runs: ex.Runs, data) -> dict[str, dict]:
    """Every value section 5's prose states about its runs (5.2, 5.3,
    5.5), as the section computes them."""
    study = su.seed_study(runs.seeds, data)
    timed = su.sweep_timing(runs.sweep, data)
    cost = su.cost(runs.head, data)
    return {
        "5.2": asdict(su.summary(runs.head["conv_transpose"], data)),
        "5.3": asdict(su.comparison(runs.head, study)),
        "5.3 cost": asdict(su.cost_facts(cost, runs.head)),
        "5.5": asdict(su.sweep(runs.sweep, data, study, timed)),
    }


def test_section_5_states_the_same_verdicts_twice(section5):
    first, second = stated(*section5), stated(*section5)
    for part, facts in first.items():
        again = second[part]
        for name, value in facts.items():
            if name not in MEASURED:
                assert again[name] == value, f"{part}: {name}"
    speeds = {rules.speed(rules.Ratio(1, lo, hi, 6)) for lo, hi in GRID}
    assert first["5.3 cost"]["speed"] in speeds
    trends = {rules.time_trend(rules.Ratio(1, lo, hi, 6)) for lo, hi in GRID}
    assert first["5.5"]["time_trend"] in trends


# An interval on each side of each of the rule's boundaries.
GRID = [(0.5, 0.9), (1.1, 1.5), (0.98, 1.02), (0.9, 1.1)]
