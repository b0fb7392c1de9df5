"""A cached run is not trusted by its key alone (issue 21, class 8): on
load, what the key hashes (config, data content, training code) is
compared with what the checkpoint and manifest hold, and a mismatch is
"damaged": one line, then trained again from scratch, as for a
checkpoint that does not fit the model. Manifests and checkpoints are
read only when regular files of a size such a run can have (class 4),
and what the cache prints of them is printable (class 9)."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest
import torch

from a2.colour import cache
from a2.colour.train import RunConfig

TINY = RunConfig(num_filters=4, batch_size=64, epochs=2, device="cpu")


def metrics(run) -> list[tuple]:
    return [(r.train_loss, r.valid_loss, r.valid_acc) for r in run.history]


@pytest.fixture(scope="session")
def straight(tiny_data, tmp_path_factory) -> dict[int, list[tuple]]:
    """Seeds 0 and 1 trained in a cache of their own: what a retrained
    run must reach."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(tmp_path_factory.mktemp("straight")))
        return {
            seed: metrics(
                cache.train_or_load(
                    TINY.replace(seed=seed), tiny_data, log=None
                )
            )
            for seed in (0, 1)
        }


def rewrite(folder: Path, checkpoint=None, manifest=None) -> None:
    """Change a stored run's checkpoint and manifest in place, keeping
    the checksum valid (as one who copies or edits entries would)."""
    info = json.loads((folder / "manifest.json").read_text())
    path = folder / info["checkpoint"]
    stored = torch.load(path, weights_only=True)
    if checkpoint:
        checkpoint(stored)
    buf = io.BytesIO()
    torch.save(stored, buf)
    path.write_bytes(buf.getvalue())
    info["checkpoint_sha256"] = cache._sha256(buf.getvalue())
    if manifest:
        manifest(info)
    (folder / "manifest.json").write_text(json.dumps(info))


def saved_as(folder: Path, key: str) -> Path:
    """The run in ``folder`` copied to ``key``'s folder and saved under
    that key throughout: only its contents tell it apart."""
    other = folder.parent / key
    shutil.copytree(folder, other)

    def rekey(d: dict) -> None:
        d["key"] = key
        d["meta"]["key"] = key

    rewrite(other, rekey, rekey)
    return other


def damaged_then_trained(lines: list[str], key: str) -> str:
    (line,) = [ln for ln in lines if "damaged" in ln]
    assert line.startswith(f"cache entry {key} is damaged (")
    assert line.endswith("; training it again from scratch")
    assert any(ln.startswith(f"training run {key}") for ln in lines), lines
    return line


def test_a_checkpoint_of_another_seed_under_this_key_is_retrained(
    a2_cache, tiny_data, straight
):
    """The issue's case: seed 0's run stored under seed 1's key."""
    seed0 = cache.train_or_load(TINY, tiny_data, log=None)
    key1 = cache.run_key(TINY.replace(seed=1), tiny_data)
    saved_as(a2_cache / "runs" / seed0.key, key1)
    lines: list[str] = []
    again = cache.train_or_load(
        TINY.replace(seed=1), tiny_data, log=lines.append
    )
    line = damaged_then_trained(lines, key1)
    assert "(holds another run: seed 0, not 1)" in line
    assert metrics(again) == straight[1] != straight[0]
    stored = json.loads(
        (a2_cache / "runs" / key1 / "manifest.json").read_text()
    )
    assert stored["config"]["seed"] == 1


def test_a_run_on_other_data_under_this_key_is_retrained(a2_cache, tiny_data):
    fewer = dataclasses.replace(
        tiny_data,
        train_grey=tiny_data.train_grey[:64],
        train_rgb=tiny_data.train_rgb[:64],
        train_target=tiny_data.train_target[:64],
        identity={**tiny_data.identity, "n_train": 64},
    )
    first = cache.train_or_load(TINY, tiny_data, log=None)
    key = cache.run_key(TINY, fewer)
    assert key != first.key
    saved_as(a2_cache / "runs" / first.key, key)
    lines: list[str] = []
    cache.train_or_load(TINY, fewer, log=lines.append)
    assert "(holds a run on other data)" in damaged_then_trained(lines, key)


def test_a_run_of_other_training_code_under_this_key_is_retrained(
    a2_cache, tiny_data
):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    folder = a2_cache / "runs" / first.key

    def other_code(d: dict) -> None:
        d["meta"]["request"]["code"]["train"] = "0" * 64

    rewrite(folder, other_code, other_code)
    lines: list[str] = []
    cache.train_or_load(TINY, tiny_data, log=lines.append)
    line = damaged_then_trained(lines, first.key)
    assert "(holds a run of other training code)" in line


