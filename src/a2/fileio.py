"""File helpers shared by the caches and the data readers: atomic writes,
bounded reads of regular files only, an ``.npy`` header read without its
data, and OS errors as one line.

Nothing here unpickles: data files are unpickled only when their bytes
are the official ones (``a2.colour.data``), and ``.npy`` files are read
with ``allow_pickle=False`` after their headers are checked.
"""

from __future__ import annotations

import contextlib
import os
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
