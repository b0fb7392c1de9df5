"""What users pass to make (S, PARAMS, DATA, PROFILE, QUARTO) reaches the
build byte for byte, or is refused in one line: make never expands it
and no shell parses it. Two builds in one tree take turns and leave
complete provenance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FAKE_QUARTO, REPO, make, make_cmd
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
VARS = ("S", "PARAMS", "DATA", "PROFILE", "QUARTO")
# The interpreter make runs, standing in for the venv's: it prints what
# reached it (arguments and environment) and does nothing else.
ECHO = """#!{python}
import json, os, sys
names = {names!r}
print(json.dumps({{"argv": sys.argv[1:],
                  **{{n: os.environ.get(n) for n in names}}}}))
"""


@pytest.fixture(scope="session")
def echo_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("echo-venv")
    (venv / "bin").mkdir()
    python = venv / "bin/python"
    python.write_text(ECHO.format(python=sys.executable, names=VARS))
    python.chmod(0o755)
    return venv


@pytest.mark.parametrize("how", ["command line", "environment"])
@pytest.mark.parametrize("case", HOSTILE)
def test_every_value_reaches_the_build_byte_for_byte(
    echo_venv: Path, tmp_path: Path, case: str, how: str
) -> None:
    """All five at once, through `make section`: the build receives each
    exactly as given, as its argument and in its environment."""
    value = HOSTILE[case]
    given = {name: f"{value}-{name}" for name in VARS}
    env = {k: v for k, v in os.environ.items() if k not in VARS}
    env.pop("MAKEFLAGS", None)
    args = [f"{k}={v}" for k, v in given.items()]
    if how == "environment":
        env.update(given)
        args = []
    proc = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "-f",
            str(REPO / "Makefile"),
            f"VENV={echo_venv}",
            "SETUP=",
            *args,
            "section",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert {k: seen[k] for k in VARS} == given
    assert seen["argv"] == [
        "-m",
        "a2.pipeline",
        "--profile",
        given["PROFILE"],
        "section",
        given["S"],
        "--params",
        given["PARAMS"],
    ]
    assert not list(tmp_path.rglob("pwned*"))


@pytest.fixture(scope="session")
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
    """How an error line shows a value: a control character as '?'."""
    return value.replace("\n", "?")


def build_error(book: Path, *args: str) -> str:
    """The error line the build's command line prints for ``args`` (run
    in this process: the same code, without an interpreter's start)."""
    from a2.config.files import ParamsError
    from a2.pipeline import BuildError
    from a2.pipeline.__main__ import main
    from a2.text import printable

    with pytest.raises((BuildError, ParamsError)) as err:
        main(["--root", str(book), *args])
    return f"error: {printable(err.value)}"


@pytest.mark.parametrize("case", HOSTILE)
def test_the_build_names_each_value_as_given_in_one_line(
    book: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A params file or section of that name is not there, a profile is
    no name, a Quarto path cannot run: the error says so, showing the
    value exactly (a newline as ?), and never falls back."""
    value = HOSTILE[case]
    assert build_error(book, "section", "1", "--params", value + ".yaml") == (
        f"error: {shown(value)}.yaml: params file not found"
    )
    assert build_error(book, "section", value).startswith(
        f"error: unknown section '{shown(value)}'; valid sections:"
    )
    assert "a profile is a name such as full or smoke" in build_error(
        book, "--profile", value, "pdf"
    )
    index = book / "index.md"
    index.write_text(index.read_text() + "\nAgain.\n")  # it must render
    monkeypatch.chdir(book)
    monkeypatch.setenv("QUARTO", value)
    assert build_error(book, "pdf").startswith(
        f"error: QUARTO={shown(value)} cannot be run"
    )
    assert not list(book.rglob("pwned*"))


def test_odd_names_are_used_as_given_end_to_end(book: Path) -> None:
    """Through make and the real build: a params file and a data path
    whose names make, a shell or a line reader would act on."""
    name = HOSTILE["make call"] + HOSTILE["quotes"] + HOSTILE["newline"]
    (book / f"{name}.yaml").write_text("steps: 7\n")
    proc = make(book, "S=1", f"PARAMS={name}.yaml", f"DATA={name}", "section")
    assert proc.returncode == 0, proc.stderr
    assert "Alpha ran 7 steps." in (book / "dist/site/index.html").read_text()
    nb = json.loads(
        (book / "build/full/exec/6-reproducibility.ipynb").read_text()
    )
    out = "".join(nb["cells"][-1]["outputs"][0]["text"])
    assert out == f"{book / name}\n"
    assert not list(book.rglob("pwned*"))


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
    cmd = make_cmd("DATA=download", "pdf")
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
