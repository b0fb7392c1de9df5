"""The colour palette (k-means in RGB) and each pixel's colour class.

The handout frames colourisation as classification over colours chosen by
k-means in RGB. The course ships its palette as a file; here the palette is
computed the same way (k-means, Euclidean RGB) from the training pixels,
seeded and deterministic, and cached next to the data. A palette file is
accepted too (``load_palette_file``): a plain numeric ``.npy``, read
without pickles. The course's file is a pickled object array, which could
run code when loaded; README: Data shows the one line that converts it.
"""

from __future__ import annotations

import hashlib
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from a2.config import environment
from a2.config.params import RunConfig
from a2.fileio import (
    FileRefused,
    atomic_write,
    npy_header,
    read_bounded,
    reason,
)

if TYPE_CHECKING:  # torch is imported where used: the build reads
    import torch  # data sources without it

NUM_COLOURS = RunConfig.num_colours  # the default, stated in a2.config.params
SEED = 0  # the palette is a property of the data, not of a training run
SAMPLE = 200_000  # pixels used by k-means (of 5.1 million for one class)
ITERS = 50  # ~1.5 s; centres then move by < 5/255 more till converged
TOL = 1e-5  # RGB in [0, 1]: far below one 8-bit level
VERSION = 1  # bump when the k-means below changes: old caches go stale
# A palette of 24 colours is under 1 KB as an .npy.
MAX_FILE_BYTES = 1 << 20
# A pickled palette (the course's file) is converted once, by its user.
CONVERT = (
    "convert a copy you trust, in its folder, with np.save('palette.npy', "
    "np.asarray(np.load({name!r}, allow_pickle=True)[0], float)) "
    "(README: Data)"
)


class PaletteError(ValueError):
    """A palette file that cannot be used; the message says why."""


def kmeans(
    pixels: np.ndarray,
    k: int = NUM_COLOURS,
    seed: int = SEED,
    sample: int = SAMPLE,
    iters: int = ITERS,
) -> np.ndarray:
    """k-means++ then Lloyd iterations on RGB pixels ``(P, 3)``.

    Deterministic for a seed: a seeded subsample of ``sample`` pixels, a
    seeded k-means++ start, at most ``iters`` iterations (stops early once
    no centre moves by more than ``TOL``). Returns ``(k, 3)`` float32
    centres sorted by brightness, for readable palette plots.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(pixels, np.float64).reshape(-1, 3)
    if len(x) > sample:
        x = x[np.sort(rng.choice(len(x), sample, replace=False))]
    centres = _kmeans_pp(x, k, rng)
    for _ in range(iters):
        d2 = _sq_dists(x, centres)  # (P, k), up to a per-row constant
        assign = d2.argmin(axis=1)
        counts = np.bincount(assign, minlength=k)
        sums = np.stack(
            [
                np.bincount(assign, weights=x[:, c], minlength=k)
                for c in range(3)
            ],
            axis=1,
        )
        new = sums / np.maximum(counts, 1)[:, None]
        empty = np.flatnonzero(counts == 0)
        if len(empty):  # restart at the pixels worst served so far
            worst = d2[np.arange(len(x)), assign] + (x * x).sum(1)
            new[empty] = x[np.argsort(-worst, kind="stable")[: len(empty)]]
        moved = np.abs(new - centres).max()
        centres = new
        if moved <= TOL:
            break
    order = np.argsort(centres.sum(axis=1), kind="stable")
    return centres[order].astype(np.float32)


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Arthur and Vassilvitskii's seeding: far points are likelier."""
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        i = (
            rng.choice(len(x), p=d2 / total)
            if total > 0
            else rng.integers(len(x))
        )
        centres.append(x[i])
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(axis=1))
    return np.stack(centres)


def _sq_dists(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """|x - c|^2 - |x|^2 = |c|^2 - 2 x.c: the same argmin, less work."""
    return (c * c).sum(1)[None, :] - 2.0 * x @ c.T


def cached_kmeans(
    rgb: torch.Tensor, data_id: str, k: int = NUM_COLOURS
) -> np.ndarray:
    """The k-means palette of images ``(N, 3, H, W)``, cached on disk.

    The file name is keyed by ``data_id`` (the source identity and class),
    ``k``, the seed and the algorithm version; the write is atomic.
    """
    key = hashlib.sha256(
        f"{data_id}|k={k}|seed={SEED}|n={len(rgb)}|v={VERSION}".encode()
    ).hexdigest()[:16]
    path = environment.cache_dir() / "data" / f"palette-{key}.npy"
    if path.is_file():
        try:
            colours = read_npy(read_bounded(path, MAX_FILE_BYTES))
            if colours.shape == (k, 3) and np.isfinite(colours).all():
                return colours.astype(np.float32)
        except Exception:  # unreadable or foreign: recompute below
            pass
    pixels = rgb.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    colours = kmeans(pixels, k)
    buf = io.BytesIO()
    np.save(buf, colours)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, buf.getvalue())
    except OSError:
        pass  # a read-only or full cache: the palette is only a shortcut
    return colours


