"""The download: offline it fails within seconds listing the local
options; a bad archive is deleted and reported, never extracted."""

from __future__ import annotations

import socket
import tarfile
import time
from pathlib import Path

import pytest
import torchvision.datasets.utils as tv_utils

from a2.colour import data

LOCAL_OPTIONS = (
    "A2_DATA",
    "cifar-10-batches-py",
    "cifar-10-python.tar.gz",
    ".npz",
)


def test_offline_download_fails_fast_listing_the_local_options(
    a2_cache: Path,
) -> None:
    """A real attempt: this machine has no network. If it ever has one,
    the (slow) download is not what this test is for."""
    start = time.monotonic()
    try:
        data.load_arrays("download")
    except data.DataError as err:
        message = str(err)
    else:
        pytest.skip("the network is reachable here")
    assert time.monotonic() - start < 30
    assert message.startswith(f"could not download CIFAR-10 from {data.URL}")
    assert all(option in message for option in LOCAL_OPTIONS)
    assert "\n" not in message
    assert not list((a2_cache / "data").iterdir())  # no partial file


def test_a_hanging_name_lookup_fails_within_the_timeout(
    a2_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Name lookups ignore socket timeouts; the download bounds them."""
    monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT_S", 0.5)
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(30))
    monkeypatch.setattr(
        tv_utils,
        "download_url",
        lambda *a, **k: pytest.fail("downloaded although the lookup hung"),
    )
    start = time.monotonic()
    with pytest.raises(data.DataError) as err:
        data.load_arrays("download")
    assert time.monotonic() - start < 5
    assert "no answer for www.cs.toronto.edu within 0.5 s" in str(err.value)
    assert all(option in str(err.value) for option in LOCAL_OPTIONS)


def test_an_archive_with_the_wrong_checksum_is_deleted_never_extracted(
    a2_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real (tiny) CIFAR-shaped archive, just not the official one."""
    from test_data import make_archive

    archive = make_archive(tmp_path)
    monkeypatch.setattr(data, "_resolve", lambda url, timeout: None)
    monkeypatch.setattr(
        tv_utils,
        "download_url",
        lambda url, root, filename=None, **kw: Path(
            root, filename
        ).write_bytes(archive.read_bytes()),
    )
    opened = []
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(a))
    with pytest.raises(data.DataError) as err:
        data.load_arrays("download")
    assert str(err.value).startswith(
        f"the downloaded cifar-10-python.tar.gz does not have md5 "
        f"{data.MD5}; it was deleted, not extracted."
    )
    assert opened == []
    assert list((a2_cache / "data").iterdir()) == []
