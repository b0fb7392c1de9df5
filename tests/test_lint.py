"""Ruff, configured in pyproject.toml, passes over the library, the
tests, the benchmarks and every section's code chunks: lint clean and
formatted (`make format` applies the formatting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUFF = str(Path(sys.executable).parent / "ruff")
TREES = ["src", "tests", "bench", "report"]  # report/: its .py


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True)


def test_library_tests_and_benchmarks_pass_ruff_check() -> None:
    proc = run(RUFF, "check", *TREES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_library_tests_and_benchmarks_are_formatted() -> None:
    proc = run(RUFF, "format", "--check", *TREES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_section_chunks_pass_ruff_check_and_are_formatted() -> None:
    proc = run(sys.executable, "tests/tools/chunk_lint.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_chunk_linter_puts_chunks_back_where_they_were(tmp_path) -> None:
    from tools import chunk_lint as lint

    qmd = tmp_path / "x.qmd"
    qmd.write_text(
        "# T\n\n```{python}\n#| label: fig-a\nx=[1,2]\n```\n\n"
        "Text.\n\n```{python}\ny = x\n```\n"
    )
    found = lint.chunks(qmd.read_text())
    codes = lint.from_python(lint.to_python(found), len(found))
    assert codes == ["x=[1,2]", "y = x"]
    assert lint.write_back(qmd, found, ["x = [1, 2]", "y = x"])
    assert qmd.read_text() == (
        "# T\n\n```{python}\n#| label: fig-a\n"
        "x = [1, 2]\n```\n\nText.\n\n```{python}\n"
        "y = x\n```\n"
    )


def test_a_name_used_only_in_the_prose_is_a_use(tmp_path) -> None:
    """An import the prose needs (`{python} fmt(x)`) is not unused."""
    qmd = tmp_path / "x.qmd"
    qmd.write_text(
        "```{python}\nfrom a2.report import fmt\n\nx = 1\n```\n\n"
        "X is `{python} fmt(x)`.\n"
    )
    proc = run(sys.executable, "tests/tools/chunk_lint.py", str(qmd))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    qmd.write_text(qmd.read_text().replace("fmt(x)", "x"))
    proc = run(sys.executable, "tests/tools/chunk_lint.py", str(qmd))
    assert "F401" in proc.stdout, proc.stdout
