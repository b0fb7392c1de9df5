"""Operating-system errors and running out of memory end every entry
point in one line naming the file, with a non-zero status and no
traceback (issue 21, class 7): a params path longer than the file-name
limit, no permission, a full disk, a MemoryError."""

from __future__ import annotations

import errno
import os
import shutil
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


# --- the build's failures name their cause (issue 27, class 3) ---------------
#
# One line of under 300 characters naming the cause, the file and the
# line; the full text in a log.


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The build tests' scratch book, built once (the stand-in Quarto)."""
    from conftest import build_cli
    from test_build import make_scratch

    root = make_scratch(tmp_path_factory.mktemp("causes") / "book")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_DATA", "download")
        proc = build_cli(root, "pdf")
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def edited(rendered, tmp_path, monkeypatch) -> Path:
    """A copy with a prose edit: the next build only renders."""
    root = tmp_path / "book"
    shutil.copytree(rendered, root, symlinks=True)
    index = root / "index.md"
    index.write_text(index.read_text() + "\nAgain.\n")
    monkeypatch.setenv("A2_DATA", "download")
    return root


QUARTO_LOGS = {
    "deno, disk full after a theme error": (
        "ERROR: Theme file compilation failed:\n\n"
        "NotFound: No space left on device (os error 28): write "
        "'/b/book/.quarto/x.css'",
        "No space left on device",
    ),
    "pandoc, disk full": (
        "pandoc: /b/book/_book/4-pooling.html: hPutBuf: resource exhausted "
        "(No space left on device)",
        "No space left on device",
    ),
    "typst, permission": (
        "error: failed to write PDF file (Permission denied (os error 13))",
        "Permission denied",
    ),
    "a quota": ("ERROR: Disk quota exceeded (os error 122)", "quota"),
    "a read-only file system": (
        "ERROR: Read-only file system (os error 30)",
        "Read-only file system",
    ),
    "out of memory": ("pandoc: Heap exhausted;\n", "Heap exhausted"),
    "an error of Quarto's own": (
        "WARN: something\nERROR: Unknown format typst2\nmore",
        "ERROR: Unknown format typst2",
    ),
    "typst's own error": (
        "compiling\nerror: number must be positive\n  at x.typ:3",
        "error: number must be positive",
    ),
}


@pytest.mark.parametrize("case", QUARTO_LOGS)
def test_a_failed_render_names_the_machines_cause_in_one_short_line(
    case, edited
):
    """The fake Quarto fails with the log a real one wrote in that case;
    the line names the cause, not the step that noticed it, and the
    log."""
    from conftest import build_cli

    book = edited
    text, cause = QUARTO_LOGS[case]
    line = one_error_line(
        build_cli(book, "pdf", env={"FAKE_QUARTO_FAIL": text})
    )
    assert line.startswith("error: quarto render failed (exit 1): "), line
    assert cause in line
    assert line.endswith(
        "; full log: build/full/logs/quarto-book.log; the previous outputs "
        "are kept"
    )
    assert len(line) < 300


COPIES = {
    "the stage's files": "a2.pipeline.stage.shutil.copytree",
    "the notebooks' pages": "a2.pipeline.render.shutil.copytree",
}


@pytest.mark.parametrize("why", [errno.ENOSPC, errno.EACCES, errno.EROFS])
@pytest.mark.parametrize("copy", COPIES)
def test_a_failed_copy_of_many_files_is_one_short_line(
    copy, why, edited, monkeypatch
):
    """shutil.copytree gathers every file's failure into one error: the
    issue's 8,000 to 22,000 characters on one line."""
    from conftest import build_cli

    book = edited
    real_shutil = shutil
    copytree = shutil.copytree

    def failing(src, dst, *args, **kwargs):
        copytree(src, dst, *args, **kwargs)
        failures = [
            (f"{src}/file-{i}.css", f"{dst}/file-{i}.css", os.strerror(why))
            for i in range(500)
        ]
        raise real_shutil.Error(failures)

    monkeypatch.setattr(COPIES[copy], failing)
    before = {
        p: p.read_bytes() for p in (book / "dist").rglob("*") if p.is_file()
    }
    line = one_error_line(build_cli(book, "pdf"))
    assert line.startswith("error: copying 500 file(s) failed, the first ")
    assert line.endswith(f"{os.strerror(why)}; the previous outputs are kept")
    assert len(line) < 300, len(line)
    after = {
        p: p.read_bytes() for p in (book / "dist").rglob("*") if p.is_file()
    }
    assert after == before


