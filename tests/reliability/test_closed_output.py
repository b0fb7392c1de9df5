"""Training survives what happens to its output: `| head -1` closing the
pipe, a full disk under the log, standard output or error closed before
the start. Each time the run is trained and cached, the command ends
with 0 and no traceback, and at most one line says what was dropped."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from conftest import PY
from test_cache_faults import tiny_train_args

from a2.colour import cache

EPOCHS = 3
# (how the command's output goes, what stderr may say)
CASES = {
    "stdout read for one line, then closed (| head -1)": (
        "head",
        "warning: standard output failed (Broken pipe)",
    ),
    "stdout on a full disk (> /dev/full)": (
        "full",
        "warning: standard output failed (No space left on device)",
    ),
    "stdout and stderr closed (>&- 2>&-)": ("closed", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_what_is_trained_is_cached_whatever_happens_to_the_output(
    case, a2_cache, horse_npz, palette_file, tmp_path
):
    how, warning = CASES[case]
    args = [PY, "-m", "a2", *tiny_train_args(palette_file, EPOCHS)]
    env = {**os.environ, "A2_DATA": str(horse_npz)}
    streams: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    if how == "full":
        streams["stdout"] = open("/dev/full", "w")  # noqa: SIM115
    elif how == "closed":
        args = ["bash", "-c", 'exec "$@" >&- 2>&-', "-", *args]
        streams = {"stdout": None, "stderr": None}
    child = subprocess.Popen(args, env=env, **streams)
    if how == "head":
        assert child.stdout.readline().startswith(b"training run ")
        child.stdout.close()  # as head does after its line
    err = b""
    if child.stderr is not None:
        err = child.stderr.read()
    assert child.wait(timeout=300) == 0, err.decode()
    for stream in streams.values():
        if hasattr(stream, "close"):
            stream.close()
    text = err.decode()
    assert "Traceback" not in text and "error:" not in text, text
    if warning is not None:
        assert text.splitlines() == [
            f"{warning}; its lines are dropped, and training goes on into "
            f"the cache"
        ]
    (folder,) = (a2_cache / "runs").iterdir()
    manifest = json.loads((folder / cache.MANIFEST).read_text())
    assert manifest["complete"] and len(manifest["history"]) == EPOCHS


def test_a_listing_read_in_part_ends_quietly(monkeypatch, capsys):
    """`python -m a2 runs | head -1`: the reader closing the pipe is not
    an error of the listing (no "error: Broken pipe", exit 0)."""
    import io

    import a2.__main__ as cli

    row = {
        "key": "0" * 16,
        "config": {
            "model": "unet",
            "kernel": 3,
            "num_filters": 8,
            "epochs": 2,
        },
        "meta": {"devices": ["cpu"], "epochs_done": 2},
        "final": {},
    }
    monkeypatch.setattr(cache, "scan_runs", lambda: ([row] * 50, []))
    read, write = os.pipe()
    os.close(read)  # the reader is gone, as head is after its line
    monkeypatch.setattr(
        "sys.stdout",
        io.TextIOWrapper(os.fdopen(write, "wb"), line_buffering=True),
    )
    assert cli.main(["runs"]) == 0
    err = capsys.readouterr().err
    assert "error:" not in err and "Traceback" not in err, err
