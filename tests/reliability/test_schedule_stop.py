"""Ctrl-C during ``train_many``: every worker stops, each run keeps its
finished epochs, and the next call goes on to the numbers of runs never
stopped."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

from conftest import PY

from a2.colour import cache, data, schedule
from a2.colour.train import RunConfig

EPOCHS = 15  # ~0.1 s each: the signal lands mid-run
CONFIGS = [
    RunConfig(
        model=m,
        num_filters=4,
        batch_size=16,
        epochs=EPOCHS,
        shuffle="epoch",
        device="cpu",
    )
    for m in ("conv_transpose", "unet")
]
CHILD = """
import sys
from a2.colour import data, schedule
from a2.colour.train import RunConfig
if __name__ == "__main__":
    d = data.load(source=sys.argv[1], n_train=64, n_valid=32,
                  palette=sys.argv[2])
    configs = [RunConfig(**c) for c in {configs}]
    try:
        schedule.train_many(configs, d, workers=2)
    except KeyboardInterrupt:
        sys.exit(130)
"""


def metrics(key: str) -> list[tuple]:
    manifest = json.loads(
        (cache.runs_dir() / key / cache.MANIFEST).read_text()
    )
    return [
        tuple(r[k] for k in ("epoch", "train_loss", "valid_loss", "valid_acc"))
        for r in manifest["history"]
    ]


def test_ctrl_c_stops_every_worker_and_the_next_call_resumes_exactly(
    a2_cache, horse_npz, palette_file, monkeypatch, tmp_path
):
    """Ctrl-C in a terminal: the whole process group gets SIGINT (the
    workers sit in groups of their own, so only train_many's process is
    reached, as by `kill -INT`; it stops them)."""
    d = data.load(
        source=horse_npz, n_train=64, n_valid=32, palette=palette_file
    )
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(configs=[c.to_dict() for c in CONFIGS]))
    log = tmp_path / "child.out"
    with open(log, "w") as out:
        child = subprocess.Popen(
            [PY, str(script), str(horse_npz), str(palette_file)],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        # Both runs past their first epoch row, then stop.
        while (
            len(set(re.findall(r"^(\S+) .*\|\s+1\s", log.read_text(), re.M)))
            < 2
        ):
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "no epoch rows in 120 s"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGINT)
        err = child.communicate(timeout=90)[1]
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
    assert child.returncode == 130, err
    assert "Traceback" not in err, err
    keys = [cache.run_key(c, d) for c in CONFIGS]
    done = [cache.stored_epochs(k) for k in keys]
    assert all(1 <= n < EPOCHS for n in done), done
    stopped = [
        ln
        for ln in log.read_text().splitlines()
        if ln.startswith("run ") and "stopped after epoch" in ln
    ]
    assert len(stopped) == 2, log.read_text()[-2000:]

    outcomes = schedule.train_many(CONFIGS, d, workers=2, log=None)
    assert [o.status for o in outcomes] == ["trained", "trained"]
    resumed = [metrics(k) for k in keys]
    monkeypatch.setenv("A2_CACHE", str(tmp_path / "straight"))
    for c in CONFIGS:
        cache.train_or_load(c, d, log=None)
    assert resumed == [metrics(k) for k in keys]
