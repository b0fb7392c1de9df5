"""Data, palette and cache files never run code: each crafted file below
would create a marker file if it were unpickled as Python's pickle (or
``np.load(allow_pickle=True)``) does. The files are refused with one line
naming them, and the marker never appears: a batch or an archive is
unpickled only when its md5 is the official one, and an .npz or a palette
is read with ``allow_pickle=False`` after its headers are checked."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import PY, one_error_line, run
from test_data import archive_of, as_official, write_batches

from a2.colour import cache, data, palette


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


def batches_folder(
    root: Path, bad: bytes | None = None, which: str = "data_batch_3"
) -> Path:
    """A 'cifar-10-batches-py' folder (``write_batches``: the same good
    files each time); batch ``which`` replaced by ``bad`` when given."""
    folder = write_batches(root / data.FOLDER)
    if bad is not None:
        (folder / which).write_bytes(bad)
    return folder


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "MARKER"
    yield path
    assert not path.exists(), "a crafted file ran code"


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
        f"error: palette file {path} was refused: it holds Python objects"
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
        pickle.dumps([{"data": [0]}, System(f"touch {marker}")]),
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
    tmp_path, marker, horse_npz, a2_cache, monkeypatch, case
):
    """The good batches' checksums are made the official ones, so the
    crafted batch is the one refused."""
    as_official(monkeypatch, batches_folder(tmp_path / "good"))
    source, named = _data_cases(tmp_path, marker, horse_npz)[case]
    with pytest.raises(data.DataError) as err:
        data.load_arrays(source)
    message = str(err.value)
    assert message.startswith(named), message
    assert "\n" not in message
    assert str(a2_cache) not in message  # the archive, not its extraction


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
