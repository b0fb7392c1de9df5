"""Checkpoint packs: the runs a report loads, in one file that travels.

Train where the GPU is (``make checkpoints``), build the report anywhere
from the pack (``make pdf CHECKPOINTS=a2-checkpoints.tar``). A pack is an
uncompressed tar of cache entries as ``a2.colour.cache`` stores them::

    a2-checkpoints/pack.json                    what the pack holds
    a2-checkpoints/runs/<key>/manifest.json     config, history, metadata
    a2-checkpoints/runs/<key>/ckpt-<hash>.pt    weights, optimiser, RNGs

``pack.json`` gives the code fingerprint the keys were made with
(``cache.code_fingerprints``) and, per run, its label, config, the
device and torch version it was trained with, and every file's size and
sha256. Packing the same runs twice gives the same bytes: members in
order of key, no times, owners or modes of the files, no compression.

A pack is untrusted input. Every check below passes on the whole pack
before anything is written to the cache; otherwise it is refused in one
line (``PackError``) and the cache is left as it was:

- the file: a regular file of at most ``MAX_PACK_BYTES``, an uncompressed
  tar (sizes are what they say: nothing to inflate), whole;
- members: regular files with the names above only (no links, folders,
  ``..`` or absolute paths), at most ``MAX_MEMBERS``, each within what
  its kind can hold; every one named in ``pack.json`` with its sha256,
  and every file it names present;
- each manifest's key is the hash of what it says the run is
  (``meta["request"]``);
- each run this build imports: its checkpoint's zip entries stored as
  ``torch.save`` writes them (not compressed: no decompression bomb),
  then the cache's own checks (``cache.verify``: checksum,
  ``torch.load(weights_only=True)``, sound metadata, finite losses),
  complete, and loading into its model and optimiser.

A sound pack's runs that this build does not use (made by other training
code, trained on other data, settings no section asks for) are named in
one line with the plan's runs it lacks, which are trained here as for an
empty cache. Imported runs are committed into the cache one by one as an
epoch is (``cache.install``), their manifests marked with the pack's
file name (the appendix says which runs came from a pack).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2.colour import cache, schedule
from a2.colour.data import ColourData
from a2.config.params import RunConfig
from a2.fileio import atomic_write, open_regular, read_bounded, shown_name

NAME = "a2-checkpoints.tar"
ROOT = "a2-checkpoints"
FORMAT = {"format": "a2-checkpoints", "version": 1}
MAX_PACK_BYTES = 8 << 30
MAX_MEMBERS = 3001  # pack.json and 1,000 runs
MAX_INDEX_BYTES = 16 << 20
MAX_READ = 16 << 20  # one read: tarfile reads an extended header whole
_MEMBER = re.compile(
    rf"{ROOT}/(?:pack\.json|runs/([0-9a-f]{{16}})/"
    rf"(manifest\.json|ckpt-[0-9a-f]{{16}}\.pt))"
)


class PackError(ValueError):
    """A pack refused whole; the message says why, in one line."""


# --- writing -----------------------------------------------------------------


def write(keys: Sequence[str], out: str | Path) -> int:
    """Pack the complete runs ``keys`` of the cache into ``out`` (written
    whole, then renamed into place); returns its size in bytes. A run
    the cache lacks, or holds unfinished or damaged, is a PackError."""
    files: dict[str, bytes] = {}
    runs = []
    for key in sorted(set(keys)):
        folder = cache.runs_dir() / key
        try:
            text = read_bounded(
                folder / cache.MANIFEST, cache.MAX_MANIFEST_BYTES
            )
            info = json.loads(text)
            blob = read_bounded(
                folder / str(info["checkpoint"]), cache.MAX_CHECKPOINT_BYTES
            )
            cache.verify(info, blob, key)
        except Exception as err:  # missing, unfinished, damaged
            raise PackError(
                f"run {key} is not sound in the cache ({_why(err)}); "
                f"`make train` trains it again"
            ) from None
        config = RunConfig(**info["config"])
        if not info.get("complete"):
            raise PackError(
                f"run {key} ({schedule.run_label(config)}) is unfinished in "
                f"the cache; `make train` finishes it"
            )
        named = {cache.MANIFEST: text, str(info["checkpoint"]): blob}
        meta = info["meta"]
        runs.append(
            {
                "key": key,
                "label": schedule.run_label(config),
                "config": info["config"],
                "trained_on": meta.get("trained_on", []),
                "devices": meta.get("devices", []),
                "torch": meta.get("torch", ""),
                "files": {
                    name: {"bytes": len(b), "sha256": _sha256(b)}
                    for name, b in named.items()
                },
            }
        )
        files.update({f"runs/{key}/{n}": b for n, b in named.items()})
    index = {**FORMAT, "code": cache.code_fingerprints(), "runs": runs}
    members = {"pack.json": json.dumps(index, indent=1, sort_keys=True)}
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT
    ) as tar:
        for name, blob in {**members, **files}.items():
            data = blob.encode() if isinstance(blob, str) else blob
            member = tarfile.TarInfo(f"{ROOT}/{name}")
            member.size, member.mode = len(data), 0o644
            member.mtime, member.uid, member.gid = 0, 0, 0
            member.uname = member.gname = ""
            tar.addfile(member, io.BytesIO(data))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, buf.getvalue())
    return len(buf.getvalue())


# --- reading -----------------------------------------------------------------


@dataclass
class Imported:
    """What a pack gave a build: runs imported, already in the cache, and
    the planned runs it did not give, by why (one line: :meth:`line`)."""

    pack: str
    planned: int
    imported: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    not_used: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [
            f"CHECKPOINTS={self.pack}: {len(self.imported)} of "
            f"{self.planned} planned run(s) imported from the pack"
            + (
                f", {len(self.cached)} in the cache already"
                * bool(self.cached)
            )
        ]
        parts += [
            f"not used: {len(labels)} run(s) {why}: {_some(labels)}"
            for why, labels in self.not_used.items()
        ]
        if self.missing:
            parts.append(
                f"not in it, so trained here: {len(self.missing)} planned "
                f"run(s): {_some(self.missing)}"
            )
        return "; ".join(parts)


def bring_in(
    path: str | Path,
    plan: Sequence[tuple[ColourData, Sequence[RunConfig]]],
    log: cache.Log = None,
) -> Imported:
    """Import from pack ``path`` the runs of ``plan`` (``schedule.planned``)
    into the cache, after checking the whole pack (the module's
    docstring); a PackError, with nothing written, if any check fails."""
    shown = shown_name(path, 120)
    wanted = {
        cache.run_key(c, data): (c, data, cache.request(c, data))
        for data, configs in plan
        for c in configs
    }
    try:
        with open_regular(path, MAX_PACK_BYTES) as fh:
            manifests, blobs = _read(_Reads(fh), wanted)
            checked = {
                key: _checked(key, manifests[key], blobs[key], *wanted[key])
                for key in blobs
            }
    except (PackError, OSError, ValueError, tarfile.TarError) as err:
        why = str(err) if isinstance(err, PackError) else _why(err)
        if isinstance(err, tarfile.TarError):
            why = f"not a whole, uncompressed tar archive ({why})"
        raise PackError(
            f"CHECKPOINTS={shown}: refused, {why}; nothing imported"
        ) from None
    out = Imported(shown, len(wanted))
    for key, (manifest, blob) in checked.items():
        manifest["meta"]["pack"] = Path(path).name
        done = cache.install(key, manifest, blob, log)
        (out.imported if done else out.cached).append(key)
    asked = {k: v[2] for k, v in wanted.items()}
    for key, manifest in manifests.items():
        if key not in wanted:
            why = _unused(manifest["meta"]["request"], asked)
            label = _label(manifest)
            out.not_used.setdefault(why, []).append(label)
    out.missing = [  # trained here
        schedule.run_label(c)
        for k, (c, _, _) in wanted.items()
        if k not in blobs and cache.stored_epochs(k) < c.epochs
    ]
    return out


class _Reads:
    """The pack's file as tarfile reads it, no one read over MAX_READ
    bytes: tarfile reads an extended (pax) header into memory whole, at
    the size its header claims; a pack's headers are small."""

    def __init__(self, fh: Any):
        self.fh = fh

    def read(self, n: int = -1) -> bytes:
        if not 0 <= n <= MAX_READ:
            raise PackError(f"it holds a header over {MAX_READ:,} bytes")
        return self.fh.read(n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fh, name)


