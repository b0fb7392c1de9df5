"""Checkpoint cache: train once, then load; resume a run that was stopped.

A run is stored under ``<A2_CACHE>/runs/<key>/`` as ``ckpt-<hash>.pt``
(weights, optimiser, RNG states, history: everything to go on bit for bit)
and ``manifest.json`` (config, data identity, metadata, history, and the
name and sha256 of its checkpoint). After every epoch the new checkpoint is
written under its own name, then the manifest, then older checkpoints are
removed: the manifest is the commit, so a kill at any point leaves the last
committed epoch loadable.

The key hashes everything that changes the numbers: the run's config, the
content of the tensors the trainer receives (grey inputs, targets and
palette; ``ColourData.content_sha256``) and the behaviour of ``models.py``,
``padding.py`` and ``train.py`` (their syntax trees without docstrings and
without their imports of a2 modules, so a comment or a docstring edit, or
moving a module within the package, keeps the key). Left out on purpose:

- ``device``: a run trained on a GPU is reused on a CPU (its device,
  by name, and the torch version are recorded in the manifest's
  ``meta["trained_on"]``); CPU runs are bit-exact, GPU runs only close;
- this file's source: how results are stored does not change them.

An entry is not trusted by its key (its folder's name) alone: what the
key hashes is stored with the run (``meta["request"]``) and compared on
load with what is asked for, so a checkpoint copied or saved under
another run's key is "damaged" and trained again, like one that does not
fit the model. Files are read only when regular and of a size such a
run can have (``a2.fileio.read_bounded``).
"""

from __future__ import annotations

import ast
import contextlib
import errno
import fcntl
import hashlib
import inspect
import io
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from a2.colour import models, padding
from a2.colour import train as _train
from a2.colour.data import ColourData
from a2.colour.train import History, RunConfig
from a2.config import environment
from a2.fileio import atomic_write, read_bounded, reason, shown_name
from a2.report import provenance
from a2.text import printable

KEY_CHARS = 16
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # a manifest of 25 epochs is about 10 KB
MAX_CHECKPOINT_BYTES = 4 << 30  # when the model is not known
LEGACY_CHECKPOINT = "checkpoint.pt"  # before checkpoints were hash-named
_CHECKPOINT_NAME = re.compile(r"ckpt-[0-9a-f]{16}\.pt|checkpoint\.pt")
_DEVICE = re.compile(r"[a-z]{2,16}(:[0-9]{1,3})?")  # 'cpu', 'cuda:0', 'mps'
Log = Callable[[str], None] | None


class RunError(RuntimeError):
    """A run that cannot be trained or stored; the message says why and
    what to do (the CLI prints it as one line)."""


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


def _is_a2_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "a2"
    if isinstance(node, ast.Import):
        return all(a.name.split(".")[0] == "a2" for a in node.names)
    return False


def code_fingerprint(source: str) -> str:
    """sha256 of a module's behaviour: its syntax tree without docstrings
    and without its imports of a2 modules. Comments and layout never reach
    the tree, so editing them, or a docstring, keeps the fingerprint, and
    so does moving a module within the package (what it does, not where
    it lives); any code edit changes it."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for field in ("body", "orelse"):  # imports under `if TYPE_CHECKING`
            block = getattr(node, field, None)
            if isinstance(block, list) and any(map(_is_a2_import, block)):
                kept = [n for n in block if not _is_a2_import(n)]
                setattr(node, field, kept or [ast.Pass()])
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            not isinstance(
                node,
                (
                    ast.Module,
                    ast.ClassDef,
                    ast.FunctionDef,
                    ast.AsyncFunctionDef,
                ),
            )
            or not body
        ):
            continue
        first = body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return _sha256(ast.dump(tree).encode())


def request(config: RunConfig, data: ColourData) -> dict[str, Any]:
    """All that changes a run's result (not the device): the run's
    config, the data's content and the training code, as plain JSON."""
    run = {k: v for k, v in config.to_dict().items() if k != "device"}
    payload = {
        "run": run,
        "data": data.content_sha256,
        "code": code_fingerprints(),
    }
    return json.loads(json.dumps(payload, sort_keys=True))


