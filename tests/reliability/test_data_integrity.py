"""The download, through torchvision's utilities: offline it fails
within seconds listing the local options; an archive whose md5 is not
the official one is deleted and reported, never extracted; the official
one is extracted once into the cache, and a torn copy there is replaced.
The network is a fake server (``urllib.request.urlopen``), except in the
first test, which tries the real one."""

from __future__ import annotations

import io
import socket
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_data import as_official, make_archive
from torchvision.datasets import CIFAR10

from a2.colour import data

LOCAL_OPTIONS = (
    "A2_DATA",
    "cifar-10-batches-py",
    "cifar-10-python.tar.gz",
    ".npz",
)


def serve(
    monkeypatch: pytest.MonkeyPatch, blob: bytes | Exception
) -> list[tuple[str, float | None]]:
    """Answer every request with ``blob`` (or raise it); the list records
    each URL asked for, with the socket timeout in force."""
    asked = []

    class Response(io.BytesIO):
        def __init__(self, url: str) -> None:
            super().__init__(blob)
            self.url, self.length = url, len(blob)

    def urlopen(request, *args, **kwargs):
        url = getattr(request, "full_url", request)
        asked.append((url, socket.getdefaulttimeout()))
        if isinstance(blob, Exception):
            raise blob
        return Response(url)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


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
    assert message.startswith(
        f"could not download CIFAR-10 from {CIFAR10.url}"
    )
    assert all(option in message for option in LOCAL_OPTIONS)
    assert "\n" not in message
    assert not list((a2_cache / "data").iterdir())  # no partial file


@pytest.mark.parametrize(
    "error", [urllib.error.URLError("no network"), TimeoutError("timed out")]
)
def test_no_network_is_one_line_under_a_short_socket_timeout(
    a2_cache, monkeypatch, error
):
    asked = serve(monkeypatch, error)
    with pytest.raises(data.DataError) as info:
        data.load_arrays("download")
    message = str(info.value)
    assert message.startswith(
        f"could not download CIFAR-10 from {CIFAR10.url}"
    )
    assert all(option in message for option in LOCAL_OPTIONS)
    assert "\n" not in message
    assert asked and asked[0] == (CIFAR10.url, data.DOWNLOAD_TIMEOUT_S)
    assert socket.getdefaulttimeout() is None  # restored


def test_an_archive_with_the_wrong_checksum_is_deleted_never_extracted(
    a2_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real (tiny) CIFAR-shaped archive, just not the official one."""
    serve(monkeypatch, make_archive(tmp_path).read_bytes())
    opened = []
    monkeypatch.setattr(tarfile, "open", lambda *a, **k: opened.append(a))
    with pytest.raises(data.DataError) as err:
        data.load_arrays("download")
    assert str(err.value).startswith(
        f"the downloaded cifar-10-python.tar.gz does not have md5 "
        f"{CIFAR10.tgz_md5}; it was deleted, not extracted."
    )
    assert opened == []
    assert list((a2_cache / "data").iterdir()) == []


def test_the_official_archive_is_extracted_once_and_kept(
    a2_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_archive(tmp_path)
    as_official(monkeypatch, tmp_path / "src" / data.FOLDER, archive)
    asked = serve(monkeypatch, archive.read_bytes())
    x_train, y_train, x_test, y_test, ident = data.load_arrays("download")
    assert x_train.shape == (100, 3, 32, 32) and len(y_test) == 20
    assert ident == "md5:" + CIFAR10.tgz_md5
    assert [p.name for p in (a2_cache / "data").iterdir()] == [data.FOLDER]
    fetched = len(asked)
    again = data.load_arrays("download")  # from the cache: no request
    assert len(asked) == fetched and again[4] == ident
    # A torn copy in the cache (a batch cut short) is fetched again.
    batch = a2_cache / "data" / data.FOLDER / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:100])
    assert data.load_arrays("download")[4] == ident
    assert len(asked) > fetched
    assert batch.stat().st_size > 100
