"""Checkpoint packs: runs trained in one place, a book built in another.

A pack is untrusted input: every way of spoiling one is refused whole,
in one line, with the cache as it was; a sound pack of runs this build
does not use is partly used, in one line; packing is reproducible; and
a book built from a pack trains nothing and prints the numbers of the
book whose runs were packed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from a2.colour import cache, packs, schedule
from a2.config.params import RunConfig

REPO = Path(__file__).resolve().parents[1]
TINY = dict(num_filters=4, batch_size=64, epochs=1, device="cpu")
RUNS = [
    RunConfig(model="conv_transpose", **TINY),
    RunConfig(model="unet", **TINY),
]


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def packed(tiny_data, tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny runs trained into a cache of their own, and their pack."""
    folder = tmp_path_factory.mktemp("packed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(folder / "cache"))
        for c in RUNS:
            cache.train_or_load(c, tiny_data, log=None)
        packs.write(
            [cache.run_key(c, tiny_data) for c in RUNS], folder / "p.tar"
        )
    return folder / "cache", folder / "p.tar"


def members(pack: Path) -> dict[str, bytes]:
    with tarfile.open(pack) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}


def repack(
    out: Path, files: dict[str, bytes], kinds: dict[str, bytes] | None = None
) -> Path:
    """A tar of ``files`` in order; ``kinds`` maps a name to a tarfile
    member type (a link, a folder) instead of a regular file."""
    with tarfile.open(out, "w") as tar:
        for name, blob in files.items():
            member = tarfile.TarInfo(name)
            if kinds and name in kinds:
                member.type, member.linkname = kinds[name], "/etc/passwd"
                tar.addfile(member)
                continue
            member.size = len(blob)
            tar.addfile(member, io.BytesIO(blob))
    return out


def ckpt_name(files: dict[str, bytes], run: str) -> str:
    return next(n for n in files if n.startswith(run) and n.endswith(".pt"))


