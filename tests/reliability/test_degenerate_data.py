"""Data that cannot support the experiment is one line saying why,
before any palette is computed or any run trained: images with fewer
distinct colours than the palette (all black, one grey, a few flat
colours), more images asked for than the class has, labels or images of
the wrong kind. Palette files of the wrong kind: test_palette.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import in_process, one_error_line

from a2.colour import data
from a2.colour import palette as pal

TRAIN, TEST = 300, 100  # horses kept in each split


def horse_npz_with(path: Path, horse_npz: Path, **changes) -> Path:
    """The first horses of each split, with ``changes`` applied: a
    callable receives the array and returns the new one."""
    with np.load(horse_npz) as z:
        arrays = {
            "x_train": z["x_train"][:TRAIN],
            "y_train": z["y_train"][:TRAIN],
            "x_test": z["x_test"][:TEST],
            "y_test": z["y_test"][:TEST],
        }
    for key, change in changes.items():
        arrays[key] = change(arrays[key])
    np.savez(path, **arrays)
    return path


def _colours(n: int):
    """Images whose pixels take ``n`` colours only."""

    def change(x: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(0)
        colours = rng.choice(256, size=(n, 3), replace=False).astype(np.uint8)
        pick = rng.integers(n, size=(len(x), 32, 32))
        return np.ascontiguousarray(colours[pick].transpose(0, 3, 1, 2))

    return change


# What is done to the arrays, the keywords of data.load, what the line says.
DEGENERATE = {
    "all-black training images": (
        {"x_train": np.zeros_like},
        {},
        f"the {TRAIN} training images of class 7 hold 1 distinct colour, "
        f"fewer than the palette's 24",
    ),
    "grey training images": (
        {"x_train": lambda x: np.full_like(x, 128)},
        {},
        "hold 1 distinct colour, fewer than the palette's 24",
    ),
    "five colours": (
        {"x_train": _colours(5)},
        {},
        "training images of class 7 hold 5 distinct colours",
    ),
    "23 colours": ({"x_train": _colours(23)}, {}, "hold 23 distinct colours"),
    "flat validation images": (
        {"x_test": np.zeros_like},
        {},
        f"the {TEST} validation images of class 7 hold 1 distinct colour",
    ),
    "one flat image asked for": (
        {"x_train": lambda x: np.concatenate([np.zeros_like(x[:1]), x[1:]])},
        {"n_train": 1},
        "the 1 training image of class 7 holds 1 distinct colour,",
    ),
    "more training images asked for than there are": (
        {},
        {"n_train": TRAIN + 1},
        f"n_train={TRAIN + 1}, but the data source holds {TRAIN} training "
        f"images of class 7; choose n_train <= {TRAIN} (or null: all)",
    ),
    "more validation images asked for than there are": (
        {},
        {"n_valid": 5000},
        f"n_valid=5,000, but the data source holds {TEST} test images",
    ),
    "no image of the class": (
        {"y_train": lambda y: np.full_like(y, 3)},
        {},
        "the data source has no training images of class 7",
    ),
    "float labels": (
        {"y_train": lambda y: y.astype(np.float32)},
        {},
        f"y_train must be integer labels of shape ({TRAIN},)",
    ),
    "yes/no labels": (
        {"y_test": lambda y: y == 7},
        {},
        f"y_test must be integer labels of shape ({TEST},), one per image "
        f"of x_test, got bool",
    ),
    "float images": (
        {"x_train": lambda x: x / 255.0},
        {},
        "x_train must be uint8 (N, 3, 32, 32), got float64",
    ),
}


@pytest.mark.parametrize("case", DEGENERATE)
def test_degenerate_data_is_one_line_before_any_palette(
    tmp_path, horse_npz, a2_cache, monkeypatch, case
):
    changes, asked, says = DEGENERATE[case]
    source = horse_npz_with(tmp_path / "d.npz", horse_npz, **changes)
    monkeypatch.setattr(pal, "kmeans", lambda *a, **k: pytest.fail("k-means"))
    with pytest.raises(data.DataError) as err:
        data.load(source=source, **asked)
    message = str(err.value)
    assert says in message and "\n" not in message, message


def test_fewer_colours_than_a_palette_file_is_one_line(
    tmp_path, horse_npz, a2_cache
):
    source = horse_npz_with(tmp_path / "d.npz", horse_npz, x_train=_colours(4))
    colours = tmp_path / "p.npy"
    np.save(colours, np.linspace(0, 1, 15)[:, None].repeat(3, axis=1))
    with pytest.raises(data.DataError, match="hold 4 distinct colours, "):
        data.load(source=source, palette=colours)
    np.save(colours, np.linspace(0, 1, 4)[:, None].repeat(3, axis=1))
    assert data.load(source=source, palette=colours).num_colours == 4


def test_the_build_check_refuses_blank_images(tmp_path, horse_npz, a2_cache):
    source = horse_npz_with(
        tmp_path / "d.npz", horse_npz, x_test=np.zeros_like
    )
    with pytest.raises(data.DataError) as err:
        data.check_source(str(source))
    assert str(err.value).startswith(
        f"the {TEST} test images of class 7 hold 1 distinct colour"
    )
    data.check_source(str(horse_npz))  # the real horses pass


def test_blank_images_on_the_command_line_train_nothing(
    tmp_path, horse_npz, a2_cache, monkeypatch
):
    from a2.__main__ import main

    source = horse_npz_with(
        tmp_path / "d.npz", horse_npz, x_train=np.zeros_like
    )
    proc = in_process(
        main,
        ["train", "--set", "epochs=1"],
        tmp_path,
        {"A2_DATA": str(source), "A2_CACHE": str(a2_cache)},
    )
    line = one_error_line(proc)
    assert line.startswith(
        f"error: A2_DATA={source}: the {TRAIN} training images of class 7 "
        f"hold 1 distinct colour"
    ), line
    assert proc.returncode == 2
    assert not (a2_cache / "runs").exists()


def test_a_section_asking_for_more_images_stops_the_build_in_one_line(
    book, tmp_path, horse_npz, a2_cache
):
    from conftest import build_cli, snapshot

    source = horse_npz_with(tmp_path / "d.npz", horse_npz)
    (book / "params").mkdir(exist_ok=True)
    (book / "params/4-pooling.yaml").write_text(f"n_train: {TRAIN + 1}\n")
    before = snapshot(book / "build/full/exec", book / "dist")
    proc = build_cli(book, "pdf", env={"A2_DATA": str(source)})
    line = one_error_line(proc)
    assert line.startswith(
        f"error: A2_DATA={source}: n_train={TRAIN + 1}, but the data "
        f"source holds {TRAIN} training images of class 7"
    ), line
    assert not (a2_cache / "runs").exists()
    assert snapshot(book / "build/full/exec", book / "dist") == before
