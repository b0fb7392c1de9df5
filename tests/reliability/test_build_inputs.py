"""What users pass to make (S, PARAMS, DATA) is data, never shell code;
names from outside reach the site escaped; two builds in one tree take
turns and leave complete provenance."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import PY, REPO, make, one_error_line
from test_build import make_scratch


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_scratch(tmp_path_factory.mktemp("inputs") / "book")
    proc = make(root, "DATA=download", "pdf")
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def book(built: Path, tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "book"
    shutil.copytree(built, root, symlinks=True)
    return root


@pytest.mark.parametrize(
    "var,value,error",
    [
        (
            "PARAMS",
            "x.yaml; touch pwned",
            "x.yaml; touch pwned: params file not found",
        ),
        (
            "PARAMS",
            "`touch pwned`.yaml",
            "`touch pwned`.yaml: params file not found",
        ),
        (
            "PARAMS",
            "x.yaml' && touch pwned && echo '",
            "params file not found",
        ),
        ("S", "1; touch pwned", "unknown section '1; touch pwned'"),
        ("S", "1' && touch pwned && echo '", "unknown section"),
    ],
)
def test_a_value_with_shell_syntax_runs_no_command(
    book: Path, var: str, value: str, error: str
) -> None:
    args = [f"{var}={value}"] + (["S=1"] if var == "PARAMS" else [])
    proc = make(book, *args, "section")
    assert not (book / "pwned").exists(), proc.stdout + proc.stderr
    assert error in one_error_line(proc)


def test_a_data_setting_with_shell_syntax_is_one_setting(book: Path) -> None:
    value = "x.npz; touch pwned `touch pwned3` | touch pwned4 & #"
    make(book, f"DATA={value}", "pdf")
    assert not list(book.glob("pwned*"))
    assert (book / "build/full/data.stamp").read_text() == value


def test_params_file_with_spaces_and_markup_in_its_name(book: Path) -> None:
    """A name with spaces, backticks and HTML is one argument, and the
    site shows it as text: no tag of it reaches the page."""
    name = "my <img src=x onerror=alert(1)> `x` params.yaml"
    (book / name).write_text("steps: 7\n")
    proc = make(book, f"PARAMS={name}", "S=1", "section")
    assert proc.returncode == 0, proc.stderr
    page = (book / "dist/site/1-optimization.html").read_text()
    assert "Alpha ran 7 steps" in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert (book / "dist/site/params" / name).is_file()


def test_data_path_with_a_space_is_one_setting(
    book: Path, horse_npz: Path
) -> None:
    folder = book / "my data"
    folder.mkdir()
    (folder / "horse.npz").write_bytes(horse_npz.read_bytes())
    proc = make(book, "DATA=my data/horse.npz", "pdf")
    assert proc.returncode == 0, proc.stderr
    assert (book / "build/full/data.stamp").read_text() == (
        "my data/horse.npz"
    )
    nb = json.loads(
        (book / "build/full/exec/6-reproducibility.ipynb").read_text()
    )
    out = "".join(nb["cells"][-1]["outputs"][0]["text"])
    assert str(folder / "horse.npz") in out


def test_a_profile_that_is_no_name_is_refused(book: Path) -> None:
    proc = make(book, "PROFILE=../x; touch pwned", "pdf")
    assert proc.returncode != 0
    assert not (book / "pwned").exists()
    assert "PROFILE must be a name" in proc.stderr


def test_two_builds_in_one_tree_take_turns(book: Path) -> None:
    """Started together: the second waits for the first (it says so),
    both succeed, and every section's provenance is complete."""
    (book / "params/1-optimization.yaml").write_text("steps: 4\n")
    env = {**os.environ, "A2_RENDERER": "embedded"}
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
        "another build is running in this tree" in err for _, err in outs
    )
    executed = [
        ln
        for out, _ in outs
        for ln in out.splitlines()
        if ln.startswith("executing 1-optimization")
    ]
    assert len(executed) == 1  # the second found the work done
    records = book / "build/full/provenance"
    for stem in ("1-optimization", "6-reproducibility"):
        record = json.loads((records / f"{stem}.json").read_text())
        assert "params" in record and record["commit"]
    assert not list(records.glob(".*"))
    assert not list((book / "build/full/exec").glob(".*"))
