"""The k-means palette is deterministic; targets are nearest colours."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from a2.colour import palette


def three_blobs(n: int = 3000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.1, 0.1, 0.1], [0.9, 0.2, 0.2], [0.2, 0.3, 0.9]])
    return centres[rng.integers(3, size=n)] + 0.01 * rng.standard_normal(
        (n, 3)
    )


def test_kmeans_is_deterministic_for_a_seed():
    pixels = np.random.default_rng(0).random((20_000, 3))
    a = palette.kmeans(pixels, k=24, seed=0, sample=5_000)
    b = palette.kmeans(pixels, k=24, seed=0, sample=5_000)
    assert a.shape == (24, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)


def test_kmeans_finds_well_separated_colours_sorted_by_brightness():
    found = palette.kmeans(three_blobs(), k=3, seed=0)
    expected = np.array([[0.1, 0.1, 0.1], [0.9, 0.2, 0.2], [0.2, 0.3, 0.9]])
    np.testing.assert_allclose(found, expected, atol=0.01)


def test_nearest_colour_on_hand_made_pixels():
    colours = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1]], np.float32)
    # One image, 2x2: dark grey, reddish, bluish, exactly between 0 and 1.
    rgb = torch.tensor(
        [
            [
                [[0.1, 0.8], [0.1, 0.5]],
                [[0.1, 0.1], [0.1, 0.0]],
                [[0.1, 0.2], [0.7, 0.0]],
            ]
        ]
    )
    target = palette.nearest_colour(rgb, colours)
    assert target.dtype == torch.int64
    # A tie goes to the first colour, as argmin does in the course.
    assert target.tolist() == [[[0, 1], [2, 0]]]


def test_nearest_colour_agrees_with_the_course_direct_distances():
    rng = np.random.default_rng(3)
    colours = rng.random((24, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (4, 3, 8, 8)) / 256.0
    cs = colours.astype(np.float64).reshape(24, 1, 3, 1, 1)
    course = np.argmin(np.linalg.norm(rgb[None] - cs, axis=2), axis=0)
    ours = palette.nearest_colour(torch.from_numpy(rgb).float(), colours)
    np.testing.assert_array_equal(ours.numpy(), course)


def test_course_palette_file_is_accepted(tmp_path):
    colours = np.random.default_rng(0).random((24, 3))
    path = tmp_path / "colours.npy"
    np.save(path, np.array([colours], dtype=object), allow_pickle=True)
    np.testing.assert_allclose(
        palette.load_palette_file(path), colours, rtol=1e-6
    )
    pickled = tmp_path / "colours.pkl"
    pickled.write_bytes(pickle.dumps([colours]))
    assert palette.load_palette_file(pickled).shape == (24, 3)


def test_palette_file_of_wrong_shape_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((1, 24, 4)))
    with pytest.raises(palette.PaletteError, match=r"\(24, 4\)"):
        palette.load_palette_file(path)


def test_cached_palette_is_computed_once_per_data_identity(
    a2_cache, monkeypatch
):
    rgb = torch.rand(4, 3, 8, 8)
    first = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    assert len(list((a2_cache / "data").glob("palette-*.npy"))) == 1
    monkeypatch.setattr(palette, "kmeans", lambda *a, **k: 1 / 0)
    again = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    np.testing.assert_array_equal(first, again)
