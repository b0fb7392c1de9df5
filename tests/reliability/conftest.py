"""Fault cases: a scratch book with a data section, fake earlier outputs,
and helpers that run the real command lines as a user would."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:  # reuse the build tests' scratch book
    sys.path.insert(0, str(TESTS))

from test_build import (  # noqa: E402
    FAKE_QUARTO,
    MANIFEST,
    PARAMS_CHUNK,
    make_scratch,
)

REPO = TESTS.parent
PY = (
    str(REPO / ".venv/bin/python")
    if (REPO / ".venv/bin/python").is_file()
    else sys.executable
)


COLOUR = (
    "# Colour\n\n"
    + PARAMS_CHUNK.format(stem="4-pooling")
    + "\n```{python}\nimport a2.colour.data\nprint(p.kernel, p.epochs)\n"
    "```\n"
)


def make_book(root: Path) -> Path:
    """The build tests' scratch book plus 4-pooling, a section that reads
    CIFAR-10 and trains PoolUpsampleNet (the real section's schema)."""
    make_scratch(root)
    (root / "_quarto.yml").write_text(
        MANIFEST.replace(
            "  appendices:", "    - report/4-pooling.qmd\n  appendices:"
        )
    )
    (root / "report/4-pooling.qmd").write_text(COLOUR)
    return root


def fake_outputs(root: Path) -> None:
    """Outputs of an earlier build, which a failing command must keep."""
    for rel in (
        "build/full/exec/1-optimization.ipynb",
        "build/full/exec/4-pooling.ipynb",
        "dist/a2-writeup.pdf",
        "dist/a2-code.ipynb",
        "dist/site/index.html",
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"earlier {rel}".encode())


def snapshot(*folders: Path) -> dict[str, str]:
    """sha256 of every file under the folders (missing folders: empty),
    less the log where the build writes an error line in full."""
    out = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            if path.is_file() and path.name != "build.log":
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run(
    args: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    full = {**os.environ, "QUARTO": str(FAKE_QUARTO), **(env or {})}
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full,
        timeout=timeout,
    )


def in_process(
    main: Callable[[list[str]], int],
    argv: list[str],
    cwd: Path,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess:
    """A command line's own function run in this process, in ``cwd``
    with ``env`` set (None: unset), its output captured: the same lines
    and exit status as the command, without an interpreter's start."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        mp.chdir(cwd)
        for name, value in (env or {}).items():
            if value is None:
                mp.delenv(name, raising=False)
            else:
                mp.setenv(name, value)
        code = main(argv)
    return subprocess.CompletedProcess(
        argv, code, out.getvalue(), err.getvalue()
    )


def build_cli(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m a2.pipeline --root ROOT ARGS`, in this process."""
    from a2.pipeline.__main__ import cli

    # The build sets these; each call starts from the test's own values.
    kept = ("A2_DATA", "A2_CACHE", "A2_PROVENANCE", "A2_TIMEOUT")
    full: dict[str, str | None] = {n: os.environ.get(n, "") for n in kept}
    full.update(QUARTO=str(FAKE_QUARTO), DATA=None, TIMEOUT=None)
    full.update(env or {})
    argv = ["--root", str(root), "--build", str(root / "build/full")]
    return in_process(cli, [*argv, *args], root, full)


def survivors(token: str) -> list[str]:
    """Processes other than this one whose environment holds ``token``
    (every process a build started, and theirs, inherit it), each as
    'pid: command'."""
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        if env.parent.name == str(os.getpid()):
            continue
        try:
            if token.encode() not in env.read_bytes():
                continue
            cmd = (env.parent / "cmdline").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        shown = cmd.replace(b"\0", b" ").decode(errors="replace")
        found.append(f"{env.parent.name}: {shown}")
    return found


def none_survive(token: str, grace: float = 3.0) -> None:
    """No process holding ``token`` is left (killed ones may take a
    moment to go)."""
    deadline = time.monotonic() + grace
    while survivors(token) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors(token) == []


def make_cmd(*args: str) -> list[str]:
    """`make ARGS` with the project's Makefile and this test run's venv
    (no install), to run in a scratch book."""
    return [
        "make",
        "--no-print-directory",
        "-f",
        str(REPO / "Makefile"),
        f"VENV={Path(PY).parents[1]}",
        "SETUP=",
        *args,
    ]


def make(
    root: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """The project's Makefile run on the book at ``root``."""
    return run(make_cmd(*args), root, env, timeout=timeout)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The failure's message: exactly one 'error:' line, no traceback."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


@pytest.fixture
def book(tmp_path: Path) -> Path:
    root = make_book(tmp_path / "book")
    fake_outputs(root)
    return root


@pytest.fixture(scope="session")
def palette_file(tiny_data, tmp_path_factory) -> Path:
    """The tiny data's palette as a palette file: no k-means in child
    processes."""
    path = tmp_path_factory.mktemp("palette") / "colours.npy"
    np.save(path, tiny_data.palette)
    return path


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread here and in child processes: on a shared
    2-core machine tiny runs are ~10x faster so (and CPU runs stay
    bit-exact between the parent and its children)."""
    import torch

    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