def code_fingerprints() -> dict[str, str]:
    """The training code's part of every key: each module that changes
    a run's numbers, by :func:`code_fingerprint`."""
    # getsource, not the file: in the code notebook the modules are cells,
    # and their source is found through linecache.
    return {
        name: code_fingerprint(inspect.getsource(mod))
        for name, mod in (
            ("models", models),
            ("padding", padding),  # the layers' paddings
            ("train", _train),
        )
    }


def key_of(asked: dict[str, Any]) -> str:
    """The key of a :func:`request`."""
    text = json.dumps(asked, sort_keys=True)
    return _sha256(text.encode())[:KEY_CHARS]


def run_key(config: RunConfig, data: ColourData) -> str:
    """Short sha256 of :func:`request`: all that changes a run's result."""
    return key_of(request(config, data))


def runs_dir() -> Path:
    return environment.cache_dir() / "runs"


def train_or_load(
    config: RunConfig,
    data: ColourData,
    retrain: bool = False,
    log: Log = print,
) -> Run:
    """Load a finished run, resume a partial one, or train on a miss.

    ``retrain=True`` ignores what is stored. A damaged entry (or one whose
    tensors do not fit the model) is reported in one line and trained
    again from scratch. A second process on the same key waits for the
    first (a lock on the run's folder) and then loads its result. A hit
    loads from a read-only cache; a run that cannot be saved (read-only
    cache, full disk) or that diverges is a RunError. Progress lines go
    to ``log`` through :func:`progress`: if they cannot be written, the
    run is trained and cached all the same.
    """
    log = progress(log)
    asked = request(config, data)
    key = key_of(asked)
    folder = runs_dir() / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(_unwritable(key, folder, err)) from None
    with _locked(folder, key, log):
        trainer = _train.Trainer(config, data)
        limit = checkpoint_limit(config)
        stored = None if retrain else _read(folder, key, log, limit)
        if stored is not None:
            problem = _fit(trainer, stored, asked, data)
            if problem is not None:
                _damaged(log, key, problem)
                _discard(folder)
                stored = None
                trainer = _train.Trainer(config, data)  # a clean start
        meta = (
            _new_meta(data, key, asked) if stored is None else stored["meta"]
        )
        done = len(trainer.history)
        if done >= config.epochs:
            _say(
                log,
                f"loaded run {key} from the cache ({_epochs(done)}, "
                f"trained on {', '.join(meta['devices'])})",
            )
            _say(log, _train.HEADER)
            for record in trainer.history:
                _say(log, _train.format_row(record))
        else:
            if not os.access(folder, os.W_OK):  # fail before, not after
                raise RunError(
                    _unwritable(
                        key,
                        folder,
                        OSError(errno.EROFS, os.strerror(errno.EROFS)),
                    )
                )
            device = str(trainer.device)
            if device not in meta["devices"]:
                meta["devices"].append(device)
            where = trained_on(trainer)
            if where not in meta.setdefault("trained_on", []):
                meta["trained_on"].append(where)
            _say(
                log,
                f"{'resuming' if done else 'training'} run {key} "
                f"({config.model}, {_epochs(config.epochs)}) on "
                f"{device}",
            )

            def save(t: _train.Trainer) -> None:
                _check_finite(t, key)
                with _signals_held():
                    _save(folder, key, t, meta)

            trainer.fit(on_epoch=save, log=log)
    trainer.model.eval()
    provenance.note_run(key)  # the appendix lists the runs a build used
    return Run(trainer.model, trainer.history, key, config, meta)


def _fit(
    trainer: _train.Trainer,
    stored: dict[str, Any],
    asked: dict[str, Any],
    data: ColourData,
) -> str | None:
    """Load ``stored`` into ``trainer``; what makes it another run or
    another model's tensors, or None when it fits."""
    try:
        problem = _mismatch(stored, asked, data)
        if problem is None:
            trainer.load_state_dict(stored["trainer"])
    except Exception as err:  # shapes or keys of another model
        problem = f"does not fit the model: {reason(err, 80)}"
    return problem


