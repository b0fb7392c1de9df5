"""A failed or interrupted section or render keeps the previous PDF, code
notebook and site byte for byte (the three change together or not at
all), names what failed in one line, leaves nothing behind, and exits
non-zero; a build stopped by the pid another build names stops whole."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FAKE_QUARTO, make_cmd, one_error_line, run, snapshot
from test_build import alpha, make_scratch

OUTPUTS = ("a2-writeup.pdf", "a2-code.ipynb", "site/index.html")


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_scratch(tmp_path_factory.mktemp("renders") / "book")
    proc = run(make_cmd("DATA=download", "pdf"), root)
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def book(built: Path, tmp_path: Path) -> Path:
    """The built scratch book with a prose edit: the next build renders
    (and executes nothing)."""
    root = tmp_path / "book"
    shutil.copytree(built, root, symlinks=True)
    index = root / "index.md"
    index.write_text(index.read_text() + "\nAgain.\n")
    return root


def outputs(root: Path) -> dict[str, str]:
    return snapshot(root / "dist")


def nothing_left(root: Path) -> None:
    """No half-written outputs beside dist/, no temporary notebooks."""
    assert not list(root.glob(".dist*")), list(root.glob(".dist*"))
    assert not list((root / "build/full/exec").glob(".*"))
    assert not list((root / "build/full/provenance").glob(".*"))


def test_a_section_that_raises_keeps_every_output_and_names_the_chunk(
    book: Path,
) -> None:
    (book / "report/1-optimization.qmd").write_text(
        alpha("raise ValueError('boom')")
    )
    before = snapshot(book / "dist", book / "build/full/exec")
    line = one_error_line(run(make_cmd("DATA=download", "pdf"), book))
    assert line == (
        "error: report/1-optimization.qmd:16 (raise ValueError('boom')): "
        "ValueError: boom (full log: build/full/logs/1-optimization.log)"
    )
    assert snapshot(book / "dist", book / "build/full/exec") == before
    assert (book / "build/full/failed/1-optimization.ipynb").is_file()
    nothing_left(book)


def test_a_render_that_fails_keeps_the_three_outputs(book: Path) -> None:
    before = outputs(book)
    proc = run(
        make_cmd("DATA=download", "pdf"), book, {"FAKE_QUARTO_FAIL": "1"}
    )
    line = one_error_line(proc)
    assert line.startswith("error: quarto render failed (exit 1): ERROR:")
    assert line.endswith("the previous outputs are kept")
    assert outputs(book) == before
    nothing_left(book)


def test_an_unreadable_executed_notebook_is_executed_again(
    book: Path,
) -> None:
    """A torn executed notebook (a full disk, an editor) is no record:
    the section executes again rather than fail the render."""
    (book / "build/full/exec/1-optimization.ipynb").write_text('{"cells": [')
    proc = run(make_cmd("DATA=download", "pdf"), book)
    assert proc.returncode == 0, proc.stderr
    assert "1-optimization: executing (not executed yet)" in proc.stderr
    assert "Alpha ran 2 steps." in (book / "dist/site/index.html").read_text()
    nothing_left(book)


def _start(book: Path, env: dict[str, str]) -> subprocess.Popen:
    """`make pdf` in its own session (a terminal's foreground group)."""
    full = {**os.environ, "QUARTO": str(FAKE_QUARTO), **env}
    full.pop("MAKEFLAGS", None)
    return subprocess.Popen(
        make_cmd("DATA=download", "pdf"),
        cwd=book,
        env=full,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_while_quarto_renders_keeps_the_three_outputs(
    book: Path, tmp_path: Path
) -> None:
    """Ctrl-C reaches make, the build and Quarto (one process group):
    one line, the previous three outputs, and make deletes nothing."""
    before = outputs(book)
    pids = tmp_path / "quarto.pids"
    proc = _start(
        book, {"FAKE_QUARTO_SLEEP": "60", "FAKE_QUARTO_PIDS": str(pids)}
    )
    _wait_for(pids, proc)
    time.sleep(0.5)  # both renders started
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert errors == ["error: interrupted; the previous outputs are kept"]
    assert "Traceback" not in err and "Deleting" not in err
    assert outputs(book) == before
    nothing_left(book)
    for pid in map(int, pids.read_text().split()):
        assert not _alive(pid)


def test_killing_the_build_another_build_names_stops_it_whole(
    book: Path, tmp_path: Path
) -> None:
    """The second build names the pid holding the tree; `kill PID` stops
    the first build and its renderer (no orphan goes on writing), and
    the second then builds."""
    pids = tmp_path / "quarto.pids"
    first = _start(
        book, {"FAKE_QUARTO_SLEEP": "60", "FAKE_QUARTO_PIDS": str(pids)}
    )
    _wait_for(pids, first)
    second = _start(book, {})
    deadline = time.monotonic() + 30
    line = ""
    while "another build is running" not in line:
        line = second.stderr.readline()
        assert time.monotonic() < deadline and line, line
    pid = int(line.split("(pid ")[1].split(";")[0])
    assert f"`kill {pid}` stops it" in line
    os.kill(pid, signal.SIGTERM)
    _, err = first.communicate(timeout=60)
    assert first.returncode != 0
    assert "error: interrupted; the previous outputs are kept" in err
    for quarto in map(int, pids.read_text().split()):
        assert not _alive(quarto)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "Again." in (book / "dist/site/index.html").read_text()
    nothing_left(book)


STEPS = [
    ("assemble", "a2.pipeline.render.assemble"),
    ("stage", "a2.pipeline.render.stage"),
    ("quarto", "a2.pipeline.render._quarto"),
    ("collect the PDF and site", "a2.pipeline.render._collect"),
    ("switch", "a2.pipeline.render.switch"),
]


@pytest.mark.parametrize("fault", ["full disk", "Ctrl-C"])
@pytest.mark.parametrize("step", [s for s, _ in STEPS])
def test_a_fault_at_any_step_of_the_render_keeps_the_three_outputs(
    book: Path, monkeypatch: pytest.MonkeyPatch, step: str, fault: str
) -> None:
    """ENOSPC or Ctrl-C at each step of the render and of the switch:
    one short line, the previous outputs kept, nothing half-written left
    beside them."""
    from a2.pipeline import BuildError, sections
    from a2.pipeline.__main__ import main

    target = dict(STEPS)[step]
    module, _, name = target.rpartition(".")
    owner = __import__("importlib").import_module(module)
    real = getattr(owner, name)

    def failing(*args, **kwargs):
        if step != "switch":
            real(*args, **kwargs)  # the step's writes happen, then it fails
        if fault == "Ctrl-C":
            raise KeyboardInterrupt
        raise OSError(errno.ENOSPC, "No space left on device", "somewhere")

    monkeypatch.setattr(owner, name, failing)
    monkeypatch.setenv("QUARTO", str(FAKE_QUARTO))
    monkeypatch.setenv("A2_DATA", "download")
    monkeypatch.chdir(book)
    sections.section_modules.cache_clear()
    sections.executed_code.cache_clear()
    before = outputs(book)
    with pytest.raises(BuildError) as err:
        main(["--root", str(book), "pdf"])
    line = str(err.value)
    assert "\n" not in line and len(line) < 200, line
    expected = (
        "interrupted" if fault == "Ctrl-C" else "No space left on device"
    )
    assert expected in line and "previous outputs are kept" in line
    assert outputs(book) == before
    nothing_left(book)
