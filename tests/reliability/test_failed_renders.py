"""A failed section or render keeps the previous PDF, code notebook and
site byte for byte, names what failed, leaves nothing behind, and exits
non-zero."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PY, build_cli, make, one_error_line, snapshot
from test_build import alpha, make_scratch


def earlier_build(root: Path) -> None:
    """What an earlier successful build left: executed notebooks, the
    data stamp, and dist/ (fake bytes: only their survival matters)."""
    for rel in (
        "build/full/exec/1-optimization.ipynb",
        "build/full/exec/6-reproducibility.ipynb",
        "dist/a2-writeup.pdf",
        "dist/a2-code.ipynb",
        "dist/site/index.html",
        "dist/site/1-optimization.html",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"earlier {rel}\n")
    (root / "build/full/data.stamp").write_text("download")


def make_pdf(root: Path) -> subprocess.CompletedProcess:
    return make(root, "DATA=download", "pdf", timeout=120)


def test_a_section_that_raises_keeps_every_output_and_names_the_chunk(
    tmp_path: Path, a2_cache: Path
) -> None:
    root = make_scratch(tmp_path / "book")
    earlier_build(root)
    (root / "report/1-optimization.qmd").write_text(
        alpha("raise ValueError('boom')")
    )
    before = snapshot(root / "dist", root / "build/full/exec")
    line = one_error_line(make_pdf(root))
    assert line == (
        "error: section 1-optimization failed in code chunk 3 "
        "of report/1-optimization.qmd: ValueError: boom"
    )
    assert snapshot(root / "dist", root / "build/full/exec") == before
    assert (root / "build/full/failed/1-optimization.ipynb").is_file()
    assert not list((root / "build/full/exec").glob(".*"))  # no temp left
    assert not list((root / "build/full/provenance").glob(".*"))


def test_a_render_that_fails_keeps_the_previous_pdf_and_site(
    tmp_path: Path,
) -> None:
    root = make_scratch(tmp_path / "book")
    earlier_build(root)
    (root / "build/full/exec/1-optimization.ipynb").write_text('{"cells": [')
    before = snapshot(root / "dist")
    proc = build_cli(root, "render", "--dist", str(root / "dist"))
    line = one_error_line(proc)
    assert line == (
        f"error: executed notebook {root}/build/full/exec/"
        "1-optimization.ipynb is unreadable or missing (JSONDecodeError); "
        "run `make section S=1-optimization` to execute it again"
    )
    assert snapshot(root / "dist") == before
    assert not list((root / "dist").glob(".*"))  # no temp left
    assert not (root / "build/full/render").exists()


def test_a_render_interrupted_says_so_and_keeps_the_outputs(
    tmp_path: Path,
) -> None:
    """Ctrl-C while pandoc or Typst renders: one line saying it was
    interrupted, the previous outputs kept, no work folder left."""
    root = make_scratch(tmp_path / "book")
    assert make_pdf(root).returncode == 0
    before = snapshot(root / "dist")
    (root / "index.md").write_text("# Preface {.unnumbered}\n\nAgain.\n")
    proc = subprocess.Popen(
        [
            PY,
            "-m",
            "a2.pipeline",
            "--root",
            str(root),
            "--build",
            str(root / "build/full"),
            "render",
            "--dist",
            str(root / "dist"),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**__import__("os").environ, "A2_RENDERER": "embedded"},
    )
    deadline = time.monotonic() + 60
    while not (root / "build/full/render").exists():  # rendering began
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "interrupted" in errors[0], err
    assert "Traceback" not in err
    assert snapshot(root / "dist") == before
    assert not (root / "build/full/render").exists()
    assert not list((root / "dist").glob(".*"))


@pytest.mark.parametrize("where", ["site", "pdf"])
def test_a_full_disk_while_rendering_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """ENOSPC while the site or the PDF is written: one line, the old
    outputs kept, and the half-written work removed (it takes space)."""
    import errno
    import shutil

    from a2.pipeline import embedded
    from a2.pipeline.__main__ import main

    root = make_scratch(tmp_path / "book")
    assert make_pdf(root).returncode == 0
    before = snapshot(root / "dist")
    real = embedded.render_site if where == "site" else embedded.render_pdf

    def full(*args, **kw):
        real(*args, **kw)
        raise OSError(errno.ENOSPC, "No space left on device", str(args[-1]))

    monkeypatch.setattr(embedded, f"render_{where}", full)
    monkeypatch.setenv("A2_RENDERER", "embedded")
    with pytest.raises(OSError):
        main(
            [
                "--root",
                str(root),
                "--build",
                str(root / "build/full"),
                "render",
                "--dist",
                str(root / "dist"),
            ]
        )
    assert snapshot(root / "dist") == before
    assert not (root / "build/full/render").exists()
    assert not list((root / "dist").glob(".*"))
    assert shutil.disk_usage(root)  # the folder is still usable
