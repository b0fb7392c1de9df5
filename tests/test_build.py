"""The build's contract: what executes when (code, parameters, data,
library, runs; never prose), parameters a user passed that hold, and
failures that leave the previous outputs in place.

Most tests drive the real Makefile against a scratch book (two tiny
sections, its own _quarto.yml and src/a2), using the project's venv and
a stand-in for Quarto (tests/tools/fake_quarto.py); the real Quarto
renders the smoke book (tests/test_pipeline_smoke.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from a2.pipeline import BuildError, qmd, sections

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv"
FAKE_QUARTO = REPO / "tests/tools/fake_quarto.py"


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
import a2.config.params
import a2.report

p = a2.config.params.load("{stem}", params)
p
```
"""


TABLE_CHUNK = """```{python}
#| label: tbl-steps
#| tbl-cap: "Steps taken."
a2.report.table([[p.steps]], ["steps"])
```
"""


def alpha(
    body: str = "steps = p.steps",
    prose: str = "Alpha ran `{python} steps` steps.",
) -> str:
    """Section 1 of the scratch book: its prose shows a value computed
    above it, and it shows a table (with its source line)."""
    return (
        "# Alpha\n\n"
        + PARAMS_CHUNK.format(stem="1-optimization")
        + f"\n```{{python}}\n{body}\n```\n\n## Part\n\n{prose}\n\n"
        + TABLE_CHUNK
    )


BETA = (
    "# Beta\n\n"
    + PARAMS_CHUNK.format(stem="6-reproducibility")
    + "\n```{python}\nfrom a2.analysis import convarith\n"
    "from a2.config import environment\n"
    "print(environment.data_source())\n```\n"
)


def make_scratch(root: Path) -> Path:
    """A small book in root: section 1 uses a2.report, the appendix
    reads the data setting (a2.config.environment), so it is
    data-dependent. The stems are the report's own, whose parameters
    a2.config.params defines."""
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
    root: Path, *args: str, check: bool = True, **env: str
) -> subprocess.CompletedProcess:
    """The real Makefile on the scratch book, rendered by the stand-in."""
    environ = {**os.environ, "QUARTO": str(FAKE_QUARTO), **env}
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
        env=environ,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"make {args} failed:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def executed(proc: subprocess.CompletedProcess) -> list[str]:
    """Sections a make run executed, from the build's log lines."""
    return [
        ln.split(":")[0]
        for ln in proc.stderr.splitlines()
        if ": executing (" in ln
    ]


def stamps(root: Path) -> dict[str, float]:
    outs = [
        *sorted((root / "build/full/exec").glob("*.ipynb")),
        root / "dist/a2-writeup.pdf",
        root / "dist/a2-code.ipynb",
        root / "dist/site/index.html",
    ]
    return {p.name: p.stat().st_mtime_ns for p in outs}


def site(root: Path, profile: str = "full") -> str:
    """What the (stand-in) renderer was given, as the site shows it."""
    dist = root / ("dist" if profile == "full" else f"build/{profile}/dist")
    return (dist / "site/index.html").read_text()


@pytest.fixture(scope="session")
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


def test_qmd_chunks_become_cells_with_tags_and_options(tmp_path: Path) -> None:
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
    assert cells[2]["metadata"] == {
        "a2_line": 10,
        "a2_chunk": 1,
        "a2_options": {"tags": ["parameters"]},
        "tags": ["parameters"],
    }
    assert cells[2]["source"].startswith("#| tags: [parameters]")
    assert len({c["id"] for c in cells}) == 4


def test_unclosed_chunk_is_one_build_error() -> None:
    with pytest.raises(BuildError, match="line 2 is not closed"):
        qmd.cells("x\n```{python}\nprint(1)\n", "s.qmd")


