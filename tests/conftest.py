"""Shared fixtures: the offline CIFAR-10 stand-in, isolated caches, and
the one smoke build that the end-to-end tests look at."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HORSE_NPZ = REPO.parent / "shared" / "data" / "cifar10-horse.npz"

# How the suite was started must not change what a test sees.
STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
DROPPED = "A2_TEST_DROPPED_SIGNALS"  # for pytest-xdist's workers
MAKE_VARS = (
    *("S", "PARAMS", "PROFILE", "V", "TIMEOUT"),
    *("MAKEFLAGS", "MFLAGS", "MAKELEVEL"),
)
# A build's record file (set for its kernels) and a user's time limit.
BUILD_VARS = ("A2_PROVENANCE", "A2_TIMEOUT")


def _drop(signum: int, frame: object) -> None:
    """Stands for SIG_IGN in the suite's own processes (see below)."""


def pytest_configure(config: pytest.Config) -> None:
    """The processes tests start get the default action of every stop
    signal, as from a terminal, however the suite was started. A
    background job (`make test &`) inherits SIGINT ignored, `nohup`
    SIGHUP ignored, and exec keeps an ignored signal ignored: a child
    would never see the Ctrl-C a test sends it. Here an ignored (or
    blocked) one is caught and dropped instead, which exec resets to the
    default in children; the suite itself still drops it, and tells its
    workers to. make's own variables (`make test V=1`) are not the
    tests' settings, nor is a build's record file (A2_PROVENANCE);
    `DATA=` is read as A2_DATA, as `make pdf` reads it."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    dropped = set(os.environ.get(DROPPED, "").split())
    for s in STOPS:
        if (
            signal.getsignal(s) == signal.SIG_IGN
            or s in blocked
            or str(int(s)) in dropped
        ):
            signal.signal(s, _drop)
            dropped.add(str(int(s)))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPS)
    os.environ[DROPPED] = " ".join(sorted(dropped))
    if os.environ.get("DATA", "").strip():
        os.environ["A2_DATA"] = os.environ["DATA"]
    for name in (*MAKE_VARS, *BUILD_VARS, "DATA"):
        os.environ.pop(name, None)


@pytest.fixture(scope="session")
def horse_npz() -> Path:
    """The CIFAR-10 horse class in the official batches' layout."""
    if not HORSE_NPZ.is_file():
        pytest.fail(
            f"test data missing: {HORSE_NPZ} (the offline "
            f"CIFAR-10 stand-in, see shared/data/README.md)"
        )
    return HORSE_NPZ


