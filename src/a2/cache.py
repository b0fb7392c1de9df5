"""Checkpoint cache: train once, then load; resume a run that was stopped.

A run is stored under ``<A2_CACHE>/runs/<key>/`` as ``checkpoint.pt``
(weights, optimiser, RNG states, history: everything to go on bit for bit)
and ``manifest.json`` (config, data identity, metadata, history and the
checkpoint's sha256). Both are rewritten atomically after every epoch.

The key hashes everything that changes the numbers: the run's config, the
content of the tensors the trainer receives (grey inputs, targets and
palette; ``ColourData.content_sha256``) and the behaviour of ``models.py``
and ``train.py`` (their syntax trees without docstrings, so a comment or a
docstring edit keeps the key). Left out on purpose:

- ``device``: a run trained on a GPU is reused on a CPU (its device is
  recorded in the manifest); CPU runs are bit-exact, GPU runs only close;
- this file's source: how results are stored does not change them.
"""
from __future__ import annotations

import ast
import contextlib
import fcntl
import hashlib
import inspect
import io
import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from a2 import models, provenance, settings
from a2.fileio import atomic_write
from a2 import train as _train
from a2.data import ColourData
from a2.train import History, RunConfig

KEY_CHARS = 16
CHECKPOINT = "checkpoint.pt"
MANIFEST = "manifest.json"
Log = Callable[[str], None] | None


@dataclass
class Run:
    """A trained (or loaded) run: ``model`` is in eval mode on its device."""

    model: nn.Module
    history: History
    key: str
    config: RunConfig
    meta: dict[str, Any]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def code_fingerprint(source: str) -> str:
    """sha256 of a module's behaviour: its syntax tree with docstrings
    removed. Comments and layout never reach the tree, so editing them, or
    a docstring, keeps the fingerprint; any code edit changes it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)) or not body:
            continue
        first = body[0]
        if (isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return _sha256(ast.dump(tree).encode())


def run_key(config: RunConfig, data: ColourData) -> str:
    """Short sha256 of all that changes a run's result (not the device)."""
    run = {k: v for k, v in config.to_dict().items() if k != "device"}
    # getsource, not the file: in the code notebook the modules are cells,
    # and their source is found through linecache.
    code = {name: code_fingerprint(inspect.getsource(mod))
            for name, mod in (("models", models), ("train", _train))}
    payload = {"run": run, "data": data.content_sha256, "code": code}
    text = json.dumps(payload, sort_keys=True)
    return _sha256(text.encode())[:KEY_CHARS]


def runs_dir() -> Path:
    return settings.cache_dir() / "runs"


def train_or_load(config: RunConfig, data: ColourData, retrain: bool = False,
                  log: Log = print) -> Run:
    """Load a finished run, resume a partial one, or train on a miss.

    ``retrain=True`` ignores what is stored. A damaged entry is reported in
    one line and trained again from scratch. A second process on the same
    key waits for the first (a lock file) and then loads its result.
    """
    key = run_key(config, data)
    folder = runs_dir() / key
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / "lock", key, log):
        stored = None if retrain else _read(folder, key, log)
        trainer = _train.Trainer(config, data)
        meta = _new_meta(data, key) if stored is None else stored["meta"]
        if stored is not None:
            trainer.load_state_dict(stored["trainer"])
        done = len(trainer.history)
        if done >= config.epochs:
            _say(log, f"loaded run {key} from the cache ({_epochs(done)}, "
                      f"trained on {', '.join(meta['devices'])})")
            _say(log, _train.HEADER)
            for record in trainer.history:
                _say(log, _train.format_row(record))
        else:
            device = str(trainer.device)
            if device not in meta["devices"]:
                meta["devices"].append(device)
            _say(log, f"{'resuming' if done else 'training'} run {key} "
                      f"({config.model}, {_epochs(config.epochs)}) on "
                      f"{device}")

            def save(t: _train.Trainer) -> None:
                with _signals_held():
                    _save(folder, key, t, meta)

            trainer.fit(on_epoch=save, log=log)
    trainer.model.eval()
    provenance.note_run(key)  # the appendix lists the runs a build used
    return Run(trainer.model, trainer.history, key, config, meta)


def stored_epochs(key: str) -> int:
    """Finished epochs of run ``key`` in the cache (0 when none)."""
    try:
        info = json.loads((runs_dir() / key / MANIFEST).read_text())
        return int(info["meta"]["epochs_done"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def list_runs() -> list[dict[str, Any]]:
    """Manifests of all stored runs, oldest first (for the appendix)."""
    out = []
    for path in sorted(runs_dir().glob(f"*/{MANIFEST}")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # damaged entries are reported when used
    return sorted(out, key=lambda m: m.get("meta", {}).get("created", ""))


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _say(log: Log, line: str) -> None:
    if log is not None:
        log(line)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the checkpoint and its manifest are both
    written, so an interrupted run always resumes from its last epoch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    wanted = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: held.append(signum))
           for s in wanted}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])  # now handled as it would have been


@contextlib.contextmanager
def _locked(path: Path, key: str, log: Log) -> Iterator[None]:
    """An exclusive ``flock`` on the run's lock file (released by the OS
    if the process dies)."""
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(log, f"run {key} is in use by another process; waiting")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _new_meta(data: ColourData, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "created": _now(),
        "torch": str(torch.__version__),
        "git": provenance.commit(settings.REPO),
        "devices": [],
        "data": data.identity,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())




def _save(folder: Path, key: str, trainer: _train.Trainer,
          meta: dict[str, Any]) -> None:
    """Write the checkpoint, then the manifest naming its checksum."""
    state = trainer.state_dict()
    buf = io.BytesIO()
    torch.save({"key": key, "config": trainer.config.to_dict(),
                "trainer": state, "meta": meta}, buf)
    blob = buf.getvalue()
    atomic_write(folder / CHECKPOINT, blob)
    history = trainer.history
    meta.update(updated=_now(), epochs_done=len(history),
                train_seconds=sum(r.train_s for r in history),
                valid_seconds=sum(r.valid_s for r in history))
    manifest = {
        "key": key,
        "config": trainer.config.to_dict(),
        "complete": len(history) >= trainer.config.epochs,
        "checkpoint_sha256": _sha256(blob),
        "meta": meta,
        "final": history.to_list()[-1] if len(history) else None,
        "history": history.to_list(),
    }
    atomic_write(folder / MANIFEST,
                  json.dumps(manifest, indent=1).encode())




def _read(folder: Path, key: str, log: Log) -> dict[str, Any] | None:
    """The stored checkpoint, or None on a miss; a damaged entry is
    reported in one line, removed, and treated as a miss."""
    ckpt, manifest = folder / CHECKPOINT, folder / MANIFEST
    if not ckpt.exists() and not manifest.exists():
        return None
    try:
        info = json.loads(manifest.read_text())
        blob = ckpt.read_bytes()
        if _sha256(blob) != info["checkpoint_sha256"]:
            raise ValueError("checksum mismatch")
        stored = torch.load(io.BytesIO(blob), map_location="cpu",
                            weights_only=True)
        if stored["key"] != key:
            raise ValueError(f"holds run {stored['key']}")
        stored["trainer"].pop("numpy_rng", None)  # older checkpoints
    except Exception as err:  # unreadable, truncated, tampered, partial
        reason = str(err).splitlines()[0] if str(err) else ""
        _say(log, f"cache entry {key} is damaged ({type(err).__name__}: "
                  f"{reason[:80]}); training it again from scratch")
        for path in (ckpt, manifest):
            with contextlib.suppress(OSError):
                path.unlink()
        return None
    return stored
