"""CIFAR-10 for the colourisation questions (sections 4 and 5).

Sources (``a2.config.environment.data_source()``, env ``A2_DATA``, unless
given):

- ``download``: the official python archive, fetched and extracted once
  into ``<cache>/data`` by torchvision's utilities;
- a ``cifar-10-batches-py`` folder, or the ``cifar-10-python.tar.gz``
  archive, already on disk;
- an ``.npz`` holding ``x_train``, ``y_train``, ``x_test``, ``y_test`` in the
  layout of the official batches (such as the offline horse subset that
  tests and CI use; README: Data).

The batches are pickles, and unpickling runs whatever a file names. So a
batch is unpickled (by ``torchvision.datasets.CIFAR10``) only when its md5
is the official one that torchvision lists, and an archive is extracted
only when its own md5 is; any other copy is refused in one line that says
how to convert it to an ``.npz``. An ``.npz`` is read without pickles, its
shapes checked from the headers before any array is loaded.

Preprocessing follows the course's helper: keep one class, pixels / 256,
greyscale input = plain mean of R, G, B; training set = the class's training
images, validation set = its test images. Unlike the helper, images keep the
file order here; the training loop owns shuffling (``RunConfig.shuffle``).
Data that cannot support the experiment (no image of the class, fewer
images than asked for, fewer distinct colours than the palette has) is
refused in one line before anything trains.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from a2.colour import palette as pal
from a2.config import environment
from a2.fileio import npy_header, open_regular, os_error_line, reason

if TYPE_CHECKING:
    import torch

ARCHIVE = "cifar-10-python.tar.gz"
FOLDER = "cifar-10-batches-py"
DOWNLOAD_TIMEOUT_S = 10.0  # per connection and read, not for the whole file
HORSE = 7
BATCH_PIXELS = 3 * 32 * 32  # one image, row of a batch's b'data'
# No official file is larger (the archive is 170 MB, a batch 31 MB): an
# archive this large is refused by its size, before its md5 is computed.
MAX_OFFICIAL_BYTES = 200 << 20
# An .npz is bounded by the largest CIFAR-10 layout, checked from its
# headers: at most 50,000 training and 10,000 test images.
MAX_NPZ_BYTES = 1 << 30
MAX_IMAGES = {"train": 50_000, "test": 10_000}
MAX_NPY_HEADER = 1 << 16
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

LOCAL_OPTIONS = (
    "Without a network, set A2_DATA (or pass `source`) to a local copy: "
    f"a '{FOLDER}' folder, the '{ARCHIVE}' archive, or an .npz holding "
    "x_train, y_train, x_test, y_test in the layout of the official "
    "batches (README: Data)."
)
CONVERT = (
    "only the official files are unpickled; convert your copy to an .npz "
    "of x_train, y_train, x_test, y_test (README: Data) and set A2_DATA "
    "to it"
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
    ``palette`` is a palette file (``a2.colour.palette.load_palette_file``);
    ``None`` computes the k-means palette of the class's training pixels
    (all of them, so that a subset run shares the full run's colours),
    cached by the data identity.
    """
    x_train, y_train, x_test, y_test, source_id = load_arrays(source)
    every_train = _one_class(x_train, y_train, label, "training")
    every_valid = _one_class(x_test, y_test, label, "test")
    chosen = None if palette is None else pal.load_palette_file(palette)
    k = num_colours if chosen is None else len(chosen)
    train = _first(every_train, n_train, "n_train", label)
    valid = _first(every_valid, n_valid, "n_valid", label)
    _enough_colours(train, k, "training", label)
    _enough_colours(valid, k, "validation", label)
    colours = chosen
    if colours is None:
        class_id = f"{source_id}|label={label}"
        colours = pal.cached_kmeans(_scale(every_train), class_id, num_colours)
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


def check_source(source: str) -> None:
    """Load the arrays of ``source`` and check they can support the
    experiment on the horse class, as the build does once before any
    section reads them; DataError otherwise (a missing, damaged, wrongly
    shaped or degenerate source)."""
    x_train, y_train, x_test, y_test, _ = load_arrays(source)
    for x, y, split in (
        (x_train, y_train, "training"),
        (x_test, y_test, "test"),
    ):
        _enough_colours(
            _one_class(x, y, HORSE, split), pal.NUM_COLOURS, split, HORSE
        )


# --- the sources -----------------------------------------------------------


