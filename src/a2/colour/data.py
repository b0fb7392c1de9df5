"""CIFAR-10 for the colourisation questions (sections 4 and 5).

Sources (``a2.config.environment.data_source()``, env ``A2_DATA``, unless
given):

- ``download``: the official python archive, fetched once with torchvision's
  utilities into ``<cache>/data``, its md5 checked before extraction;
- a ``cifar-10-batches-py`` folder, or the ``cifar-10-python.tar.gz``
  archive, already on disk;
- an ``.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test`` in the
  layout of the official batches (such as the offline horse subset that
  tests and CI use; README: Data).

Preprocessing follows the course's helper: keep one class, pixels / 256,
greyscale input = plain mean of R, G, B; training set = the class's training
images, validation set = its test images. Unlike the helper, images keep the
file order here; the training loop owns shuffling (``RunConfig.shuffle``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from a2.colour import palette as pal
from a2.config import environment
from a2.fileio import (
    FileRefused,
    RefusedPickle,
    npy_header,
    open_regular,
    os_error_line,
    read_bounded,
    reason,
    restricted_loads,
)

if TYPE_CHECKING:
    import torch

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
DOWNLOAD_TIMEOUT_S = 10.0
HORSE = 7
BATCH_PIXELS = 3 * 32 * 32  # one image, row of a batch's b'data'
# Untrusted files are bounded by the largest CIFAR-10 layout, checked
# before they are read: the official archive unpacks to 178 MB in 9
# members; a batch of 10,000 images is a 31 MB pickle (up to twice that
# when Python 3 writes protocol 2: bytes go as UTF-8 text); an .npz holds
# at most 50,000 training and 10,000 test images.
MAX_ARCHIVE_BYTES = 1 << 30
MAX_ARCHIVE_MEMBERS = 64
MAX_BATCH_BYTES = 2 * 10_000 * BATCH_PIXELS + (4 << 20)
MAX_IMAGES = {"train": 50_000, "test": 10_000}
MAX_NPY_HEADER = 1 << 16

LOCAL_OPTIONS = (
    "Without a network, set A2_DATA (or pass `source`) to a local copy: "
    f"a '{FOLDER}' folder, the '{ARCHIVE}' archive, or an .npz holding "
    "x_train, y_train, x_test, y_test in the layout of the official "
    "batches (README: Data)."
)


class DataError(RuntimeError):
    """The data cannot be obtained; the message says why and what to do."""


@dataclass(frozen=True, eq=False)
class ColourData:
    """One class of CIFAR-10, ready for colourisation.

    Tensors live on the CPU; the training loop moves them to its device once.
    """

    train_grey: torch.Tensor  # (N, 1, 32, 32) float32, the network's input
    train_rgb: torch.Tensor  # (N, 3, 32, 32) float32 in [0, 1)
    train_target: torch.Tensor  # (N, 32, 32) int64, nearest palette colour
    valid_grey: torch.Tensor
    valid_rgb: torch.Tensor
    valid_target: torch.Tensor
    palette: np.ndarray  # (NC, 3) float32 RGB in [0, 1]
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def num_colours(self) -> int:
        return int(self.palette.shape[0])

    @functools.cached_property
    def content_sha256(self) -> str:
        """sha256 of what a trainer receives: the grey inputs and targets
        (train and valid) and the palette. Computed once per instance; the
        checkpoint cache keys runs by it, so a change in how the data are
        prepared never reuses a stale model."""
        h = hashlib.sha256()
        for name in (
            "train_grey",
            "train_target",
            "valid_grey",
            "valid_target",
            "palette",
        ):
            a = np.ascontiguousarray(np.asarray(getattr(self, name)))
            h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
            h.update(memoryview(a).cast("B"))
        return h.hexdigest()


def load(
    label: int = HORSE,
    source: str | Path | None = None,
    n_train: int | None = None,
    n_valid: int | None = None,
    palette: str | Path | None = None,
    num_colours: int = pal.NUM_COLOURS,
) -> ColourData:
    """Load one class with its palette and nearest-colour targets.

    ``n_train``/``n_valid`` keep the first N images (tests, smoke profile).
    ``palette`` is the course's palette file; ``None`` computes the k-means
    palette of the class's training pixels (all of them, so that a subset
    run shares the full run's colours), cached by the data identity.
    """
    x_train, y_train, x_test, y_test, source_id = load_arrays(source)
    train = _one_class(x_train, y_train, label, "training")
    valid = _one_class(x_test, y_test, label, "test")
    class_id = f"{source_id}|label={label}"
    if palette is None:
        colours = pal.cached_kmeans(_scale(train), class_id, num_colours)
    else:
        colours = pal.load_palette_file(palette)
    train, valid = _first(train, n_train), _first(valid, n_valid)
    train_rgb, valid_rgb = _scale(train), _scale(valid)
    identity = {
        "source": source_id,
        "label": label,
        "n_train": len(train),
        "n_valid": len(valid),
    }
    return ColourData(
        train_grey=grey(train_rgb),
        train_rgb=train_rgb,
        train_target=pal.nearest_colour(train_rgb, colours),
        valid_grey=grey(valid_rgb),
        valid_rgb=valid_rgb,
        valid_target=pal.nearest_colour(valid_rgb, colours),
        palette=colours,
        identity=identity,
    )


def grey(rgb: torch.Tensor) -> torch.Tensor:
    """The network's input: the plain mean of R, G and B, as the course's
    helper computes it. ``(N, 3, H, W)`` -> ``(N, 1, H, W)``."""
    return rgb.mean(dim=1, keepdim=True)


def load_arrays(
    source: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(x_train, y_train, x_test, y_test, source identity) from a source.

    Images are uint8 (N, 3, 32, 32). The identity is ``md5:<archive md5>``
    for an archive (downloaded or local) and ``sha256:<hash of the arrays>``
    for a folder or an npz.
    """
    chosen = environment.data_source() if source is None else str(source)
    source = environment.normalise_data(chosen)
    if source == "download":
        return _from_archive(download(), MD5)
    path = Path(source)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
        if is_dir:
            arrays = _read_batches(path)
            return (*arrays, "sha256:" + _hash_arrays(arrays))
        if is_file and path.name.endswith(".npz"):
            arrays = _read_npz(path)
            return (*arrays, "sha256:" + _hash_arrays(arrays))
        if is_file and path.name.endswith((".tar.gz", ".tgz")):
            return _from_archive(path, _md5(path))
    except OSError as err:  # a name too long, no permission, a link loop
        raise DataError(f"{os_error_line(err)}. {LOCAL_OPTIONS}") from None
    raise DataError(
        f"data source '{source}' is neither 'download' nor an "
        f"existing folder, .tar.gz or .npz. {LOCAL_OPTIONS}"
    )