def read_npy(blob: bytes) -> np.ndarray:
    """The array of the ``.npy`` file ``blob``, never unpickled: a
    pickle, or an object array (a pickle after the header), is a
    ValueError, and so is a header declaring more data than the file
    holds, before anything is allocated."""
    fh = io.BytesIO(blob)
    if not blob.startswith(np.lib.format.MAGIC_PREFIX):
        kind = "an .npz archive" if blob[:2] == b"PK" else "a pickle or text"
        raise ValueError(f"it is not an .npy file ({kind}?)")
    shape, dtype = npy_header(fh)
    if dtype.hasobject:
        raise ValueError("it holds Python objects (a pickle)")
    declared = math.prod(shape) * dtype.itemsize
    if declared > len(blob):
        raise ValueError(
            f"its header declares {declared:,} bytes of data; the file "
            f"holds {len(blob):,}"
        )
    return np.load(io.BytesIO(blob), allow_pickle=False)


def load_palette_file(path: str | Path) -> np.ndarray:
    """A palette file: an ``.npy`` of ``K >= 2`` distinct RGB colours in
    [0, 1], shaped ``(K, 3)`` (a plain ``np.save`` of the palette) or
    ``(1, K, 3)`` (element 0 is the palette, as in the course's file).
    Returns float32 ``(K, 3)``. A pickled file, such as the course's
    object array, is refused with the line that converts it.
    """
    path = environment.normalise_path(str(path))
    shown = f"palette file {path}"
    try:
        blob = read_bounded(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise PaletteError(f"{shown} not found") from None
    except FileRefused as err:
        raise PaletteError(f"{shown} was refused: it {err}") from None
    except (OSError, ValueError) as err:  # no permission, a NUL in the name
        raise PaletteError(
            f"{shown} cannot be read "
            f"({getattr(err, 'strerror', None) or reason(err)})"
        ) from None
    try:
        colours = read_npy(blob)
    except Exception as err:  # a pickle, garbage, a truncated file
        why = str(err) if isinstance(err, ValueError) else reason(err)
        npz = blob[:2] == b"PK"  # a zip: the recipe below does not apply
        raise PaletteError(
            f"{shown} was refused: {why[:120]}; a palette file is a "
            f"numeric .npy, never unpickled"
            + ("" if npz else f"; {CONVERT.format(name=path.name)}")
        ) from None
    if colours.ndim == 3 and len(colours) == 1:
        colours = colours[0]  # the course's layout: element 0
    if colours.dtype.kind not in "fiu":
        raise PaletteError(
            f"{shown} holds {colours.dtype} values; expected real numbers"
        )
    if colours.ndim != 2 or colours.shape[1] != 3 or len(colours) < 2:
        raise PaletteError(
            f"{shown}: the palette has shape {colours.shape}; expected "
            f"(K, 3) RGB colours, K >= 2 (the course's is (24, 3))"
        )
    colours = colours.astype(np.float32)
    if not np.all((colours >= 0) & (colours <= 1)):  # NaN fails too
        raise PaletteError(
            f"{shown}: colours must be numbers in [0, 1] (RGB scaled "
            f"by 1/255); it holds NaN, infinity or values outside"
        )
    distinct = len(np.unique(colours, axis=0))
    if distinct < len(colours):
        raise PaletteError(
            f"{shown} repeats colours: {len(colours)} rows, {distinct} "
            f"distinct; each pixel's class would be ambiguous"
        )
    return colours


def nearest_colour(
    rgb: torch.Tensor, colours: np.ndarray | torch.Tensor, chunk: int = 1 << 18
) -> torch.Tensor:
    """Index of each pixel's nearest palette colour (Euclidean RGB).

    ``rgb`` is ``(N, 3, H, W)``; returns int64 ``(N, H, W)``. The argmin of
    ``|c|^2 - 2 x.c`` (``|x - c|^2`` less a per-pixel constant) is taken in
    float64, so it agrees with the course's direct distances except at
    exact ties; on a tie the first colour wins. Chunks bound memory.
    """
    import torch

    c = torch.as_tensor(np.asarray(colours), dtype=torch.float64)
    c2 = (c * c).sum(dim=1)  # (K,)
    n, _, h, w = rgb.shape
    x = rgb.permute(0, 2, 3, 1).reshape(-1, 3)  # (P, 3)
    out = torch.empty(x.shape[0], dtype=torch.int64)
    for s in range(0, x.shape[0], chunk):
        d = torch.addmm(c2, x[s : s + chunk].double(), c.T, alpha=-2.0)
        out[s : s + chunk] = d.argmin(dim=1)  # (P, K) -> (P,)
    return out.reshape(n, h, w)
