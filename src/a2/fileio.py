"""File helpers shared by the caches and the data readers: atomic writes,
and pickles read without running code.

CIFAR-10's python batches and the course's palette file are pickles. A
plain ``pickle.load`` (or ``np.load(allow_pickle=True)``) of such a file
runs whatever code the file names, so they are read here by an unpickler
that admits only what those files hold: numpy arrays, dtypes and scalars,
and builtin dicts, lists, tuples, bytes, strings and numbers.
"""

from __future__ import annotations

import builtins
import codecs
import contextlib
import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def atomic_write(path: Path, blob: bytes) -> None:
    """Temporary file in the same folder, fsync, rename: a reader sees the
    old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=path.name + ".", suffix=".tmp"
    )
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 is too private
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


def reason(err: BaseException, limit: int = 120) -> str:
    """An exception as one short line, for a message about a file."""
    text = " ".join(str(err).split())
    return (
        f"{type(err).__name__}: {text[:limit]}" if text else type(err).__name__
    )


class RefusedPickle(pickle.UnpicklingError):
    """A pickle that names something outside the admitted types."""


def _admitted() -> dict[tuple[str, str], Any]:
    """(module, name) -> object. numpy's helpers are taken from live
    objects, so numpy 1 (``numpy.core``) and 2 (``numpy._core``) names
    both resolve without importing either path."""
    array = np.zeros(1)
    helpers = {
        ("multiarray", "_reconstruct"): array.__reduce__()[0],
        ("multiarray", "scalar"): np.float64(0).__reduce__()[0],
        ("numeric", "_frombuffer"): array.__reduce_ex__(5)[0],
    }
    out: dict[tuple[str, str], Any] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        # Protocol 2 pickles made by Python 3 spell bytes this way.
        ("_codecs", "encode"): codecs.encode,
    }
    for (module, name), obj in helpers.items():
        for package in ("numpy.core", "numpy._core"):
            out[(f"{package}.{module}", name)] = obj
    for name in ("dict", "list", "tuple", "bytes", "str", "int", "float"):
        for module in ("builtins", "__builtin__"):  # Python 3, Python 2
            out[(module, name)] = getattr(builtins, name)
    return out


ADMITTED = _admitted()


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return ADMITTED[(module, name)]
        except KeyError:
            raise RefusedPickle(
                f"it asks for {module[:60]}.{name[:60]}, "
                f"which is not an array, list or "
                f"number"
            ) from None


def restricted_loads(blob: bytes) -> Any:
    """Unpickle ``blob`` admitting only numpy arrays, dtypes, scalars and
    builtin containers, strings and numbers (Python 2 pickles too: their
    strings come back as bytes). Raises RefusedPickle for anything else,
    and the usual errors (UnpicklingError, EOFError, ValueError, ...) for a
    damaged pickle."""
    return _Restricted(io.BytesIO(blob), encoding="bytes").load()


NPY_MAGIC = b"\x93NUMPY"


def restricted_npy(blob: bytes) -> np.ndarray:
    """An ``.npy`` file's array. Object arrays (how the course saves its
    palette) are stored as a pickle after the header; they go through
    ``restricted_loads``, never through ``np.load(allow_pickle=True)``."""
    fh = io.BytesIO(blob)
    version = np.lib.format.read_magic(fh)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise ValueError(f"npy format version {version} is not supported")
    _, _, dtype = readers[version](fh)
    if not dtype.hasobject:
        return np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    array = restricted_loads(fh.read())
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"its pickle holds a {type(array).__name__}, not an array"
        )
    return array
