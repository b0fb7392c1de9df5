"""Malformed CIFAR-10 batches give one line naming the bad file (the
archive by its own name, never the cache folder it was extracted to), from
data loading, from `python -m a2 train` and from the build's check; the
official batch format (a Python 2 pickle) keeps loading."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import PY, build_cli, one_error_line, run

from a2.colour import data

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class Py2Pickler(pickle._Pickler):
    """Writes strings as Python 2's cPickle did (the official batches):
    every str and bytes is a BINSTRING, numpy is ``numpy.core``."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        self.write(
            pickle.SHORT_BINSTRING + bytes([n]) + obj
            if n < 256
            else pickle.BINSTRING + struct.pack("<i", n) + obj
        )
        self.memoize(obj)

    def save_str(self, obj: str) -> None:
        self.save_bytes(obj.encode("latin-1"))

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str


def py2_dumps(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue().replace(b"numpy._core.", b"numpy.core.")


def good_batch(seed: int, n: int = 20) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "batch_label": "batch",
        "labels": [i % 10 for i in range(n)],
        "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        "filenames": ["x.png"] * n,
    }


def folder_with(
    root: Path, bad: bytes | None = None, which: str = "data_batch_2"
) -> Path:
    folder = root / data.FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate(BATCHES):
        blob = py2_dumps(good_batch(i))
        (folder / name).write_bytes(
            bad if bad is not None and name == which else blob
        )
    return folder


def archive_with(root: Path, bad: bytes | None = None) -> Path:
    folder = folder_with(root / "src", bad)
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
    return archive


class ShortArray:
    """Pickles as a uint8 (20, 3072) array holding 100 bytes."""

    def __reduce__(self):
        rebuild = np.zeros(1).__reduce__()[0]  # numpy's _reconstruct
        return (
            rebuild,
            (np.ndarray, (0,), b"b"),
            (1, (20, 3072), np.dtype("u1"), False, b"\0" * 100),
        )


def _pickled(obj) -> bytes:
    return pickle.dumps(obj, protocol=2)


ABSENT = object()


def _batch(data=None, labels=None) -> bytes:
    """A pickled batch dict; ABSENT leaves the key out."""
    batch = {
        b"data": np.zeros((20, 3072), np.uint8) if data is None else data,
        b"labels": [0] * 20 if labels is None else labels,
    }
    return _pickled({k: v for k, v in batch.items() if v is not ABSENT})


# (the bad batch's bytes, what the message says about it)
BAD_BATCHES = {
    "truncated": (py2_dumps(good_batch(0))[:3000], "UnpicklingError"),
    "empty": (b"", "EOFError"),
    "not a pickle": (b"GIF89a" + bytes(100), "UnpicklingError"),
    "a list": (_pickled([1, 2, 3]), "a list, not a dict with b'data'"),
    "a dict without data": (
        _batch(data=ABSENT),
        "a dict without b'data' and b'labels'",
    ),
    "a dict without labels": (
        _batch(labels=ABSENT),
        "a dict without b'data' and b'labels'",
    ),
    "data wrongly sized": (
        _batch(data=np.zeros((20, 3000), np.uint8)),
        "b'data' must be a uint8 array (N, 3072), got uint8 (20, 3000)",
    ),
    "data of floats": (
        _batch(data=np.zeros((20, 3072))),
        "got float64 (20, 3072)",
    ),
    "data as a list": (
        _batch(data=[[0] * 3072 for _ in range(20)]),  # not shared: see
        "got a list",  # test_untrusted_files for shared references
    ),
    "data of one dimension": (
        _batch(data=np.zeros(3072 * 20, np.uint8)),
        "got uint8 (61440,)",
    ),
    "too few labels": (_batch(labels=[0] * 19), "19 labels for 20 images"),
    "labels that are words": (
        _batch(labels=["horse"] * 20),
        "b'labels' must be a list of integers",
    ),
    "ragged labels": (_batch(labels=[[0], [0, 1]] + [0] * 18), "b'labels' "),
    "an array whose bytes do not fill its shape": (
        _batch(data=ShortArray()),
        "ValueError",
    ),
}


