"""CIFAR-10 sources and the course's preprocessing. The official files
cannot be downloaded here: tests write a tiny copy in their layout and,
where a test needs it accepted, make its checksums the official ones
(``as_official``)."""

from __future__ import annotations

import hashlib
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from torchvision.datasets import CIFAR10

from a2.colour import data

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_batches(folder: Path, n_per_batch: int = 4) -> Path:
    """A tiny 'cifar-10-batches-py' laid out as the official one (a dict
    per batch, label names in batches.meta); labels cycle through 0..9."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in BATCHES:
        batch = {
            "batch_label": name,
            "labels": [i % 10 for i in range(n_per_batch)],
            "data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            "filenames": ["x.png"] * n_per_batch,
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": [f"class {i}" for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def archive_of(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
    return path


def make_archive(tmp_path: Path) -> Path:
    folder = write_batches(tmp_path / "src" / data.FOLDER, 20)
    return archive_of(folder, tmp_path / data.ARCHIVE)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def as_official(
    monkeypatch: pytest.MonkeyPatch, folder: Path, archive: Path | None = None
) -> None:
    """Make torchvision's official checksums those of ``folder``'s files
    (and of ``archive``): the stand-in for the real CIFAR-10."""
    lists = {
        "train_list": [[n, md5(folder / n)] for n in BATCHES[:5]],
        "test_list": [[n, md5(folder / n)] for n in BATCHES[5:]],
        "meta": {**CIFAR10.meta, "md5": md5(folder / "batches.meta")},
    }
    for name, value in lists.items():
        monkeypatch.setattr(CIFAR10, name, value)
    if archive is not None:
        monkeypatch.setattr(CIFAR10, "tgz_md5", md5(archive))


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


def test_official_folder_and_archive_agree_with_the_batches(
    tmp_path, a2_cache, monkeypatch
):
    """torchvision reads them; the arrays keep the batches' layout, one
    row of b'data' per (3, 32, 32) image, in file order."""
    archive = make_archive(tmp_path)
    folder = tmp_path / "src" / data.FOLDER
    as_official(monkeypatch, folder, archive)
    from_folder = data.load_arrays(folder)
    from_parent = data.load_arrays(folder.parent)  # the folder above it
    from_archive = data.load_arrays(archive)
    for a, b, c in zip(from_folder[:4], from_parent[:4], from_archive[:4]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    first = pickle.loads((folder / "data_batch_1").read_bytes())
    np.testing.assert_array_equal(
        from_folder[0][:20].reshape(20, -1), first["data"]
    )
    assert from_folder[0].shape == (100, 3, 32, 32)
    assert from_folder[3].dtype == np.int64
    assert from_folder[4].startswith("sha256:")
    assert from_archive[4] == "md5:" + md5(archive)


def test_label_absent_from_the_source_is_a_data_error(horse_npz, a2_cache):
    with pytest.raises(data.DataError, match="class 3"):
        data.load(label=3, source=horse_npz)


def test_unknown_source_names_the_local_options(a2_cache):
    with pytest.raises(data.DataError, match="cifar-10-batches-py"):
        data.load_arrays("/no/such/place")


def test_the_readme_recipe_converts_a_folder_to_an_npz_that_loads(
    tmp_path, a2_cache, monkeypatch
):
    """Run as written in README: Data, in the folder above the copy, on
    batches with str keys (the official files, Python 3 pickles) and
    with bytes keys."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = readme.index("# cifar-10-batches-py -> cifar10.npz")
    recipe = readme[start : readme.index("```", start)]
    folder = write_batches(tmp_path / data.FOLDER)
    as_official(monkeypatch, folder)
    want = data.load_arrays(folder)
    monkeypatch.chdir(tmp_path)
    exec(recipe, {})
    got = data.load_arrays(tmp_path / "cifar10.npz")
    for a, b in zip(got[:4], want[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    name = folder / "data_batch_1"
    batch = pickle.loads(name.read_bytes())
    name.write_bytes(pickle.dumps({k.encode(): v for k, v in batch.items()}))
    exec(recipe, {})
    again = data.load_arrays(tmp_path / "cifar10.npz")
    np.testing.assert_array_equal(again[0], want[0])
