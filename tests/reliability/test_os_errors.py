"""Operating-system errors and running out of memory end every entry
point in one line naming the file, with a non-zero status and no
traceback (issue 21, class 7): a params path longer than the file-name
limit, no permission, a full disk, a MemoryError."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PY, one_error_line, run

import a2.__main__ as cli
from a2.fileio import os_error_line

LONG = "p" * 300  # one name past the 255-byte limit
BENCH = Path(__file__).resolve().parents[2] / "bench"


# --- the one formatting helper ----------------------------------------------


def test_an_os_error_is_one_short_line_naming_the_file():
    name = "/data/" + "x" * 5000 + ".yaml"
    err = OSError(errno.ENAMETOOLONG, "File name too long", name)
    line = os_error_line(err, "params file")
    assert line.startswith("params file /data/xxx") and "..." in line
    assert line.endswith("xxx.yaml: File name too long")
    assert len(line) < 250 and "\n" not in line


@pytest.mark.parametrize(
    "err, line",
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/a/b"),
            "/a/b: Permission denied",
        ),
        (
            OSError(
                errno.EXDEV, "Invalid cross-device link", "/c", None, "/d"
            ),
            "/c -> /d: Invalid cross-device link",
        ),
        (OSError(errno.EIO, None), "Input/output error"),  # strerror unset
        (OSError("no errno at all"), "OSError: no errno at all"),
        (
            FileNotFoundError(errno.ENOENT, "No such file", "a\x1b[2J\nb"),
            "a?b: No such file",
        ),
    ],
)
def test_os_error_line_forms(err, line):
    assert os_error_line(err) == line


# --- python -m a2 ------------------------------------------------------------


def test_a_params_path_past_the_name_limit_is_one_line(tmp_path):
    """The issue's case: OSError: [Errno 36] with a traceback."""
    path = tmp_path / f"{LONG}.yaml"
    proc = run([PY, "-m", "a2", "train", "--params", str(path)], tmp_path)
    line = one_error_line(proc)
    assert proc.returncode == 2
    assert line.startswith(f"error: {tmp_path}/ppp")
    assert line.endswith("ppp.yaml: cannot be read (File name too long)")


@pytest.mark.parametrize("key", ["palette", "A2_DATA"])
def test_a_data_or_palette_path_past_the_name_limit_is_one_line(
    tmp_path, horse_npz, a2_cache, key
):
    path = tmp_path / f"{LONG}.npz"
    args, env = [PY, "-m", "a2", "train"], {"A2_CACHE": str(a2_cache)}
    if key == "palette":
        args += ["--set", f"palette={path}"]
        env["A2_DATA"] = str(horse_npz)
    else:
        env["A2_DATA"] = str(path)
    line = one_error_line(run(args, tmp_path, env))
    assert "File name too long" in line and "ppp" in line
    assert len(line) < 700


@pytest.mark.parametrize(
    "raised, says",
    [
        (
            OSError(errno.ENOSPC, "No space left on device", "/c/ckpt.pt"),
            "error: /c/ckpt.pt: No space left on device",
        ),
        (
            PermissionError(errno.EACCES, "Permission denied", "/p.yaml"),
            "error: /p.yaml: Permission denied",
        ),
        (MemoryError(), "error: out of memory in 'python -m a2 train'"),
    ],
)
def test_os_errors_and_memory_end_the_command_line_in_one_line(
    monkeypatch, capsys, raised, says
):
    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(cli, "load_yaml", fail)
    assert cli.main(["train", "--params", "x.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1, err


# --- bench scripts that take paths -------------------------------------------


@pytest.mark.parametrize(
    "script, args",
    [
        ("bench_train.py", ["--before", f"/tmp/{LONG}.py"]),
        ("bench_schedule.py", ["--data", f"/tmp/{LONG}.npz"]),
    ],
)
def test_a_bench_path_past_the_name_limit_is_one_line(script, args):
    out = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "File name too long" in lines[0], out.stderr
    assert lines[0].startswith(script.removesuffix(".py") + ": ")
