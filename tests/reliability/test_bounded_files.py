"""Untrusted files are bounded (issue 21, class 4): declared sizes are
checked before anything is read or allocated (an .npz's zip and npy
headers against the largest CIFAR-10 layout, a palette's size and npy
header), a batch is unpickled only when its md5 is the official one, and
only regular files are opened. Each refusal is one line naming the file,
within seconds and within a few megabytes of memory: never a hang, never
a MemoryError."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import socket
import struct
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import PY, one_error_line, run
from test_data import as_official
from test_untrusted_files import batches_folder

from a2.colour import data, palette
from a2.fileio import FileRefused, read_bounded

SECONDS = 10
MEGABYTES = 64


@contextlib.contextmanager
def quickly():
    """Within SECONDS (a hang becomes a failure) and MEGABYTES of memory
    (numpy's allocations are traced too)."""

    def late(signum, frame):
        raise TimeoutError(f"still running after {SECONDS} s")

    old = signal.signal(signal.SIGALRM, late)
    signal.alarm(SECONDS)
    tracemalloc.start()
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert peak < MEGABYTES << 20, f"{peak >> 20} MB allocated"


def one_line(err: pytest.ExceptionInfo, named: Path | str) -> str:
    message = str(err.value)
    assert message.startswith(str(named)), message
    assert "\n" not in message
    return message


# --- pickles that build more than they hold ---------------------------------

NEST = [[[[0] * 100] * 100] * 100] * 100  # 10^8 labels from one shared list


class Call:
    """Unpickling calls ``func(*args)``: an admitted callable."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)


def _ndarray_bomb() -> bytes:
    # numpy.ndarray((10**8,), 'f8') called directly: 800 MB, uninitialised.
    return b"cnumpy\nndarray\n((I100000000\ntS'f8'\ntR."


BOMBS = {
    # The case: a few KB whose labels become an 800 MB array.
    "shared references": lambda: pickle.dumps(
        {b"data": np.zeros((1, 3072), np.uint8), b"labels": NEST}, protocol=2
    ),
    "a direct ndarray call": _ndarray_bomb,
    "bytes of a number": lambda: pickle.dumps(Call(bytes, 10**9), protocol=4),
    "str of a shared list": lambda: pickle.dumps(Call(str, NEST), protocol=4),
    "a growing codec": lambda: b"c_codecs\nencode\n(S'ab'\nS'hex'\ntR.",
}


@pytest.mark.parametrize("case", BOMBS)
def test_a_batch_that_would_build_more_than_it_holds_is_one_line(
    tmp_path, a2_cache, monkeypatch, case
):
    as_official(monkeypatch, batches_folder(tmp_path / "good"))
    folder = batches_folder(tmp_path, BOMBS[case]())
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(folder)
    assert "has md5 " in one_line(err, folder / "data_batch_3")


@pytest.mark.parametrize("case", BOMBS)
def test_a_palette_that_builds_more_than_it_holds_is_one_line(tmp_path, case):
    path = tmp_path / "colours.pkl"
    path.write_bytes(BOMBS[case]())
    with quickly(), pytest.raises(palette.PaletteError) as err:
        palette.load_palette_file(path)
    one_line(err, f"palette file {path} ")


# --- files larger than their kind -------------------------------------------


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)  # no disk used, but stat says size
    return path


def test_an_oversized_palette_is_refused_before_it_is_read(tmp_path):
    path = _sparse(tmp_path / "colours.npy", 8 << 30)
    with quickly(), pytest.raises(palette.PaletteError) as err:
        palette.load_palette_file(path)
    assert "was refused: it holds 8,589,934,592 bytes" in one_line(
        err, f"palette file {path} "
    )


# --- .npz: zip and npy headers checked first --------------------------------


def _npy(shape: tuple, dtype: str = "|u1") -> bytes:
    buf = io.BytesIO()
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def _npz(path: Path, horse_npz: Path, big: dict | None = None) -> Path:
    """The horse arrays (first 50 of each split); members in ``big``
    (name -> (npy header, bytes of zeros after it)) written in chunks,
    deflated as np.savez_compressed does."""
    big = big or {}
    with np.load(horse_npz) as z:
        arrays = {k: z[k][:50] for k in data.NPZ_KEYS}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for key, a in arrays.items():
            if key in big:
                header, zeros = big[key]
                with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                    fh.write(header)
                    chunk = bytes(16 << 20)
                    while zeros > 0:
                        fh.write(chunk[: min(zeros, len(chunk))])
                        zeros -= len(chunk)
            else:
                buf = io.BytesIO()
                np.save(buf, a)
                zf.writestr(f"{key}.npy", buf.getvalue())
    return path


def _declare(path: Path, member: str, size: int) -> Path:
    """Patch the central directory: ``member`` says it unpacks to
    ``size`` bytes (a zip bomb's headers, without the seconds of
    deflating it)."""
    blob = bytearray(path.read_bytes())
    name = member.encode()
    at = blob.find(b"PK\x01\x02")
    while at != -1:
        n = struct.unpack_from("<H", blob, at + 28)[0]
        if blob[at + 46 : at + 46 + n] == name:
            struct.pack_into("<I", blob, at + 24, size)
        at = blob.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(blob))
    return path


def test_an_npz_that_inflates_past_the_cifar_layout_is_refused_unread(
    tmp_path, horse_npz, a2_cache
):
    """The issue's case, smaller: a member deflated to a few hundred KB
    that unpacks to 184 MB, more than 50,000 images."""
    shape = (60_000, 3, 32, 32)
    path = _npz(
        tmp_path / "bomb.npz",
        horse_npz,
        {"x_train": (_npy(shape), int(np.prod(shape)))},
    )
    assert path.stat().st_size < 2 << 20
    start = time.monotonic()
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(path)
    assert time.monotonic() - start < 2
    message = one_line(err, path)
    assert "was refused: x_train unpacks to 184,320,128 bytes" in message


def test_an_npz_member_declaring_gigabytes_is_refused_unread(
    tmp_path, horse_npz, a2_cache
):
    path = _declare(
        _npz(tmp_path / "declared.npz", horse_npz), "x_test.npy", 3 << 30
    )
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(path)
    assert "was refused: x_test unpacks to 3,221,225,472" in one_line(
        err, path
    )


def test_an_npy_header_declaring_more_than_its_member_holds_is_refused(
    tmp_path, horse_npz, a2_cache
):
    """A small member whose header asks numpy for 150 MB."""
    path = _npz(
        tmp_path / "lying.npz",
        horse_npz,
        {"x_train": (_npy((50_000, 3, 32, 32)), 3072)},
    )
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(path)
    assert "declares more data than it holds" in one_line(err, path)


def test_an_npz_with_more_test_images_than_cifar_is_refused(
    tmp_path, horse_npz, a2_cache
):
    shape = (10_001, 3, 32, 32)
    path = _npz(
        tmp_path / "many.npz",
        horse_npz,
        {"x_test": (_npy(shape), int(np.prod(shape)))},
    )
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(path)
    assert "x_test holds 10,001 images; CIFAR-10 has 10,000" in one_line(
        err, path
    )


def test_the_offline_npz_still_loads_bit_identical(horse_npz, a2_cache):
    got = data.load_arrays(horse_npz)
    with np.load(horse_npz) as z:
        for key, a in zip(data.NPZ_KEYS, got[:4], strict=True):
            np.testing.assert_array_equal(a, z[key])
            assert a.dtype == z[key].dtype


# --- only regular files ------------------------------------------------------


def _special(kind: str, path: Path) -> Path:
    """``path`` made a FIFO, a socket, a folder or a link to /dev/zero."""
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        sock.close()
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    return path


SPECIAL = ["FIFO", "socket", "folder", "/dev/zero"]
REASONS = {
    "FIFO": "was refused: it is a named pipe (FIFO), not a regular file",
    "socket": "(No such device or address)",
    "folder": "was refused: it is a folder, not a regular file",
    "/dev/zero": "was refused: it is a character device, not a regular file",
}


@pytest.mark.parametrize("kind", SPECIAL)
def test_read_bounded_opens_regular_files_only(tmp_path, kind):
    path = _special(kind, tmp_path / "f")
    with quickly(), pytest.raises((FileRefused, OSError)):
        read_bounded(path, 1 << 20)


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_palette_that_is_no_regular_file_is_one_line(tmp_path, kind):
    path = _special(kind, tmp_path / "colours.npy")
    with quickly(), pytest.raises(palette.PaletteError) as err:
        palette.load_palette_file(path)
    assert REASONS[kind] in one_line(err, f"palette file {path} ")


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_batch_that_is_no_regular_file_is_one_line(
    tmp_path, a2_cache, monkeypatch, kind
):
    folder = batches_folder(tmp_path)
    as_official(monkeypatch, folder)
    (folder / "data_batch_3").unlink()
    _special(kind, folder / "data_batch_3")
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(folder)
    message = one_line(err, folder / "data_batch_3")
    assert "is missing or not a regular file" in message


@pytest.mark.parametrize("kind", ["FIFO", "/dev/zero"])
def test_a_data_source_that_is_no_regular_file_is_one_line(
    tmp_path, a2_cache, kind
):
    path = _special(kind, tmp_path / "cifar.npz")
    with quickly(), pytest.raises(data.DataError) as err:
        data.load_arrays(path)
    assert "is neither 'download' nor an existing folder" in str(err.value)


@pytest.mark.parametrize("kind", ["FIFO", "/dev/zero"])
def test_a_cached_palette_that_is_no_regular_file_is_recomputed(
    a2_cache, kind
):
    import torch

    rgb = torch.rand(4, 3, 8, 8)
    first = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    (path,) = (a2_cache / "data").glob("palette-*.npy")
    path.unlink()
    _special(kind, path)
    with quickly():
        again = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    np.testing.assert_array_equal(again, first)


@pytest.mark.parametrize("kind", ["FIFO", "/dev/zero"])
def test_a_special_palette_on_the_command_line_is_one_line(
    tmp_path, horse_npz, a2_cache, kind
):
    """The issue's cases: a MemoryError traceback, and a hang."""
    path = _special(kind, tmp_path / "colours.npy")
    proc = run(
        [PY, "-m", "a2", "train", "--set", f"palette={path}"]
        + ["--set", "n_train=8", "--set", "n_valid=8"],
        tmp_path,
        {"A2_DATA": str(horse_npz), "A2_CACHE": str(a2_cache)},
        timeout=120,
    )
    line = one_error_line(proc)
    assert line.startswith(f"error: palette file {path} was refused: it is ")
    assert proc.returncode == 2