def fits(stored: dict[str, Any], config: RunConfig, data: ColourData) -> str:
    """'' when a checkpoint read by :func:`verify` is run ``config`` on
    ``data`` and loads into its model and optimiser, else why not (for
    ``a2.colour.packs``; the RNG states are left as they were)."""
    with torch.random.fork_rng(devices=[]):
        trainer = _train.Trainer(config, data)
        return _fit(trainer, stored, request(config, data), data) or ""


def trained_on(trainer: _train.Trainer) -> dict[str, str]:
    """Where a run trains, for the appendix: the device by name ("NVIDIA
    H100 80GB HBM3", "CPU, 1 thread") and the torch version."""
    device = trainer.device
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type == "cpu":
        name = f"CPU, {trainer.threads} thread" + "s" * (trainer.threads > 1)
    else:
        name = str(device)
    return {"device": name, "torch": str(torch.__version__)}


def progress(log: Log) -> Callable[[str], None]:
    """``log`` for progress lines, which never stop the work: what is
    trained is cached whatever happens to standard output and error
    (:class:`_Steady`). Lines are flushed as they come; ``None`` gives a
    log that drops every line."""
    if getattr(log, "progress", False):
        return log
    _steady_streams()

    def say(line: str) -> None:
        if log is None:
            return
        with contextlib.suppress(OSError, ValueError):  # a log of its own
            log(line)
            sys.stdout.flush()
            sys.stderr.flush()

    say.progress = True  # type: ignore[attr-defined]
    return say


class _Steady:
    """Standard output or error that a failed write cannot end the work
    through: when a write or flush fails (a closed pipe, as ``| head -1``
    leaves; a hung-up terminal; a full disk), the stream's file
    descriptor is pointed at /dev/null (what is buffered, and every later
    line, goes there, so nothing fails at exit either), and one line on
    standard error says so when it can."""

    def __init__(self, name: str, stream: Any):
        self.name, self.stream = name, stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except (OSError, ValueError) as err:  # ValueError: a closed file
            self._lost(err)
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError) as err:
            self._lost(err)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _lost(self, err: BaseException) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self.stream.fileno())
            self.stream.flush()
        except (OSError, ValueError):  # closed: a new stream instead
            self.stream = open(os.devnull, "w")  # noqa: SIM115
        finally:
            os.close(devnull)
        if self.name == "stdout":
            why = getattr(err, "strerror", None) or reason(err, 60)
            with contextlib.suppress(OSError, ValueError, AttributeError):
                print(
                    f"warning: standard output failed ({why}); its lines "
                    f"are dropped, and training goes on into the cache",
                    file=sys.stderr,
                    flush=True,
                )


def _steady_streams() -> None:
    """sys.stdout and sys.stderr as :class:`_Steady` streams; one that
    was closed before the start (``>&-``: None) writes to /dev/null. A
    stream without a file descriptor (a notebook's) is left as it is."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115
            continue
        try:
            stream.fileno()
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(stream, _Steady):
            setattr(sys, name, _Steady(name, stream))


def stored_epochs(key: str) -> int:
    """Finished epochs of run ``key`` in the cache (0 when none)."""
    try:
        info = _manifest(runs_dir() / key / MANIFEST)
        return int(info["meta"]["epochs_done"])
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        environment.SettingError,
    ):
        return 0


def checkpoint_sha256(key: str) -> str | None:
    """The hash of run ``key``'s stored checkpoint (None when there is
    none): what a section that loaded the run depends on (a run trained
    again is new)."""
    try:
        info = _manifest(runs_dir() / key / MANIFEST)
        return str(info["checkpoint_sha256"])
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        environment.SettingError,
    ):
        return None


def _manifest(path: Path) -> Any:
    """A manifest's JSON: a regular file of at most MAX_MANIFEST_BYTES."""
    return json.loads(read_bounded(path, MAX_MANIFEST_BYTES))


