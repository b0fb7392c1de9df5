"""Settings read one way everywhere (issue 21, class 6): an empty
``A2_CACHE`` is the default cache, never the current folder, and a path
setting has ``~`` expanded and is made absolute by the one function the
CLI, the library and the build share
(``a2.config.environment.normalise_data``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from a2.colour import cache, data, palette
from a2.colour.train import RunConfig
from a2.config import environment


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository of its own (its default cache), and an empty current
    folder that nothing may be written to."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.setattr(environment, "REPO", root)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    return root


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_an_empty_cache_setting_is_the_default_cache(repo, monkeypatch, value):
    monkeypatch.setenv("A2_CACHE", value)
    assert environment.cache_dir() == repo / ".cache"
    assert list(Path.cwd().iterdir()) == []


def test_an_empty_cache_setting_writes_nothing_to_the_current_folder(
    repo, monkeypatch, tiny_data
):
    """The issue's case: runs/ and data/ appeared in the current folder."""
    monkeypatch.setenv("A2_CACHE", "")
    config = RunConfig(num_filters=4, batch_size=64, epochs=1, device="cpu")
    run = cache.train_or_load(config, tiny_data, log=None)
    rgb = tiny_data.train_rgb[:8]
    palette.cached_kmeans(rgb, "sha256:x|label=7", k=4)
    assert list(Path.cwd().iterdir()) == []
    assert (repo / ".cache" / "runs" / run.key / "manifest.json").is_file()
    assert list((repo / ".cache" / "data").glob("palette-*.npy"))


def test_a_cache_setting_expands_home_and_is_made_absolute(
    repo, monkeypatch, tmp_path
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("A2_CACHE", " ~/cache ")
    assert environment.cache_dir() == tmp_path / "home" / "cache"
    monkeypatch.setenv("A2_CACHE", "rel/cache")
    assert environment.cache_dir() == Path.cwd() / "rel" / "cache"
    assert environment.cache_dir().is_absolute()


@pytest.mark.parametrize(
    "setting, expected",
    [
        ("download", "download"),
        ("  download\n", "download"),
        ("", "download"),
        ("  ", "download"),
        ("~/d/h.npz", "{home}/d/h.npz"),
        ("~", "{home}"),
        ("rel/h.npz", "{base}/rel/h.npz"),
        ("./h.npz", "{base}/h.npz"),
        ("/abs/h.npz", "/abs/h.npz"),
        ("/abs/../x/h.npz", "/abs/../x/h.npz"),  # links are not resolved
    ],
)
def test_normalise_data_is_the_one_reading_of_a2_data(
    setting, expected, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    base = tmp_path / "base"
    want = expected.format(home=tmp_path / "home", base=base)
    assert environment.normalise_data(setting, base) == str(Path(want))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("A2_DATA", setting)
    cwd_want = expected.format(home=tmp_path / "home", base=tmp_path)
    assert environment.data_source() == str(Path(cwd_want))


def test_a_home_relative_data_path_loads_as_the_file_itself(
    tmp_path, monkeypatch, horse_npz, a2_cache
):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "data" / "horse.npz").symlink_to(horse_npz)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("A2_DATA", "~/data/horse.npz")
    got = data.load_arrays()
    want = data.load_arrays(horse_npz)
    assert got[-1] == want[-1]  # the same arrays, by their checksum
    for a, b in zip(got[:4], want[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    assert data.load_arrays("~/data/horse.npz")[-1] == want[-1]


def test_a_home_relative_palette_path_loads(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    colours = np.random.default_rng(0).random((24, 3))
    np.save(home / "p.npy", colours)
    monkeypatch.setenv("HOME", str(home))
    got = palette.load_palette_file("~/p.npy")
    np.testing.assert_allclose(got, colours, rtol=1e-6)