def test_sections_resolve_by_stem_number_or_path(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    for name in ("6", "6-reproducibility", "report/6-reproducibility.qmd"):
        assert sections.resolve(root, name).stem == "6-reproducibility"
    with pytest.raises(BuildError, match="1-optimization, 6-reproducibility"):
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


# --- inline values, as Quarto shows them -------------------------------------


def test_inline_expressions_are_found_as_quarto_finds_them() -> None:
    text = (
        "A `{python} a` and `{python}  b.c[1] ` but not ``{python} x``\n"
        "nor `{r} y`; `{python} a` again, `{python} f(1, 2)`."
    )
    assert qmd.expressions(text) == ["a", "b.c[1]", "f(1, 2)"]


def test_each_prose_cell_with_values_is_followed_by_an_evaluating_cell() -> (
    None
):
    cells = qmd.with_inline_cells(
        qmd.cells("Intro.\n\n```{python}\nx = 1\n```\n\nX is `{python} x`.\n")
    )
    assert [c["cell_type"] for c in cells] == [
        "markdown",
        "code",
        "markdown",
        "code",
    ]
    assert qmd.INLINE_TAG in cells[3]["metadata"]["tags"]
    assert "user_expressions" in cells[3]["source"]
    assert cells[3]["metadata"]["a2_lines"] == {"x": 7}
    assert len({c["id"] for c in cells}) == 4


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        ({"text/plain": "'40.1%'"}, "40\\.1\\%"),  # quotes off, escaped
        ({"text/plain": "5000"}, "5000"),
        ({"text/plain": "'a_b*c'"}, "a\\_b\\*c"),  # never markup
        ({"text/plain": '"it\'s"'}, "it\\'s"),  # Python's other quotes
        ({"text/plain": "'a\\\\b\\'c'"}, "a\\\\b\\'c"),  # the string a\b'c
        ({"text/markdown": "$10^{-3}$", "text/plain": "x"}, "$10^{-3}$"),
    ],
)
def test_values_are_written_into_the_prose_as_quarto_does(
    data: dict, shown: str
) -> None:
    assert qmd.substitute("v = `{python} v`.", {"v": data}, "s.qmd") == (
        f"v = {shown}."
    )


def test_a_value_the_execution_did_not_give_is_one_error() -> None:
    with pytest.raises(BuildError, match="`{python} w` has no value"):
        qmd.substitute("`{python} w`", {}, "report/1-x.qmd")


# --- what executes, and when ------------------------------------------------


def test_first_build_executes_every_section_and_writes_outputs(
    built: Path,
) -> None:
    for out in ("a2-writeup.pdf", "a2-code.ipynb", "site/index.html"):
        assert (built / "dist" / out).is_file(), out
    nb = nbformat.read(built / "build/full/exec/1-optimization.ipynb", 4)
    injected = [
        c
        for c in nb.cells
        if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert '"steps": 2' in injected[0].source  # params/1-optimization.yaml
    assert "Alpha ran 2 steps." in site(built)
    assert "{python}" not in site(built)


def test_no_change_rebuild_executes_and_renders_nothing(book: Path) -> None:
    before = stamps(book)
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert "nothing changed" in proc.stdout
    assert stamps(book) == before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("## Part", "## A part renamed"),  # a heading
        ("Alpha ran", "Alpha, edited, ran"),  # a sentence around a value
        ('"Steps taken."', '"Steps, as taken."'),  # a caption (cell option)
    ],
)
def test_prose_edits_render_without_executing(
    book: Path, old: str, new: str
) -> None:
    path = book / "report/1-optimization.qmd"
    path.write_text(path.read_text().replace(old, new))
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert new.strip('"') in site(book)
    assert "Alpha" in site(book) and "ran 2 steps" in site(book)


def test_a_new_inline_expression_is_code_and_executes(book: Path) -> None:
    (book / "report/1-optimization.qmd").write_text(
        alpha(prose="Alpha ran `{python} steps * 10` tenth-steps.")
    )
    proc = make(book, "pdf")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    assert "Alpha ran 20 tenth-steps." in site(book)


def test_an_inline_name_no_cell_defines_is_one_error(book: Path) -> None:
    before = stamps(book)
    (book / "report/1-optimization.qmd").write_text(
        alpha(prose="Alpha ran `{python} stepz` steps.")
    )
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1, proc.stderr
    assert (
        "report/1-optimization.qmd:22: `{python} stepz` failed: NameError: "
        "name 'stepz' is not defined (full log: build/full/logs/"
        "1-optimization.log)"
    ) in errors[0]
    assert stamps(book) == before


def test_code_edit_executes_that_section_and_the_appendix(book: Path) -> None:
    (book / "report/1-optimization.qmd").write_text(
        alpha("steps = p.steps + 1")
    )
    proc = make(book, "pdf")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    assert "1-optimization: executing (code changed)" in proc.stderr
    assert "Alpha ran 3 steps." in site(book)