def download(root: Path | None = None) -> Path:
    """Fetch the official archive once into ``<cache>/data``; md5-checked.

    Fails within seconds offline (short socket timeout). A download whose
    checksum does not match is deleted and reported, never extracted.
    """
    from torchvision.datasets.utils import check_integrity, download_url

    root = Path(root) if root is not None else _cache("data")
    target = root / ARCHIVE
    if target.is_file():
        return target  # md5 was checked before it got this name
    try:
        root.mkdir(parents=True, exist_ok=True)
        # A folder of this process's own: two downloads may run at once.
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".download-"))
    except OSError as err:
        raise DataError(
            f"cannot download into {root} ({err.strerror}). {LOCAL_OPTIONS}"
        ) from None
    part = tmp / ARCHIVE
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        _resolve(URL, DOWNLOAD_TIMEOUT_S)
        download_url(URL, str(tmp), filename=ARCHIVE)
        if not check_integrity(str(part), MD5):
            raise DataError(
                f"the downloaded {ARCHIVE} does not have md5 "
                f"{MD5}; it was deleted, not extracted. Try "
                f"again later. {LOCAL_OPTIONS}"
            )
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())  # a torn file never gets the checked name
        part.replace(target)
    except DataError:
        raise
    except Exception as err:  # URLError, timeout, HTTP errors, OSError
        raise DataError(
            f"could not download CIFAR-10 from {URL} "
            f"({reason(err)}). {LOCAL_OPTIONS}"
        ) from None
    finally:
        socket.setdefaulttimeout(old_timeout)
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _resolve(url: str, timeout: float) -> None:
    """Fail when looking the host up takes over ``timeout`` seconds: name
    lookups ignore the socket timeout and can hang on a network without
    DNS. A lookup that fails is left for the download to report."""
    import threading
    import urllib.parse

    host = urllib.parse.urlsplit(url).hostname or ""

    def lookup() -> None:
        try:
            socket.getaddrinfo(host, 443)
        except OSError:
            pass

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer for {host} within {timeout:g} s")


def _cache(sub: str) -> Path:
    """A folder in the cache; an unusable A2_CACHE is a DataError here,
    since the data cannot be read without it."""
    try:
        return environment.cache_dir() / sub
    except environment.SettingError as err:
        raise DataError(str(err)) from None


def _from_archive(archive: Path, md5: str):
    """Extract once into ``<cache>/data/<md5>/`` and read the batches.
    Messages name the archive, not the folder it was extracted to."""
    out = _cache("data") / md5
    done = out / ".extracted"
    if not done.is_file():
        _extract(archive, out, md5)
    return (*_read_batches(out / FOLDER, archive), "md5:" + md5)


