"""The build's contract: dependency scanning, incremental execution, and
failures that leave the previous outputs in place.

Most tests drive the real Makefile against a scratch book (two tiny
notebooks, its own _quarto.yml and src/a2), using the project's venv.
"""

from __future__ import annotations

import os
import re
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
    - index.md
    - report/1-optimization.qmd
  appendices:
    - report/6-reproducibility.qmd
"""

PARAMS_CHUNK = """```{{python}}
#| tags: [parameters]
params = {{}}
```

```{{python}}
import a2.params
import a2.report

p = a2.params.load("{stem}", params)
p
```
"""


TABLE_CHUNK = """```{python}
#| label: tbl-steps
#| tbl-cap: "Steps taken."
a2.report.table([[p.steps]], ["steps"])
```
"""


def alpha(body: str = "a2.report.values(steps=p.steps)") -> str:
    """Section 1 of the scratch book: its prose cites a value, and it
    shows a table (with its source line)."""
    return (
        "# Alpha\n\n"
        + PARAMS_CHUNK.format(stem="1-optimization")
        + "\n## Part\n\nAlpha ran {{< var s1.steps >}} steps.\n\n"
        f"```{{python}}\n{body}\n```\n\n" + TABLE_CHUNK
    )


BETA = (
    "# Beta\n\n"
    + PARAMS_CHUNK.format(stem="6-reproducibility")
    + "\n```{python}\nfrom a2 import settings\n"
    "print(settings.data_source())\n```\n"
)


def make_scratch(root: Path) -> Path:
    """A small book in root: section 1 uses a2.report, the appendix
    reads the data setting (a2.settings), so it is data-dependent. The
    stems are the report's own, whose parameters a2.params defines."""
    (root / "report").mkdir(parents=True)
    (root / "params").mkdir()
    shutil.copytree(
        REPO / "src",
        root / "src",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "_quarto.yml").write_text(MANIFEST)
    (root / "index.md").write_text("# Preface {.unnumbered}\n\nScratch.\n")
    (root / "report/1-optimization.qmd").write_text(alpha())
    (root / "report/6-reproducibility.qmd").write_text(BETA)
    (root / "params/1-optimization.yaml").write_text("steps: 2\n")
    (root / "params/smoke.yaml").write_text("1-optimization: {steps: 1}\n")
    return root


def make(
    root: Path, *args: str, check: bool = True
) -> subprocess.CompletedProcess:
    env = {**os.environ, "A2_RENDERER": "embedded"}
    env.pop("MAKEFLAGS", None)
    proc = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(root),
            "-f",
            str(REPO / "Makefile"),
            f"VENV={VENV}",
            "SETUP=",
            "DATA=download",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"make {args} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def executed(proc: subprocess.CompletedProcess) -> list[str]:
    """Sections a make run executed, from the build's log lines."""
    return [
        ln.split()[1]
        for ln in proc.stdout.splitlines()
        if ln.startswith("executing ")
    ]


def stamps(root: Path) -> dict[str, float]:
    outs = [
        *sorted((root / "build/full/exec").glob("*.ipynb")),
        root / "dist/a2-writeup.pdf",
        root / "dist/a2-code.ipynb",
        root / "dist/site/index.html",
    ]
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
        "a2",
        "a2.c",
        "a2.b",
        "a2.a",
    ]


def test_notebook_without_a2_imports_depends_on_no_library(
    tmp_path: Path,
) -> None:
    assert sections.library_modules(tmp_path, "import numpy as np") == []


def test_deps_makefile_lists_library_files_and_data_setting(
    tmp_path: Path,
) -> None:
    root = make_scratch(tmp_path / "book")
    rules = sections.deps_makefile(root)
    first = next(
        ln
        for ln in rules.splitlines()
        if ln.startswith("$(B)/exec/1-optimization.ipynb: src")
    )
    assert "src/a2/report.py" in first and "src/a2/params.py" in first
    assert "$(B)/exec/6-reproducibility.ipynb: $(B)/data.stamp" in rules
    assert "$(B)/exec/1-optimization.ipynb: $(B)/data.stamp" not in rules
    assert "SECTIONS := 1-optimization 6-reproducibility" in rules
    # the appendix reports on the chapters, so it runs after them
    assert (
        "$(B)/exec/6-reproducibility.ipynb: "
        "$(B)/exec/1-optimization.ipynb" in rules
    )


