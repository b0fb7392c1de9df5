"""The build's contract: dependency scanning, incremental execution, and
failures that leave the previous outputs in place.

Most tests drive the real Makefile against a scratch book (two tiny
notebooks, its own _quarto.yml and src/a2), using the project's venv.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from a2.pipeline import sections
from a2.pipeline.assemble import assemble

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"

MANIFEST = """\
book:
  title: "Scratch book"
  author: "Tester"
  chapters:
    - report/index.md
    - report/1-alpha.ipynb
  appendices:
    - report/2-beta.ipynb
"""


def write_notebook(path: Path, cells: list[tuple[str, str, list[str]]]
                   ) -> None:
    """cells: (kind, source, tags) with kind 'md' or 'code'."""
    nb = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        new = (nbformat.v4.new_markdown_cell if kind == "md"
               else nbformat.v4.new_code_cell)
        nb.cells.append(new(source, metadata={"tags": tags}))
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, path)


def alpha_cells(body: str = "a2.report.md(f'alpha ran {epochs} epochs')"
                ) -> list[tuple[str, str, list[str]]]:
    return [("md", "# 1 Alpha", []),
            ("code", "epochs = 3\nlr = 0.5", ["parameters"]),
            ("code", "import a2.report", []),
            ("code", body, [])]


def make_scratch(root: Path) -> Path:
    """A small book in root: section 1 uses a2.report, the appendix
    reads the data setting (a2.settings), so it is data-dependent."""
    (root / "report").mkdir(parents=True)
    (root / "params").mkdir()
    shutil.copytree(REPO / "src", root / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "_quarto.yml").write_text(MANIFEST)
    (root / "report/index.md").write_text("# Preface\n\nScratch.\n")
    write_notebook(root / "report/1-alpha.ipynb", alpha_cells())
    write_notebook(root / "report/2-beta.ipynb", [
        ("md", "# Appendix: Beta", []),
        ("code", "seed = 0", ["parameters"]),
        ("code", "from a2 import settings\nprint(settings.data_source())",
         [])])
    (root / "params/1-alpha.yaml").write_text("epochs: 2\n")
    (root / "params/smoke.yaml").write_text("epochs: 1\nn_train: 8\n")
    return root


def make(root: Path, *args: str, check: bool = True
         ) -> subprocess.CompletedProcess:
    env = {**os.environ, "A2_EMBEDDED_RENDERER": "1"}
    env.pop("MAKEFLAGS", None)
    proc = subprocess.run(
        ["make", "--no-print-directory", "-C", str(root), "-f",
         str(REPO / "Makefile"), f"VENV={VENV}", "SETUP=", "DATA=download",
         *args], capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"make {args} failed:\n{proc.stdout}\n"
                             f"{proc.stderr}")
    return proc


def executed(proc: subprocess.CompletedProcess) -> list[str]:
    """Sections a make run executed, from the build's log lines."""
    return [ln.split()[1] for ln in proc.stdout.splitlines()
            if ln.startswith("executing ")]


