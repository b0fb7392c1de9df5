"""A damaged or foreign cache recovers, a kill at any point of a save keeps
the finished epochs, a full or read-only disk is one line, and a run that
diverges is never stored as complete."""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PY, one_error_line, run

from a2 import fileio
from a2.__main__ import main
from a2.colour import cache, palette
from a2.colour import train as a2_train
from a2.colour.train import RunConfig
from a2.config import environment

TINY = RunConfig(
    num_filters=4, batch_size=64, epochs=3, device="cpu", shuffle="epoch"
)


def metrics(history) -> list[tuple]:
    return [(r.train_loss, r.valid_loss, r.valid_acc) for r in history]


@pytest.fixture(scope="session")
def straight(tiny_data, tmp_path_factory) -> list[tuple]:
    """An uninterrupted run: the numbers every recovery must reach."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(tmp_path_factory.mktemp("straight")))
        return metrics(cache.train_or_load(TINY, tiny_data, log=None).history)


def folder_of(a2_cache: Path, tiny_data, config: RunConfig = TINY) -> Path:
    return a2_cache / "runs" / cache.run_key(config, tiny_data)


def assert_clean(folder: Path) -> None:
    """Only the manifest and the checkpoint it names: no stray files."""
    manifest = json.loads((folder / "manifest.json").read_text())
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["manifest.json", manifest["checkpoint"]]
    )


# --- a checkpoint that does not fit the model -------------------------------


def _weights(state):
    return state["model"]


def _other_optimizer(state):
    other = torch.nn.Linear(3, 2)
    state["optimizer"] = torch.optim.Adam(other.parameters()).state_dict()


FOREIGN = {
    "a weight of another shape": lambda s: _weights(s).update(
        {next(iter(_weights(s))): torch.zeros(3)}
    ),
    "a missing weight": lambda s: _weights(s).pop(next(iter(_weights(s)))),
    "an extra weight": lambda s: _weights(s).update(
        {"extra.weight": torch.zeros(2)}
    ),
    "the optimiser of another model": _other_optimizer,
    "a shuffling generator state of the wrong size": lambda s: s.update(
        generator=torch.zeros(5, dtype=torch.uint8)
    ),
    "history rows without their fields": lambda s: s.update(
        history=[{"epoch": 1}]
    ),
    "weights that are not a mapping": lambda s: s.update(model=[1, 2]),
}


@pytest.mark.parametrize("case", FOREIGN)
def test_a_checkpoint_that_does_not_fit_is_retrained_in_one_line(
    a2_cache, tiny_data, straight, case
):
    cache.train_or_load(TINY, tiny_data, log=None)
    folder = folder_of(a2_cache, tiny_data)
    manifest = json.loads((folder / "manifest.json").read_text())
    path = folder / manifest["checkpoint"]
    stored = torch.load(path, weights_only=True)
    FOREIGN[case](stored["trainer"])
    buf = io.BytesIO()
    torch.save(stored, buf)
    path.write_bytes(buf.getvalue())
    manifest["checkpoint_sha256"] = cache._sha256(buf.getvalue())
    (folder / "manifest.json").write_text(json.dumps(manifest))

    lines = []
    run_ = cache.train_or_load(TINY, tiny_data, log=lines.append)
    damaged = [ln for ln in lines if "damaged" in ln]
    assert len(damaged) == 1, lines
    assert damaged[0].startswith(f"cache entry {folder.name} is damaged (")
    assert damaged[0].endswith("; training it again from scratch")
    assert any(ln.startswith("training run") for ln in lines)
    assert metrics(run_.history) == straight  # from scratch, not resumed
    assert_clean(folder)


def test_a_stored_run_with_a_nan_loss_is_damaged_not_loaded(
    a2_cache, tiny_data, straight
):
    cache.train_or_load(TINY, tiny_data, log=None)
    folder = folder_of(a2_cache, tiny_data)
    manifest = json.loads((folder / "manifest.json").read_text())
    path = folder / manifest["checkpoint"]
    stored = torch.load(path, weights_only=True)
    stored["trainer"]["history"][1]["valid_loss"] = float("nan")
    buf = io.BytesIO()
    torch.save(stored, buf)
    path.write_bytes(buf.getvalue())
    manifest["checkpoint_sha256"] = cache._sha256(buf.getvalue())
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert any("a non-finite loss at epoch 2" in ln for ln in lines)
    assert metrics(again.history) == straight


# --- a kill at each point of a save ------------------------------------------

KILLER = """
import os, signal, sys
from a2.colour import cache, data
from a2.colour.train import RunConfig

