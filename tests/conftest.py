"""Shared fixtures: the offline CIFAR-10 stand-in, isolated caches, and
the one smoke build that the end-to-end tests look at."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HORSE_NPZ = REPO.parent / "shared" / "data" / "cifar10-horse.npz"


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
    from a2 import data

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(tmp_path_factory.mktemp("cache")))
        return data.load(source=horse_npz, n_train=128, n_valid=64)


SMOKE_BUILD = "build/test-smoke"  # apart from build/smoke, which users keep


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


RENDERERS = ("embedded", "quarto")


def quarto() -> str | None:
    """The Quarto the tests render with: QUARTO, else on PATH, else the
    one `make quarto` set up in .tools/quarto."""
    local = REPO / ".tools/quarto/bin/quarto"
    return (
        os.environ.get("QUARTO")
        or shutil.which("quarto")
        or (str(local) if local.is_file() else None)
    )


def need_quarto() -> str:
    """Quarto's path; without one the Quarto half of a test is skipped,
    unless A2_REQUIRE_QUARTO=1 (CI sets it up and requires it)."""
    path = quarto()
    if path:
        return path
    message = (
        "no Quarto (set QUARTO=path or put quarto on PATH; "
        "../shared/quarto/setup.sh sets one up)"
    )
    if os.environ.get("A2_REQUIRE_QUARTO") == "1":
        pytest.fail(message)
    pytest.skip(message)


def make_smoke(
    renderer: str, quarto_path: str | None = None
) -> subprocess.CompletedProcess:
    """`make pdf PROFILE=smoke` on the real report, rendered by one
    renderer into build/test-smoke/dist-<renderer>; the sections are
    executed once for both."""
    env = {**os.environ, "A2_RENDERER": renderer}
    env.pop("MAKEFLAGS", None)
    env.pop("RENDERER", None)
    if quarto_path:
        env["QUARTO"] = quarto_path
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(REPO),
            "pdf",
            "PROFILE=smoke",
            f"B={SMOKE_BUILD}",
            f"DIST={SMOKE_BUILD}/dist-{renderer}",
            f"DATA={data_setting()}",
        ],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture(scope="session")
def smoke_built() -> Path:
    """The smoke build folder, from cold, executed and rendered by the
    embedded renderer."""
    shutil.rmtree(REPO / SMOKE_BUILD, ignore_errors=True)
    proc = make_smoke("embedded")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "rendering with the embedded renderer" in proc.stdout
    return REPO / SMOKE_BUILD


@pytest.fixture(scope="session")
def quarto_dist(smoke_built: Path) -> Path:
    """The same executed sections rendered by Quarto."""
    path = need_quarto()
    proc = make_smoke("quarto", path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "rendering with Quarto" in proc.stdout
    assert "executing" not in proc.stdout  # rendered, not re-executed
    return smoke_built / "dist-quarto"


@pytest.fixture(scope="session", params=RENDERERS)
def smoke_dist(request: pytest.FixtureRequest, smoke_built: Path) -> Path:
    """The smoke build's outputs from each renderer in turn."""
    if request.param == "quarto":
        return request.getfixturevalue("quarto_dist")
    return smoke_built / "dist-embedded"
