"""The checkpoint cache: hits load, misses train, damage is reported and
retrained, and a killed run resumes to the same numbers."""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import torch

from a2.colour import cache
from a2.colour import train as a2_train
from a2.colour.train import RunConfig
from a2.config import environment

TINY = RunConfig(
    num_filters=4, batch_size=64, epochs=2, device="cpu", shuffle="epoch"
)


def metrics(run):
    return [(r.train_loss, r.valid_loss, r.valid_acc) for r in run.history]


def no_training(*args, **kwargs):
    raise AssertionError("trained although the run was cached")


def checkpoint(folder):
    """The checkpoint file the run's manifest names."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder / manifest["checkpoint"]


def test_a_miss_trains_and_stores_the_run(a2_cache, tiny_data):
    run = cache.train_or_load(TINY, tiny_data, log=None)
    assert len(run.history) == 2 and not run.model.training
    folder = a2_cache / "runs" / run.key
    assert checkpoint(folder).is_file()
    assert [p.name for p in folder.glob("ckpt-*.pt")] == [
        checkpoint(folder).name
    ]  # the first epoch's was removed
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["complete"] and manifest["meta"]["devices"] == ["cpu"]
    assert manifest["final"]["valid_acc"] == run.history.last.valid_acc


def test_a_hit_loads_without_training(a2_cache, tiny_data, monkeypatch):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    monkeypatch.setattr(a2_train.Trainer, "fit", no_training)
    lines = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert lines[0].startswith(f"loaded run {first.key}")
    assert metrics(again) == metrics(first)
    saved = first.model.state_dict()
    assert all(
        torch.equal(again.model.state_dict()[k], v) for k, v in saved.items()
    )


def test_key_ignores_device_but_not_what_changes_results(tiny_data):
    key = cache.run_key(TINY, tiny_data)
    assert cache.run_key(TINY.replace(device="auto"), tiny_data) == key
    for change in (
        dict(lr=0.01),
        dict(seed=1),
        dict(epochs=3),
        dict(shuffle="once"),
        dict(model="unet"),
    ):
        assert cache.run_key(TINY.replace(**change), tiny_data) != key
    assert len(key) == 16


def test_a_corrupt_checkpoint_is_reported_in_one_line_and_retrained(
    a2_cache, tiny_data
):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    ckpt = checkpoint(a2_cache / "runs" / first.key)
    ckpt.write_bytes(ckpt.read_bytes()[:1000])  # a torn write
    lines = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    damaged = [line for line in lines if "damaged" in line]
    assert len(damaged) == 1 and "checksum" in damaged[0]
    assert any(line.startswith("training run") for line in lines)
    assert metrics(again) == metrics(first)


def test_retrain_ignores_a_finished_entry(a2_cache, tiny_data):
    cache.train_or_load(TINY, tiny_data, log=None)
    lines = []
    cache.train_or_load(TINY, tiny_data, retrain=True, log=lines.append)
    assert lines[0].startswith("training run")


CHILD = """
import sys, time
from a2.colour import cache, data
from a2.colour.train import RunConfig

def save_then_hang(*args, **kwargs):
    SAVE(*args, **kwargs)
    print("saved", flush=True)
    time.sleep(120)  # killed here, in the middle of the run

SAVE, cache._save = cache._save, save_then_hang
# The parent's palette, as a file: no k-means in the child.
d = data.load(source=sys.argv[1], n_train=128, n_valid=64,
              palette=sys.argv[2])
