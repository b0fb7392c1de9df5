"""Nothing a stored file holds reaches a terminal raw (issue 21, class
9): listings and messages print manifest fields, file names and a
damaged file's reason through ``a2.text.printable``, so no escape
sequence can clear the screen, retitle the window or rewrite a line,
and no bidirectional control can reorder what is shown."""

from __future__ import annotations

import json
import re

import pytest
from conftest import PY, run

from a2.text import printable


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b[2J\x1b[Hclear", "clear"),  # CSI: cursor and screen
        ("\x1b]0;title\x07x", "x"),  # OSC: the window's title
        ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"),  # a hyperlink
        ("a\rb\nc\td", "a?b?c?d"),  # over-writing and extra lines
        ("\x9b31mred", "red"),  # C1 CSI
        ("bell\x07nul\x00del\x7f", "bell?nul?del?"),
        ("\u202eevil\u2066x\u2069", "?evil?x?"),  # bidirectional reordering
        ("\x1bc", ""),  # full reset
        ("plain: ü é 漢 ✓", "plain: ü é 漢 ✓"),
    ],
)
def test_printable_leaves_no_control_character(raw, shown):
    assert printable(raw) == shown


# --- terminal listings (class 9) ---------------------------------------------

EVIL = "\x1b[2J\x1b]0;owned\x07\r\u202ex"


def _manifest(key: str, model: str, devices: list[str]) -> dict:
    return {
        "key": key,
        "config": {"model": model, "kernel": 3, "num_filters": 8, "epochs": 2},
        "meta": {"devices": devices, "epochs_done": 2, "train_seconds": 1.5},
        "final": {"valid_loss": 1.5, "valid_acc": 40.0},
    }


def test_runs_listing_prints_no_control_characters(tmp_path):
    runs = tmp_path / "cache" / "runs"
    key = f"k{EVIL}"
    (runs / key).mkdir(parents=True)
    (runs / key / "manifest.json").write_text(
        json.dumps(_manifest(key, f"m{EVIL}", [f"d{EVIL}"]))
    )
    broken = runs / f"b{EVIL}"  # a malformed one: named in a warning
    broken.mkdir()
    (broken / "manifest.json").write_text(json.dumps({"key": EVIL}))
    proc = run(
        [PY, "-m", "a2", "runs"],
        tmp_path,
        {"A2_CACHE": str(tmp_path / "cache")},
    )
    assert proc.returncode == 0, proc.stderr
    for out in (proc.stdout, proc.stderr):
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", out), out
    (row,) = proc.stdout.splitlines()[1:]
    assert row.startswith("k??x") and "m??x" in row and "d??x" in row
    (warning,) = proc.stderr.splitlines()
    assert warning.startswith("warning: ") and "b??x" in warning


def test_cache_messages_print_no_control_characters():
    """The cache's lines name stored strings (devices, a damaged
    checkpoint's key): they reach the terminal through printable."""
    from a2.colour import cache

    lines: list[str] = []
    cache._say(lines.append, f"trained on {EVIL}")
    assert lines == ["trained on ??x"]


def test_error_lines_print_no_control_characters(tmp_path):
    bad = tmp_path / f"p{EVIL}.yaml"
    proc = run([PY, "-m", "a2", "train", "--params", str(bad)], tmp_path)
    assert proc.returncode == 2
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", proc.stderr)
    assert proc.stderr.startswith("error: ") and "p??x.yaml" in proc.stderr