def _extract(archive: Path, out: Path, md5: str) -> None:
    """Unpack ``archive`` into ``out`` through a private temporary folder
    (two processes may extract at once). Only plain files and folders
    inside ``out`` are admitted: a link, a device, an absolute path, a
    '..', more than ``MAX_ARCHIVE_MEMBERS`` members or more than
    ``MAX_ARCHIVE_BYTES`` is refused before anything is written, and
    before the rest of the archive is read."""

    def refuse(reason: str) -> DataError:
        return DataError(
            f"{archive} was refused: {reason}; the CIFAR-10 "
            f"archive holds plain files only. {LOCAL_OPTIONS}"
        )

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=md5 + ".", dir=out.parent))
    except OSError as err:
        raise DataError(
            f"cannot extract {archive} into {out.parent} "
            f"({err.strerror}). {LOCAL_OPTIONS}"
        ) from None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = []
            for m in tar:  # read lazily: stop at the first bound passed
                members.append(m)
                if len(members) > MAX_ARCHIVE_MEMBERS:
                    raise refuse(
                        f"it holds over {MAX_ARCHIVE_MEMBERS} members"
                    )
                if tar.offset > MAX_ARCHIVE_BYTES:  # past this member's data
                    raise refuse(
                        f"it unpacks to over {MAX_ARCHIVE_BYTES >> 20} MB"
                    )
                name = m.name[:100]
                parts = PurePosixPath(m.name).parts
                if m.issym() or m.islnk():
                    raise refuse(f"member {name!r} is a link")
                if not (m.isfile() or m.isdir()):
                    raise refuse(f"member {name!r} is not a plain file")
                if m.name.startswith("/") or ".." in parts:
                    raise refuse(
                        f"member {name!r} points outside the archive's folder"
                    )
            tar.extractall(tmp, members=members, filter="data")
        (tmp / ".extracted").touch()
    except DataError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except (tarfile.TarError, OSError, EOFError, ValueError) as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise DataError(
            f"cannot extract {archive} ({reason(err)}). {LOCAL_OPTIONS}"
        ) from None
    try:
        tmp.replace(out)  # a folder: one rename publishes it whole
    except OSError:  # another process got there first
        pass
    shutil.rmtree(tmp, ignore_errors=True)


def _read_batches(folder: Path, archive: Path | None = None):
    """The official python batches: five training, one test. Messages
    name ``archive`` and its member when the folder was extracted from
    one, else the folder's own files."""
    if (folder / FOLDER).is_dir():
        folder = folder / FOLDER
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [n for n in names if not os.path.exists(folder / n)]
    if missing:
        what = f"{archive} lacks {FOLDER}/" if archive else f"{folder} lacks "
        raise DataError(
            f"{what}{', '.join(missing)}; it is not a "
            f"'{FOLDER}' {'archive' if archive else 'folder'}"
            f". {LOCAL_OPTIONS}"
        )
    xs, ys = [], []
    for name in names:
        shown = (
            f"{archive} (member {FOLDER}/{name})"
            if archive
            else str(folder / name)
        )
        x, y = _read_batch(folder / name, shown)
        xs.append(x)
        ys.append(y)
    return (np.concatenate(xs[:5]), np.concatenate(ys[:5]), xs[5], ys[5])