def _read(
    fh: Any, wanted: dict[str, Any]
) -> tuple[dict[str, dict], dict[str, bytes]]:
    """Every manifest, and the checkpoints of the ``wanted`` runs, after
    the checks of members, names, sizes and checksums."""
    sums: dict[str, tuple[int, str]] = {}
    kept: dict[str, bytes] = {}
    with tarfile.open(fileobj=fh, mode="r:") as tar:
        for n, member in enumerate(tar):
            name = member.name
            match = _MEMBER.fullmatch(name)
            if n >= MAX_MEMBERS:
                raise PackError(f"more than {MAX_MEMBERS:,} members")
            if not member.isreg():
                raise PackError(
                    f"member {shown_name(name, 80)} is not a regular file"
                )
            if match is None:
                raise PackError(
                    f"member {shown_name(name, 80)} is not a file of a "
                    f"checkpoint pack (or lies outside it)"
                )
            if name in sums:
                raise PackError(f"member {shown_name(name)} appears twice")
            limit = _limit(match)
            if member.size > limit:
                raise PackError(
                    f"member {name} holds {member.size:,} bytes, more than "
                    f"the {limit:,} such a file may"
                )
            key, kind = match.groups()
            checkpoint = kind is not None and kind != cache.MANIFEST
            keep = not checkpoint or key in wanted  # others: hashed only
            blob, digest = _content(tar, member, keep)
            sums[name] = (member.size, digest)
            if keep:
                kept[name] = blob
    index = _index(kept.pop(f"{ROOT}/pack.json", None), sums)
    manifests, blobs = {}, {}
    for run in index["runs"]:
        key = run["key"]
        folder = f"{ROOT}/runs/{key}/"
        text = kept.get(folder + cache.MANIFEST)
        if text is None:
            raise PackError(f"run {key} has no manifest")
        manifests[key] = _manifest(text, key)
        if key in wanted:
            blobs[key] = kept.get(folder + manifests[key]["checkpoint"])
            if blobs[key] is None:
                raise PackError(f"run {key} lacks the checkpoint it names")
    return manifests, blobs