def test_params_edit_executes_that_section_a_comment_nothing(
    book: Path,
) -> None:
    (book / "params/1-optimization.yaml").write_text("# a note\nsteps: 2\n")
    assert executed(make(book, "pdf")) == []
    (book / "params/1-optimization.yaml").write_text("steps: 5\n")
    proc = make(book, "pdf")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    assert "executing (parameters changed)" in proc.stderr
    assert "Alpha ran 5 steps." in site(book)


def test_library_change_reexecutes_the_sections_that_import_it(
    book: Path,
) -> None:
    with open(book / "src/a2/analysis/convarith.py", "a") as f:
        f.write("\n# touched\n")
    proc = make(book, "pdf")
    assert executed(proc) == ["6-reproducibility"]
    assert "6-reproducibility: executing (library changed)" in proc.stderr


def test_build_code_is_not_library_code_of_a_section(book: Path) -> None:
    with open(book / "src/a2/pipeline/sections.py", "a") as f:
        f.write("\n# touched\n")
    proc = make(book, "pdf")
    assert executed(proc) == []
    assert "rendering with Quarto" in proc.stdout


def test_changing_data_setting_reexecutes_data_sections(book: Path) -> None:
    proc = make(book, "pdf", "DATA=somewhere/cifar.npz")
    assert executed(proc) == ["6-reproducibility"]
    nb = nbformat.read(book / "build/full/exec/6-reproducibility.ipynb", 4)
    assert str(book / "somewhere/cifar.npz") in nb.cells[-1].outputs[0].text
    assert executed(make(book, "pdf", "DATA=somewhere/cifar.npz")) == []


def test_a_section_reexecutes_when_a_run_it_loaded_changed(
    book: Path,
) -> None:
    """The record keeps each run's checkpoint hash: a run retrained (or
    lost) in the cache re-executes the sections that loaded it."""
    path = book / "build/full/provenance/1-optimization.json"
    done = json.loads(path.read_text())
    done["checkpoints"] = {"0123456789abcdef": "an-old-hash"}
    path.write_text(json.dumps(done))
    proc = make(book, "pdf")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    assert "executing (runs changed)" in proc.stderr


# --- parameters a user passed hold ----------------------------------------


@pytest.fixture
def other(book: Path) -> Path:
    path = book / "other.yaml"
    path.write_text("steps: 9\n")
    return path


def test_params_passed_hold_whatever_is_edited_before_or_after(
    book: Path, other: Path
) -> None:
    """The issue's reproducer, in every order: files newer than the last
    build (the section, another one, its params file, another profile),
    then `make section` with other parameters; later prose edits, other
    sections executing, another profile built: the section keeps them,
    until `make section` without PARAMS goes back to its own."""
    for edit in (
        "report/1-optimization.qmd",
        "report/6-reproducibility.qmd",
        "params/1-optimization.yaml",
        "params/smoke.yaml",
    ):
        path = book / edit
        path.write_text(path.read_text() + "\n")  # newer, same meaning
    proc = make(book, "section", "S=1", f"PARAMS={other}")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    assert f"executing (as asked) with {other}" in proc.stderr
    assert "Alpha ran 9 steps." in site(book)
    assert executed(make(book, "pdf")) == []
    assert "Alpha ran 9 steps." in site(book)

    path = book / "report/1-optimization.qmd"
    path.write_text(path.read_text().replace("Alpha ran", "Alpha now ran"))
    beta = book / "report/6-reproducibility.qmd"
    beta.write_text(beta.read_text() + "\n```{python}\nprint(2)\n```\n")
    proc = make(book, "pdf")
    assert executed(proc) == ["6-reproducibility"]
    assert f"1-optimization: kept with {other}" in proc.stderr
    assert "Alpha now ran 9 steps." in site(book)
    record = book / "build/full/provenance/1-optimization.json"
    assert json.loads(record.read_text())["params"] == ["other.yaml"]

    proc = make(book, "pdf", "PROFILE=smoke")
    assert sorted(executed(proc)) == ["1-optimization", "6-reproducibility"]
    assert "Alpha now ran 1 steps." in site(book, "smoke")
    assert executed(make(book, "pdf")) == []
    assert "Alpha now ran 9 steps." in site(book)

    make(book, "section", "S=1")  # without PARAMS: its own, at once
    assert "Alpha now ran 2 steps." in site(book)
    assert executed(make(book, "pdf")) == []
    assert "Alpha now ran 2 steps." in site(book)


