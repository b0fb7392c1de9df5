"""A failed section or render keeps the previous PDF, code notebook and
site byte for byte, names what failed, and exits non-zero."""
from __future__ import annotations

from pathlib import Path

from conftest import (PY, REPO, build_cli, one_error_line, run, snapshot,
                      write_notebook)
from test_build import alpha_cells, make_scratch


def earlier_build(root: Path) -> None:
    """What an earlier successful build left: executed notebooks, the
    data stamp, and dist/ (fake bytes: only their survival matters)."""
    for rel in ("build/full/exec/1-alpha.ipynb",
                "build/full/exec/2-beta.ipynb", "dist/a2-writeup.pdf",
                "dist/a2-code.ipynb", "dist/site/index.html",
                "dist/site/1-alpha.html"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"earlier {rel}\n")
    (root / "build/full/data.stamp").write_text("download\n")


def test_a_section_that_raises_keeps_every_output_and_names_the_cell(
        tmp_path: Path, a2_cache: Path) -> None:
    root = make_scratch(tmp_path / "book")
    earlier_build(root)
    write_notebook(root / "report/1-alpha.ipynb",
                   alpha_cells("raise ValueError('boom')"))
    before = snapshot(root / "dist", root / "build/full/exec")
    proc = run(["make", "--no-print-directory", "-f",
                str(REPO / "Makefile"), f"VENV={Path(PY).parents[1]}",
                "SETUP=", "DATA=download", "pdf"], root)
    line = one_error_line(proc)
    assert line == "error: section 1-alpha failed in cell 4: ValueError: boom"
    assert "build/full/failed/1-alpha.ipynb" in proc.stderr
    assert snapshot(root / "dist", root / "build/full/exec") == before
    assert not list((root / "build/full/exec").glob(".*"))  # no temp left


def test_a_render_that_fails_keeps_the_previous_pdf_and_site(
        tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    earlier_build(root)
    (root / "build/full/exec/1-alpha.ipynb").write_text('{"cells": [')
    before = snapshot(root / "dist")
    for what in ("pdf", "html"):
        proc = build_cli(root, "render", what, "--dist", str(root / "dist"))
        line = one_error_line(proc)
        assert line == (
            f"error: executed notebook {root}/build/full/exec/1-alpha.ipynb"
            " is unreadable (JSONDecodeError); run `make section "
            "S=1-alpha` to execute it again")
    assert snapshot(root / "dist") == before
    assert not list((root / "dist").glob(".*"))  # no temp left
