"""Faults during long work: interrupted training resumes to the same
numbers, a damaged cache entry is retrained (never loaded), and two
builds on one cache do not corrupt it."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import PY

from a2.__main__ import main
from a2.colour import cache

METRICS = ("epoch", "train_loss", "valid_loss", "valid_acc")
EPOCHS = 12  # ~0.1 s each: the signal lands mid-run


def settings(palette: Path, epochs: int) -> list[str]:
    keys = dict(
        n_train=64,
        n_valid=32,
        num_filters=4,
        batch_size=16,
        epochs=epochs,
        device="cpu",
        shuffle="epoch",
        palette=palette,
    )
    return [a for k, v in keys.items() for a in ("--set", f"{k}={v}")]


def entry(cache_dir: Path) -> Path:
    (folder,) = (cache_dir / "runs").iterdir()
    return folder


def metrics(cache_dir: Path) -> list[tuple]:
    """The stored history without timings: bit-exact on the CPU."""
    manifest = json.loads((entry(cache_dir) / "manifest.json").read_text())
    return [tuple(r[k] for k in METRICS) for r in manifest["history"]]


def train_here(args: list[str], capsys) -> str:
    assert main(["train", *args]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="session")
def straight(tmp_path_factory, horse_npz, palette_file) -> list[tuple]:
    """An uninterrupted 12-epoch run: the numbers every resume must hit."""
    folder = tmp_path_factory.mktemp("straight")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(folder))
        mp.setenv("A2_DATA", str(horse_npz))
        assert main(["train", *settings(palette_file, EPOCHS)]) == 0
    return metrics(folder)


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_interrupted_training_says_where_it_stopped_and_resumes_exactly(
    a2_cache, horse_npz, palette_file, straight, monkeypatch, capsys, signum
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = settings(palette_file, EPOCHS)
    log = a2_cache.parent / "child.out"
    with open(log, "w") as out:
        child = subprocess.Popen(
            [PY, "-m", "a2", "train", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
    delay = random.uniform(0.0, 0.25)
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"^\s+1\s", log.read_text(), re.M):
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "no epoch row in 60 s"
            time.sleep(0.01)
        time.sleep(delay)  # a random point after the first epoch's row
        child.send_signal(signum)
        err = child.communicate(timeout=60)[1]
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signum, (delay, err)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    done = cache.stored_epochs(entry(a2_cache).name)
    if done:
        assert last == f"interrupted after epoch {done}; rerun to resume"
    else:  # the signal beat the first save: nothing to resume from
        assert last == (
            "interrupted before epoch 1 finished; rerun to start again"
        )
    assert done < EPOCHS, f"the run finished before the signal ({delay:.2f} s)"

    out = train_here(args, capsys)
    if done:
        assert f"resuming after epoch {done}" in out
    assert metrics(a2_cache) == straight


def _ckpt(folder: Path) -> Path:
    """The checkpoint the manifest names."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder / manifest["checkpoint"]


DAMAGE = {
    "a flipped byte in the checkpoint": lambda f: _flip(_ckpt(f)),
    "a truncated checkpoint": lambda f: _truncate(_ckpt(f)),
    "a garbled manifest": lambda f: (f / "manifest.json").write_text("{"),
    "a missing checkpoint": lambda f: _ckpt(f).unlink(),
}


def _flip(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # same length: only a checksum sees it
    path.write_bytes(bytes(blob))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_cache_entry_is_reported_once_retrained_never_loaded(
    a2_cache, horse_npz, palette_file, monkeypatch, capsys, damage
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = settings(palette_file, 1)
    train_here(args, capsys)
    first = metrics(a2_cache)
    folder = entry(a2_cache)
    DAMAGE[damage](folder)

    loads = []
    real_load = torch.load
    monkeypatch.setattr(
        torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k)
    )
    out = train_here(args, capsys)
    damaged = [ln for ln in out.splitlines() if "damaged" in ln]
    assert damaged == [
        ln
        for ln in damaged
        if ln.startswith(f"cache entry {folder.name} is damaged (")
    ]
    assert len(damaged) == 1 and damaged[0].endswith(
        "; training it again from scratch"
    )
    assert loads == []  # the damaged checkpoint never reached torch.load
    assert metrics(a2_cache) == first

    out = train_here(args, capsys)  # the retrained entry is valid
    assert f"loaded run {folder.name}" in out and len(loads) == 1


def test_two_builds_on_one_cache_train_once_and_agree(
    a2_cache, horse_npz, palette_file, monkeypatch
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = [PY, "-m", "a2", "train", *settings(palette_file, 2)]
    kids = [
        subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(2)
    ]
    outs = [k.communicate(timeout=120) for k in kids]
    assert [k.returncode for k in kids] == [0, 0], outs
    stdouts = [o for o, _ in outs]
    trained = [o for o in stdouts if "\ntraining run" in "\n" + o]
    loaded = [o for o in stdouts if "loaded run" in o]
    assert len(trained) == 1 and len(loaded) == 1, stdouts
    finals = [o.strip().splitlines()[-1] for o in stdouts]
    assert finals[0] == finals[1] and finals[0].startswith("run ")
    folder = entry(a2_cache)
    assert cache._read(folder, folder.name, log=None) is not None
    assert not list(folder.glob("*.tmp"))
