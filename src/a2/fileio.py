"""File helpers shared by the caches and the data readers: atomic writes,
bounded reads of regular files only, pickles read without running code,
and OS errors as one line.

CIFAR-10's python batches and the course's palette file are pickles. A
plain ``pickle.load`` (or ``np.load(allow_pickle=True)``) of such a file
runs whatever code the file names, so they are read here by an unpickler
that admits only what those files hold: numpy arrays, dtypes and scalars,
and builtin dicts, lists, tuples, bytes, strings and numbers. Nor may a
small file build a large object: what a pickle allocates, and what its
shared references expand to, is bounded by the file's own size.
"""

from __future__ import annotations

import builtins
import codecs
import contextlib
import io
import math
import os
import pickle
import stat
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from a2.text import printable


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
    text = printable(" ".join(str(err).split()))
    return (
        f"{type(err).__name__}: {text[:limit]}" if text else type(err).__name__
    )


def shown_name(path: Any, limit: int = 160) -> str:
    """A file name for a one-line message: control characters shown as
    '?', and a name longer than ``limit`` cut in its middle."""
    text = printable(os.fsdecode(path) if isinstance(path, bytes) else path)
    if len(text) <= limit:
        return text
    half = (limit - 3) // 2
    return f"{text[:half]}...{text[-half:]}"


def os_error_line(err: OSError, what: str = "") -> str:
    """An OSError as one line naming its file: ``what`` (e.g. "params
    file"), the file, and the system's reason ("File name too long",
    "Permission denied", "No space left on device")."""
    why = err.strerror or (os.strerror(err.errno) if err.errno else "")
    why = printable(why or reason(err))
    names = [shown_name(f) for f in (err.filename, err.filename2) if f]
    where = " -> ".join(names)
    head = " ".join(part for part in (what, where) if part)
    return f"{head}: {why}" if head else why


class FileRefused(ValueError):
    """A file that is not read: not a regular file, or larger than the
    largest one of its kind. The message says which, without the name."""


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: str | Path, limit: int) -> BinaryIO:
    """``path`` opened for reading, when it is a regular file (or a link
    to one) of at most ``limit`` bytes; else FileRefused, before anything
    is read. A named pipe is opened without waiting for a writer, so it
    is refused at once instead of hanging. OSError as usual (missing,
    no permission, a name too long)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((k for is_, k in _KINDS if is_(st.st_mode)), "")
            raise FileRefused(f"is {kind or 'special'}, not a regular file")
        if st.st_size > limit:
            raise FileRefused(
                f"holds {st.st_size:,} bytes, more than the {limit:,} "
                f"that such a file may"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes
    (:func:`open_regular`); one that grows past it while read is
    refused too."""
    with open_regular(path, limit) as fh:
        size = os.fstat(fh.fileno()).st_size
        blob = fh.read(size + 1)  # read() sets aside what it is asked for
        if len(blob) > size:
            blob += fh.read(limit + 1 - len(blob))
    if len(blob) > limit:
        raise FileRefused(f"grew past {limit:,} bytes while it was read")
    return blob


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
_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_BUILTINS = frozenset(
    getattr(builtins, n)
    for n in ("dict", "list", "tuple", "bytes", "str", "int", "float")
)
_SCALARS = (str, bytes, int, float, type(None))


def _budget(blob: bytes) -> int:
    """What a pickle of ``blob`` may allocate, and expand to, in bytes
    (and one unit per object): each value costs the file at least one
    byte, unless it is a shared reference."""
    return 2 * len(blob) + 4096