@pytest.mark.parametrize("case", BAD_BATCHES)
def test_bad_batch_in_a_folder_is_one_line_naming_the_file(
    tmp_path, a2_cache, case
):
    bad, says = BAD_BATCHES[case]
    folder = folder_with(tmp_path, bad)
    with pytest.raises(data.DataError) as err:
        data.load_arrays(folder)
    message = str(err.value)
    assert message.startswith(
        f"{folder / 'data_batch_2'} is not a CIFAR-10 batch ("
    ), message
    assert says in message and "\n" not in message


@pytest.mark.parametrize(
    "case", ["truncated", "a list", "too few labels", "data wrongly sized"]
)
def test_bad_batch_in_an_archive_names_the_archive_not_the_cache(
    tmp_path, a2_cache, case
):
    bad, says = BAD_BATCHES[case]
    archive = archive_with(tmp_path, bad)
    with pytest.raises(data.DataError) as err:
        data.load_arrays(archive)
    message = str(err.value)
    assert message.startswith(
        f"{archive} (member {data.FOLDER}/"
        f"data_batch_2) is not a CIFAR-10 batch ("
    )
    assert says in message and str(a2_cache) not in message


def test_a_missing_batch_is_named(tmp_path, a2_cache):
    folder = folder_with(tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(data.DataError, match=f"{folder} lacks data_batch_4"):
        data.load_arrays(folder)
    archive = tmp_path / "partial.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
    with pytest.raises(data.DataError) as err:
        data.load_arrays(archive)
    assert str(err.value).startswith(
        f"{archive} lacks {data.FOLDER}/data_batch_4; it is not a "
        f"'{data.FOLDER}' archive"
    )


@pytest.mark.parametrize("damage", ["truncated", "not gzip", "gzip of text"])
def test_a_damaged_archive_is_named_by_itself(tmp_path, a2_cache, damage):
    archive = archive_with(tmp_path)
    blob = archive.read_bytes()
    archive.write_bytes(
        {
            "truncated": blob[: len(blob) // 2],
            "not gzip": b"hello" * 100,
            "gzip of text": gzip.compress(b"hello" * 100),
        }[damage]
    )
    with pytest.raises(data.DataError) as err:
        data.load_arrays(archive)
    assert str(err.value).startswith(f"cannot extract {archive} (")
    assert "\n" not in str(err.value)
    assert not list((a2_cache / "data").iterdir())  # no half extraction


def test_the_official_format_and_python_3_pickles_load(tmp_path, a2_cache):
    py2 = folder_with(tmp_path / "py2")
    py3 = tmp_path / "py3" / data.FOLDER
    py3.mkdir(parents=True)
    for i, name in enumerate(BATCHES):  # str keys, protocol 4
        (py3 / name).write_bytes(pickle.dumps(good_batch(i)))
    a, b = data.load_arrays(py2), data.load_arrays(py3)
    for x, y in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(x, y)
    assert a[0].shape == (100, 3, 32, 32) and a[3].dtype == np.int64
    np.testing.assert_array_equal(
        a[0][0].reshape(-1), good_batch(0)["data"][0]
    )


def test_bad_batch_from_train_and_from_the_build_check_is_one_line(
    book, tmp_path, a2_cache
):
    bad, _ = BAD_BATCHES["a list"]
    folder = folder_with(tmp_path / "f", bad)
    archive = archive_with(tmp_path / "a", bad)
    for source, named in (
        (folder, f"{folder / 'data_batch_2'}"),
        (archive, f"{archive} (member {data.FOLDER}/data_batch_2)"),
    ):
        env = {"A2_DATA": str(source), "A2_CACHE": str(a2_cache)}
        line = one_error_line(run([PY, "-m", "a2", "train"], tmp_path, env))
        assert line.startswith(
            f"error: A2_DATA={source}: {named} is not a CIFAR-10 batch (a list"
        ), line
        line = one_error_line(build_cli(book, "check", env=env))
        assert line.startswith(
            f"error: A2_DATA={source} (read by "
            f"4-pooling): {named} is not a CIFAR-10 "
            f"batch (a list"
        ), line