def stamps(root: Path) -> dict[str, float]:
    outs = [*sorted((root / "build/full/exec").glob("*.ipynb")),
            root / "dist/a2-writeup.pdf", root / "dist/a2-code.ipynb",
            root / "dist/site/index.html"]
    return {p.name: p.stat().st_mtime_ns for p in outs}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch book built once; tests that change it copy it first."""
    root = make_scratch(tmp_path_factory.mktemp("book") / "book")
    make(root, "pdf")
    return root


@pytest.fixture
def book(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "book"
    shutil.copytree(built, root, symlinks=True)
    return root


# --- dependency scanning ---------------------------------------------------

def test_dep_scanner_follows_imports_transitively(tmp_path: Path) -> None:
    pkg = tmp_path / "src/a2"
    (pkg / "pipeline").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from a2 import b\nfrom a2.b import helper\n")
    (pkg / "b.py").write_text("from . import c\n\ndef helper(): pass\n")
    (pkg / "c.py").write_text("import numpy\n")
    (pkg / "unused.py").write_text("")
    (pkg / "pipeline/__init__.py").write_text("")
    code = "%matplotlib inline\nimport a2.a\nfrom a2.pipeline import sections"
    assert sections.library_modules(tmp_path, code) == [
        "a2", "a2.c", "a2.b", "a2.a"]


def test_notebook_without_a2_imports_depends_on_no_library(
        tmp_path: Path) -> None:
    assert sections.library_modules(tmp_path, "import numpy as np") == []


def test_deps_makefile_lists_library_files_and_data_setting(
        tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    rules = sections.deps_makefile(root)
    assert ("$(B)/exec/1-alpha.ipynb: src/a2/__init__.py src/a2/report.py"
            in rules)
    assert "$(B)/exec/2-beta.ipynb: $(B)/data.stamp" in rules
    assert "$(B)/exec/1-alpha.ipynb: $(B)/data.stamp" not in rules
    assert "SECTIONS := 1-alpha 2-beta" in rules
    # the appendix reports on the chapters, so it runs after them
    assert ("$(B)/exec/2-beta.ipynb: $(B)/exec/1-alpha.ipynb" in rules)


def test_parameters_are_the_names_of_the_parameters_cell(
        tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    assert sections.parameters(root / "report/1-alpha.ipynb") == {
        "epochs": 3, "lr": 0.5}


def test_sections_resolve_by_stem_number_or_path(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    for name in ("2", "2-beta", "report/2-beta.ipynb"):
        assert sections.resolve(root, name).stem == "2-beta"
    with pytest.raises(sections.BuildError, match="1-alpha, 2-beta"):
        sections.resolve(root, "7")


def test_manifest_chapters_missing_on_disk_are_skipped(
        tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    (root / "_quarto.yml").write_text(
        MANIFEST + "    - report/3-later.ipynb\n")
    assert [s.stem for s in sections.chapters(root)] == [
        "index", "1-alpha", "2-beta"]


def test_notebooks_missing_from_the_manifest_are_reported(
        tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    write_notebook(root / "report/3-draft.ipynb", alpha_cells())
    assert sections.unlisted(root) == [root / "report/3-draft.ipynb"]


# --- incremental builds ----------------------------------------------------

def test_first_build_executes_every_section_and_writes_outputs(
        built: Path) -> None:
    for out in ("a2-writeup.pdf", "a2-code.ipynb", "site/index.html",
                "site/1-alpha.html", "site/2-beta.html",
                "site/a2-writeup.pdf", "site/a2-code.ipynb"):
        assert (built / "dist" / out).is_file(), out
    nb = nbformat.read(built / "build/full/exec/1-alpha.ipynb", 4)
    injected = [c for c in nb.cells
                if "injected-parameters" in c.metadata.get("tags", [])]
    assert "epochs = 2" in injected[0].source  # params/1-alpha.yaml


def test_no_change_rebuild_executes_nothing(book: Path) -> None:
    before = stamps(book)
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert "render" not in proc.stdout
    assert stamps(book) == before


def test_editing_one_params_file_reexecutes_that_section_and_appendix(
        book: Path) -> None:
    (book / "params/1-alpha.yaml").write_text("epochs: 5\n")
    proc = make(book, "pdf")
    assert executed(proc) == ["1-alpha", "2-beta"]  # appendix reports on 1
    assert "embedded" in proc.stdout  # the renderer says which it is


def test_library_change_reexecutes_the_sections_that_import_it(
        book: Path) -> None:
    with open(book / "src/a2/settings.py", "a") as f:
        f.write("\n# touched\n")
    assert executed(make(book, "pdf")) == ["2-beta"]


def test_build_code_is_not_library_code_of_a_section(book: Path) -> None:
    with open(book / "src/a2/pipeline/sections.py", "a") as f:
        f.write("\n# touched\n")
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert "render pdf" in proc.stdout


def test_changing_data_setting_reexecutes_data_sections(book: Path) -> None:
    proc = make(book, "pdf", "DATA=somewhere/cifar.npz")
    assert executed(proc) == ["2-beta"]
    nb = nbformat.read(book / "build/full/exec/2-beta.ipynb", 4)
    assert "somewhere/cifar.npz" in nb.cells[-1].outputs[0].text
    assert executed(make(book, "pdf", "DATA=somewhere/cifar.npz")) == []


def test_section_target_reruns_one_section_with_other_params(
        book: Path) -> None:
    other = book / "other.yaml"
    other.write_text("epochs: 9\n")
    proc = make(book, "section", "S=1", f"PARAMS={other}")
    assert executed(proc) == ["1-alpha", "2-beta"]
    site = (book / "dist/site/1-alpha.html").read_text()
    assert "alpha ran 9 epochs" in site


def test_section_target_with_unknown_name_lists_sections(book: Path) -> None:
    proc = make(book, "section", "S=nope", check=False)
    assert proc.returncode != 0
    assert "unknown section 'nope'; valid sections: 1-alpha, 2-beta" in (
        proc.stderr)
    assert "Traceback" not in proc.stderr


def test_smoke_profile_builds_apart_from_the_full_build(book: Path) -> None:
    before = stamps(book)
    proc = make(book, "pdf", "PROFILE=smoke")
    assert sorted(executed(proc)) == ["1-alpha", "2-beta"]
    assert (book / "build/smoke/dist/a2-writeup.pdf").is_file()
    assert stamps(book) == before
    nb = nbformat.read(book / "build/smoke/exec/1-alpha.ipynb", 4)
    assert "epochs = 1" in nb.cells[2].source  # profile over params file


# --- failures --------------------------------------------------------------

def test_failing_notebook_keeps_previous_outputs(book: Path) -> None:
    before = stamps(book)
    pdf = (book / "dist/a2-writeup.pdf").read_bytes()
    write_notebook(book / "report/1-alpha.ipynb",
                   alpha_cells("raise ValueError('boom')"))
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    assert ("section 1-alpha failed in cell 4: ValueError: boom"
            in proc.stderr)
    assert "Traceback" not in proc.stderr
    assert stamps(book) == before
    assert (book / "dist/a2-writeup.pdf").read_bytes() == pdf
    assert (book / "build/full/failed/1-alpha.ipynb").is_file()
    assert not list((book / "build/full/exec").glob(".*"))


def test_bad_params_file_stops_before_any_section_runs(book: Path) -> None:
    before = stamps(book)
    (book / "params/1-alpha.yaml").write_text("epochs: 0\n")
    (book / "report/2-beta.ipynb").touch()  # would run first
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    assert executed(proc) == []
    errors = [ln for ln in proc.stderr.splitlines()
              if ln.startswith("error:")]
    assert errors == ["error: " + str(book / "params/1-alpha.yaml") +
                      ": key 'epochs' has value 0; valid: an integer >= 1"]
    assert stamps(book) == before


# --- the code notebook -----------------------------------------------------

def test_code_notebook_inlines_the_library_it_needs(built: Path) -> None:
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    nbformat.validate(nb)
    modules = [c.source.splitlines()[0].split()[1] for c in nb.cells
               if c.source.startswith("%%a2module")]
    assert modules == ["a2", "a2.report", "a2.settings"]
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids))


def test_code_notebook_runs_top_to_bottom_in_a_fresh_kernel(
        built: Path, tmp_path: Path) -> None:
    """Executed where src/a2 does not exist: the library comes from the
    notebook's own cells, and a module missing from it fails the run."""
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import inspect, sys, a2.report\n"
        "assert a2.report.__file__.startswith(str(Path.cwd()))\n"
        "assert 'def md(' in inspect.getsource(a2.report)\n"
        "assert sys.modules['a2'].__path__ == []"))
    path = tmp_path / "a2-code.ipynb"
    nbformat.write(nb, path)
    import papermill
    papermill.execute_notebook(str(path), str(path), kernel_name="a2",
                               cwd=str(tmp_path), progress_bar=False)