def test_any_error_line_past_the_bound_is_cut_with_its_full_text_in_a_log(
    tmp_path, monkeypatch
):
    from conftest import build_cli, make_book

    from a2.pipeline import BuildError, build

    book = make_book(tmp_path / "book")
    long = "word " * 3000 + "THE END"

    def fail(*args, **kwargs):
        raise BuildError(long)

    monkeypatch.setattr(build, "run", fail)
    line = one_error_line(build_cli(book, "pdf"))
    assert len(line) <= 500 + len("error: ")
    assert line.endswith(" ... (in full: build/full/logs/build.log)")
    log = (book / "build/full/logs/build.log").read_text()
    assert long in log


BAD_OPTIONS = {
    "the issue's unclosed list": ("#| label: [unclosed", 2),
    "an unclosed quote": ('#| fig-cap: "A caption', 2),
    "a label that is a list": ("#| label: [fig-a, fig-b]", 2),
    "a label with a space": ("#| label: fig a", 2),
    "a caption that is a mapping": (
        "#| label: fig-a\n#| fig-cap: {a: 1}",
        3,
    ),
    "a figure without its caption": ("#| echo: false\n#| label: fig-a", 3),
    "a table without its caption": (
        "#| label: tbl-a\n#| fig-cap: wrong kind",
        2,
    ),
    "echo that is no flag": ("#| echo: maybe", 2),
    "a key given twice": ("#| echo: false\n#| echo: true", 3),
    "tags that are no list": ("#| tags: parameters", 2),
    "a width below zero": ("#| fig-width: -3", 2),
    "a list, not options": ("#| - echo\n#| - eval", 2),
    "text, not options": ("#| just some words", 2),
    "a tab in the YAML": ("#| label:\tfig-a\n#|\t- x", 2),
}


@pytest.mark.parametrize("case", BAD_OPTIONS)
def test_a_bad_cell_option_is_one_line_naming_file_and_line(case):
    """Parsed when the build reads the .qmd (before anything executes),
    as Quarto reads options: one line with the file and the line."""
    from a2.pipeline import BuildError, qmd

    options, line = BAD_OPTIONS[case]
    text = f"# T\n\n```{{python}}\n{options}\nx = 1\n```\n"
    with pytest.raises(BuildError) as err:
        qmd.cells(text, "report/4-pooling.qmd")
    message = str(err.value)
    assert message.startswith(f"report/4-pooling.qmd:{line + 2}: "), message
    assert "\n" not in message and len(message) < 300


def test_a_bad_cell_option_stops_the_build_before_anything_executes(
    tmp_path, monkeypatch
):
    """In the appendix, while section 1's code changed: nothing executes
    or trains, the outputs stay."""
    from conftest import build_cli, make_book, snapshot
    from test_build import BETA, alpha

    book = make_book(tmp_path / "book")
    monkeypatch.setenv("A2_DATA", "download")
    (book / "report/1-optimization.qmd").write_text(alpha("steps = 5"))
    (book / "report/6-reproducibility.qmd").write_text(
        BETA + "\n```{python}\n#| label: [unclosed\nprint(1)\n```\n"
    )
    before = snapshot(book / "build", book / "dist")
    proc = build_cli(book, "pdf")
    assert one_error_line(proc) == (
        "error: report/6-reproducibility.qmd:23: bad cell option "
        "'#| label: [unclosed': expected ',' or ']', but got '<stream end>'"
    )
    assert "executing" not in proc.stderr
    assert snapshot(book / "build", book / "dist") == before