def load_arrays(
    source: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """(x_train, y_train, x_test, y_test, source identity) from a source.

    Images are uint8 (N, 3, 32, 32), labels int64. The identity is
    ``md5:<the official archive's md5>`` for an archive (downloaded or
    local) and ``sha256:<hash of the arrays>`` for a folder or an npz.
    """
    chosen = environment.data_source() if source is None else str(source)
    source = environment.normalise_data(chosen)
    if source == "download":
        return (*_cached_batches(), "md5:" + _cifar10().tgz_md5)
    path = Path(source)
    try:
        if path.is_dir():
            folder = path / FOLDER if (path / FOLDER).is_dir() else path
            arrays = _read_batches(folder)
            return (*arrays, "sha256:" + _hash_arrays(arrays))
        if path.is_file() and path.name.endswith(".npz"):
            arrays = _read_npz(path)
            return (*arrays, "sha256:" + _hash_arrays(arrays))
        if path.is_file() and path.name.endswith((".tar.gz", ".tgz")):
            why = _md5_differs(path, _cifar10().tgz_md5)
            if why:
                raise DataError(
                    f"{path} {why}: it is not the official {ARCHIVE}; "
                    f"{CONVERT}."
                )
            return (*_cached_batches(path), "md5:" + _cifar10().tgz_md5)
    except OSError as err:  # a name too long, no permission, a link loop
        raise DataError(f"{os_error_line(err)}. {LOCAL_OPTIONS}") from None
    raise DataError(
        f"data source '{source}' is neither 'download' nor an "
        f"existing folder, .tar.gz or .npz. {LOCAL_OPTIONS}"
    )


@functools.cache
def _cifar10() -> type:
    """torchvision's CIFAR10, reading the batches from ``root`` itself,
    whatever the folder's name. Its class attributes hold the official
    URL and checksums (``tgz_md5``, ``train_list``, ``test_list``,
    ``meta``): the trust anchor for every file unpickled here."""
    from torchvision.datasets import CIFAR10

    class Batches(CIFAR10):
        base_folder = ""

    return Batches


def _official_files() -> list[tuple[str, str]]:
    """(name, md5) of each file that CIFAR10 unpickles."""
    cifar = _cifar10()
    meta = (cifar.meta["filename"], cifar.meta["md5"])
    return [*map(tuple, cifar.train_list + cifar.test_list), meta]


def _md5_differs(path: Path, md5: str) -> str | None:
    """Why ``path`` is not the official file of md5 ``md5``, or None. A
    file larger than any official one is refused by its size alone."""
    from torchvision.datasets.utils import calculate_md5

    if not path.is_file():  # missing, a folder, a pipe, a device
        return "is missing or not a regular file"
    size = path.stat().st_size
    if size > MAX_OFFICIAL_BYTES:
        return f"holds {size:,} bytes, more than any official file"
    got = calculate_md5(path)
    return None if got == md5 else f"has md5 {got}, not the official {md5}"


def _unofficial(folder: Path) -> str | None:
    """Why ``folder`` does not hold the official batches (the first file
    that is missing or differs), or None when every md5 is official."""
    for name, md5 in _official_files():
        why = _md5_differs(folder / name, md5)
        if why:
            return f"{folder / name} {why}"
    return None


def _read_batches(folder: Path):
    """The batches of ``folder``, read by torchvision, which unpickles
    nothing unless every batch has its official md5 (and the label names
    theirs), in the layout of the batches: images (N, 3, 32, 32), one
    label per image. Any other folder is refused naming its first file
    that is missing or differs."""
    try:
        train = _cifar10()(str(folder), train=True)
        test = _cifar10()(str(folder), train=False)
    except RuntimeError:  # "Dataset not found or corrupted": none read
        why = _unofficial(folder) or f"{folder} changed while it was read"
        raise DataError(f"{why}; {CONVERT}.") from None
    except Exception as err:  # an official file that cannot be read
        raise DataError(f"cannot read {folder} ({reason(err)})") from None
    return (
        np.ascontiguousarray(train.data.transpose(0, 3, 1, 2)),
        np.asarray(train.targets, np.int64),
        np.ascontiguousarray(test.data.transpose(0, 3, 1, 2)),
        np.asarray(test.targets, np.int64),
    )


def _download(tmp: Path) -> Path:
    """The official archive, downloaded into ``tmp`` by torchvision and
    md5-checked. Fails within seconds offline (short socket timeout); a
    download whose md5 is not the official one is reported (and deleted
    with ``tmp``), never extracted."""
    from torchvision.datasets.utils import download_url

    cifar = _cifar10()
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        download_url(cifar.url, tmp, ARCHIVE, cifar.tgz_md5)
    except RuntimeError:  # torchvision: "File not found or corrupted."
        raise DataError(
            f"the downloaded {ARCHIVE} does not have md5 "
            f"{cifar.tgz_md5}; it was deleted, not extracted. Try "
            f"again later. {LOCAL_OPTIONS}"
        ) from None
    except Exception as err:  # URLError, timeout, HTTP errors, OSError
        raise DataError(
            f"could not download CIFAR-10 from {cifar.url} "
            f"({reason(err)}). {LOCAL_OPTIONS}"
        ) from None
    finally:
        socket.setdefaulttimeout(old_timeout)
    return tmp / ARCHIVE


def _cached_batches(archive: Path | None = None):
    """The batches of ``<cache>/data/cifar-10-batches-py``, kept while
    they are the official ones (``_read_batches``). Else the official
    ``archive`` (checked by the caller), or a fresh download, is
    extracted in a private temporary folder (two processes may extract
    at once) and moved there whole; the temporary folder, with a
    download or a failed extraction, is removed whatever happens."""
    from torchvision.datasets.utils import extract_archive

    root = _cache("data")
    folder = root / FOLDER
    try:
        return _read_batches(folder)
    except DataError:  # not there yet, or torn: extract it again
        pass
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root, prefix=".cifar-") as tmp:
            # tarfile with no filter: only the official archive gets here.
            extract_archive(archive or _download(Path(tmp)), tmp)
            shutil.rmtree(folder, ignore_errors=True)  # torn or stale
            try:
                os.replace(Path(tmp) / FOLDER, folder)
            except OSError:  # another process published it first
                pass
    except DataError:
        raise
    except Exception as err:  # a full disk, a read-only cache, tar errors
        raise DataError(
            f"cannot extract {archive or ARCHIVE} into {root} "
            f"({reason(err)}). {LOCAL_OPTIONS}"
        ) from None
    return _read_batches(folder)