def test_params_passed_end_when_what_the_section_sees_changes(
    book: Path, other: Path
) -> None:
    make(book, "section", "S=1", f"PARAMS={other}")
    (book / "report/1-optimization.qmd").write_text(
        alpha("steps = p.steps * 1")
    )
    proc = make(book, "pdf")
    assert executed(proc) == ["1-optimization", "6-reproducibility"]
    line = next(ln for ln in proc.stderr.splitlines() if "executing" in ln)
    assert f"code changed; it ran with {other} before" in line
    assert "Alpha ran 2 steps." in site(book)


def test_params_passed_go_over_the_profile(book: Path, other: Path) -> None:
    make(book, "section", "S=1", f"PARAMS={other}", "PROFILE=smoke")
    assert "Alpha ran 9 steps." in site(book, "smoke")


def test_section_target_with_unknown_name_lists_sections(book: Path) -> None:
    proc = make(book, "section", "S=nope", check=False)
    assert proc.returncode != 0
    assert (
        "unknown section 'nope'; valid sections: 1-optimization, "
        "6-reproducibility"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr


# --- failures --------------------------------------------------------------


def test_failing_section_is_one_line_and_keeps_previous_outputs(
    book: Path,
) -> None:
    before = stamps(book)
    pdf = (book / "dist/a2-writeup.pdf").read_bytes()
    (book / "report/1-optimization.qmd").write_text(
        alpha("raise ValueError('boom')")
    )
    proc = make(book, "pdf", check=False)
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert errors == [
        "error: report/1-optimization.qmd:16 (raise ValueError('boom')): "
        "ValueError: boom (full log: build/full/logs/1-optimization.log)"
    ]
    assert "Traceback" not in proc.stderr
    assert (
        "ValueError"
        in (book / "build/full/logs/1-optimization.log").read_text()
    )
    assert stamps(book) == before
    assert (book / "dist/a2-writeup.pdf").read_bytes() == pdf
    assert (book / "build/full/failed/1-optimization.ipynb").is_file()
    assert not list((book / "build/full/exec").glob(".*"))


def test_failed_render_keeps_all_three_outputs(book: Path) -> None:
    path = book / "report/1-optimization.qmd"
    path.write_text(path.read_text().replace("Alpha ran", "Alpha once ran"))
    before = {
        p: (book / "dist" / p).read_bytes()
        for p in ("a2-writeup.pdf", "a2-code.ipynb", "site/index.html")
    }
    proc = make(book, "pdf", check=False, FAKE_QUARTO_FAIL="1")
    assert proc.returncode != 0
    assert "quarto render failed (exit 1)" in proc.stderr
    assert "the previous outputs are kept" in proc.stderr
    after = {p: (book / "dist" / p).read_bytes() for p in before}
    assert after == before
    assert not list(book.glob(".dist*"))


def test_bad_params_file_stops_before_any_section_runs(book: Path) -> None:
    before = stamps(book)
    (book / "params/1-optimization.yaml").write_text("steps: 0\n")
    (book / "report/6-reproducibility.qmd").write_text(BETA + "\n# x\n")
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


def test_no_quarto_and_no_network_is_one_line_naming_the_ways(
    book: Path,
) -> None:
    """No QUARTO, none on PATH or in .tools, and pip cannot install the
    pinned quarto-cli (no package index: as without a network)."""
    path = book / "report/1-optimization.qmd"
    path.write_text(path.read_text().replace("Alpha ran", "Alpha then ran"))
    proc = make(
        book,
        "pdf",
        check=False,
        QUARTO="",
        PATH="/usr/bin:/bin",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS="",
    )
    assert proc.returncode != 0
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error")]
    assert len(errors) == 1, proc.stderr
    for way in ("quarto.org", "environment.yml", "QUARTO=", "make quarto"):
        assert way in errors[0]
    assert "pip install quarto-cli==" in errors[0]


# --- one pass: one parse, one record, one PDF ------------------------------


def test_a_build_parses_each_qmd_once(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading, deciding, executing, staging and the code notebook all
    take the sections from the build's one parse."""
    from a2.pipeline.__main__ import main

    parsed: list[str] = []
    real = qmd.cells

    def counted(text: str, where: str = "qmd") -> list:
        parsed.append(where)
        return real(text, where)

    monkeypatch.setattr(qmd, "cells", counted)
    monkeypatch.chdir(book)
    monkeypatch.setenv("QUARTO", str(FAKE_QUARTO))
    monkeypatch.setenv("A2_DATA", "download")
    (book / "report/1-optimization.qmd").write_text(alpha("steps = 4"))
    assert main(["--root", str(book), "pdf"]) == 0
    assert sorted(parsed) == [
        "report/1-optimization.qmd",
        "report/6-reproducibility.qmd",
    ]
    assert "Alpha ran 4 steps." in site(book)


def test_each_execution_leaves_one_record_naming_its_notebook(
    built: Path,
) -> None:
    """The record (provenance/<stem>.json) holds all the build knows of
    an execution; the executed notebook holds only what executed."""
    import hashlib

    for stem in ("1-optimization", "6-reproducibility"):
        executed = built / f"build/full/exec/{stem}.ipynb"
        nb = json.loads(executed.read_text())
        assert "a2" not in nb["metadata"]
        assert not any(
            k.startswith("a2_") for c in nb["cells"] for k in c["metadata"]
        )
        record = json.loads(
            (built / f"build/full/provenance/{stem}.json").read_text()
        )
        assert (
            record["outputs"]
            == hashlib.sha256(executed.read_bytes()).hexdigest()
        )
        for key in ("inputs", "values", "inline", "runs", "checks", "commit"):
            assert key in record, key
    assert sorted(p.name for p in (built / "build/full").iterdir()) == [
        "book",
        "exec",
        "logs",
        "provenance",
    ]


def test_the_pdf_is_written_once(built: Path) -> None:
    """The site offers the PDF for download: a second name of the one
    file, not a copy."""
    pdf, offered = built / "dist/a2-writeup.pdf", built / "dist/site"
    assert (offered / "a2-writeup.pdf").samefile(pdf)


def test_a_record_holds_the_runs_and_checks_its_kernel_noted(
    tmp_path: Path,
) -> None:
    from a2.pipeline import record
    from a2.report import provenance

    root = REPO
    pending = tmp_path / ".5-transposed.pending.json"
    pending.write_text(json.dumps({"runs": ["k1"], "checks": [{"n": 1}]}))
    s = sections.Section(
        "5-transposed", root / "report/5-transposed.qmd", False, root
    )
    files = [root / "params/5-transposed.yaml", root / "params/missing.yaml"]
    done = record.write(tmp_path, s, pending, files, {"inline": {}})
    assert done["notebook"] == "report/5-transposed.qmd"
    assert done["params"] == ["params/5-transposed.yaml"]
    assert done["commit"] == provenance.commit(root)
    assert done["runs"] == ["k1"] and done["checks"] == [{"n": 1}]
    assert done["checkpoints"] == {"k1": None}  # not in this cache
    assert record.read(tmp_path, "5-transposed") == done
    assert not pending.exists()


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
    assert {"a2.report", "a2.config.params", "a2.config.environment"} <= set(
        modules
    )
    assert "a2.colour.data" not in modules
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids))