class _Restricted(pickle.Unpickler):
    """Admits ``ADMITTED`` only; the constructors a pickle calls (an
    empty array, ``bytes(n)``, a string conversion) may allocate
    ``budget`` bytes in all, so a few bytes never ask for gigabytes."""

    def __init__(self, blob: bytes):
        super().__init__(io.BytesIO(blob), encoding="bytes")
        self.left = _budget(blob)
        self.ndarray = self._ndarray  # one object: _reconstruct knows it

    def find_class(self, module: str, name: str) -> Any:
        obj = ADMITTED.get((module, name))
        if obj is None:
            raise RefusedPickle(
                f"it asks for {module[:60]}.{name[:60]}, "
                f"which is not an array, list or "
                f"number"
            )
        if obj is np.ndarray:
            return self.ndarray
        if obj is _RECONSTRUCT:
            return self._reconstruct
        if obj is codecs.encode:
            return self._encode
        if obj in _BUILTINS:
            return lambda *args: self._builtin(obj, args)
        return obj

    def _spend(self, nbytes: int, what: str) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise RefusedPickle(
                f"it asks for {what} of {nbytes:,} bytes, more than a "
                f"file of its size can hold"
            )

    def _array_bytes(self, shape: Any, dtype: Any) -> int:
        dims = shape if isinstance(shape, (tuple, list)) else (shape,)
        return math.prod(map(int, dims)) * np.dtype(dtype).itemsize

    def _ndarray(self, shape: Any, dtype: Any = float, *rest: Any) -> Any:
        self._spend(self._array_bytes(shape, dtype), "an array")
        return np.ndarray(shape, dtype, *rest)

    def _reconstruct(self, subtype: Any, shape: Any, dtype: Any) -> Any:
        if subtype is self.ndarray:
            subtype = np.ndarray
        self._spend(self._array_bytes(shape, dtype), "an array")
        return _RECONSTRUCT(subtype, shape, dtype)

    def _encode(self, text: Any, encoding: Any = "utf-8") -> bytes:
        # Python 3 writes bytes as encode(latin-1 text, 'latin1'); other
        # codecs (hex, base64, zlib) could grow a value call by call.
        name = (
            encoding.decode("latin1")
            if isinstance(encoding, bytes)
            else str(encoding)
        )
        if codecs.lookup(name).name != "iso8859-1":
            raise RefusedPickle(f"it encodes with {printable(name)[:40]}")
        out = codecs.encode(text, "latin1")
        self._spend(len(out), "bytes")
        return out

    def _builtin(self, func: Any, args: tuple) -> Any:
        if not all(isinstance(a, _SCALARS) for a in args):
            kinds = ", ".join(type(a).__name__ for a in args)
            raise RefusedPickle(f"it calls {func.__name__}({kinds[:60]})")
        if func is bytes and args and isinstance(args[0], int):
            self._spend(args[0], "bytes")
        out = func(*args)
        self._spend(len(out) if hasattr(out, "__len__") else 1, "a value")
        return out


def _check_expansion(obj: Any, budget: int) -> None:
    """RefusedPickle when ``obj`` is larger than ``budget`` with each
    shared reference counted every time it occurs, as ``np.asarray`` or a
    loop over it sees it: a few nested lists of one shared list would
    otherwise pass as kilobytes and become gigabytes there."""
    total, stack = 0, [obj]
    while stack:
        x = stack.pop()
        total += 1
        if isinstance(x, (bytes, str)):
            total += len(x)
        elif isinstance(x, np.ndarray) and not x.dtype.hasobject:
            total += x.nbytes
        elif isinstance(x, (list, tuple, dict, np.ndarray)):
            items = list(x.items()) if isinstance(x, dict) else x
            total += len(items)
            if total <= budget:
                stack.extend(
                    items if not isinstance(x, np.ndarray) else x.flat
                )
        if total > budget:
            raise RefusedPickle(
                f"its shared references expand to over {budget:,} "
                f"values and bytes, more than a file of its size holds"
            )


def restricted_loads(blob: bytes) -> Any:
    """Unpickle ``blob`` admitting only numpy arrays, dtypes, scalars and
    builtin containers, strings and numbers (Python 2 pickles too: their
    strings come back as bytes), and no more than the file's size allows
    (``_budget``), shared references expanded. Raises RefusedPickle for
    anything else, and the usual errors (UnpicklingError, EOFError,
    ValueError, ...) for a damaged pickle."""
    obj = _Restricted(blob).load()
    _check_expansion(obj, _budget(blob))
    return obj


NPY_MAGIC = b"\x93NUMPY"


def npy_header(fh: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of the ``.npy`` file ``fh`` is at the start of,
    read from its header alone (nothing of the data)."""
    version = np.lib.format.read_magic(fh)
    readers = {
        (1, 0): np.lib.format.read_array_header_1_0,
        (2, 0): np.lib.format.read_array_header_2_0,
    }
    if version not in readers:
        raise ValueError(f"npy format version {version} is not supported")
    shape, _, dtype = readers[version](fh)
    return shape, dtype


def restricted_npy(blob: bytes) -> np.ndarray:
    """An ``.npy`` file's array. Object arrays (how the course saves its
    palette) are stored as a pickle after the header; they go through
    ``restricted_loads``, never through ``np.load(allow_pickle=True)``.
    A header declaring more data than the file holds is refused before
    anything is allocated."""
    fh = io.BytesIO(blob)
    shape, dtype = npy_header(fh)
    if not dtype.hasobject:
        declared = math.prod(shape) * dtype.itemsize
        if declared > len(blob):
            raise ValueError(
                f"its header declares {declared:,} bytes of data; the file "
                f"holds {len(blob):,}"
            )
        return np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    array = restricted_loads(fh.read())
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"its pickle holds a {type(array).__name__}, not an array"
        )
    return array