@pytest.fixture
def a2_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point A2_CACHE at a fresh folder so tests never touch the real one."""
    path = tmp_path / "cache"
    monkeypatch.setenv("A2_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def tiny_data(horse_npz: Path, tmp_path_factory: pytest.TempPathFactory):
    """128 training and 64 validation horses with their k-means palette,
    loaded once (the palette cache lives in a session folder)."""
    from a2.colour import data

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(tmp_path_factory.mktemp("cache")))
        return data.load(source=horse_npz, n_train=128, n_valid=64)


# The smoke book is built in a copy of the sources whose path holds a
# space, a quote and a non-ASCII letter, as a clone's may (apart from
# build/smoke, which users keep); `make pdf PROFILE=smoke` there puts it
# in its build/smoke.
SMOKE_CLONE = REPO / "build" / "test-smoke it's café"
SOURCES = (
    "Makefile",
    "_quarto.yml",
    "_quarto-chapter.yml",
    "index.md",
    "report",
    "params",
    "src",
)
# The files whose tests read the smoke build: one worker runs them all.
SMOKE_FILES = {
    "test_check_citations.py",
    "test_pdf_layout.py",
    "test_pipeline_smoke.py",
    "test_preview.py",
    "test_provenance.py",
    "test_site_browser.py",
    "test_verdicts.py",
}


def pytest_xdist_make_scheduler(config, log):  # noqa: ANN001, ANN201
    """pytest-xdist: each file's tests in one worker (its fixtures are
    made once), the smoke build's readers together in one, first: they
    are the longest unit, and started last they would finish last."""
    from collections import OrderedDict

    from xdist.scheduler import LoadScopeScheduling

    class SmokeFirst(OrderedDict):
        def __setitem__(self, scope: str, tests: dict) -> None:
            super().__setitem__(scope, tests)
            if scope == "smoke":
                self.move_to_end(scope, last=False)

    class ByFile(LoadScopeScheduling):
        def __init__(self, config, log) -> None:  # noqa: ANN001
            super().__init__(config, log)
            self.workqueue = SmokeFirst()

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "smoke" if Path(path).name in SMOKE_FILES else path

    return ByFile(config, log)


def data_setting() -> str:
    """A local source when there is one: `make test` exports A2_DATA as
    `download` by default, and a test should not need the network."""
    chosen = os.environ.get("A2_DATA", "download")
    if chosen == "download" and HORSE_NPZ.is_file():
        return str(HORSE_NPZ)
    return chosen


@pytest.fixture(scope="session")
def smoke_data() -> str:
    """The data setting the smoke build uses."""
    return data_setting()


def quarto() -> str | None:
    """The Quarto the smoke book is rendered with: QUARTO, else on PATH,
    else the one `make quarto` set up in .tools/quarto (the build would
    otherwise install quarto-cli, which needs a network)."""
    local = REPO / ".tools/quarto/bin/quarto"
    return (
        os.environ.get("QUARTO")
        or shutil.which("quarto")
        or (str(local) if local.is_file() else None)
    )


@pytest.fixture(scope="session")
def quarto_path() -> str:
    """The Quarto the tests render with (never skipped: CI sets one up
    from ../shared/quarto)."""
    path = quarto()
    if path is None:
        pytest.fail(
            "no Quarto: set QUARTO=path, put quarto on PATH or run "
            "`make quarto`"
        )
    return path


def make_smoke(*args: str) -> subprocess.CompletedProcess:
    """`make ARGS PROFILE=smoke` in the smoke clone, with this venv."""
    env = {**os.environ, "A2_DATA": data_setting()}
    if quarto():
        env["QUARTO"] = quarto()
    return subprocess.run(
        [
            *("make", "--no-print-directory", "PROFILE=smoke"),
            *(f"VENV={Path(sys.executable).parents[1]}", "SETUP=", *args),
        ],
        cwd=SMOKE_CLONE,
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture(scope="session")
def smoke_built(testrun_uid: str) -> Path:
    """The smoke build folder, from cold: a fresh copy of the sources,
    executed, and rendered by Quarto once for the whole test run
    (pytest-xdist's workers share it: the first builds, under a lock,
    and marks it with the run's id)."""
    built = SMOKE_CLONE / "build" / "smoke"
    done = built / ".test-run"
    SMOKE_CLONE.parent.mkdir(parents=True, exist_ok=True)
    with open(REPO / "build/.test-smoke.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (done.is_file() and done.read_text() == testrun_uid):
            shutil.rmtree(SMOKE_CLONE, ignore_errors=True)
            SMOKE_CLONE.mkdir()
            skip = shutil.ignore_patterns("__pycache__", "*.egg-info")
            for name in SOURCES:
                src, dest = REPO / name, SMOKE_CLONE / name
                if src.is_dir():
                    shutil.copytree(src, dest, ignore=skip)
                else:
                    shutil.copy(src, dest)
            proc = make_smoke("pdf")
            out = proc.stdout[-4000:] + proc.stderr[-4000:]
            assert proc.returncode == 0, out
            assert "rendering with Quarto" in proc.stdout, out
            done.write_text(testrun_uid)
    return built


@pytest.fixture(scope="session")
def smoke_dist(smoke_built: Path) -> Path:
    """The smoke build's outputs: the PDF, the code notebook, the site."""
    return smoke_built / "dist"