def _read_batch(path: Path, shown: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch: a pickled dict whose b'data' is uint8 (N, 3072) and whose
    b'labels' holds N integers. Read without running code; anything else
    is a DataError naming the batch."""

    def bad(reason: str) -> DataError:
        return DataError(
            f"{shown} is not a CIFAR-10 batch ({reason}). {LOCAL_OPTIONS}"
        )

    try:
        batch = restricted_loads(read_bounded(path, MAX_BATCH_BYTES))
    except FileRefused as err:  # a FIFO, a device, over 10,000 images
        raise DataError(
            f"{shown} was refused: it {err}. {LOCAL_OPTIONS}"
        ) from None
    except RefusedPickle as err:
        raise DataError(
            f"{shown} was refused: {err}; a CIFAR-10 batch "
            f"holds only arrays, lists and bytes. "
            f"{LOCAL_OPTIONS}"
        ) from None
    except Exception as err:  # truncated, not a pickle, bad numpy state
        raise bad(reason(err)) from None
    if not isinstance(batch, dict):
        raise bad(
            f"a {type(batch).__name__}, not a dict with b'data' and b'labels'"
        )
    # Python 2 pickles read as bytes keys; a Python 3 one may use str.
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise bad("a dict without b'data' and b'labels'")
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != BATCH_PIXELS
    ):
        got = (
            f"{data.dtype} {data.shape}"
            if isinstance(data, np.ndarray)
            else f"a {type(data).__name__}"
        )
        raise bad(
            f"b'data' must be a uint8 array (N, {BATCH_PIXELS}), got {got}"
        )
    try:
        y = np.asarray(labels)
    except Exception as err:  # ragged nesting
        raise bad(
            f"b'labels' is not a list of integers ({reason(err)})"
        ) from None
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise bad(
            f"b'labels' must be a list of integers, got {y.dtype} {y.shape}"
        )
    if len(y) != len(data):
        raise bad(f"{len(y)} labels for {len(data)} images")
    return data.reshape(-1, 3, 32, 32), y.astype(np.int64)


NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")


def _read_npz(path: Path):
    """The four arrays, each checked by its zip and npy headers before it
    is read: images uint8 (N, 3, 32, 32), labels integer (N,), no member
    larger than the official layout's (``MAX_IMAGES``), and no header
    declaring more data than its member holds; so a small file that
    inflates to gigabytes is refused first. Garbage, a truncated zip or a
    plain .npy is a DataError."""
    try:
        with open_regular(path, MAX_ARCHIVE_BYTES) as fh:
            if fh.read(2) != b"PK":
                raise ValueError("not a zip archive, which an npz is")
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as npz:
                heads = [_npz_header(path, npz.zip, k) for k in NPZ_KEYS]
                _check_npz(path, heads)
                return tuple(npz[k] for k in NPZ_KEYS)
    except DataError:
        raise
    except Exception as err:  # ValueError, BadZipFile, KeyError, OSError
        raise DataError(
            f"{path} is not an npz with x_train, y_train, "
            f"x_test, y_test ({reason(err)})"
            f". {LOCAL_OPTIONS}"
        ) from None


def _npz_header(path: Path, zf: Any, key: str) -> tuple[np.dtype, tuple]:
    """(dtype, shape) of member ``key``, read from its headers alone."""
    info = zf.getinfo(f"{key}.npy")
    images = MAX_IMAGES[key.partition("_")[2]]
    most = images * (BATCH_PIXELS if key[0] == "x" else 8) + MAX_NPY_HEADER
    if info.file_size > most:
        raise DataError(
            f"{path} was refused: {key} unpacks to {info.file_size:,} "
            f"bytes, more than the largest CIFAR-10 layout needs "
            f"({most:,}). {LOCAL_OPTIONS}"
        )
    with zf.open(info) as fh:
        shape, dtype = npy_header(fh)
    if math.prod(shape) * dtype.itemsize > info.file_size:
        raise ValueError(f"{key}'s header declares more data than it holds")
    return dtype, shape


def _check_npz(path: Path, heads: list[tuple[np.dtype, tuple]]) -> None:
    for name, ((xd, xs), (yd, ys)) in (
        ("train", heads[:2]),
        ("test", heads[2:]),
    ):
        if xd != np.uint8 or len(xs) != 4 or xs[1:] != (3, 32, 32):
            raise DataError(
                f"{path}: x_{name} must be uint8 "
                f"(N, 3, 32, 32), got {xd} {xs}. "
                f"{LOCAL_OPTIONS}"
            )
        if xs[0] > MAX_IMAGES[name]:
            raise DataError(
                f"{path} was refused: x_{name} holds {xs[0]:,} images; "
                f"CIFAR-10 has {MAX_IMAGES[name]:,}. {LOCAL_OPTIONS}"
            )
        if len(ys) != 1 or ys[0] != xs[0] or not np.issubdtype(yd, np.integer):
            raise DataError(
                f"{path}: y_{name} must be integer labels of "
                f"shape ({xs[0]},), one per image of "
                f"x_{name}, got {yd} {ys}. "
                f"{LOCAL_OPTIONS}"
            )


def _hash_arrays(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_source(source: str) -> None:
    """Load the arrays of ``source`` and check they hold the horse class,
    as the build does once before any section reads them; DataError
    otherwise (a missing, damaged or wrongly shaped source)."""
    x_train, y_train, x_test, y_test, _ = load_arrays(source)
    _one_class(x_train, y_train, HORSE, "training")
    _one_class(x_test, y_test, HORSE, "test")


def _one_class(
    x: np.ndarray, y: np.ndarray, label: int, split: str
) -> np.ndarray:
    keep = x[np.asarray(y) == label]
    if len(keep) == 0:
        raise DataError(
            f"the data source has no {split} images of class "
            f"{label}; choose another label or source."
        )
    return keep


def _first(x: np.ndarray, n: int | None) -> np.ndarray:
    return x if n is None else x[:n]


def _scale(x: np.ndarray) -> torch.Tensor:
    import torch  # here: checking a source (the build) needs numpy only

    # The course divides by 256, so pixels lie in [0, 255/256].
    return torch.from_numpy(x.astype(np.float32) / 256.0)