def test_code_notebook_prose_has_its_values(built: Path) -> None:
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Alpha ran 2 steps." in prose and "{python}" not in prose


def test_code_notebook_runs_top_to_bottom_in_a_fresh_kernel(
    built: Path, tmp_path: Path
) -> None:
    """Executed where src/a2 does not exist: the library comes from the
    notebook's own cells, and a module missing from it fails the run."""
    nb = nbformat.read(built / "dist/a2-code.ipynb", 4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import inspect, sys, a2.report.prose\n"
            "assert a2.report.prose.__file__.startswith(str(Path.cwd()))\n"
            "assert 'def md(' in inspect.getsource(a2.report.prose)\n"
            "assert sys.modules['a2'].__path__ == []\n"
            "assert sys.modules['a2.report'].__path__ == []"
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


def test_code_notebook_keeps_sections_in_book_order(built: Path) -> None:
    heads = [
        c.source
        for c in nbformat.read(built / "dist/a2-code.ipynb", 4).cells
        if c.cell_type == "markdown" and c.source.startswith("# ")
    ]
    assert heads[1:] == ["# Alpha", "# Beta"]


def test_build_cli_prints_one_line_on_error(tmp_path: Path) -> None:
    root = make_scratch(tmp_path / "book")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "a2.pipeline",
            "--root",
            str(root),
            "section",
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
