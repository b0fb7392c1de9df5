"""The colour palette (k-means in RGB) and each pixel's colour class.

The handout frames colourisation as classification over colours chosen by
k-means in RGB. The course ships its palette as a file; here the palette is
computed the same way (k-means, Euclidean RGB) from the training pixels,
seeded and deterministic, and cached next to the data. The course's file is
accepted too (``load_palette_file``).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from a2.config import environment
from a2.config.params import RunConfig
from a2.fileio import (
    NPY_MAGIC,
    FileRefused,
    RefusedPickle,
    atomic_write,
    read_bounded,
    reason,
    restricted_loads,
    restricted_npy,
)

if TYPE_CHECKING:  # torch is imported where used: the build reads
    import torch  # data sources without it

NUM_COLOURS = RunConfig.num_colours  # the default, stated in a2.config.params
SEED = 0  # the palette is a property of the data, not of a training run
SAMPLE = 200_000  # pixels used by k-means (of 5.1 million for one class)
ITERS = 50  # ~1.5 s; centres then move by < 5/255 more till converged
TOL = 1e-5  # RGB in [0, 1]: far below one 8-bit level
VERSION = 1  # bump when the k-means below changes: old caches go stale
# The course's palette file is under 1 KB; a cached one is (K, 3) float32.
MAX_FILE_BYTES = 1 << 20


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
            blob = read_bounded(path, MAX_FILE_BYTES)
            colours = restricted_npy(blob)
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


def load_palette_file(path: str | Path) -> np.ndarray:
    """The course's palette file: element 0 is the ``(K, 3)`` RGB palette
    in [0, 1] (the course's has K = 24). Returns float32 ``(K, 3)``.

    The file may be an ``.npy`` (the course saves an object array) or a
    pickle; either is read without running code (``a2.fileio``), so a
    file naming anything but arrays, lists and numbers is refused.
    """
    path = environment.normalise_path(str(path))
    try:
        blob = read_bounded(path, MAX_FILE_BYTES)
    except FileNotFoundError:
        raise PaletteError(f"palette file {path} not found") from None
    except FileRefused as err:
        raise PaletteError(
            f"palette file {path} was refused: it {err}"
        ) from None
    except (OSError, ValueError) as err:  # no permission, a NUL in the name
        raise PaletteError(
            f"palette file {path} cannot be read "
            f"({getattr(err, 'strerror', None) or reason(err)})"
        ) from None
    try:
        if blob.startswith(NPY_MAGIC):
            obj = restricted_npy(blob)
        else:
            obj = restricted_loads(blob)
    except RefusedPickle as err:
        raise PaletteError(
            f"palette file {path} was refused: {err}; a "
            f"palette file holds only arrays and numbers"
        ) from None
    except Exception as err:  # truncated, garbage, an unknown npy version
        raise PaletteError(
            f"palette file {path} is neither a numpy file "
            f"nor a pickle ({reason(err)})"
        ) from None
    try:
        colours = np.asarray(obj[0], dtype=np.float32)
    except (TypeError, ValueError, IndexError, KeyError) as err:
        raise PaletteError(
            f"palette file {path}: element 0 is not an array ({reason(err)})"
        ) from None
    if colours.ndim != 2 or colours.shape[1] != 3 or len(colours) < 2:
        raise PaletteError(
            f"palette file {path}: element 0 has shape "
            f"{colours.shape}; expected (K, 3) RGB colours, "
            f"K >= 2 (the course's is (24, 3))"
        )
    if not np.all((colours >= 0) & (colours <= 1)):
        raise PaletteError(
            f"palette file {path}: colours must lie in "
            f"[0, 1] (RGB scaled by 1/255)"
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