def checkpoint_limit(config: RunConfig) -> int:
    """The most bytes a checkpoint of run ``config`` can take: its
    model's weights and Adam's two moments, plus room for RNG states and
    history."""
    with torch.device("meta"):  # shapes only: no memory, no RNG draws
        model = models.network(config)
    weights = sum(
        t.numel() * t.element_size() for t in model.state_dict().values()
    )
    return 4 * weights + (64 << 20)


def _mismatch(
    stored: dict[str, Any], asked: dict[str, Any], data: ColourData
) -> str | None:
    """What makes a stored run another run than the one asked for (its
    config, data or training code), or None. Entries from before
    ``meta["request"]`` was stored are compared by config and data
    subset."""
    config = {k: v for k, v in stored["config"].items() if k != "device"}
    config = json.loads(json.dumps(config, sort_keys=True))
    if config != asked["run"]:
        diff = [
            f"{k} {_shown(config.get(k))}, not {_shown(asked['run'].get(k))}"
            for k in sorted(set(config) | set(asked["run"]))
            if config.get(k) != asked["run"].get(k)
        ]
        return "holds another run: " + ", ".join(diff[:3])
    kept = stored["meta"].get("request")
    if kept is None:
        subset = ("label", "n_train", "n_valid")
        got = stored["meta"].get("data", {})
        same = all(got.get(k) == data.identity.get(k) for k in subset)
        return None if same else "holds a run on other data"
    if kept.get("data") != asked["data"]:
        return "holds a run on other data"
    if kept.get("code") != asked["code"]:
        return "holds a run of other training code"
    return None


def _shown(value: Any) -> str:
    return shown_name(json.dumps(value), 40)


def scan_runs() -> tuple[list[dict[str, Any]], list[str]]:
    """The manifests of all stored runs, oldest first, and one line for
    each manifest that cannot be read or lacks what a listing shows."""
    good, bad = [], []
    for path in sorted(runs_dir().glob(f"*/{MANIFEST}")):
        try:
            manifest = _manifest(path)
            _check_manifest(manifest)
            if manifest["key"] != path.parent.name:
                raise ValueError(f"holds run {_shown(manifest['key'])}")
        except Exception as err:  # OSError, ValueError, TypeError, ...
            bad.append(
                f"{shown_name(path)} is malformed ({reason(err, 80)}); the "
                f"run is trained again when used"
            )
            continue
        good.append(manifest)
    good.sort(key=lambda m: str(m["meta"].get("created", "")))
    return good, bad


def list_runs() -> list[dict[str, Any]]:
    """Manifests of all stored runs, oldest first (for the appendix);
    malformed ones are left out (``scan_runs`` names them)."""
    return scan_runs()[0]


