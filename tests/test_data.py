"""CIFAR-10 sources, the course's preprocessing, and the download's
failure paths (no network needed: the download is replaced)."""

from __future__ import annotations

import hashlib
import pickle
import socket
import tarfile
import urllib.error

import numpy as np
import pytest
import torchvision.datasets.utils as tv_utils

from a2.colour import data

ARCHIVE = data.ARCHIVE


def write_batches(folder, n_per_batch: int = 4):
    """A tiny 'cifar-10-batches-py': labels cycle through 0..9."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {
            b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            b"labels": [i % 10 for i in range(n_per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


def make_archive(tmp_path):
    folder = write_batches(tmp_path / "src" / data.FOLDER, 20)
    archive = tmp_path / data.ARCHIVE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
    return archive


def test_npz_source_gives_one_class_preprocessed_as_the_course(
    horse_npz, tiny_data
):
    raw = np.load(horse_npz)
    first = raw["x_train"][0].astype(np.float64) / 256
    np.testing.assert_allclose(
        tiny_data.train_rgb[0].numpy(), first, rtol=1e-6
    )
    np.testing.assert_allclose(
        tiny_data.train_grey[0, 0].numpy(), first.mean(axis=0), rtol=1e-5
    )
    assert tiny_data.train_grey.shape == (128, 1, 32, 32)
    assert tiny_data.valid_target.shape == (64, 32, 32)
    assert tiny_data.palette.shape == (24, 3)


def test_data_identity_names_the_arrays_class_and_subset_sizes(tiny_data):
    ident = tiny_data.identity
    assert ident["source"].startswith("sha256:")
    assert (ident["label"], ident["n_train"], ident["n_valid"]) == (7, 128, 64)


def test_batches_folder_and_archive_sources_agree(tmp_path, a2_cache):
    archive = make_archive(tmp_path)
    folder = tmp_path / "src" / data.FOLDER
    from_folder = data.load_arrays(folder)
    from_archive = data.load_arrays(archive)
    for a, b in zip(from_folder[:4], from_archive[:4]):
        np.testing.assert_array_equal(a, b)
    assert from_folder[0].shape == (100, 3, 32, 32)
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    assert from_archive[4] == "md5:" + md5


def test_label_absent_from_the_source_is_a_data_error(horse_npz, a2_cache):
    with pytest.raises(data.DataError, match="class 3"):
        data.load(label=3, source=horse_npz)


def test_unknown_source_names_the_local_options(a2_cache):
    with pytest.raises(data.DataError, match="cifar-10-batches-py"):
        data.load_arrays("/no/such/place")


@pytest.mark.parametrize(
    "error", [urllib.error.URLError("no network"), TimeoutError("timed out")]
)
def test_offline_download_fails_fast_naming_the_local_options(
    a2_cache, monkeypatch, error
):
    timeouts = []

    def offline(url, root, filename=None, md5=None, **kw):
        timeouts.append(socket.getdefaulttimeout())
        raise error

    monkeypatch.setattr(tv_utils, "download_url", offline)
    with pytest.raises(data.DataError) as info:
        data.load_arrays("download")
    message = str(info.value)
    for option in ("A2_DATA", "cifar-10-batches-py", ARCHIVE, ".npz"):
        assert option in message
    assert timeouts == [data.DOWNLOAD_TIMEOUT_S]
    assert "\n" not in message


def test_download_with_wrong_checksum_is_deleted_not_extracted(
    a2_cache, monkeypatch
):
    def corrupt(url, root, filename=None, md5=None, **kw):
        with open(f"{root}/{filename}", "wb") as fh:
            fh.write(b"not the archive")

    monkeypatch.setattr(tv_utils, "download_url", corrupt)
    with pytest.raises(data.DataError, match="deleted"):
        data.load_arrays("download")
    assert list((a2_cache / "data").iterdir()) == []


def test_download_with_right_checksum_is_extracted_and_read(
    tmp_path, a2_cache, monkeypatch
):
    archive = make_archive(tmp_path)
    monkeypatch.setattr(
        data, "MD5", hashlib.md5(archive.read_bytes()).hexdigest()
    )

    def fetch(url, root, filename=None, md5=None, **kw):
        assert url == data.URL
        (tmp_path / "dl").write_bytes(archive.read_bytes())
        (tmp_path / "dl").replace(f"{root}/{filename}")

    monkeypatch.setattr(tv_utils, "download_url", fetch)
    x_train, y_train, x_test, y_test, ident = data.load_arrays("download")
    assert x_train.shape == (100, 3, 32, 32) and len(y_test) == 20
    assert ident == "md5:" + data.MD5
    assert (a2_cache / "data" / ARCHIVE).is_file()