def test_type_only_imports_are_no_dependency(tmp_path: Path) -> None:
    pkg = tmp_path / "src/a2"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from a2.b import B\n"
    )
    (pkg / "b.py").write_text("")
    assert sections.library_modules(tmp_path, "import a2.a") == ["a2", "a2.a"]


def test_qmd_chunks_become_cells_with_tags_and_options(tmp_path: Path) -> None:
    from a2.pipeline import qmd

    cells = qmd.cells(
        "---\ntitle: x\n---\n# T\n\n```python\n"
        "```{python}\n```\n\n```{python}\n"
        "#| tags: [parameters]\nparams = {}\n```\n"
        "tail\n"
    )
    assert [c["cell_type"] for c in cells] == [
        "raw",
        "markdown",
        "code",
        "markdown",
    ]
    assert "```{python}" in cells[1]["source"]  # inside a Markdown fence
    assert cells[2]["metadata"] == {"tags": ["parameters"]}
    assert cells[2]["source"].startswith("#| tags: [parameters]")
    assert len({c["id"] for c in cells}) == 4


def test_unclosed_chunk_is_one_build_error() -> None:
    from a2.pipeline import qmd

    with pytest.raises(sections.BuildError, match="line 2 is not closed"):
        qmd.cells("x\n```{python}\nprint(1)\n", "s.qmd")


FIGURE_CHUNK = '```{python}\n#| label: fig-x\n#| fig-cap: "X."\nshow()\n```\n'


@pytest.mark.parametrize(
    "opening",
    [
        "::: {.callout-tip .a2-answer}",
        "::::: {.callout-note}",
        '::: {.callout-warning collapse="false"}',
    ],
)
def test_a_figure_boxed_in_print_is_one_build_error(opening: str) -> None:
    """Typst floats a figure only within its container, so a figure in a
    callout that stays a box in print would leave a hole in the page."""
    from a2.pipeline import qmd

    text = (
        f"x\n\n{opening}\n## Answer\n::: {{.inner}}\n:::\n{FIGURE_CHUNK}:::\n"
    )
    with pytest.raises(
        sections.BuildError, match=r"s.qmd:7: a figure .* line 3"
    ):
        qmd.cells(text, "s.qmd")


@pytest.mark.parametrize(
    "text",
    [
        # unfolded into the text in print
        f'::: {{.callout-note collapse="true"}}\n{FIGURE_CHUNK}:::\n',
        # after the callout
        f"::: {{.callout-tip}}\nA.\n:::\n\n{FIGURE_CHUNK}",
        # a plain div is no box
        f"::: {{#fig-layout}}\n{FIGURE_CHUNK}:::\n",
        # a ::: inside a Markdown code fence opens nothing
        f"```markdown\n::: {{.callout-tip}}\n```\n{FIGURE_CHUNK}",
    ],
)
def test_figures_that_can_float_are_accepted(text: str) -> None:
    from a2.pipeline import qmd

    assert "code" in [c["cell_type"] for c in qmd.cells(text, "s.qmd")]


