"""A CIFAR-10 folder or archive that is not the official one is refused
in one line naming its first file that differs, before any byte of it is
unpickled (or, for an archive, before it is opened), with the way to an
.npz; a refused or failed archive leaves nothing in the cache. From data
loading, from `python -m a2 train` and from the build's check."""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torchvision.datasets.cifar as tv_cifar
import torchvision.datasets.utils as tv_utils
from conftest import PY, build_cli, one_error_line, run
from test_data import archive_of, as_official, md5, write_batches

from a2.colour import data


class Payload:
    """Unpickling it would create ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def unpickled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files torchvision unpickles, by name; none may be read here."""
    names: list[str] = []

    def load(fh, **kwargs):
        names.append(Path(fh.name).name)
        return pickle.load(fh, **kwargs)

    monkeypatch.setattr(tv_cifar, "pickle", SimpleNamespace(load=load))
    return names


@pytest.fixture
def official(tmp_path, monkeypatch) -> Path:
    """A copy whose checksums are made the official ones."""
    folder = write_batches(tmp_path / "official" / data.FOLDER)
    as_official(monkeypatch, folder)
    return folder


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _zero(path: Path) -> None:
    path.unlink()
    path.symlink_to("/dev/zero")


def _sparse(path: Path) -> None:
    with open(path, "wb") as fh:
        fh.truncate(data.MAX_OFFICIAL_BYTES + 1)  # no disk used


# What is done to data_batch_3, and what the line says of it.
TAMPER = {
    "a flipped byte": (
        lambda p, m: p.write_bytes(b"\x00" + p.read_bytes()[1:]),
        "has md5 ",
    ),
    "truncated": (lambda p, m: p.write_bytes(p.read_bytes()[:3000]), "md5"),
    "empty": (lambda p, m: p.write_bytes(b""), "has md5 d41d8cd98f00b204"),
    "a pickle that runs code": (
        lambda p, m: p.write_bytes(pickle.dumps(Payload(m))),
        "has md5 ",
    ),
    "missing": (lambda p, m: p.unlink(), "is missing or not a regular file"),
    "a named pipe": (lambda p, m: _fifo(p), "is missing or not a regular"),
    "a link to /dev/zero": (lambda p, m: _zero(p), "is missing or not a"),
    "larger than any official file": (
        lambda p, m: _sparse(p),
        "holds 209,715,201 bytes, more than any official file",
    ),
}


@pytest.mark.parametrize("case", TAMPER)
def test_a_tampered_batch_is_refused_before_anything_is_unpickled(
    official, unpickled, tmp_path, a2_cache, case
):
    tamper, says = TAMPER[case]
    marker = tmp_path / "MARKER"
    tamper(official / "data_batch_3", marker)
    with pytest.raises(data.DataError) as err:
        data.load_arrays(official)
    message = str(err.value)
    assert message.startswith(f"{official / 'data_batch_3'} "), message
    assert says in message and "\n" not in message
    assert "convert your copy to an .npz" in message
    assert "README: Data" in message
    assert unpickled == [] and not marker.exists()


def test_changed_label_names_are_refused_too(official, unpickled, a2_cache):
    (official / "batches.meta").write_bytes(pickle.dumps({"label_names": []}))
    with pytest.raises(data.DataError) as err:
        data.load_arrays(official)
    assert str(err.value).startswith(f"{official / 'batches.meta'} has md5")
    assert "batches.meta" not in unpickled


def test_the_official_copy_is_read_by_torchvision(official, unpickled):
    x_train, y_train, x_test, y_test, _ = data.load_arrays(official)
    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (4, 3, 32, 32)
    assert sorted(set(unpickled)) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)]
        + ["test_batch", "batches.meta"]
    )


