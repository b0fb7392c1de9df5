"""Settings read from the environment, shared by the library and the build.

``A2_DATA``  where CIFAR-10 comes from: ``download`` (default: the official
             archive, md5-checked) or a local path (an ``.npz`` in the layout
             of the offline stand-in, a ``cifar-10-batches-py`` folder, or
             the ``cifar-10-python.tar.gz`` archive).
``A2_CACHE`` where downloads, palettes and trained checkpoints are kept
             (default: ``.cache`` in the repository root).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def data_source() -> str:
    return os.environ.get("A2_DATA", "download").strip() or "download"


def cache_dir() -> Path:
    path = Path(os.environ.get("A2_CACHE", REPO / ".cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path
