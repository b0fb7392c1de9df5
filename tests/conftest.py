"""Shared fixtures: the offline CIFAR-10 stand-in and isolated caches."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HORSE_NPZ = REPO.parent / "shared" / "data" / "cifar10-horse.npz"


@pytest.fixture(scope="session")
def horse_npz() -> Path:
    """The CIFAR-10 horse class in the official batches' layout."""
    if not HORSE_NPZ.is_file():
        pytest.fail(f"test data missing: {HORSE_NPZ} (the offline "
                    f"CIFAR-10 stand-in, see shared/data/README.md)")
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