def test_sections_resolve_by_stem_number_or_path(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    for name in ("6", "6-reproducibility", "report/6-reproducibility.qmd"):
        assert sections.resolve(root, name).stem == "6-reproducibility"
    with pytest.raises(
        sections.BuildError, match="1-optimization, 6-reproducibility"
    ):
        sections.resolve(root, "7")


def test_manifest_chapters_missing_on_disk_are_skipped(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    (root / "_quarto.yml").write_text(
        MANIFEST + "    - report/3-resources.qmd\n"
    )
    assert [s.stem for s in sections.chapters(root)] == [
        "index",
        "1-optimization",
        "6-reproducibility",
    ]


def test_sections_missing_from_the_manifest_are_reported(
    tmp_path: Path,
) -> None:
    root = make_scratch(tmp_path / "book")
    (root / "report/3-draft.qmd").write_text(alpha())
    assert sections.unlisted(root) == [root / "report/3-draft.qmd"]


# --- incremental builds ----------------------------------------------------


def test_first_build_executes_every_section_and_writes_outputs(
    built: Path,
) -> None:
    for out in (
        "a2-writeup.pdf",
        "a2-code.ipynb",
        "site/index.html",
        "site/1-optimization.html",
        "site/6-reproducibility.html",
        "site/a2-writeup.pdf",
        "site/a2-code.ipynb",
    ):
        assert (built / "dist" / out).is_file(), out
    nb = nbformat.read(built / "build/full/exec/1-optimization.ipynb", 4)
    injected = [
        c
        for c in nb.cells
        if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert '"steps": 2' in injected[0].source  # params/1-optimization.yaml


def test_no_change_rebuild_executes_nothing(book: Path) -> None:
    before = stamps(book)
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert "render" not in proc.stdout
    assert stamps(book) == before


def test_editing_one_params_file_reexecutes_that_section_and_appendix(
    book: Path,
) -> None:
    (book / "params/1-optimization.yaml").write_text("steps: 5\n")
    proc = make(book, "pdf")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    assert "the embedded renderer" in proc.stdout  # says which it is
    assert (
        "Alpha ran 5 steps"
        in (book / "dist/site/1-optimization.html").read_text()
    )


def test_library_change_reexecutes_the_sections_that_import_it(
    book: Path,
) -> None:
    with open(book / "src/a2/settings.py", "a") as f:
        f.write("\n# touched\n")
    assert executed(make(book, "pdf")) == ["6-reproducibility"]


def test_build_code_is_not_library_code_of_a_section(book: Path) -> None:
    with open(book / "src/a2/pipeline/sections.py", "a") as f:
        f.write("\n# touched\n")
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert "render --dist" in proc.stdout


def test_changing_data_setting_reexecutes_data_sections(book: Path) -> None:
    proc = make(book, "pdf", "DATA=somewhere/cifar.npz")
    assert executed(proc) == ["6-reproducibility"]
    nb = nbformat.read(book / "build/full/exec/6-reproducibility.ipynb", 4)
    assert str(book / "somewhere/cifar.npz") in nb.cells[-1].outputs[0].text
    assert executed(make(book, "pdf", "DATA=somewhere/cifar.npz")) == []


def test_changing_the_renderer_renders_again_without_executing(
    book: Path,
) -> None:
    proc = make(
        book, "pdf", "RENDERER=quarto", "QUARTO=/nonexistent", check=False
    )
    assert proc.returncode != 0 and executed(proc) == []
    assert (
        "RENDERER=quarto needs Quarto, but it cannot be run "
        "(QUARTO=/nonexistent)"
    ) in proc.stderr


def test_section_target_reruns_one_section_with_other_params(
    book: Path,
) -> None:
    other = book / "other.yaml"
    other.write_text("steps: 9\n")
    proc = make(book, "section", "S=1", f"PARAMS={other}")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    site = (book / "dist/site/1-optimization.html").read_text()
    assert "Alpha ran 9 steps" in site


def test_section_target_with_unknown_name_lists_sections(book: Path) -> None:
    proc = make(book, "section", "S=nope", check=False)
    assert proc.returncode != 0
    assert (
        "unknown section 'nope'; valid sections: 1-optimization, "
        "6-reproducibility"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_smoke_profile_builds_apart_from_the_full_build(book: Path) -> None:
    before = stamps(book)
    proc = make(book, "pdf", "PROFILE=smoke")
    assert sorted(executed(proc)) == ["1-optimization", "6-reproducibility"]
    assert (book / "build/smoke/dist/a2-writeup.pdf").is_file()
    assert stamps(book) == before
    site = (book / "build/smoke/dist/site/1-optimization.html").read_text()
    assert "Alpha ran 1 steps" in site  # the profile over the params file


# --- failures --------------------------------------------------------------


def test_failing_section_keeps_previous_outputs(book: Path) -> None:
    before = stamps(book)
    pdf = (book / "dist/a2-writeup.pdf").read_bytes()
    (book / "report/1-optimization.qmd").write_text(
        alpha("raise ValueError('boom')")
    )
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    assert (
        "section 1-optimization failed in code chunk 3 of "
        "report/1-optimization.qmd: ValueError: boom"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert stamps(book) == before
    assert (book / "dist/a2-writeup.pdf").read_bytes() == pdf
    assert (book / "build/full/failed/1-optimization.ipynb").is_file()
    assert not list((book / "build/full/exec").glob(".*"))


def test_value_cited_but_never_recorded_fails_the_render(book: Path) -> None:
    (book / "report/1-optimization.qmd").write_text(alpha("x = 1"))
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    assert (
        "cites {{< var s1.steps >}}, but the section recorded no value 'steps'"
    ) in proc.stderr


def test_bad_params_file_stops_before_any_section_runs(book: Path) -> None:
    before = stamps(book)
    (book / "params/1-optimization.yaml").write_text("steps: 0\n")
    (book / "report/6-reproducibility.qmd").touch()  # would run first
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    assert executed(proc) == []
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert errors == [
        "error: "
        + str(book / "params/1-optimization.yaml")
        + ": key 'steps' has value 0; valid: an integer from 1 to 100000"
    ]
    assert stamps(book) == before


# --- the code notebook -----------------------------------------------------


def test_code_notebook_inlines_the_library_it_needs(built: Path) -> None:
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    nbformat.validate(nb)
    modules = [
        c.source.splitlines()[0].split()[1]
        for c in nb.cells
        if c.source.startswith("%%a2module")
    ]
    assert modules[0] == "a2"
    assert {"a2.report", "a2.params", "a2.settings"} <= set(modules)
    assert "a2.data" not in modules
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids))


def test_code_notebook_prose_has_its_values(built: Path) -> None:
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Alpha ran 2 steps." in prose and "{{<" not in prose


def test_code_notebook_runs_top_to_bottom_in_a_fresh_kernel(
    built: Path, tmp_path: Path
) -> None:
    """Executed where src/a2 does not exist: the library comes from the
    notebook's own cells, and a module missing from it fails the run."""
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import inspect, sys, a2.report\n"
            "assert a2.report.__file__.startswith(str(Path.cwd()))\n"
            "assert 'def md(' in inspect.getsource(a2.report)\n"
            "assert sys.modules['a2'].__path__ == []"
        )
    )
    path = tmp_path / "a2-code.ipynb"
    nbformat.write(nb, path)
    import papermill

    papermill.execute_notebook(
        str(path),
        str(path),
        kernel_name="a2",
        cwd=str(tmp_path),
        progress_bar=False,
    )


def test_code_notebook_keeps_sections_in_book_order(
    built: Path, tmp_path: Path
) -> None:
    out = tmp_path / "code.ipynb"
    assemble(built, built / "build/full", out)
    heads = [
        c.source
        for c in nbformat.read(out, 4).cells
        if c.cell_type == "markdown" and c.source.startswith("# ")
    ]
    assert heads[1:] == ["# Alpha", "# Beta"]


# --- rendering details -----------------------------------------------------


def test_rendered_pages_hide_code_and_show_parameters(built: Path) -> None:
    page = (built / "dist/site/1-optimization.html").read_text()
    assert "Alpha ran 2 steps" in page
    assert "import a2.report" not in page
    assert "Parameters" in page and "<code>steps</code>" in page
    assert 'href="6-reproducibility.html"' in page  # pager and sidebar


def test_headings_are_numbered_as_the_handout_numbers_them(
    built: Path,
) -> None:
    page = (built / "dist/site/1-optimization.html").read_text()
    number = r'<span class="header-section-number">'
    assert re.search(rf"<h1[^>]*>{number}1</span>\s+Alpha", page)
    assert re.search(rf"<h2[^>]*>{number}1\.1</span>\s+Part", page)
    appendix = (built / "dist/site/6-reproducibility.html").read_text()
    assert re.search(rf"<h1[^>]*>{number}A</span>\s+Beta", appendix)


def test_build_cli_prints_one_line_on_error(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "a2.pipeline",
            "--root",
            str(root),
            "execute",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: unknown section '3'; valid sections: 1-optimization, "
        "6-reproducibility"
    ]
