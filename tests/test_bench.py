"""The benchmark scripts in bench/ keep working with the library they
measure: they plan the build's runs, and bad data is one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_schedule_bench_times_the_runs_the_build_trains(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_schedule

    from a2.colour import experiments
    from a2.config import params

    runs = bench_schedule.run_list(2)
    build = [
        r
        for stem in bench_schedule.STEMS
        for r in experiments.plan(params.load(stem)).configs()
    ]
    assert len(runs) == len(dict.fromkeys(build)) == 14
    assert {r.epochs for r in runs} == {2}
    strip = [(r.model, r.batch_size, r.seed) for r in runs]
    assert strip == list(
        dict.fromkeys((r.model, r.batch_size, r.seed) for r in build)
    )


@pytest.mark.parametrize("script", ["bench_train.py", "bench_schedule.py"])
def test_bad_data_is_one_line(tmp_path, script):
    missing = tmp_path / "no-such.npz"
    out = subprocess.run(
        [sys.executable, str(BENCH / script), "--data", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(missing) in lines[0], out.stderr
