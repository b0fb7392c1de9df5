"""Settings read from the environment, shared by the library and the build.

``A2_DATA``  where CIFAR-10 comes from: ``download`` (default: the official
             archive, md5-checked) or a local path (an ``.npz`` in the layout
             of the offline stand-in, a ``cifar-10-batches-py`` folder, or
             the ``cifar-10-python.tar.gz`` archive).
``A2_CACHE`` where downloads, palettes and trained checkpoints are kept
             (default: ``.cache`` in the repository root).

Both are read the same way everywhere (the CLI, the build, a notebook):
surrounding white space is dropped, an empty value means the default (so
``A2_CACHE=`` never puts ``runs/`` and ``data/`` in the current folder),
and a path has ``~`` expanded and is made absolute (:func:`normalise_data`,
:func:`normalise_path`).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


class SettingError(RuntimeError):
    """A setting that cannot be used; the message names it and says why."""


def normalise_path(value: str, base: str | Path | None = None) -> Path:
    """A path setting as the library uses it: ``~`` expanded, and a
    relative path made absolute against ``base`` (default: the current
    folder). Links are kept, not resolved."""
    path = Path(value.strip()).expanduser()
    return path if path.is_absolute() else Path(base or Path.cwd()) / path


def normalise_data(setting: str, base: str | Path | None = None) -> str:
    """An ``A2_DATA`` value as the library reads it: ``download`` (also
    for an empty value), else :func:`normalise_path` of it. The build
    calls this with the folder ``make`` was run from, so that the CLI and
    the build read the same source."""
    value = setting.strip()
    if value in ("", "download"):
        return "download"
    return str(normalise_path(value, base))


def data_source() -> str:
    """``A2_DATA``, normalised (:func:`normalise_data`)."""
    return normalise_data(os.environ.get("A2_DATA", ""))


def cache_dir() -> Path:
    """The cache folder (``A2_CACHE``, normalised; empty means the
    default), created when missing. A read-only folder is returned as is
    (hits still load); one that is a file, or that cannot be created, is
    a SettingError."""
    value = os.environ.get("A2_CACHE", "").strip()
    path = normalise_path(value) if value else REPO / ".cache"
    try:
        if path.is_dir():
            return path
        if path.exists():
            raise SettingError(
                f"A2_CACHE={path} is a file, not a folder; "
                f"point A2_CACHE at a folder"
            )
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file on the way, no permission, full disk
        raise SettingError(
            f"A2_CACHE={path}: cannot create the folder "
            f"({err.strerror}); point A2_CACHE at a "
            f"writable folder"
        ) from None
    return path


def data_identity() -> dict:
    """The data setting, and for a local copy its files' names, sizes and
    times: what a section that reads data depends on (a replaced file is
    new data, read again)."""
    setting, found = data_source(), []
    path = Path(setting)
    if setting != "download" and path.exists():
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            found.append([f.name, f.stat().st_size, f.stat().st_mtime_ns])
    return {"setting": setting, "files": found}
