"""Verdicts that hold on a rebuild: what section 5 of the smoke build
states, computed again from the same runs (its timings measured afresh),
has the same verdict words."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from a2.analysis import summaries
from a2.colour import experiments
from a2.config import params
from a2.report import rules

SMOKE = Path(__file__).resolve().parents[1] / "params" / "smoke.yaml"

# Timed values, and the verdicts read from them: the smoke build times
# its epochs while other tests load the machine, so its verdicts may
# differ from a measurement made now (the rules' error rates are
# tests/test_timing.py's).
MEASURED = {"timed", "speed", "time_words"}


@pytest.fixture(scope="session")
def section5(horse_npz: Path):
    """Section 5's runs at the smoke profile's settings (from the cache
    the smoke build uses, trained if missing), and their data."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_DATA", str(horse_npz))
        stem = "5-transposed"
        p = params.load(stem, params.overrides(stem, profile=SMOKE))
        data = experiments.load_data(p.n_train, p.n_valid)
        runs = experiments.load(experiments.plan(p), data, log=None)
        return runs, data, p.timed_images


def stated(runs: experiments.Runs, data, images: int) -> dict[str, dict]:
    """Every value section 5's prose states about its runs (5.2, 5.3,
    5.5), as the section computes them."""
    study = summaries.seed_study(runs.seeds, data)
    timed = summaries.sweep_timing(runs.sweep, data, images)
    cost = summaries.cost(runs.head, data, images)
    return {  # named as the section's chunks name them
        "comparison": asdict(summaries.comparison(study)),
        "cost": asdict(summaries.cost_facts(cost, runs.head)),
        "sweep": asdict(summaries.sweep(runs.sweep, data, study, timed)),
    }


def test_section_5_states_the_same_verdicts_again(section5, smoke_built):
    """Each value the build's prose showed (its inline values) against
    the same value computed now; seconds and rounds aside."""
    record = smoke_built / "provenance/5-transposed.json"
    shown = json.loads(record.read_text())["inline"]
    again, compared = stated(*section5), 0
    for var, facts in again.items():
        for name, value in facts.items():
            expr = f"{var}.{name}"
            if name in MEASURED or expr not in shown:
                continue
            data = shown[expr]
            text = data.get("text/markdown") or data["text/plain"]
            assert "".join(text) == str(value), expr
            compared += 1
    assert compared >= 10
    assert again["cost"]["speed"] in {
        rules.speed(rules.Ratio(1, lo, hi, 6)) for lo, hi in GRID
    }
    words = set(rules.TIME_WORDS.values())
    said = re.split(r",? and |, ", again["sweep"]["time_words"])
    assert {re.sub(r" at .*", "", w) for w in said if " at " in w} <= words


# An interval on each side of each of the rule's boundaries.
GRID = [(0.5, 0.9), (1.1, 1.5), (0.98, 1.02), (0.9, 1.1)]