def with_sums(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` with pack.json's and the manifests' checksums made
    consistent again (a careful forger's pack)."""
    index = json.loads(files[f"{packs.ROOT}/pack.json"])
    for run in index["runs"]:
        folder = f"{packs.ROOT}/runs/{run['key']}/"
        ckpt = ckpt_name(files, folder)
        manifest = json.loads(files[folder + "manifest.json"])
        manifest["checkpoint_sha256"] = hashlib.sha256(files[ckpt]).hexdigest()
        files[folder + "manifest.json"] = json.dumps(manifest).encode()
        for name in (ckpt, folder + "manifest.json"):
            run["files"][name.rsplit("/", 1)[1]] = {
                "bytes": len(files[name]),
                "sha256": hashlib.sha256(files[name]).hexdigest(),
            }
    files[f"{packs.ROOT}/pack.json"] = json.dumps(index).encode()
    return files


def bring_in(pack: Path, data, configs=RUNS) -> packs.Imported:
    return packs.bring_in(pack, [(data, configs)])


# --- writing ---------------------------------------------------------------


def test_packing_twice_gives_the_same_bytes(packed, tiny_data, monkeypatch):
    runs, pack = packed
    monkeypatch.setenv("A2_CACHE", str(runs))
    for path in runs.rglob("*"):  # times, and the order found, play no part
        os.utime(path, (1e9, 1e9))
    again = pack.with_name("again.tar")
    keys = [cache.run_key(c, tiny_data) for c in reversed(RUNS)]
    assert packs.write(keys, again) == pack.stat().st_size
    assert again.read_bytes() == pack.read_bytes()
    index = json.loads(members(pack)[f"{packs.ROOT}/pack.json"])
    assert index["code"] == cache.code_fingerprints()
    (run, _) = index["runs"]
    assert run["trained_on"] == [
        {"device": "CPU, 1 thread", "torch": cache.torch.__version__}
    ]
    assert set(run["files"]) == {
        "manifest.json",
        next(n for n in run["files"] if n.startswith("ckpt-")),
    }


def test_an_unfinished_run_is_not_packed(tiny_data, a2_cache, tmp_path):
    with pytest.raises(packs.PackError, match="not sound in the cache"):
        packs.write(["0123456789abcdef"], tmp_path / "p.tar")
    assert not (tmp_path / "p.tar").exists()


# --- bringing in -----------------------------------------------------------


def test_a_pack_that_covers_the_plan_means_nothing_to_train(
    packed, tiny_data, a2_cache
):
    runs, pack = packed
    got = bring_in(pack, tiny_data)
    assert got.line() == (
        f"CHECKPOINTS={pack}: 2 of 2 planned run(s) imported from the pack"
    )
    outcomes = schedule.train_many(RUNS, tiny_data, log=pytest.fail)
    assert [o.status for o in outcomes] == ["cached", "cached"]
    for o in outcomes:  # the very checkpoints, marked as from the pack
        here = json.loads(
            (a2_cache / "runs" / o.key / "manifest.json").read_text()
        )
        there = json.loads(
            (runs / "runs" / o.key / "manifest.json").read_text()
        )
        assert here["meta"].pop("pack") == "p.tar"
        assert here == there
        name = here["checkpoint"]
        assert (a2_cache / "runs" / o.key / name).read_bytes() == (
            runs / "runs" / o.key / name
        ).read_bytes()
    again = bring_in(pack, tiny_data)  # runs the cache holds stay
    assert again.line().endswith(
        "0 of 2 planned run(s) imported from the pack, 2 in the cache already"
    )


def test_runs_of_other_settings_and_code_are_left_with_one_line(
    packed, tiny_data, a2_cache, tmp_path, monkeypatch
):
    _, pack = packed
    planned = [RUNS[0], RUNS[0].replace(seed=5)]
    got = bring_in(pack, tiny_data, planned)
    assert got.imported == [cache.run_key(RUNS[0], tiny_data)]
    assert got.line() == (
        f"CHECKPOINTS={pack}: 1 of 2 planned run(s) imported from the pack; "
        "not used: 1 run(s) of settings no section asks for: "
        "unet num_filters=4 batch_size=64 epochs=1; not in it, so trained "
        "here: 1 planned run(s): conv_transpose num_filters=4 batch_size=64 "
        "epochs=1 seed=5"
    )
    assert (
        sorted(p.name for p in (a2_cache / "runs").iterdir()) == got.imported
    )

    other = tmp_path / "other"  # a pack made by other training code
    monkeypatch.setenv("A2_CACHE", str(other))
    fingerprints = cache.code_fingerprints()
    monkeypatch.setattr(
        cache, "code_fingerprints", lambda: {**fingerprints, "train": "0" * 64}
    )
    cache.train_or_load(RUNS[1], tiny_data, log=None)
    packs.write([cache.run_key(RUNS[1], tiny_data)], tmp_path / "old.tar")
    monkeypatch.undo()
    monkeypatch.setenv("A2_CACHE", str(a2_cache))
    got = bring_in(tmp_path / "old.tar", tiny_data, [RUNS[1]])
    assert got.line().endswith(
        "0 of 1 planned run(s) imported from the pack; not used: 1 run(s) "
        "made by other training code (train): unet num_filters=4 "
        "batch_size=64 epochs=1; not in it, so trained here: 1 planned "
        "run(s): unet num_filters=4 batch_size=64 epochs=1"
    )


def spoil(case: str, files: dict[str, bytes], key: str) -> dict:
    """A pack spoiled as ``case`` says, from the good one's ``files``;
    returns the files and the kinds of its members."""
    folder = f"{packs.ROOT}/runs/{key}/"
    ckpt = ckpt_name(files, folder)
    kinds: dict[str, bytes] = {}
    if case == "a flipped weight byte":
        blob = bytearray(files[ckpt])
        blob[len(blob) // 2] ^= 1
        files[ckpt] = bytes(blob)
    elif case == "a weight file whose checksums are forged":
        blob = bytearray(files[ckpt])
        blob[100:110] = b"0123456789"
        files[ckpt] = bytes(blob)
        files = with_sums(files)
    elif case == "a path outside the pack":
        files = {**files, f"{packs.ROOT}/../../escape.txt": b"x"}
    elif case == "an absolute path":
        files = {**files, "/tmp/a2-escape.txt": b"x"}
    elif case == "a link":
        files = {**files, f"{folder}ckpt-0000000000000000.pt": b""}
        kinds[f"{folder}ckpt-0000000000000000.pt"] = tarfile.SYMTYPE
    elif case == "a file pack.json does not list":
        files = {**files, f"{folder}ckpt-0000000000000000.pt": b"x"}
    elif case == "a file pack.json lists, missing":
        del files[ckpt]
    elif case == "compressed checkpoint entries":
        out = io.BytesIO()
        with (
            zipfile.ZipFile(io.BytesIO(files[ckpt])) as src,
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
        ):
            for entry in src.infolist():
                dst.writestr(entry.filename, src.read(entry))
        files[ckpt] = out.getvalue()
        files = with_sums(files)
    elif case == "a manifest of another run":
        manifest = json.loads(files[folder + "manifest.json"])
        manifest["meta"]["request"]["run"]["seed"] = 9
        files[folder + "manifest.json"] = json.dumps(manifest).encode()
        files = with_sums(files)
    elif case == "a malformed pack.json":
        files[f"{packs.ROOT}/pack.json"] = b"{not json"
    elif case == "a weight file that runs code when loaded":
        import pickle

        class Shell:
            def __reduce__(self):
                return (os.system, ("touch /tmp/a2-pwned",))

        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            dst.writestr("archive/data.pkl", pickle.dumps(Shell()))
            dst.writestr("archive/version", "3\n")
        files[ckpt] = out.getvalue()
        files = with_sums(files)
    return {"files": files, "kinds": kinds}


CASES = [
    ("a flipped weight byte", "does not match its checksum"),
    ("a weight file whose checksums are forged", ""),
    ("a path outside the pack", "(or lies outside it)"),
    ("an absolute path", "(or lies outside it)"),
    ("a link", "is not a regular file"),
    ("a file pack.json does not list", "is not listed in pack.json"),
    ("a file pack.json lists, missing", "listed in pack.json, is missing"),
    ("compressed checkpoint entries", "holds compressed entries"),
    ("a manifest of another run", "does not hold the run its key names"),
    ("a malformed pack.json", "its pack.json is malformed"),
    ("a weight file that runs code when loaded", "(loading it could run"),
]


@pytest.mark.parametrize("case,says", CASES, ids=[c for c, _ in CASES])
def test_a_spoiled_pack_is_refused_whole_in_one_line(
    case, says, packed, tiny_data, a2_cache, tmp_path
):
    _, pack = packed
    key = cache.run_key(RUNS[1], tiny_data)
    cache.train_or_load(RUNS[0], tiny_data, log=None)  # a cache in use
    before = snapshot(a2_cache)
    bad = repack(tmp_path / "bad.tar", **spoil(case, members(pack), key))
    with pytest.raises(packs.PackError) as err:
        bring_in(bad, tiny_data)
    line = str(err.value)
    assert line.startswith(f"CHECKPOINTS={bad}: refused, "), line
    assert line.endswith("; nothing imported"), line
    assert says in line and "\n" not in line and len(line) < 300, line
    assert snapshot(a2_cache) == before
    assert not Path("/tmp/a2-pwned").exists()


@pytest.mark.parametrize("where", ["halfway", "in its last file"])
def test_a_truncated_pack_is_refused(
    packed, tiny_data, a2_cache, tmp_path, where
):
    _, pack = packed
    blob = pack.read_bytes()
    with tarfile.open(pack) as tar:
        last = tar.getmembers()[-1]
    cut = len(blob) // 2 if where == "halfway" else last.offset_data + 100
    short = tmp_path / "short.tar"
    short.write_bytes(blob[:cut])
    with pytest.raises(packs.PackError, match="refused, ") as err:
        bring_in(short, tiny_data)
    assert "not a whole, uncompressed tar archive" in str(err.value)
    assert not (a2_cache / "runs").exists()


def test_what_is_not_a_pack_is_refused(packed, tiny_data, a2_cache, tmp_path):
    _, pack = packed
    gz = tmp_path / "p.tar.gz"
    subprocess.run(["gzip", "-k", "-c", str(pack)], stdout=gz.open("wb"))
    for path, says in (
        (gz, "refused, "),
        (tmp_path, "is a folder, not a regular file"),
        (tmp_path / "none.tar", "No such file or directory"),
    ):
        with pytest.raises(packs.PackError, match="refused, ") as err:
            bring_in(path, tiny_data)
        assert says in str(err.value)


def test_a_huge_extended_header_is_refused_before_it_is_read(
    packed, tiny_data, a2_cache, tmp_path, monkeypatch
):
    monkeypatch.setattr(packs, "MAX_READ", 1 << 16)
    bad = tmp_path / "pax.tar"
    with tarfile.open(bad, "w", format=tarfile.PAX_FORMAT) as tar:
        member = tarfile.TarInfo(f"{packs.ROOT}/pack.json")
        member.pax_headers = {"comment": "x" * (1 << 17)}
        tar.addfile(member, io.BytesIO(b""))
    with pytest.raises(packs.PackError, match="a header over 65,536 bytes"):
        bring_in(bad, tiny_data)


def test_sizes_are_bounded_before_reading(
    packed, tiny_data, a2_cache, monkeypatch
):
    _, pack = packed
    monkeypatch.setattr(cache, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(packs.PackError, match="more than the 1,000 such"):
        bring_in(pack, tiny_data)
    monkeypatch.setattr(packs, "MAX_PACK_BYTES", 1000)
    with pytest.raises(packs.PackError, match="more than the 1,000"):
        bring_in(pack, tiny_data)


# --- a book built from a pack ----------------------------------------------

BOOK = """\
book:
  title: "From a pack"
  chapters:
    - index.md
    - report/4-pooling.qmd
  appendices:
    - report/6-reproducibility.qmd
"""


def test_a_book_built_from_a_pack_trains_nothing_and_prints_the_same(
    smoke_built, smoke_data, tmp_path
):
    """Clone A: the suite's smoke build, which trained its runs; its
    runs packed. Clone B: a fresh book (section 4 and the appendix of
    the real report) and an empty cache, built with CHECKPOINTS=: it
    trains nothing, section 4 shows A's numbers, and the appendix says
    where the run came from."""
    from a2.report import provenance

    keys = []
    for record in sorted((smoke_built / "provenance").glob("[!.]*.json")):
        keys += provenance.read(record)["runs"]
    pack = tmp_path / "a2-checkpoints.tar"
    packs.write(keys, pack)  # A's cache: the one the smoke build used

    b = tmp_path / "b"
    for name in ("src", "report", "params"):
        shutil.copytree(
            REPO / name, b / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(REPO / "index.md", b)
    (b / "_quarto.yml").write_text(BOOK)
    env = {
        **os.environ,
        "A2_CACHE": str(tmp_path / "cache-b"),
        "A2_DATA": smoke_data,
        "CHECKPOINTS": str(pack),
        "QUARTO": str(REPO / "tests/tools/fake_quarto.py"),
    }
    for name in ("MAKEFLAGS", "PROFILE", "S", "PARAMS", "DATA", "V"):
        env.pop(name, None)  # make's own, should the suite run under make

    def pipeline(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "a2.pipeline", "--profile", "smoke", *args],
            cwd=b,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    built = pipeline("pdf")
    log = built.stdout + built.stderr
    assert built.returncode == 0, log[-3000:]
    assert "CHECKPOINTS=" in log and "training run" not in log
    line = next(ln for ln in log.splitlines() if ln.startswith("CHECKPOINTS="))
    assert "1 of 1 planned run(s) imported from the pack; not used: 4" in line

    def record(build: Path, stem: str) -> dict:
        nb = json.loads((build / "exec" / f"{stem}.ipynb").read_text())
        texts = [
            o.get("data", {}).get("text/markdown", o.get("text", ""))
            for c in nb["cells"]
            if c["cell_type"] == "code"
            for o in c.get("outputs", [])
        ]
        done = json.loads((build / "provenance" / f"{stem}.json").read_text())
        return {"inline": done["inline"], "outputs": texts}

    assert record(b / "build/smoke", "4-pooling") == record(
        smoke_built, "4-pooling"
    )
    appendix = json.dumps(record(b / "build/smoke", "6-reproducibility"))
    assert "pack `a2-checkpoints.tar`" in appendix

    # make checkpoints there trains nothing and packs that very run.
    env.pop("CHECKPOINTS")
    trained = pipeline("checkpoints")
    assert trained.returncode == 0, trained.stderr
    assert "1 planned run(s) in the cache (0 trained now)" in trained.stderr
    (run,) = (tmp_path / "cache-b/runs").iterdir()
    again = members(b / "build/smoke/dist" / packs.NAME)
    first = members(pack)
    weights = [n for n in again if n.endswith(".pt")]
    assert weights and all(f"/{run.name}/" in n for n in weights)
    assert all(again[n] == first[n] for n in weights)


def test_the_code_notebook_trains_the_plan_in_one_cell(smoke_dist):
    import nbformat

    nb = nbformat.read(smoke_dist / "a2-code.ipynb", 4)
    cells = [c for c in nb.cells if "schedule.train_sections(" in c.source]
    assert len(cells) == 1
    from a2.config import params

    namespace: dict = {}
    plan = cells[0].source.split("PLAN = ", 1)[1].split("\noutcomes", 1)[0]
    exec("PLAN = " + plan, namespace)
    assert set(namespace["PLAN"]) == {"4-pooling", "5-transposed"}
    for stem, values in namespace["PLAN"].items():  # as the build ran
        assert values == params.overrides(
            stem, profile=REPO / "params/smoke.yaml"
        )


def test_a_pack_beside_the_outputs_outlives_the_next_build(tmp_path):
    """make checkpoints writes dist/a2-checkpoints.tar; the next make pdf
    swaps dist/ for its new outputs, and the pack goes along."""
    from a2.pipeline import checkpoints, render

    dist, new = tmp_path / "dist", tmp_path / ".dist.new"
    dist.mkdir()
    new.mkdir()
    (dist / packs.NAME).write_bytes(b"the pack")
    (dist / "a2-writeup.pdf").write_bytes(b"old")
    (new / "a2-writeup.pdf").write_bytes(b"new")
    checkpoints.keep_pack(dist, new)
    render.switch(new, dist)
    shutil.rmtree(new)  # as the build removes the old outputs
    assert (dist / packs.NAME).read_bytes() == b"the pack"
    assert (dist / "a2-writeup.pdf").read_bytes() == b"new"