def test_code_notebook_keeps_sections_in_book_order(
        built: Path, tmp_path: Path) -> None:
    out = tmp_path / "code.ipynb"
    assemble(built, built / "build/full", out, "Scratch book")
    heads = [c.source for c in nbformat.read(out, 4).cells
             if c.cell_type == "markdown" and c.source.startswith("# ")]
    assert heads[1:] == ["# 1 Alpha", "# Appendix: Beta"]


# --- rendering details -----------------------------------------------------

def test_rendered_pages_hide_code_and_show_parameters(built: Path) -> None:
    page = (built / "dist/site/1-alpha.html").read_text()
    assert "alpha ran 2 epochs" in page
    assert "import a2.report" not in page
    assert "Parameters used:" in page and "epochs = 2" in page
    assert 'href="2-beta.html"' in page  # next page and sidebar


def test_typst_math_fixes_apply_inside_math_only() -> None:
    from a2.pipeline.render import fix_math

    typ = ('parallel rays, $det mat(delim: "||", a, b; c, d)$ and '
           '$parallel x parallel_2 + \\| t \\|$ cost \\$5')
    assert fix_math(typ) == ('parallel rays, $det mat(delim: "|", a, b; '
                             'c, d)$ and $norm(x)_2 + abs(t)$ cost \\$5')


def test_build_cli_prints_one_line_on_error(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    proc = subprocess.run(
        [sys.executable, "-m", "a2.pipeline", "--root", str(root),
         "execute", "3"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: unknown section '3'; valid sections: 1-alpha, 2-beta"]