cache.train_or_load(RunConfig(**{config!r}), d, log=None)
"""


def test_a_killed_run_resumes_to_the_same_final_metrics(
    tmp_path, monkeypatch, tiny_data, horse_npz
):
    monkeypatch.setenv("A2_CACHE", str(tmp_path / "straight"))
    straight = cache.train_or_load(TINY, tiny_data, log=None)

    monkeypatch.setenv("A2_CACHE", str(tmp_path / "killed"))
    script = textwrap.dedent(CHILD).format(config=TINY.to_dict())
    colours = tmp_path / "colours.npy"
    np.save(colours, tiny_data.palette)
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(horse_npz), str(colours)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert child.stdout.readline().strip() == "saved"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    manifest = json.loads(
        (
            environment.cache_dir() / "runs" / straight.key / "manifest.json"
        ).read_text()
    )
    assert manifest["meta"]["epochs_done"] == 1

    lines = []
    resumed = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert lines[0].startswith(f"resuming run {straight.key}")
    assert metrics(resumed) == metrics(straight)


def test_a_second_process_waits_for_the_lock_then_loads(a2_cache, tiny_data):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    folder = a2_cache / "runs" / first.key
    lines, result = [], {}
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another process holds the run
        worker = threading.Thread(
            target=lambda: result.update(
                run=cache.train_or_load(TINY, tiny_data, log=lines.append)
            )
        )
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and "waiting" in lines[0]
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    worker.join(timeout=30)
    assert lines[1].startswith("loaded run")
    assert metrics(result["run"]) == metrics(first)


def test_list_runs_gives_the_manifests_for_the_appendix(a2_cache, tiny_data):
    cache.train_or_load(TINY, tiny_data, log=None)
    cache.train_or_load(TINY.replace(epochs=1), tiny_data, log=None)
    runs = cache.list_runs()
    assert [r["config"]["epochs"] for r in runs] in ([2, 1], [1, 2])
    assert all(r["complete"] and r["meta"]["git"] for r in runs)


def test_key_follows_the_training_code_not_its_comments(
    tiny_data, monkeypatch
):
    key = cache.run_key(TINY, tiny_data)
    real = inspect.getsource
    seen, edit = [], {}

    def edited(obj, *extra):
        seen.append(obj.__name__)
        return edit.get(obj.__name__, lambda text: text)(real(obj))

    monkeypatch.setattr(cache.inspect, "getsource", edited)
    assert cache.run_key(TINY, tiny_data) == key
    code = ["a2.colour.models", "a2.colour.padding", "a2.colour.train"]
    assert sorted(set(seen)) == code
    for module in code:
        edit.clear()
        edit[module] = lambda text: text + "\n# a new comment\n"
        assert cache.run_key(TINY, tiny_data) == key
        edit[module] = lambda text: text + "\nEXTRA = 1\n"
        assert cache.run_key(TINY, tiny_data) != key


TRAIN_SOURCE = inspect.getsource(a2_train)


def test_fingerprint_ignores_docstrings_and_comments_of_train_py():
    before = cache.code_fingerprint(TRAIN_SOURCE)
    docstring = TRAIN_SOURCE.replace(
        "One pass over the training set", "A pass over every image"
    )
    comment = TRAIN_SOURCE.replace(
        "# .item() syncs the device", "# .item() waits for the device"
    )
    module_doc = TRAIN_SOURCE.replace(
        "Training the colourisation", "Train the colourisation"
    )
    for edited in (docstring, comment, module_doc):
        assert edited != TRAIN_SOURCE
        assert cache.code_fingerprint(edited) == before


def test_fingerprint_changes_with_a_line_of_training_code():
    before = cache.code_fingerprint(TRAIN_SOURCE)
    for old, new in [
        ("EVAL_BATCH = 500", "EVAL_BATCH = 501"),
        ("loss.backward()", "loss.mul(2).backward()"),
        (
            '"""One pass over the training set',
            'x = 1\n        """One pass over the training set',
        ),
    ]:
        assert old in TRAIN_SOURCE
        edited = TRAIN_SOURCE.replace(old, new)
        assert cache.code_fingerprint(edited) != before, new


def test_key_covers_the_grey_conversion(
    horse_npz, tiny_data, tmp_path, monkeypatch
):
    """Data preparation is keyed by the tensors it makes: a different
    grey conversion never reuses models trained on the old inputs."""
    from a2.colour import data

    colours = tmp_path / "palette.npy"
    np.save(colours, tiny_data.palette[None])
    same = data.load(
        source=horse_npz, n_train=128, n_valid=64, palette=colours
    )
    key = cache.run_key(TINY, same)
    assert key == cache.run_key(TINY, tiny_data)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    monkeypatch.setattr(
        data, "grey", lambda rgb: (rgb * weights).sum(dim=1, keepdim=True)
    )
    luma = data.load(
        source=horse_npz, n_train=128, n_valid=64, palette=colours
    )
    assert luma.identity == same.identity  # same source, class, sizes
    assert cache.run_key(TINY, luma) != key


def test_key_covers_targets_and_palette(tiny_data):
    import dataclasses

    key = cache.run_key(TINY, tiny_data)
    target = tiny_data.valid_target.clone()
    target[0, 0, 0] = (target[0, 0, 0] + 1) % 24
    palette = tiny_data.palette.copy()
    palette[0, 0] += 1e-3
    for change in (dict(valid_target=target), dict(palette=palette)):
        other = dataclasses.replace(tiny_data, **change)
        assert cache.run_key(TINY, other) != key


def test_data_hash_is_computed_once_per_data(tiny_data, monkeypatch):
    import dataclasses

    fresh = dataclasses.replace(tiny_data)
    first = fresh.content_sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: 1 / 0)
    assert fresh.content_sha256 == first  # not hashed again


def test_an_old_checkpoint_with_numpy_rng_state_still_loads(
    a2_cache, tiny_data
):
    """Before checkpoints were named by their hash they were
    'checkpoint.pt' and held numpy's RNG state, which nothing drew from."""
    first = cache.train_or_load(TINY, tiny_data, log=None)
    folder = a2_cache / "runs" / first.key
    manifest = json.loads((folder / "manifest.json").read_text())
    stored = torch.load(folder / manifest["checkpoint"], weights_only=True)
    keys = torch.from_numpy(np.random.get_state()[1].copy())
    stored["trainer"]["numpy_rng"] = ("MT19937", keys, 624, 0, 0.0)
    for path in folder.glob("ckpt-*.pt"):
        path.unlink()
    buf = io.BytesIO()
    torch.save(stored, buf)
    (folder / "checkpoint.pt").write_bytes(buf.getvalue())
    del manifest["checkpoint"]
    manifest["checkpoint_sha256"] = cache._sha256(buf.getvalue())
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert lines[0].startswith(f"loaded run {first.key}")
    assert metrics(again) == metrics(first)
    state = a2_train.Trainer(TINY, tiny_data).state_dict()
    assert "numpy_rng" not in state  # what is saved now
