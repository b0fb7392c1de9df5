"""A failed or interrupted section or render keeps the previous PDF, code
notebook and site byte for byte (the three change together or not at
all), names what failed in one line, leaves nothing behind, and exits
non-zero. A signal (INT, TERM, HUP; to the build or to its process
group; while a chunk executes or Quarto renders) stops the build whole:
no process it started outlives it."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import (
    FAKE_QUARTO,
    PY,
    make_cmd,
    none_survive,
    one_error_line,
    run,
    snapshot,
    survivors,
)
from test_build import alpha, make_scratch

from a2.pipeline import stops

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
    for partial in ("book-pdf", "views"):  # a render's scratch copies
        assert not (root / "build/full" / partial).exists(), partial


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


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_a_terminals_signal_while_quarto_renders_keeps_the_three_outputs(
    book: Path, tmp_path: Path, signum: int
) -> None:
    """Ctrl-C, or a closed terminal, reaches make and the build (one
    process group; each render has a session of its own): one line from
    the build naming it, the previous three outputs, no render left, and
    make deletes nothing."""
    before = outputs(book)
    pids = tmp_path / "quarto.pids"
    proc = _start(
        book, {"FAKE_QUARTO_SLEEP": "60", "FAKE_QUARTO_PIDS": str(pids)}
    )
    _wait_for(pids, proc)
    time.sleep(0.5)  # both renders started
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    shown = stops.SIGNALS[signum]
    assert errors == [f"error: {shown}; the previous outputs are kept"]
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
    assert "error: stopped by SIGTERM; the previous outputs are kept" in err
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


@pytest.mark.parametrize("fault", ["full disk", "Ctrl-C", "SIGHUP"])
@pytest.mark.parametrize("step", [s for s, _ in STEPS])
def test_a_fault_at_any_step_of_the_render_keeps_the_three_outputs(
    book: Path, monkeypatch: pytest.MonkeyPatch, capsys, step: str, fault: str
) -> None:
    """ENOSPC, Ctrl-C or a hangup at each step of the render and of the
    switch: one short line, the previous outputs kept, nothing
    half-written left beside them, no render folder left in build/."""
    from a2.pipeline.__main__ import cli
    from a2.pipeline.stops import Stopped

    target = dict(STEPS)[step]
    module, _, name = target.rpartition(".")
    owner = __import__("importlib").import_module(module)
    real = getattr(owner, name)

    def failing(*args, **kwargs):
        if step != "switch":
            real(*args, **kwargs)  # the step's writes happen, then it fails
        if fault == "Ctrl-C":
            raise KeyboardInterrupt
        if fault == "SIGHUP":
            raise Stopped(signal.SIGHUP)
        raise OSError(errno.ENOSPC, "No space left on device", "somewhere")

    monkeypatch.setattr(owner, name, failing)
    monkeypatch.setenv("QUARTO", str(FAKE_QUARTO))
    monkeypatch.setenv("A2_DATA", "download")
    monkeypatch.chdir(book)
    before = outputs(book)
    assert cli(["--root", str(book), "pdf"]) != 0
    (line,) = capsys.readouterr().err.splitlines()[-1:]
    assert len(line) < 200, line
    expected = {
        "Ctrl-C": "error: interrupted",
        "SIGHUP": "error: stopped by SIGHUP (the terminal closed)",
        "full disk": "error: somewhere: No space left on device",
    }[fault]
    assert line == expected + "; the previous outputs are kept"
    assert outputs(book) == before
    nothing_left(book)
    for partial in ("book", "book-pdf", "views"):
        assert not (book / "build/full" / partial).exists(), partial


# --- whole stops: no process outlives the build -----------------------------

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP}


def _build(book: Path, token: str, env: dict[str, str]) -> subprocess.Popen:
    """`python -m a2.pipeline pdf` alone in a session: its process group
    is the build, as a terminal's would be (make aside)."""
    full = {**os.environ, "QUARTO": str(FAKE_QUARTO), "A2_DATA": "download"}
    full.pop("MAKEFLAGS", None)
    full.update({"A2_TEST_TOKEN": token, **env})
    return subprocess.Popen(
        [PY, "-m", "a2.pipeline", "--root", str(book), "pdf"],
        cwd=book,
        env=full,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _stop_and_check(
    book: Path, proc: subprocess.Popen, token: str, name: str, to: str
) -> None:
    """Send the signal; the build ends with one line naming it, the
    previous outputs stay, nothing half-made is left, no process lives."""
    signum = SIGNALS[name]
    if to == "the build":
        os.kill(proc.pid, signum)
    else:
        os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 128 + signum, err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    shown = stops.SIGNALS[signum]
    assert errors == [f"error: {shown}; the previous outputs are kept"], err
    assert "Traceback" not in err
    none_survive(token)
    nothing_left(book)


@pytest.mark.parametrize("to", ["the build", "its group"])
@pytest.mark.parametrize("name", SIGNALS)
def test_a_signal_while_quarto_renders_ends_quarto_and_its_children(
    book: Path, tmp_path: Path, name: str, to: str
) -> None:
    """Each of the three renders has a child of its own (as deno has
    pandoc); the signal reaches the build only (or its group, which
    holds no render): the build ends every render's whole group."""
    pids, token = tmp_path / "pids", f"stop-{name}-{to}-{os.getpid()}"
    before = outputs(book)
    proc = _build(
        book,
        token,
        {
            "FAKE_QUARTO_SLEEP": "60",
            "FAKE_QUARTO_CHILD": "1",
            "FAKE_QUARTO_PIDS": str(pids),
        },
    )
    deadline = time.monotonic() + 60
    while len(pids.read_text().split()) < 6 if pids.exists() else True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(survivors(token)) >= 7  # the build, 3 renders, 3 children
    _stop_and_check(book, proc, token, name, to)
    assert outputs(book) == before
    assert not (book / "build/full/book").exists()  # the stage, half-made


@pytest.mark.parametrize(
    ("name", "to"),
    [("INT", "its group"), ("TERM", "the build"), ("HUP", "its group")],
)
def test_a_signal_while_a_chunk_executes_ends_the_kernel_and_its_children(
    book: Path, tmp_path: Path, name: str, to: str
) -> None:
    """The kernel runs in a session of its own (jupyter_client starts it
    so), out of reach of the terminal's signals; a chunk that never ends
    has started a process of its own."""
    started, token = tmp_path / "started", f"kernel-{name}-{os.getpid()}"
    (book / "report/1-optimization.qmd").write_text(
        alpha(
            "import subprocess, sys, time\n"
            "subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(600)'])\n"
            f"open({str(started)!r}, 'w').close()\n"
            "while True:\n    time.sleep(1)"
        )
    )
    before = snapshot(book / "dist", book / "build/full/exec")
    proc = _build(book, token, {})
    _wait_for(started, proc)
    _stop_and_check(book, proc, token, name, to)
    assert snapshot(book / "dist", book / "build/full/exec") == before


def test_kill_during_a_real_render_leaves_no_pandoc_or_typst(
    book: Path, quarto_path: str
) -> None:
    """The issue's case with the real Quarto: `kill PID` (the pid that
    a waiting build names) while pandoc or typst runs."""
    token = f"quarto-{os.getpid()}"
    before = outputs(book)
    proc = _build(book, token, {"QUARTO": quarto_path})
    deadline = time.monotonic() + 240
    while not any(
        tool in line
        for line in survivors(token)
        for tool in ("pandoc", "typst")
    ):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no pandoc or typst in 240 s"
        time.sleep(0.05)
    _stop_and_check(book, proc, token, "TERM", "the build")
    assert outputs(book) == before
    assert not (book / "build/full/book").exists()


# --- leftovers -------------------------------------------------------------


def test_a_success_removes_the_sections_stale_failure_notebook(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure notebook an earlier run left goes when the section
    executes again and succeeds; another section's stays."""
    from a2.pipeline import sections
    from a2.pipeline.execute import execute

    failed = book / "build/full/failed"
    failed.mkdir(parents=True, exist_ok=True)
    for stem in ("1-optimization", "6-reproducibility"):
        (failed / f"{stem}.ipynb").write_text("{}")
    monkeypatch.setenv("A2_DATA", "download")
    (section,) = [s for s in sections.chapters(book) if s.stem[0] == "1"]
    execute(section, book / "build/full", {"steps": 2}, [], {})
    assert not (failed / "1-optimization.ipynb").exists()
    assert (failed / "6-reproducibility.ipynb").is_file()
    nothing_left(book)
