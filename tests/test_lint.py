"""Ruff, configured in pyproject.toml, passes over the library, the
tests, the benchmarks and every section's code chunks: lint clean and
formatted (`make format` applies the formatting)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUFF = str(Path(sys.executable).parent / "ruff")
TREES = ["src", "tests", "bench"]


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


def test_the_build_layer_stays_small() -> None:
    """The build is a thin layer over Quarto and papermill: at most 1,600
    lines in src/a2/pipeline/, whatever kind of file holds them."""
    files = [
        p
        for p in (REPO / "src/a2/pipeline").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    lines = sum(len(p.read_bytes().splitlines()) for p in files)
    assert lines <= 1600, f"src/a2/pipeline/ holds {lines} lines"


def test_the_build_modules_import_no_cycle() -> None:
    """No module of src/a2/pipeline/ imports, at any depth, one that
    imports it back (counting imports inside functions too)."""
    import ast

    folder = REPO / "src/a2/pipeline"
    names = {p.stem for p in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                mod = node.module.removeprefix("a2.pipeline")
                if node.module == "a2.pipeline":
                    found |= {a.name for a in node.names} & names
                elif mod.startswith("."):
                    found.add(mod[1:].split(".")[0])
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("a2.pipeline."):
                        found.add(a.name.split(".")[2])
        graph[path.stem] = found & names - {path.stem}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert [m for m in sorted(graph) if m in reach(m)] == []
