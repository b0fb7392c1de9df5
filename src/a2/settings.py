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


class SettingError(RuntimeError):
    """A setting that cannot be used; the message names it and says why."""


def data_source() -> str:
    return os.environ.get("A2_DATA", "download").strip() or "download"


def cache_dir() -> Path:
    """The cache folder, created when missing. A read-only folder is
    returned as is (hits still load); one that is a file, or that cannot
    be created, is a SettingError."""
    path = Path(os.environ.get("A2_CACHE", REPO / ".cache"))
    if path.is_dir():
        return path
    if path.exists():
        raise SettingError(
            f"A2_CACHE={path} is a file, not a folder; "
            f"point A2_CACHE at a folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file on the way, no permission, full disk
        raise SettingError(
            f"A2_CACHE={path}: cannot create the folder "
            f"({err.strerror}); point A2_CACHE at a "
            f"writable folder"
        ) from None
    return path