def _content(tar: tarfile.TarFile, member: Any, keep: bool) -> tuple:
    """(bytes if ``keep``, else None; sha256) of a member, read in
    chunks; a short read (a truncated pack) raises."""
    h, chunks, left = hashlib.sha256(), [], member.size
    src = tar.extractfile(member)
    while left:
        chunk = src.read(min(left, 1 << 20))
        if not chunk:
            raise tarfile.ReadError("unexpected end of data")
        h.update(chunk)
        left -= len(chunk)
        if keep:
            chunks.append(chunk)
    return (b"".join(chunks) if keep else None), h.hexdigest()


def _limit(match: re.Match) -> int:
    kind = match.group(2)
    if kind is None:
        return MAX_INDEX_BYTES
    if kind == cache.MANIFEST:
        return cache.MAX_MANIFEST_BYTES
    return cache.MAX_CHECKPOINT_BYTES


def _index(text: bytes | None, sums: dict[str, tuple[int, str]]) -> dict:
    """pack.json, checked against the members found."""
    if text is None:
        raise PackError("it holds no pack.json: not a checkpoint pack")
    try:
        index = json.loads(text)
        ok = {k: index.get(k) for k in FORMAT} == FORMAT
        runs = index["runs"]
        listed = {
            f"{ROOT}/runs/{run['key']}/{name}": (f["bytes"], f["sha256"])
            for run in runs
            for name, f in run["files"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise PackError(f"its pack.json is malformed ({_why(err)})") from None
    if not ok:
        raise PackError("its pack.json is of another format or version")
    files = {k: v for k, v in sums.items() if k != f"{ROOT}/pack.json"}
    for name in sorted(set(files) | set(listed)):
        if name not in listed:
            raise PackError(f"{name} is not listed in pack.json")
        if name not in files:
            raise PackError(f"{name}, listed in pack.json, is missing")
        size, digest = listed[name]
        if files[name] != (size, digest):
            raise PackError(f"{name} does not match its checksum")
    keys = [run["key"] for run in runs]
    if len(set(keys)) != len(keys):
        raise PackError("pack.json lists a run twice")
    return index


def _manifest(text: bytes, key: str) -> dict[str, Any]:
    """A run's manifest, when its key is the hash of what it says the
    run is and it names its checkpoint."""
    try:
        manifest = json.loads(text)
        request = manifest["meta"]["request"]
        name = manifest["checkpoint"]
        sound = (
            isinstance(request, dict)
            and manifest["key"] == key
            and isinstance(manifest["config"], dict)
            and isinstance(name, str)
            and re.fullmatch(r"ckpt-[0-9a-f]{16}\.pt", name)
            and cache.key_of(request) == key
        )
    except (ValueError, KeyError, TypeError) as err:
        raise PackError(
            f"run {key}: its manifest is malformed ({_why(err)})"
        ) from None
    if not sound:
        raise PackError(
            f"run {key}: its manifest does not hold the run its key names"
        )
    trained_on = manifest["meta"].get("trained_on", [])
    if not isinstance(trained_on, list) or not all(
        isinstance(t, dict)
        and all(isinstance(t.get(k), str) and len(t[k]) <= 80 for k in t)
        for t in trained_on
    ):
        raise PackError(f"run {key}: where it was trained is malformed")
    return manifest


def _checked(
    key: str,
    manifest: dict[str, Any],
    blob: bytes,
    config: RunConfig,
    data: ColourData,
    asked: dict[str, Any],
) -> tuple[dict[str, Any], bytes]:
    """A run to import, checked as the cache checks what it loads, and
    loaded into its model; a PackError names the run and the fault."""
    label = f"run {key} ({schedule.run_label(config)})"
    limit = cache.checkpoint_limit(config)
    try:
        if len(blob) > limit:
            raise ValueError(f"its checkpoint is over {limit:,} bytes")
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            entries = z.infolist()
        if any(e.compress_type != zipfile.ZIP_STORED for e in entries):
            raise ValueError("its checkpoint holds compressed entries")
        stored = cache.verify(manifest, blob, key)
        if manifest["meta"]["request"] != asked:
            raise ValueError("it is another run than its key says")
        if len(stored["trainer"]["history"]) != config.epochs:
            raise ValueError("it is unfinished")
        problem = cache.fits(stored, config, data)
        if problem:
            raise ValueError(problem)
    except pickle.UnpicklingError:  # torch.load(weights_only=True) said no
        raise PackError(
            f"{label}: its checkpoint holds more than tensors and numbers "
            f"(loading it could run code)"
        ) from None
    except Exception as err:  # tampered, truncated, not a torch file
        raise PackError(f"{label}: {_why(err)}") from None
    return manifest, blob


def _unused(request: Any, asked: dict[str, dict[str, Any]]) -> str:
    """Why a sound run of the pack does not fit this build."""
    if request.get("code") != cache.code_fingerprints():
        changed = [
            name
            for name, digest in cache.code_fingerprints().items()
            if (request.get("code") or {}).get(name) != digest
        ]
        return f"made by other training code ({', '.join(changed)})"
    same_run = [a for a in asked.values() if a["run"] == request.get("run")]
    if same_run:
        return "trained on other data"
    return "of settings no section asks for"


def _label(manifest: dict[str, Any]) -> str:
    try:
        return schedule.run_label(RunConfig(**manifest["config"]))
    except Exception:  # a config of other code: its key then
        return str(manifest["key"])


def _some(labels: list[str], n: int = 3) -> str:
    shown = ", ".join(shown_name(label, 60) for label in labels[:n])
    return shown + (", ..." if len(labels) > n else "")


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _why(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    text = " ".join(str(err).split()) or type(err).__name__
    return shown_name(text, 120)
