"""Data, palette and cache files never run code: each crafted file below
would create a marker file if it were unpickled as Python's pickle (or
``np.load(allow_pickle=True)``) does. The files are refused with one line
naming them, and the marker never appears."""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PY, one_error_line, run

from a2.colour import cache, data, palette
from a2.fileio import RefusedPickle, restricted_loads, restricted_npy

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class Exec:
    """Unpickling calls exec(code): the classic payload."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


class System:
    """Unpickling calls os.system(command)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class GetattrChain:
    """getattr(__import__('os'), 'system')(...), built from builtins that
    a naive allow-list of 'builtins' would let through."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (
            eval,
            (f"__import__('pathlib').Path({str(self.marker)!r}).touch()",),
        )


def payloads(marker: Path) -> dict[str, object]:
    return {
        "exec": Exec(f"open({str(marker)!r}, 'w').close()"),
        "os.system": System(f"touch {marker}"),
        "eval": GetattrChain(marker),
    }


def protocol0_system(marker: Path) -> bytes:
    """A hand-written protocol 0 pickle: GLOBAL 'os system', then call."""
    return b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."


def batch(n: int = 4, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"training batch 1 of 5",
        b"labels": [i % 10 for i in range(n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"x.png"] * n,
    }


def batches_folder(
    root: Path, bad: bytes | None = None, which: str = "data_batch_3"
) -> Path:
    """A 'cifar-10-batches-py' folder; batch ``which`` replaced by
    ``bad`` when given."""
    folder = root / data.FOLDER
    folder.mkdir(parents=True)
    for i, name in enumerate(BATCHES):
        blob = pickle.dumps(batch(seed=i), protocol=2)
        (folder / name).write_bytes(
            bad if bad is not None and name == which else blob
        )
    return folder


def archive_of(folder: Path, path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
    return path


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "MARKER"
    yield path
    assert not path.exists(), "a crafted file ran code"


# --- the restricted unpickler itself -------------------------------------


@pytest.mark.parametrize("kind", ["exec", "os.system", "eval"])
@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_payload_anywhere_in_a_pickle_is_refused(marker, kind, protocol):
    payload = payloads(marker)[kind]
    for wrapped in (
        payload,
        [payload],
        {b"data": [1, payload]},
        (np.zeros(2), {"x": [payload]}),
    ):
        with pytest.raises(RefusedPickle) as err:
            restricted_loads(pickle.dumps(wrapped, protocol=protocol))
        assert "\n" not in str(err.value)


def test_hand_written_protocol_0_global_is_refused(marker):
    with pytest.raises(RefusedPickle, match="os.system|posix.system"):
        restricted_loads(protocol0_system(marker))


def test_arrays_lists_and_numbers_still_load():
    value = {
        b"data": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "f": np.float32(2.5),
        "o": np.array([[0.5, 1.0]], object),
        "l": [1, 2.0, "s", b"b", (3,)],
    }
    for protocol in range(6):
        got = restricted_loads(pickle.dumps(value, protocol=protocol))
        np.testing.assert_array_equal(got[b"data"], value[b"data"])
        assert got["l"] == value["l"] and got["f"] == 2.5


def test_an_object_npy_runs_nothing_and_plain_npy_loads(marker, tmp_path):
    buf = io.BytesIO()
    np.save(
        buf,
        np.array([System(f"touch {marker}")], dtype=object),
        allow_pickle=True,
    )
    with pytest.raises(RefusedPickle):
        restricted_npy(buf.getvalue())
    buf = io.BytesIO()
    np.save(buf, np.eye(3))
    np.testing.assert_array_equal(restricted_npy(buf.getvalue()), np.eye(3))


# --- palette files ----------------------------------------------------------


def _palette_files(tmp: Path, marker: Path) -> dict[str, Path]:
    colours = np.random.default_rng(0).random((24, 3))
    files = {}
    for kind, payload in payloads(marker).items():
        npy = tmp / f"object-{kind}.npy"
        np.save(
            npy, np.array([colours, payload], dtype=object), allow_pickle=True
        )
        files[f"object npy ({kind})"] = npy
        pkl = tmp / f"palette-{kind}.pkl"
        pkl.write_bytes(pickle.dumps([colours, {"note": payload}]))
        files[f"pickle ({kind})"] = pkl
    text = tmp / "protocol0.pkl"
    text.write_bytes(protocol0_system(marker))
    files["protocol 0 pickle"] = text
    npz = tmp / "palette.npz"  # an npz is a zip: read as a pickle, refused
    np.savez(npz, a=np.array([System(f"touch {marker}")], dtype=object))
    files["npz holding an object array"] = npz
    return files


PALETTE_CASES = [
    "object npy (exec)",
    "object npy (os.system)",
    "object npy (eval)",
    "pickle (exec)",
    "pickle (os.system)",
    "pickle (eval)",
    "protocol 0 pickle",
    "npz holding an object array",
]


@pytest.mark.parametrize("case", PALETTE_CASES)
def test_crafted_palette_file_is_refused_in_one_line(tmp_path, marker, case):
    path = _palette_files(tmp_path, marker)[case]
    with pytest.raises(palette.PaletteError) as err:
        palette.load_palette_file(path)
    message = str(err.value)
    assert message.startswith(f"palette file {path} ")
    assert "\n" not in message and len(message) < 400


def test_the_course_palette_format_still_loads(tmp_path):
    colours = np.random.default_rng(0).random((24, 3))
    path = tmp_path / "colour_kmeans24_cat7.npy"
    np.save(path, np.array([colours], dtype=object), allow_pickle=True)
    np.testing.assert_allclose(
        palette.load_palette_file(path), colours, rtol=1e-6
    )


def test_crafted_palette_on_the_command_line_is_one_line(
    tmp_path, marker, horse_npz, a2_cache
):
    path = _palette_files(tmp_path, marker)["object npy (os.system)"]
    proc = run(
        [
            PY,
            "-m",
            "a2",
            "train",
            "--set",
            f"palette={path}",
            "--set",
            "n_train=8",
            "--set",
            "n_valid=8",
        ],
        tmp_path,
        {"A2_DATA": str(horse_npz), "A2_CACHE": str(a2_cache)},
    )
    line = one_error_line(proc)
    assert line.startswith(
        f"error: palette file {path} was refused: it asks for "
    )
    assert not (a2_cache / "runs").exists()


def test_a_cached_palette_holding_a_pickle_is_recomputed(a2_cache, marker):
    rgb = torch.rand(4, 3, 8, 8)
    first = palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4)
    (path,) = (a2_cache / "data").glob("palette-*.npy")
    np.save(
        path,
        np.array([System(f"touch {marker}")], dtype=object),
        allow_pickle=True,
    )
    np.testing.assert_array_equal(
        palette.cached_kmeans(rgb, "sha256:abc|label=7", k=4), first
    )


# --- data sources -----------------------------------------------------------


def _data_cases(
    tmp: Path, marker: Path, horse_npz: Path
) -> dict[str, tuple[Path, str]]:
    """(A2_DATA, the file the message must name) per case."""
    cases = {}
    for kind, payload in payloads(marker).items():
        bad = pickle.dumps(
            {
                b"data": np.zeros((4, 3072), np.uint8),
                b"labels": [0, 1, 2, payload],
            }
        )
        folder = batches_folder(tmp / f"folder-{kind}", bad)
        cases[f"batch with a payload ({kind})"] = (
            folder,
            str(folder / "data_batch_3"),
        )
    whole = batches_folder(
        tmp / "whole",
        pickle.dumps(System(f"touch {marker}")),
        which="test_batch",
    )
    cases["a batch that is a payload"] = (whole, str(whole / "test_batch"))
    objects = batches_folder(
        tmp / "objects",
        pickle.dumps(
            {
                b"data": np.array(
                    [Exec(f"open({str(marker)!r}, 'w')")] * 4, dtype=object
                ),
                b"labels": [0] * 4,
            }
        ),
    )
    cases["object array in a batch"] = (objects, str(objects / "data_batch_3"))
    text = batches_folder(tmp / "text", protocol0_system(marker))
    cases["protocol 0 batch"] = (text, str(text / "data_batch_3"))
    src = batches_folder(
        tmp / "src",
        pickle.dumps([batch(), System(f"touch {marker}")]),
        which="data_batch_1",
    )
    archive = archive_of(src, tmp / "crafted.tar.gz")
    cases["archive with a crafted batch"] = (archive, str(archive))
    with np.load(horse_npz) as z:
        arrays = {k: z[k][:20] for k in z.files}
    obj = tmp / "object.npz"
    np.savez(
        obj,
        **{
            **arrays,
            "x_train": np.array([System(f"touch {marker}")], dtype=object),
        },
    )
    cases["npz holding an object array"] = (obj, str(obj))
    fake = tmp / "pickle.npz"
    fake.write_bytes(pickle.dumps(System(f"touch {marker}")))
    cases["pickle named .npz"] = (fake, str(fake))
    inner = io.BytesIO()
    np.save(
        inner,
        np.array([System(f"touch {marker}")], dtype=object),
        allow_pickle=True,
    )
    nested = tmp / "nested.npz"
    with __import__("zipfile").ZipFile(nested, "w") as zf:
        for name, a in arrays.items():
            buf = io.BytesIO()
            np.save(buf, a)
            zf.writestr(
                f"{name}.npy",
                buf.getvalue() if name != "y_test" else inner.getvalue(),
            )
    cases["object npy inside an npz"] = (nested, str(nested))
    return cases


DATA_CASES = [
    "batch with a payload (exec)",
    "batch with a payload (os.system)",
    "batch with a payload (eval)",
    "a batch that is a payload",
    "object array in a batch",
    "protocol 0 batch",
    "archive with a crafted batch",
    "npz holding an object array",
    "pickle named .npz",
    "object npy inside an npz",
]


@pytest.mark.parametrize("case", DATA_CASES)
def test_crafted_data_source_is_refused_in_one_line(
    tmp_path, marker, horse_npz, a2_cache, case
):
    source, named = _data_cases(tmp_path, marker, horse_npz)[case]
    with pytest.raises(data.DataError) as err:
        data.load_arrays(source)
    message = str(err.value)
    assert message.startswith(named), message
    assert "\n" not in message
    assert str(a2_cache) not in message  # the archive, not its extraction


def test_crafted_batch_on_the_command_line_is_one_a2_data_line(
    tmp_path, marker, a2_cache
):
    bad = pickle.dumps({b"data": System(f"touch {marker}"), b"labels": []})
    folder = batches_folder(tmp_path / "src", bad)
    archive = archive_of(folder, tmp_path / "cifar-10-python.tar.gz")
    for source, named in (
        (folder, folder / "data_batch_3"),
        (archive, archive),
    ):
        proc = run(
            [PY, "-m", "a2", "train"],
            tmp_path,
            {"A2_DATA": str(source), "A2_CACHE": str(a2_cache)},
        )
        line = one_error_line(proc)
        assert line.startswith(f"error: A2_DATA={source}: {named}"), line
        assert "refused" in line


# --- archives: only plain files inside the archive's folder --------------


def _tar_with(path: Path, member: tarfile.TarInfo, blob: bytes = b"") -> Path:
    folder = batches_folder(path.parent / (path.name + ".src"))
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=data.FOLDER)
        tar.addfile(member, io.BytesIO(blob) if blob else None)
    return path


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


ARCHIVE_CASES = {
    "a '..' path": (
        lambda tmp: _member("../escaped", size=3),
        b"bad",
        "points outside",
    ),
    "an absolute path": (
        lambda tmp: _member(str(tmp / "abs"), size=3),
        b"bad",
        "points outside",
    ),
    "a symbolic link": (
        lambda tmp: _member(
            f"{data.FOLDER}/data_batch_9", tarfile.SYMTYPE, link="/etc/passwd"
        ),
        b"",
        "is a link",
    ),
    "a hard link": (
        lambda tmp: _member(
            f"{data.FOLDER}/data_batch_9",
            tarfile.LNKTYPE,
            link=f"{data.FOLDER}/data_batch_1",
        ),
        b"",
        "is a link",
    ),
    "a device": (
        lambda tmp: _member(f"{data.FOLDER}/dev", tarfile.CHRTYPE),
        b"",
        "is not a plain file",
    ),
}


@pytest.mark.parametrize("case", ARCHIVE_CASES)
def test_archive_members_outside_plain_files_are_refused(
    tmp_path, a2_cache, case
):
    make, blob, reason = ARCHIVE_CASES[case]
    archive = _tar_with(tmp_path / "a.tar.gz", make(tmp_path), blob)
    with pytest.raises(data.DataError) as err:
        data.load_arrays(archive)
    assert str(err.value).startswith(f"{archive} was refused: member ")
    assert reason in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path.parent / "escaped").exists()
    assert not (tmp_path / "abs").exists()
    assert not list((a2_cache / "data").glob("*/*"))  # nothing extracted


def test_an_archive_that_unpacks_too_large_is_refused(
    tmp_path, a2_cache, monkeypatch
):
    monkeypatch.setattr(data, "MAX_ARCHIVE_BYTES", 10_000)
    archive = archive_of(
        batches_folder(tmp_path / "src"), tmp_path / "big.tar.gz"
    )
    with pytest.raises(data.DataError, match="unpacks to over"):
        data.load_arrays(archive)


# --- the checkpoint cache ---------------------------------------------------


def test_a_checkpoint_holding_a_payload_is_retrained_not_run(
    a2_cache, tiny_data, marker
):
    from test_cache import TINY

    first = cache.train_or_load(TINY.replace(epochs=1), tiny_data, log=None)
    folder = a2_cache / "runs" / first.key
    buf = io.BytesIO()
    torch.save({"key": first.key, "x": System(f"touch {marker}")}, buf)
    blob = buf.getvalue()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / manifest["checkpoint"]).write_bytes(blob)
    manifest["checkpoint_sha256"] = cache._sha256(blob)  # a valid checksum
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    again = cache.train_or_load(
        TINY.replace(epochs=1), tiny_data, log=lines.append
    )
    damaged = [ln for ln in lines if "damaged" in ln]
    assert len(damaged) == 1 and "UnpicklingError" in damaged[0]
    assert again.history.last.valid_loss == first.history.last.valid_loss