def _hostile_tar(path: Path, folder: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
        for name, kind, link in (
            ("../escaped", tarfile.REGTYPE, ""),
            (f"{data.FOLDER}/link", tarfile.SYMTYPE, "/etc/passwd"),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            tar.addfile(info)
    return path


def _repacked(path: Path, folder: Path) -> None:
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        tar.add(folder, arcname=data.FOLDER)


def _flipped(blob: bytes) -> bytes:
    """``blob`` with the bits of its last deflate byte inverted (setting
    it to a value would leave it as it was when it held that value)."""
    return blob[:-9] + bytes([blob[-9] ^ 0xFF]) + blob[-8:]


# How the archive differs from the official one.
ARCHIVES = {
    "a flipped byte": lambda a, f: a.write_bytes(_flipped(a.read_bytes())),
    "truncated": lambda a, f: a.write_bytes(a.read_bytes()[:500]),
    "not gzip": lambda a, f: a.write_bytes(b"hello" * 100),
    "gzip of text": lambda a, f: a.write_bytes(gzip.compress(b"hello" * 9)),
    "the same files, compressed otherwise": lambda a, f: _repacked(a, f),
    "links and a '..' path": lambda a, f: _hostile_tar(a, f),
}


@pytest.mark.parametrize("case", ARCHIVES)
def test_an_archive_that_is_not_the_official_one_is_never_opened(
    tmp_path, official, a2_cache, monkeypatch, case
):
    archive = tmp_path / data.ARCHIVE
    archive_of(official, archive)
    as_official(monkeypatch, official, archive)
    ARCHIVES[case](archive, official)
    opened = []
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(a))
    with pytest.raises(data.DataError) as err:
        data.load_arrays(archive)
    message = str(err.value)
    assert message.startswith(f"{archive} has md5 "), message
    assert "it is not the official cifar-10-python.tar.gz" in message
    assert "convert your copy to an .npz" in message and "\n" not in message
    assert opened == []
    assert not (a2_cache / "data").exists() or not list(
        (a2_cache / "data").iterdir()
    )  # nothing extracted, no marker
    assert not (tmp_path / "escaped").exists()


def test_an_extraction_that_fails_leaves_nothing(
    tmp_path, official, a2_cache, monkeypatch
):
    """The official archive, and a full disk half way through."""
    archive = archive_of(official, tmp_path / data.ARCHIVE)
    as_official(monkeypatch, official, archive)

    def half(source, to_path):
        (Path(to_path) / data.FOLDER).mkdir()
        (Path(to_path) / data.FOLDER / "data_batch_1").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tv_utils, "extract_archive", half)
    with pytest.raises(data.DataError) as err:
        data.load_arrays(archive)
    assert str(err.value).startswith(
        f"cannot extract {archive} into {a2_cache / 'data'} "
        f"(OSError: [Errno 28] No space left on device)"
    )
    assert list((a2_cache / "data").iterdir()) == []
    monkeypatch.undo()
    as_official(monkeypatch, official, archive)
    assert data.load_arrays(archive)[4] == "md5:" + md5(archive)


def test_a_copy_of_ones_own_from_train_and_the_build_check_is_one_line(
    book, tmp_path, a2_cache
):
    """A copy made by the user (not the official bytes: the real
    checksums apply in these processes) is one line saying so."""
    folder = write_batches(tmp_path / "f" / data.FOLDER)
    archive = archive_of(folder, tmp_path / data.ARCHIVE)
    for source, named in (
        (folder, f"{folder / 'data_batch_1'} has md5 "),
        (archive, f"{archive} has md5 "),
    ):
        env = {"A2_DATA": str(source), "A2_CACHE": str(a2_cache)}
        line = one_error_line(run([PY, "-m", "a2", "train"], tmp_path, env))
        assert line.startswith(f"error: A2_DATA={source}: {named}"), line
        assert "convert your copy to an .npz" in line
        line = one_error_line(build_cli(book, "check", env=env))
        assert line.startswith(
            f"error: A2_DATA={source} (read by 4-pooling): {named}"
        ), line
    assert not (a2_cache / "data").exists() or not list(
        (a2_cache / "data").iterdir()
    )
