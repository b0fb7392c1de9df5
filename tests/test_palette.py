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


def test_a_plain_array_is_a_palette_file(tmp_path):
    """(K, 3) as np.save writes it, or (1, K, 3): element 0 is the
    palette, the course's layout."""
    colours = np.random.default_rng(0).random((24, 3))
    for name, array in (("plain", colours), ("first", colours[None])):
        path = tmp_path / f"{name}.npy"
        np.save(path, array)
        got = palette.load_palette_file(path)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, colours, rtol=1e-6)


@pytest.mark.parametrize("kind", ["object npy", "pickle"])
def test_a_pickled_palette_is_refused_with_the_line_that_converts_it(
    tmp_path, monkeypatch, kind
):
    """The course ships its palette pickled; the message's recipe, run
    as written on a copy one trusts, makes a file that loads."""
    colours = np.random.default_rng(0).random((24, 3))
    path = tmp_path / "colour_kmeans24_cat7.npy"
    if kind == "object npy":
        np.save(path, np.array([colours], dtype=object), allow_pickle=True)
    else:
        path.write_bytes(pickle.dumps([colours]))
    with pytest.raises(palette.PaletteError) as err:
        palette.load_palette_file(path)
    message = str(err.value)
    assert message.startswith(f"palette file {path} was refused: ")
    assert "never unpickled" in message and "\n" not in message
    recipe = message.split("folder, with ", 1)[1].split(" (README", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(recipe, {"np": np})
    got = palette.load_palette_file(tmp_path / "palette.npy")
    np.testing.assert_allclose(got, colours, rtol=1e-6)


DEGENERATE = {
    "24 copies of one colour": (
        np.zeros((24, 3)),
        "repeats colours: 24 rows, 1 distinct",
    ),
    "a NaN": (np.full((24, 3), np.nan), "must be numbers in [0, 1]"),
    "an infinity": (np.full((2, 3), np.inf), "must be numbers in [0, 1]"),
    "8-bit values": (np.full((2, 3), 255), "must be numbers in [0, 1]"),
    "complex numbers": (np.ones((2, 3), complex), "holds complex128 values"),
    "text": (np.array([["a"] * 3] * 2), "holds <U1 values"),
    "one colour": (np.zeros((1, 3)), "has shape (1, 3)"),
    "four channels": (np.zeros((24, 4)), "has shape (24, 4); expected (K, 3)"),
    "an image": (np.zeros((32, 32, 3)), "has shape (32, 32, 3)"),
}


@pytest.mark.parametrize("case", DEGENERATE)
def test_a_palette_that_cannot_classify_pixels_is_one_line(tmp_path, case):
    array, says = DEGENERATE[case]
    path = tmp_path / "p.npy"
    np.save(path, array)
    with pytest.raises(palette.PaletteError) as err:
        palette.load_palette_file(path)
    message = str(err.value)
    assert message.startswith(f"palette file {path}") and "\n" not in message
    assert says in message, message


def test_cached_palette_is_computed_once_per_data_identity(
    a2_cache, monkeypatch
):
    rgb = torch.rand(4, 3, 8, 8)
    first = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    assert len(list((a2_cache / "data").glob("palette-*.npy"))) == 1
    monkeypatch.setattr(palette, "kmeans", lambda *a, **k: 1 / 0)
    again = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    np.testing.assert_array_equal(first, again)
