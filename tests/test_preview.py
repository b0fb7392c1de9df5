"""Quarto's own habits with the real Quarto: a chapter renders with
plain Quarto, as an editor's Preview button does (Quarto executes the
.qmd itself, the runs come from the cache) and shows the same numbers as
the build; `make preview` shows one chapter alone, live, and stops
whole; `quarto render` of the whole book says, in one line, to use
`make pdf` (the launcher's stops, with a stand-in: test_preview_stops)."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SOURCES = (
    "report",
    "params",
    "_quarto.yml",
    "_quarto-chapter.yml",
    "index.md",
)


def copy_book(root: Path) -> Path:
    """What Quarto reads of the repository (the venv has the library)."""
    for name in SOURCES:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    return root


def files(root: Path) -> set[str]:
    """Every file under ``root`` but Quarto's scratch folder, .quarto/."""
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".quarto" not in p.relative_to(root).parts
    }


def text(page: str) -> str:
    """The words of a page, its entities read (&nbsp; as a space)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def answer(page: str) -> str:
    """The sentence of 4.2's answer that states the accuracy."""
    found = re.search(
        r"After \d+ epochs?(?: \([^)]*\))? the network gives [\d.]+%", page
    )
    assert found, page[:2000]
    return found.group(0)


def test_quarto_render_of_one_chapter_shows_the_builds_numbers(
    smoke_dist: Path, smoke_data: str, quarto_path: str, tmp_path: Path
) -> None:
    book = copy_book(tmp_path / "book")
    smoke = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    (tmp_path / "p.yml").write_text(
        yaml.safe_dump({"params": smoke["4-pooling"]})
    )
    env = {
        **os.environ,
        "QUARTO_PYTHON": sys.executable,
        "A2_DATA": smoke_data,
    }
    proc = subprocess.run(
        [
            quarto_path,
            "render",
            "report/4-pooling.qmd",
            "--to",
            "html",
            "--execute-params",
            str(tmp_path / "p.yml"),
        ],
        cwd=book,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    preview = text((book / "_book/report/4-pooling.html").read_text())
    built = text((smoke_dist / "site/4-pooling.html").read_text())
    assert "{python}" not in preview
    assert answer(preview) == answer(built)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def marked(mark: str) -> list[int]:
    """Processes whose environment holds ``mark`` (whatever their
    session: Jupyter starts kernels in sessions of their own)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and mark.encode() in (
                (proc / "environ").read_bytes()
            ):
                found.append(int(proc.name))
        except OSError:  # gone, or not ours
            continue
    return found


def wait_for(what, seconds: float, proc: subprocess.Popen, log: Path):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + seconds
    while not (found := what()):
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    return found


def test_make_preview_shows_one_chapter_alone_then_stops_whole(
    smoke_dist: Path, smoke_data: str, quarto_path: str, tmp_path: Path
) -> None:
    """`make preview S=4 PROFILE=smoke`: the first page is section 4
    with the build's numbers and the book's section numbers, after
    executing section 4 only; an edit renders it again, and Ctrl-C in
    the middle of that render stops every process it started and takes
    Quarto's scratch files beside the chapter."""
    book = copy_book(tmp_path / "book")
    port, mark, log = (
        free_port(),
        f"a2-preview-{os.getpid()}",
        tmp_path / "log",
    )
    env = {
        **os.environ,
        "QUARTO": quarto_path,
        "A2_DATA": smoke_data,
        "A2_TEST_MARK": mark,
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "a2.pipeline", "--profile", "smoke"),
                *("preview", "4", "--quarto-arg=--no-browser"),
                *("--quarto-arg=--port", f"--quarto-arg={port}"),
            ],
            cwd=book,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a terminal's foreground job
        )
    try:
        wait_for(lambda: "Browse at" in log.read_text(), 600, proc, log)
        url = f"http://127.0.0.1:{port}/report/4-pooling.html"
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        built = (smoke_dist / "site/4-pooling.html").read_text()
        assert answer(text(page)) == answer(text(built))
        assert "4.2 Training PoolUpsampleNet" in text(page)
        executed = re.findall(r"Executing '([^']+)'", log.read_text())
        assert executed == ["4-pooling.quarto_ipynb"], executed

        chapter = book / "report/4-pooling.qmd"
        chapter.write_text(chapter.read_text() + "\nOne more line.\n")
        scratch = book / "report/4-pooling.quarto_ipynb"
        wait_for(scratch.exists, 120, proc, log)  # rendering again
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert "preview stopped" in log.read_text()
    deadline = time.monotonic() + 15  # a kernel sees its parent go in 1 s
    while marked(mark):
        assert time.monotonic() < deadline, f"left running: {marked(mark)}"
        time.sleep(0.2)
    assert {p for p in files(book) if not p.startswith("build/")} == {
        p for p in files(copy_book(tmp_path / "fresh"))
    }


def test_quarto_render_of_the_whole_book_is_one_line_to_make_pdf(
    quarto_path: str, tmp_path: Path
) -> None:
    """An editor's "Render Book": one line before anything executes,
    and nothing written but Quarto's scratch folder (.quarto/)."""
    book = copy_book(tmp_path / "book")
    before = files(book)
    proc = subprocess.run(
        [quarto_path, "render"],
        cwd=book,
        env={**os.environ, "QUARTO_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    errors = [ln for ln in out.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1, out
    assert errors[0].startswith("error: the book is built by `make pdf`")
    assert "Executing" not in out
    assert files(book) == before
