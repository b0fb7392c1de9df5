"""What users pass to make (S, PARAMS, DATA, PROFILE, QUARTO) reaches the
build byte for byte, or is refused in one line: make never expands it
and no shell parses it. Two builds in one tree take turns and leave
complete provenance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import FAKE_QUARTO, PY, REPO, make, one_error_line
from test_build import make_scratch

# What a value may hold that make or a shell would act on.
HOSTILE = {
    "make call": "$(shell touch pwned)",
    "make var": "$(touch pwned)x",
    "dollars": "$$HOME",
    "quotes": "a'b\"c",
    "backticks": "`touch pwned`",
    "semicolon": "x; touch pwned",
    "newline": "x\ntouch pwned",
}
# The cases that build (a section executes): the ones each layer could
# act on, make ($), the shell (quotes) and a line reader (newline).
BUILDING = ["make call", "quotes", "newline"]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_scratch(tmp_path_factory.mktemp("inputs") / "book")
    proc = make(root, "DATA=download", "pdf")
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def book(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "book"
    shutil.copytree(built, root, symlinks=True)
    return root


def shown(value: str) -> str:
    """How an error line shows a value: control characters escaped."""
    return value.replace("\n", "\\n")


def nothing_ran(book: Path) -> None:
    assert not list(book.rglob("pwned*")), list(book.rglob("pwned*"))


@pytest.mark.parametrize("how", ["command line", "environment"])
@pytest.mark.parametrize("case", HOSTILE)
def test_params_reach_the_build_byte_for_byte(
    book: Path, case: str, how: str
) -> None:
    """A params file of that name is not there: the error names it
    exactly (never the defaults, never a command run)."""
    value = HOSTILE[case] + ".yaml"
    args, env = (
        ([f"PARAMS={value}"], None)
        if how == "command line"
        else ([], {"PARAMS": value})
    )
    line = one_error_line(make(book, "S=1", *args, "section", env=env))
    assert line == f"error: {shown(value)}: params file not found"
    nothing_ran(book)


@pytest.mark.parametrize("case", BUILDING)
def test_a_params_file_of_any_name_is_used(book: Path, case: str) -> None:
    """The same names, as files that exist, are read and shown."""
    name = HOSTILE[case] + ".yaml"
    (book / name).write_text("steps: 7\n")
    proc = make(book, "S=1", f"PARAMS={name}", "section")
    assert proc.returncode == 0, proc.stderr
    assert "Alpha ran 7 steps." in (book / "dist/site/index.html").read_text()
    nothing_ran(book)


@pytest.mark.parametrize("case", HOSTILE)
def test_section_names_reach_the_build_byte_for_byte(
    book: Path, case: str
) -> None:
    line = one_error_line(make(book, f"S={HOSTILE[case]}", "section"))
    assert line.startswith(
        f"error: unknown section '{shown(HOSTILE[case])}'; valid sections:"
    )
    nothing_ran(book)


@pytest.mark.parametrize("case", BUILDING)
def test_data_settings_reach_the_build_byte_for_byte(
    book: Path, case: str
) -> None:
    """The data setting is what the sections read, as given (a relative
    path is made absolute against the repository)."""
    proc = make(book, f"DATA={HOSTILE[case]}", "pdf")
    assert proc.returncode == 0, proc.stderr
    nb = json.loads(
        (book / "build/full/exec/6-reproducibility.ipynb").read_text()
    )
    out = "".join(nb["cells"][-1]["outputs"][0]["text"])
    assert out == f"{book / HOSTILE[case]}\n"
    nothing_ran(book)


@pytest.mark.parametrize("case", HOSTILE)
def test_profiles_that_are_no_name_are_refused_in_one_line(
    book: Path, case: str
) -> None:
    line = one_error_line(make(book, f"PROFILE={HOSTILE[case]}", "pdf"))
    assert "a profile is a name such as full or smoke" in line
    nothing_ran(book)


@pytest.mark.parametrize("case", HOSTILE)
def test_quarto_paths_reach_the_build_byte_for_byte(
    book: Path, case: str
) -> None:
    index = book / "index.md"
    index.write_text(index.read_text() + "\nAgain.\n")  # it renders
    line = one_error_line(make(book, "pdf", env={"QUARTO": HOSTILE[case]}))
    assert line.startswith(
        f"error: QUARTO={shown(HOSTILE[case])} cannot be run"
    )
    nothing_ran(book)


def test_a_tilde_in_data_means_home_through_make_too(
    book: Path, horse_npz: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    shutil.copy(horse_npz, home / "data/horse.npz")
    proc = make(book, "DATA=~/data/horse.npz", "pdf", env={"HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    nb = json.loads(
        (book / "build/full/exec/6-reproducibility.ipynb").read_text()
    )
    out = "".join(nb["cells"][-1]["outputs"][0]["text"])
    assert out == f"{home / 'data/horse.npz'}\n"


def test_params_file_with_markup_in_its_name_shows_as_text(
    book: Path,
) -> None:
    """A name with spaces, backticks and HTML is one argument, and the
    staged book shows it as code: no tag of it becomes markup."""
    name = "my <img src=x onerror=alert(1)> `x` params.yaml"
    (book / name).write_text("steps: 7\n")
    proc = make(book, f"PARAMS={name}", "S=1", "section")
    assert proc.returncode == 0, proc.stderr
    staged = (book / "build/full/book/1-optimization.ipynb").read_text()
    assert "``my <img src=x onerror=alert(1)> `x` params.yaml``" in staged
    assert (book / "build/full/book/params" / name).is_file()


def test_two_builds_in_one_tree_take_turns(book: Path) -> None:
    """Started together: the second waits for the first (it says so and
    names the pid to stop), both succeed, and every section's
    provenance is complete."""
    (book / "params/1-optimization.yaml").write_text("steps: 4\n")
    env = {**os.environ, "QUARTO": str(FAKE_QUARTO)}
    env.pop("MAKEFLAGS", None)
    cmd = [
        "make",
        "--no-print-directory",
        "-f",
        str(REPO / "Makefile"),
        f"VENV={Path(PY).parents[1]}",
        "SETUP=",
        "DATA=download",
        "pdf",
    ]
    procs = [
        subprocess.Popen(
            cmd,
            cwd=book,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert any(
        "another build is running in this tree (pid " in err for _, err in outs
    )
    executed = [
        ln
        for _, err in outs
        for ln in err.splitlines()
        if ln.startswith("1-optimization: executing")
    ]
    assert len(executed) == 1  # the second found the work done
    records = book / "build/full/provenance"
    for stem in ("1-optimization", "6-reproducibility"):
        record = json.loads((records / f"{stem}.json").read_text())
        assert "params" in record and record["commit"]
    assert not list(records.glob(".*"))
    assert not list((book / "build/full/exec").glob(".*"))