point, epoch = sys.argv[3], int(sys.argv[4])
real_write, real_clean = cache.atomic_write, cache._clean
commits = [0]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def write(path, blob):
    now = commits[0] + 1 == epoch  # this save is the one to cut
    ckpt = path.name.startswith("ckpt-")
    if now and (point, ckpt) in (("before the checkpoint", True),
                                 ("between the two writes", False)):
        die()
    if now and (point, ckpt) in (("inside the checkpoint's write", True),
                                 ("inside the manifest's write", False)):
        torn = path.with_name(path.name + ".abcdef.tmp")
        torn.write_bytes(blob[:len(blob) // 2])
        die()
    real_write(path, blob)
    if not ckpt:
        commits[0] += 1
        if now and point == "after the manifest":
            die()


def clean(folder, keep):
    real_clean(folder, keep)
    if commits[0] == epoch and point == "after the clean-up":
        die()


cache.atomic_write, cache._clean = write, clean
d = data.load(source=sys.argv[1], n_train=128, n_valid=64,
              palette=sys.argv[2])
cache.train_or_load(RunConfig(**{config!r}), d, log=None)
print("not killed")
"""

# (where the kill lands, in the save of which epoch, epochs kept)
KILL_POINTS = [
    ("before the checkpoint", 2, 1),
    ("inside the checkpoint's write", 2, 1),
    ("between the two writes", 2, 1),
    ("inside the manifest's write", 2, 1),
    ("after the manifest", 2, 2),
    ("after the clean-up", 2, 2),
    ("between the two writes", 1, 0),
    ("inside the manifest's write", 3, 2),
]


@pytest.mark.parametrize(
    "point,epoch,kept",
    KILL_POINTS,
    ids=[f"{p}, epoch {e}" for p, e, _ in KILL_POINTS],
)
def test_a_kill_at_any_point_of_a_save_resumes_bit_identically(
    a2_cache, tiny_data, horse_npz, tmp_path, straight, point, epoch, kept
):
    colours = tmp_path / "colours.npy"
    np.save(colours, tiny_data.palette[None])
    script = textwrap.dedent(KILLER).replace(
        "{config!r}", repr(TINY.to_dict())
    )
    child = subprocess.run(
        [PY, "-c", script, str(horse_npz), str(colours), point, str(epoch)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    folder = folder_of(a2_cache, tiny_data)
    assert cache.stored_epochs(folder.name) == kept

    lines = []
    resumed = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert not [ln for ln in lines if "damaged" in ln], lines
    if kept:
        assert lines[0].startswith(f"resuming run {folder.name}")
        assert f"resuming after epoch {kept}" in lines
    else:
        assert lines[0].startswith(f"training run {folder.name}")
    assert metrics(resumed.history) == straight
    assert_clean(folder)  # the torn and the superseded files are gone


# --- a full disk -------------------------------------------------------------


def full_disk(monkeypatch, cache_dir: Path, nth: int) -> list[str]:
    """The nth atomic write into the cache writes half its bytes, then
    fails as a full disk does. Returns the names written so far."""
    written: list[str] = []
    real_fdopen = os.fdopen

    class Full:
        """A file on a full disk: half of a write lands, then ENOSPC."""

        def __init__(self, fh):
            self.fh = fh

        def write(self, blob):
            self.fh.write(bytes(blob)[: len(blob) // 2])
            self.fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fdopen(fd, *args, **kwargs):
        fh = real_fdopen(fd, *args, **kwargs)
        target = os.readlink(f"/proc/self/fd/{fd}")
        if not target.startswith(str(cache_dir)):
            return fh
        written.append(Path(target).name)
        return Full(fh) if len(written) == nth else fh

    monkeypatch.setattr(fileio.os, "fdopen", fdopen)
    return written


# (which write fails: the nth into the cache, epochs kept)
FULL_CASES = {
    "checkpoint of epoch 1": (1, 0),
    "manifest of epoch 1": (2, 0),
    "checkpoint of epoch 2": (3, 1),
    "manifest of epoch 2": (4, 1),
    "checkpoint of epoch 3": (5, 2),
}


@pytest.mark.parametrize("case", FULL_CASES)
def test_a_full_disk_while_saving_is_one_line_and_loses_no_epoch(
    a2_cache, tiny_data, straight, monkeypatch, case
):
    nth, kept = FULL_CASES[case]
    folder = folder_of(a2_cache, tiny_data)
    written = full_disk(monkeypatch, a2_cache, nth)
    with pytest.raises(cache.RunError) as err:
        cache.train_or_load(TINY, tiny_data, log=None)
    epoch = kept + 1
    kept_text = (
        f"{kept} epoch{'s' if kept > 1 else ''}" if kept else "no epoch"
    )
    assert str(err.value) == (
        f"run {folder.name}: cannot save epoch {epoch} in {folder} (No "
        f"space left on device); the cache keeps {kept_text} of it; free "
        f"some space and rerun to resume"
    )
    assert len(written) == nth
    assert not list(folder.glob("*.tmp"))  # nothing half-written
    assert cache.stored_epochs(folder.name) == kept
    if kept:
        assert_clean(folder)
        assert cache._read(folder, folder.name, log=None) is not None
    else:
        assert list(folder.iterdir()) == []

    monkeypatch.undo()  # space again
    monkeypatch.setenv("A2_CACHE", str(a2_cache))
    lines = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    if kept:
        assert f"resuming after epoch {kept}" in lines
    assert metrics(again.history) == straight


def tiny_train_args(palette_file: Path, epochs: int) -> list[str]:
    """`python -m a2 train` on a tiny run of the offline data."""
    settings = {
        "n_train": 128,
        "n_valid": 64,
        "num_filters": 4,
        "palette": palette_file,
        "epochs": epochs,
        "device": "cpu",
    }
    return ["train"] + [
        a for k, v in settings.items() for a in ("--set", f"{k}={v}")
    ]


def test_a_full_disk_on_the_command_line_is_one_line(
    a2_cache, tiny_data, palette_file, horse_npz, monkeypatch, capsys
):
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    full_disk(monkeypatch, a2_cache, 3)
    args = tiny_train_args(palette_file, epochs=2)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: run ")
    assert "(No space left on device); the cache keeps 1 epoch of it" in err[0]


def test_a_full_disk_only_skips_storing_the_palette(a2_cache, monkeypatch):
    full_disk(monkeypatch, a2_cache, 1)
    rgb = torch.rand(4, 3, 8, 8)
    colours = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    assert colours.shape == (4, 3)
    assert not list((a2_cache / "data").iterdir())


# --- a read-only cache -------------------------------------------------------


def make_read_only(a2_cache: Path, monkeypatch) -> list[str]:
    """From now on every way of writing under the cache fails as on a
    read-only mount (even for root). Returns the write attempts."""
    a2_cache.mkdir(parents=True, exist_ok=True)  # a cache that exists
    attempts: list[str] = []
    root = str(a2_cache)

    def under(path) -> bool:
        return os.path.abspath(os.fsdecode(path)).startswith(root)

    def refuse(what, path):
        attempts.append(f"{what} {path}")
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def guard(name, writes):
        real = getattr(os, name)

        def fake(path, *args, **kwargs):
            if under(path) and writes(path, *args, **kwargs):
                refuse(name, path)
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, name, fake)

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC
    guard("open", lambda p, flags, *a, **k: flags & write_flags)
    guard("mkdir", lambda p, *a, **k: not os.path.exists(p))
    for name in ("unlink", "rmdir", "replace", "rename"):
        guard(name, lambda p, *a, **k: True)
    real_access = os.access
    monkeypatch.setattr(
        os,
        "access",
        lambda p, mode, *a, **k: (
            False
            if under(p) and mode & os.W_OK
            else real_access(p, mode, *a, **k)
        ),
    )
    real_io_open = io.open

    def io_open(file, mode="r", *args, **kwargs):
        if (
            isinstance(file, (str, bytes, os.PathLike))
            and under(file)
            and any(c in mode for c in "wax+")
        ):
            refuse("open", file)
        return real_io_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", io_open)
    monkeypatch.setattr("builtins.open", io_open)
    return attempts


def test_a_read_only_cache_still_loads_a_hit(
    a2_cache, tiny_data, straight, monkeypatch
):
    first = cache.train_or_load(TINY, tiny_data, log=None)
    attempts = make_read_only(a2_cache, monkeypatch)
    lines = []
    again = cache.train_or_load(TINY, tiny_data, log=lines.append)
    assert lines[0].startswith(f"loaded run {first.key}")
    assert metrics(again.history) == straight
    assert attempts == []  # nothing tried to write


def test_a_miss_in_a_read_only_cache_is_one_line(
    a2_cache, tiny_data, monkeypatch
):
    make_read_only(a2_cache, monkeypatch)
    monkeypatch.setattr(
        a2_train.Trainer,
        "fit",
        lambda *a, **k: pytest.fail("trained although nothing could be saved"),
    )
    folder = folder_of(a2_cache, tiny_data)
    with pytest.raises(cache.RunError) as err:
        cache.train_or_load(TINY, tiny_data, log=None)
    assert str(err.value) == (
        f"run {folder.name} is not in the cache and cannot be written to "
        f"{folder} (Read-only file system); make A2_CACHE writable or "
        f"point it at a writable folder"
    )


def test_a_partial_run_in_a_read_only_cache_stops_before_training(
    a2_cache, tiny_data, monkeypatch
):
    cache.train_or_load(TINY.replace(epochs=1), tiny_data, log=None)
    partial = folder_of(a2_cache, tiny_data, TINY.replace(epochs=1))
    target = folder_of(a2_cache, tiny_data)
    target.mkdir(parents=True)
    for path in partial.iterdir():  # epoch 1 of the 3-epoch run
        blob = path.read_bytes()
        if path.name.startswith("ckpt-"):
            stored = torch.load(io.BytesIO(blob), weights_only=True)
            stored["key"] = target.name
            buf = io.BytesIO()
            torch.save(stored, buf)
            blob = buf.getvalue()
            sha = cache._sha256(blob)
        (target / path.name).write_bytes(blob)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["checkpoint_sha256"] = sha
    (target / "manifest.json").write_text(json.dumps(manifest))
    make_read_only(a2_cache, monkeypatch)
    monkeypatch.setattr(
        a2_train.Trainer,
        "fit",
        lambda *a, **k: pytest.fail("trained although nothing could be saved"),
    )
    with pytest.raises(cache.RunError, match="cannot be written to"):
        cache.train_or_load(TINY, tiny_data, log=None)


def test_a_read_only_cache_on_the_command_line(
    a2_cache, tiny_data, palette_file, horse_npz, monkeypatch, capsys
):
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = tiny_train_args(palette_file, epochs=1)
    make_read_only(a2_cache, monkeypatch)
    assert main(args) == 2  # a miss
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written to" in err[0]
    monkeypatch.undo()
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    monkeypatch.setenv("A2_CACHE", str(a2_cache))
    assert main(args) == 0  # trained and stored
    capsys.readouterr()
    attempts = make_read_only(a2_cache, monkeypatch)
    assert main(args) == 0  # a hit loads
    assert "loaded run" in capsys.readouterr().out and attempts == []


def test_a_read_only_palette_cache_computes_the_palette(a2_cache, monkeypatch):
    attempts = make_read_only(a2_cache, monkeypatch)
    colours = palette.cached_kmeans(torch.rand(4, 3, 8, 8), "x", k=4)
    assert colours.shape == (4, 3) and attempts  # tried, and let go


# --- A2_CACHE that cannot be a cache -----------------------------------------


@pytest.mark.parametrize("command", [["runs"], ["train"]])
def test_a2_cache_that_is_a_file_is_one_line(tmp_path, horse_npz, command):
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    for path, says in (
        (
            blocker,
            f"A2_CACHE={blocker} is a file, not a "
            f"folder; point A2_CACHE at a folder",
        ),
        (
            blocker / "sub",
            f"A2_CACHE={blocker}/sub: "
            f"cannot create the folder (Not a directory)",
        ),
    ):
        proc = run(
            [PY, "-m", "a2", *command],
            tmp_path,
            {"A2_CACHE": str(path), "A2_DATA": str(horse_npz)},
        )
        assert one_error_line(proc).startswith(f"error: {says}")
        assert proc.returncode == 2
    assert blocker.read_text() == "not a folder"


def test_a2_cache_that_is_a_file_stops_an_archive_source_too(
    tmp_path, monkeypatch
):
    from torchvision.datasets import CIFAR10

    from a2.colour import data

    monkeypatch.setenv("A2_CACHE", str(tmp_path / "f"))
    (tmp_path / "f").write_text("")
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(b"")  # made the official archive: its md5 passes
    monkeypatch.setattr(CIFAR10, "tgz_md5", "d41d8cd98f00b204e9800998ecf8427e")
    with pytest.raises(data.DataError, match="is a file, not a folder"):
        data.load_arrays(archive)
    with pytest.raises(environment.SettingError):
        cache.runs_dir()


# --- python -m a2 runs over malformed manifests ------------------------------

MALFORMED = {
    "garbage": b"{",
    "empty": b"",
    "not UTF-8": b"\xff\xfe{}",
    "a list": b"[1, 2]",
    "no config": json.dumps({"key": "k", "meta": {"devices": []}}).encode(),
    "a kernel that is a word": None,  # from a good manifest, see below
    "devices that are not a list": None,
    "final that is a string": None,
}


def _malformed(good: dict, case: str) -> bytes:
    bad = json.loads(json.dumps(good))
    if case == "a kernel that is a word":
        bad["config"]["kernel"] = "three"
    elif case == "devices that are not a list":
        bad["meta"]["devices"] = "cpu"
    elif case == "final that is a string":
        bad["final"] = "done"
    return json.dumps(bad).encode()


def test_runs_lists_the_good_and_names_each_malformed_manifest(
    a2_cache, tiny_data, monkeypatch, capsys
):
    good = cache.train_or_load(TINY.replace(epochs=1), tiny_data, log=None)
    manifest = json.loads(
        (a2_cache / "runs" / good.key / "manifest.json").read_text()
    )
    bad_paths = []
    for i, (case, blob) in enumerate(MALFORMED.items()):
        folder = a2_cache / "runs" / f"bad{i:02d}"
        folder.mkdir()
        path = folder / "manifest.json"
        path.write_bytes(
            blob if blob is not None else _malformed(manifest, case)
        )
        bad_paths.append(path)
    folder = a2_cache / "runs" / "folder-manifest"
    (folder / "manifest.json").mkdir(parents=True)
    bad_paths.append(folder / "manifest.json")

    assert main(["runs"]) == 0
    out, err = capsys.readouterr()
    rows = out.strip().splitlines()
    assert len(rows) == 2 and rows[1].startswith(good.key)
    warnings = err.strip().splitlines()
    assert len(warnings) == len(bad_paths)
    for line, path in zip(warnings, sorted(bad_paths)):
        assert line.startswith(f"warning: {path} is malformed (")
        assert line.endswith("); the run is trained again when used")
    assert [m["key"] for m in cache.list_runs()] == [good.key]


# --- a run that diverges -----------------------------------------------------


@pytest.mark.parametrize(
    "where,value",
    [
        ("train", float("nan")),
        ("train", float("inf")),
        ("valid", float("nan")),
    ],
)
def test_a_diverging_run_stops_in_one_line_and_is_never_complete(
    a2_cache, tiny_data, monkeypatch, where, value
):
    real_epoch, real_eval = a2_train.Trainer.train_epoch, a2_train.evaluate
    epochs = []

    def train_epoch(self):
        loss, seconds = real_epoch(self)
        epochs.append(1)
        bad = len(epochs) == 2 and where == "train"
        return (value if bad else loss), seconds

    def evaluate(*args, **kwargs):
        loss, acc = real_eval(*args, **kwargs)
        bad = len(epochs) == 2 and where == "valid"
        return (value if bad else loss), acc

    monkeypatch.setattr(a2_train.Trainer, "train_epoch", train_epoch)
    monkeypatch.setattr(a2_train, "evaluate", evaluate)
    folder = folder_of(a2_cache, tiny_data)
    with pytest.raises(cache.RunError) as err:
        cache.train_or_load(TINY, tiny_data, log=None)
    assert str(err.value) == (
        f"run {folder.name}: training diverged at "
        f"epoch 2 (loss {value}); lower lr (now "
        f"0.001)"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert not manifest["complete"] and manifest["meta"]["epochs_done"] == 1
    assert all(np.isfinite(r["train_loss"]) for r in manifest["history"])


def test_a_diverging_run_on_the_command_line_is_one_line(
    a2_cache, palette_file, horse_npz, monkeypatch, capsys
):
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    monkeypatch.setattr(
        a2_train.Trainer, "train_epoch", lambda self: (float("nan"), 0.0)
    )
    args = [
        "train",
        "--set",
        "n_train=64",
        "--set",
        "n_valid=32",
        "--set",
        "num_filters=4",
        "--set",
        f"palette={palette_file}",
        "--set",
        "epochs=3",
        "--set",
        "device=cpu",
        "--set",
        "lr=1e3",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: run ")
    assert err[0].endswith(
        ": training diverged at epoch 1 (loss nan); lower lr (now 1000)"
    )
    assert cache.list_runs() == []  # nothing stored, nothing complete


def test_train_computes_a_palette_of_the_colours_asked_for(
    a2_cache, horse_npz, monkeypatch, capsys
):
    """`--set num_colours=K` without a palette file: k-means gives K
    colours, and the run has K classes (not the default 24's palette)."""
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    settings = {
        "n_train": 64,
        "n_valid": 32,
        "num_filters": 4,
        "epochs": 1,
        "device": "cpu",
        "num_colours": 8,
    }
    args = ["train"] + [
        a for k, v in settings.items() for a in ("--set", f"{k}={v}")
    ]
    assert main(args) == 0, capsys.readouterr().err
    (folder,) = (a2_cache / "runs").iterdir()
    manifest = json.loads((folder / cache.MANIFEST).read_text())
    assert manifest["config"]["num_colours"] == 8