def _check_manifest(m: Any) -> None:
    """ValueError unless ``m`` has the fields a listing reads."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(what)

    need(isinstance(m, dict), f"a {type(m).__name__}, not a mapping")
    need(isinstance(m.get("key"), str), "no key")
    c, meta, final = m.get("config"), m.get("meta"), m.get("final")
    need(isinstance(c, dict), "no config")
    need(isinstance(c.get("model"), str), "no model")
    for name in ("kernel", "num_filters", "epochs"):
        need(type(c.get(name)) is int, f"no integer {name}")
    need(isinstance(meta, dict), "no meta")
    need(
        isinstance(meta.get("devices"), list)
        and all(isinstance(d, str) for d in meta["devices"]),
        "no devices",
    )
    for name in ("epochs_done", "train_seconds"):
        need(isinstance(meta.get(name, 0), (int, float)), f"bad {name}")
    need(final is None or isinstance(final, dict), "bad final")
    for name in ("valid_loss", "valid_acc"):
        need(
            isinstance((final or {}).get(name, 0.0), (int, float)),
            f"bad final {name}",
        )


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _say(log: Log, line: str) -> None:
    """A line for the terminal: stored strings in it (devices, keys, a
    damaged file's reason) cannot send it control characters."""
    if log is not None:
        log(printable(line))


def _damaged(log: Log, key: str, reason: str) -> None:
    _say(
        log,
        f"cache entry {key} is damaged ({reason}); training it again "
        f"from scratch",
    )


def _unwritable(key: str, folder: Path, err: OSError) -> str:
    return (
        f"run {key} is not in the cache and cannot be written to "
        f"{folder} ({err.strerror}); make A2_CACHE writable or point "
        f"it at a writable folder"
    )


def _check_finite(trainer: _train.Trainer, key: str) -> None:
    """A NaN or infinite loss ends the run before the epoch is saved, so
    a diverged run is never stored, let alone as complete."""
    r = trainer.history.last
    for loss in (r.train_loss, r.valid_loss):
        if not math.isfinite(loss):
            raise RunError(
                f"run {key}: training diverged at epoch "
                f"{r.epoch} (loss {loss}); lower lr (now "
                f"{trainer.config.lr:g})"
            )


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the checkpoint and its manifest are both
    written, so an interrupted run always resumes from its last epoch."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    wanted = (signal.SIGINT, signal.SIGTERM)
    old = {
        s: signal.signal(s, lambda signum, frame: held.append(signum))
        for s in wanted
    }
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if held:
            signal.raise_signal(held[0])  # now handled as it would have been


@contextlib.contextmanager
def _locked(folder: Path, key: str, log: Log) -> Iterator[None]:
    """An exclusive ``flock`` on the run's folder, released by the OS if
    the process dies. The folder is opened read-only, so a read-only
    cache still loads its hits."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(log, f"run {key} is in use by another process; waiting")
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _new_meta(
    data: ColourData, key: str, asked: dict[str, Any]
) -> dict[str, Any]:
    return {
        "key": key,
        "request": asked,
        "created": _now(),
        "torch": str(torch.__version__),
        "git": provenance.commit(environment.REPO),
        "devices": [],
        "data": data.identity,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _save(
    folder: Path, key: str, trainer: _train.Trainer, meta: dict[str, Any]
) -> None:
    """Commit one epoch: the checkpoint under its hash, then the manifest
    naming it (the commit), then remove what no manifest names.

    A failed write (a full disk, a read-only cache) leaves the previous
    commit as it was and raises a RunError."""
    buf = io.BytesIO()
    torch.save(
        {
            "key": key,
            "config": trainer.config.to_dict(),
            "trainer": trainer.state_dict(),
            "meta": meta,
        },
        buf,
    )
    blob = buf.getvalue()
    sha = _sha256(blob)
    name = f"ckpt-{sha[:16]}.pt"
    history = trainer.history
    new_meta = {
        **meta,
        "updated": _now(),
        "epochs_done": len(history),
        "train_seconds": sum(r.train_s for r in history),
        "valid_seconds": sum(r.valid_s for r in history),
    }
    manifest = {
        "key": key,
        "config": trainer.config.to_dict(),
        "complete": len(history) >= trainer.config.epochs,
        "checkpoint": name,
        "checkpoint_sha256": sha,
        "meta": new_meta,
        "final": history.to_list()[-1] if len(history) else None,
        "history": history.to_list(),
    }
    try:
        atomic_write(folder / name, blob)
        try:
            atomic_write(
                folder / MANIFEST, json.dumps(manifest, indent=1).encode()
            )
        except BaseException:
            with contextlib.suppress(OSError):
                (folder / name).unlink()  # named by no manifest
            raise
    except OSError as err:
        kept = len(history) - 1
        hint = (
            "free some space"
            if err.errno in (errno.ENOSPC, errno.EDQUOT)
            else "make A2_CACHE writable"
        )
        raise RunError(
            f"run {key}: cannot save epoch {len(history)} in {folder} "
            f"({err.strerror}); the cache keeps "
            f"{_epochs(kept) if kept else 'no epoch'} of it; {hint} and "
            f"rerun to resume"
        ) from None
    meta.update(new_meta)
    _clean(folder, keep=name)


def _clean(folder: Path, keep: str) -> None:
    """Remove checkpoints the manifest does not name, and temporary files
    of writes that a kill interrupted (the lock is held: no one else is
    writing here)."""
    for path in folder.iterdir():
        name = path.name
        stray = (
            name != keep and _CHECKPOINT_NAME.fullmatch(name)
        ) or name.endswith(".tmp")
        if stray:
            with contextlib.suppress(OSError):
                path.unlink()


def _discard(folder: Path) -> None:
    """Forget a damaged entry: its manifest goes, so it is a miss; the
    checkpoints go with the next commit (or now, when writable)."""
    for path in folder.iterdir():
        if path.name == MANIFEST or _CHECKPOINT_NAME.fullmatch(path.name):
            with contextlib.suppress(OSError):
                path.unlink()


def _read(
    folder: Path, key: str, log: Log, limit: int = MAX_CHECKPOINT_BYTES
) -> dict[str, Any] | None:
    """The stored checkpoint, or None on a miss; a damaged entry is
    reported in one line, removed, and treated as a miss. Checkpoints
    that no manifest names (a kill before the first commit) are a miss.
    A manifest or checkpoint that is not a regular file, or larger than
    its kind can be (``limit`` bytes for the checkpoint), is damaged."""
    manifest = folder / MANIFEST
    if not manifest.exists():
        return None
    try:
        info = _manifest(manifest)
        blob = read_bounded(folder / _checkpoint_name(info), limit)
        stored = verify(info, blob, key)
    except Exception as err:  # unreadable, truncated, tampered, partial
        _damaged(log, key, reason(err, 80))
        _discard(folder)
        return None
    return stored


def _checkpoint_name(info: Any) -> str:
    name = info.get("checkpoint", LEGACY_CHECKPOINT)
    if not isinstance(name, str) or not _CHECKPOINT_NAME.fullmatch(name):
        raise ValueError("the manifest names no checkpoint")
    return name


def verify(info: Any, blob: bytes, key: str) -> dict[str, Any]:
    """The checkpoint ``blob`` of run ``key``, loaded without running
    code (``weights_only``), when it is the one its manifest ``info``
    names (checksum), holds that run, and its metadata and history are
    sound; else an exception saying why (used by :func:`_read`, and by
    ``a2.colour.packs`` on a pack's runs)."""
    _checkpoint_name(info)
    if info.get("key", key) != key:
        raise ValueError(f"its manifest holds run {_shown(info['key'])}")
    if _sha256(blob) != info["checkpoint_sha256"]:
        raise ValueError("checksum mismatch")
    stored = torch.load(
        io.BytesIO(blob), map_location="cpu", weights_only=True
    )
    if stored["key"] != key:
        raise ValueError(f"holds run {_shown(stored['key'])}")
    if stored["config"] != info.get("config", stored["config"]):
        raise ValueError("its manifest and checkpoint disagree")
    devices = stored["meta"]["devices"]
    if not isinstance(devices, list):
        raise ValueError("no devices in its metadata")
    if not all(isinstance(d, str) and _DEVICE.fullmatch(d) for d in devices):
        # the sections cite them in their prose
        raise ValueError("a device in its metadata is no torch device")
    for row in stored["trainer"]["history"]:
        if not all(
            math.isfinite(row[k]) for k in ("train_loss", "valid_loss")
        ):
            raise ValueError(f"a non-finite loss at epoch {row['epoch']}")
    stored["trainer"].pop("numpy_rng", None)  # older checkpoints
    return stored


def install(
    key: str, manifest: dict[str, Any], blob: bytes, log: Log = None
) -> bool:
    """Commit a run checked elsewhere (``a2.colour.packs``) into the
    cache as :func:`_save` commits an epoch: checkpoint, then manifest,
    each written whole under a temporary name and renamed. False, and
    nothing written, when the cache already holds the run complete."""
    folder = runs_dir() / key
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunError(_unwritable(key, folder, err)) from None
    with _locked(folder, key, log):
        if stored_epochs(key) >= manifest["config"]["epochs"]:
            return False
        name = _checkpoint_name(manifest)
        with _signals_held():
            atomic_write(folder / name, blob)
            atomic_write(
                folder / MANIFEST, json.dumps(manifest, indent=1).encode()
            )
        _clean(folder, keep=name)
    return True