def test_an_entry_from_before_the_request_was_stored_is_checked_by_config(
    a2_cache, tiny_data, straight
):
    """Older entries hold no request: same config and data subset load,
    another config under the key is damaged."""
    first = cache.train_or_load(TINY, tiny_data, log=None)
    folder = a2_cache / "runs" / first.key

    def legacy(d: dict) -> None:
        d["meta"].pop("request")

    rewrite(folder, legacy, legacy)
    lines: list[str] = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert lines[0].startswith(f"loaded run {first.key}"), lines
    assert metrics(again) == straight[0]

    def subset(d: dict) -> None:
        d["meta"]["data"]["n_train"] = 64

    rewrite(folder, subset)
    lines = []
    cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert "(holds a run on other data)" in damaged_then_trained(
        lines, first.key
    )


def test_a_manifest_that_disagrees_with_its_checkpoint_is_damaged(
    a2_cache, tiny_data
):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    folder = a2_cache / "runs" / first.key
    rewrite(folder, manifest=lambda m: m["config"].update(seed=7))
    lines: list[str] = []
    cache.train_or_load(TINY, tiny_data, log=lines.append)
    line = damaged_then_trained(lines, first.key)
    assert "its manifest and checkpoint disagree" in line


def test_a_listing_names_a_manifest_in_another_runs_folder(
    a2_cache, tiny_data
):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    shutil.copytree(
        a2_cache / "runs" / first.key, a2_cache / "runs" / ("f" * 16)
    )
    good, bad = cache.scan_runs()
    assert [m["key"] for m in good] == [first.key]
    (line,) = bad
    assert f'is malformed (ValueError: holds run "{first.key}")' in line


# --- files of the cache: regular, and of a run's size -----------------------


@pytest.fixture
def stored(a2_cache, tiny_data) -> Path:
    run = cache.train_or_load(TINY, tiny_data, log=None)
    return a2_cache / "runs" / run.key


def _within(seconds: int):
    def late(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    signal.signal(signal.SIGALRM, late)
    signal.alarm(seconds)


def test_a_manifest_that_is_a_fifo_is_damaged_not_waited_for(
    stored, tiny_data
):
    (stored / "manifest.json").unlink()
    os.mkfifo(stored / "manifest.json")
    _within(20)
    try:
        lines: list[str] = []
        run = cache.train_or_load(TINY, tiny_data, log=lines.append)
        assert cache.stored_epochs(run.key) == 2  # retrained and stored
    finally:
        signal.alarm(0)
    line = damaged_then_trained(lines, stored.name)
    assert "is a named pipe (FIFO), not a regular file" in line


@pytest.mark.parametrize("kind", ["/dev/zero", "oversized"])
def test_a_checkpoint_that_is_a_device_or_too_large_is_damaged(
    stored, tiny_data, kind
):
    info = json.loads((stored / "manifest.json").read_text())
    path = stored / info["checkpoint"]
    path.unlink()
    if kind == "/dev/zero":
        path.symlink_to("/dev/zero")
    else:
        with open(path, "wb") as fh:
            fh.truncate(1 << 40)  # sparse: a terabyte on paper
    _within(20)
    try:
        lines: list[str] = []
        cache.train_or_load(TINY, tiny_data, log=lines.append)
    finally:
        signal.alarm(0)
    line = damaged_then_trained(lines, stored.name)
    said = "is a character device" if kind == "/dev/zero" else "holds 1,099"
    assert said in line


EVIL = "\x1b[2J\x1b]0;x\x07\r\u202eowned"
STORED = {
    # the sections cite a run's devices in their prose: only torch's
    "devices": lambda d: d["meta"].update(devices=["cpu", EVIL]),
    "key": lambda d: d.update(key=EVIL),
}


@pytest.mark.parametrize("field", STORED)
def test_stored_strings_are_checked_and_reach_the_log_printable(
    stored, tiny_data, field
):
    """A checkpoint's fields in a shared cache: a device that is no torch
    device, or another key, is damaged; no line carries a control
    character."""
    rewrite(stored, STORED[field], STORED[field])
    lines: list[str] = []
    cache.train_or_load(TINY, tiny_data, log=lines.append)
    line = damaged_then_trained(lines, stored.name)
    assert ("no torch device" if field == "devices" else "holds run") in line
    for line in lines:
        assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", line), line
