"""`make preview S=4` around a stand-in for Quarto (the real one:
tests/test_preview.py): what it passes to Quarto, and how it stops. A
Ctrl-C, a `kill` or a closed terminal ends Quarto's whole process group
and removes what Quarto wrote beside the chapter, nothing else. The
Quarto pre-render step's lines (report/a2-pre-render.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
HOOK = REPO / "report" / "a2-pre-render.py"

# What `quarto preview` does that matters here: it writes its scratch
# files beside the chapter, starts a child of its own, says where to
# browse, and serves until stopped.
STAND_IN = """\
import json, os, subprocess, sys, time
from pathlib import Path
if sys.argv[1:] == ["--version"]:
    print("0.0.0-stand-in")
    sys.exit(0)
chapter = Path(sys.argv[2])
(chapter.parent / (chapter.stem + "_files")).mkdir()
(chapter.parent / (chapter.stem + ".quarto_ipynb")).write_text("{}")
sleep = "import time; time.sleep(600)"
child = subprocess.Popen([sys.executable, "-c", sleep])
Path(os.environ["STAND_IN_RECORD"]).write_text(json.dumps({
    "argv": sys.argv[1:],
    "python": os.environ.get("QUARTO_PYTHON"),
    "pids": [os.getpid(), child.pid],
}))
print("Browse at http://localhost:1/", flush=True)
if os.environ.get("STAND_IN_EXIT"):  # an error Quarto has shown
    child.kill()
    sys.exit(int(os.environ["STAND_IN_EXIT"]))
time.sleep(600)
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """The files a preview reads: chapters, params files, manifests."""
    root = tmp_path / "book"
    for name in (
        "report",
        "params",
        "_quarto.yml",
        "_quarto-chapter.yml",
        "index.md",
    ):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    quarto = tmp_path / "quarto"
    quarto.write_text(f"#!{sys.executable}\n{STAND_IN}")
    quarto.chmod(0o755)
    return root


def start(
    book: Path, *args: str, **more: str
) -> tuple[subprocess.Popen, Path]:
    """`make preview` in a session of its own, as from a terminal."""
    record = book.parent / "record.json"
    env = {
        **os.environ,
        "QUARTO": str(book.parent / "quarto"),
        "STAND_IN_RECORD": str(record),
        **more,
    }
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "a2.pipeline", "--root", str(book)),
            *("--profile", "smoke", "preview", *args),
        ],
        cwd=book,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not (record.is_file() and record.read_text()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "Quarto never started"
        time.sleep(0.05)
    time.sleep(0.2)
    return proc, record


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


STOPS = {
    "Ctrl-C": lambda proc: os.killpg(proc.pid, signal.SIGINT),
    "kill PID": lambda proc: os.kill(proc.pid, signal.SIGTERM),
    "closed terminal": lambda proc: os.killpg(proc.pid, signal.SIGHUP),
}


@pytest.mark.parametrize("stop", list(STOPS))
def test_a_stop_ends_quarto_whole_and_takes_its_scratch_files(
    book: Path, stop: str
) -> None:
    kept = book / "report" / "4-pooling.html"
    kept.write_text("there before the preview")
    proc, record = start(book, "4")
    pids = json.loads(record.read_text())["pids"]
    assert (book / "report/4-pooling_files").is_dir()
    STOPS[stop](proc)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "preview stopped" in err and "Traceback" not in err, err
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids):
        assert time.monotonic() < deadline, "Quarto's processes outlive it"
        time.sleep(0.05)
    left = {p.name for p in (book / "report").iterdir()}
    assert left == {p.name for p in (REPO / "report").iterdir()} | {kept.name}
    assert kept.read_text() == "there before the preview"


def test_quarto_ending_by_itself_is_one_line_and_leaves_nothing(
    book: Path,
) -> None:
    proc, _ = start(book, "4", STAND_IN_EXIT="3")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.splitlines()[-1] == (
        "error: quarto preview ended (exit 3); see above"
    )
    left = {p.name for p in (book / "report").iterdir()}
    assert left == {p.name for p in (REPO / "report").iterdir()}


def test_quarto_gets_the_chapter_alone_its_parameters_and_the_venv(
    book: Path, tmp_path: Path
) -> None:
    """The chapter profile, the book's chapter number, the parameters
    the build would use (params file, profile, then PARAMS= over both)
    and the project's Python; --quarto-arg passes one on."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("epochs: 3\n")
    proc, record = start(book, "4", "--params", str(mine), "--quarto-arg=-x")
    seen = json.loads(record.read_text())
    STOPS["Ctrl-C"](proc)
    proc.communicate(timeout=60)
    argv = seen["argv"]
    assert argv[:2] == ["preview", "report/4-pooling.qmd"]
    assert argv[argv.index("--profile") + 1] == "chapter"
    assert argv[argv.index("-M") + 1] == "number-offset:[4]"
    assert argv[-1] == "-x"
    given = json.loads(
        Path(argv[argv.index("--execute-params") + 1]).read_text()
    )
    smoke = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    assert given == {"params": {**smoke["4-pooling"], "epochs": 3}}
    assert seen["python"] == sys.executable


def test_the_appendix_is_previewed_without_chapter_numbers(book: Path) -> None:
    """The book letters its appendix (A.1), which one document cannot."""
    proc, record = start(book, "6")
    argv = json.loads(record.read_text())["argv"]
    STOPS["Ctrl-C"](proc)
    proc.communicate(timeout=60)
    assert argv[:2] == ["preview", "report/6-reproducibility.qmd"]
    assert argv[argv.index("-M") + 1] == "number-sections:false"


def test_make_preview_passes_the_section_through(book: Path) -> None:
    """The Makefile's target, with a section that does not exist: the
    build's one line, before Quarto starts."""
    proc = subprocess.run(
        [
            *("make", "--no-print-directory", "-f", str(REPO / "Makefile")),
            *(f"VENV={Path(sys.executable).parents[1]}", "SETUP="),
            *("preview", "S=9 'x'"),
        ],
        cwd=book,
        env={**os.environ, "QUARTO": str(book.parent / "quarto")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: unknown section '9 'x''"), (
        proc.stderr
    )
    assert not (book.parent / "record.json").exists()


def hook(*python: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, **env}
    full.pop("QUARTO_PROJECT_RENDER_ALL", None)
    full.update(env)
    return subprocess.run(
        [*python, str(HOOK)], env=full, capture_output=True, text=True
    )


def test_the_pre_render_step_sends_the_whole_book_to_make_pdf() -> None:
    proc = hook(sys.executable, QUARTO_PROJECT_RENDER_ALL="1")
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: the book is built by `make pdf`")


def test_the_pre_render_step_names_a_python_without_the_project() -> None:
    """Quarto's Python without a2 and Jupyter (here: site-packages off)
    is one line naming it and the project's, before the kernel fails."""
    proc = hook(sys.executable, "-S")
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: Quarto runs {sys.executable}, which lacks")
    assert "a2, nbformat, nbclient, ipykernel" in line
    assert "QUARTO_PYTHON=" in line and ".venv/bin/python" in line


def test_the_pre_render_step_lets_a_chapter_through() -> None:
    proc = hook(sys.executable)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