def _cache(sub: str) -> Path:
    """A folder in the cache; an unusable A2_CACHE is a DataError here,
    since the data cannot be read without it."""
    try:
        return environment.cache_dir() / sub
    except environment.SettingError as err:
        raise DataError(str(err)) from None


# --- .npz -----------------------------------------------------------------


def _read_npz(path: Path):
    """The four arrays, each checked by its zip and npy headers before it
    is read: images uint8 (N, 3, 32, 32), labels integer (N,), no member
    larger than the official layout's (``MAX_IMAGES``), and no header
    declaring more data than its member holds; so a small file that
    inflates to gigabytes is refused first. No pickle is ever loaded (an
    object array is refused by its dtype). Garbage, a truncated zip or a
    plain .npy is a DataError."""
    try:
        with open_regular(path, MAX_NPZ_BYTES) as fh:
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


# --- what the experiment needs of the data ---------------------------------


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


def _first(x: np.ndarray, n: int | None, name: str, label: int) -> np.ndarray:
    """The first ``n`` images; more than there are is an error, never
    silently fewer."""
    if n is not None and n > len(x):
        raise DataError(
            f"{name}={n:,}, but the data source holds {len(x):,} "
            f"{'training' if name == 'n_train' else 'test'} images of "
            f"class {label}; choose {name} <= {len(x):,} (or null: all)."
        )
    return x if n is None else x[:n]


def _enough_colours(x: np.ndarray, k: int, split: str, label: int) -> None:
    """DataError when the uint8 images ``x`` hold fewer than ``k``
    distinct colours: with fewer colours than the palette, targets are
    degenerate (blank images give one colour and a meaningless accuracy).
    Counted a few images at a time, so real images stop at once."""
    seen = np.empty(0, np.uint32)
    for start in range(0, len(x), 64):
        rgb = x[start : start + 64].astype(np.uint32)
        packed = rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
        seen = np.union1d(seen, packed)
        if len(seen) >= k:
            return
    images = f"{len(x):,} {split} image{'s' if len(x) != 1 else ''}"
    verb, colours = "holds" if len(x) == 1 else "hold", len(seen)
    raise DataError(
        f"the {images} of class {label} {verb} {colours} distinct colour"
        f"{'s' if colours != 1 else ''}, fewer than the palette's {k}; "
        f"such images cannot train or test colourisation (blank or "
        f"flat images?): use another data source, label or more images."
    )


def _scale(x: np.ndarray) -> torch.Tensor:
    import torch  # here: checking a source (the build) needs numpy only

    # The course divides by 256, so pixels lie in [0, 255/256].
    return torch.from_numpy(x.astype(np.float32) / 256.0)
