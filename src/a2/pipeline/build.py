"""`make pdf` and `make section`, in one process that holds the tree's lock.

1. Every section's parameters are validated (params/<stem>.yaml, the
   profile's entry, or the file ``make section ... PARAMS=`` names).
2. A section executes only when what its code sees changed since its
   executed notebook was made (:func:`inputs`): its code chunks and
   inline expressions, its parameters (the profile's included), the data
   setting, the library modules it imports, the trained runs it loaded;
   an appendix also sees the other sections' records. Prose is not among
   them: a prose edit re-stages the Markdown around the outputs.
3. The runs of the sections to execute are trained side by side
   (``a2.schedule``), then the sections execute in book order, the
   appendix last; each prints a line when it starts and when it ends.
4. The code notebook is assembled and Quarto renders the book; the three
   outputs replace the previous ones together (``a2.pipeline.render``).

A section run with ``PARAMS=f`` keeps ``f`` in later builds until what it
depends on changes (then it runs with its own params file again, and the
build says so) or ``make section`` runs it without ``PARAMS``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2.pipeline import BuildError, qmd
from a2.pipeline.sections import (
    Section,
    library_modules,
    module_path,
    notebooks,
    unlisted,
)

META = "a2"  # the executed notebook's metadata key for the build's record
DATA_MODULES = ("a2.data", "a2.settings")  # code that reads A2_DATA


def _sha(obj: Any) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _code(s: Section) -> str:
    """What executes: chunk code, tags and inline expressions (Python
    text); not the cell options only Quarto reads (labels, captions)."""
    cells = qmd.notebook(s.source, inline=True)["cells"]
    return "\n".join(
        f"# tags: {c['metadata'].get('tags', [])}\n"
        + "\n".join(
            ln for ln in c["source"].splitlines() if not ln.startswith("#|")
        )
        for c in cells
        if c["cell_type"] == "code"
    )


@functools.cache
def _modules(root: Path, s: Section) -> list[str]:
    """The library modules section ``s`` imports (once per build)."""
    return library_modules(root, _code(s))


def data_identity() -> dict[str, Any]:
    """The data setting, and for a local copy its files' sizes and times
    (a replaced file is new data)."""
    from a2 import settings

    setting = settings.data_source()
    found = []
    path = Path(setting)
    if setting != "download" and path.exists():
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for f in files:
            st = f.stat()
            found.append([f.name, st.st_size, st.st_mtime_ns])
    return {"setting": setting, "files": found}


def inputs(
    root: Path, build: Path, s: Section, values: dict, defaults: dict
) -> dict[str, str]:
    """What section ``s``'s execution depends on, one hash per kind (the
    runs it loaded are compared apart, by :func:`run_digests`)."""
    code = _code(s)
    mods = _modules(root, s)
    out = {
        "code": _sha(code),
        # The values run with, and those its params file gives (when they
        # differ, a change to the params file ends a PARAMS= run).
        "parameters": _sha([values, defaults]),
        "library": _sha(
            {m: _sha(module_path(root, m).read_text()) for m in mods}
        ),
    }
    if any(m in DATA_MODULES for m in mods):
        out["data"] = _sha(data_identity())
    if s.appendix:  # it reports on the chapters' records
        records = sorted((build / "provenance").glob("[!.]*.json"))
        out["sections"] = _sha(
            {p.stem: p.read_text() for p in records if p.stem != s.stem}
        )
    return out


def run_digests(keys: list[str]) -> dict[str, str | None]:
    """Each run's checkpoint hash in the cache (None when missing)."""
    from a2 import settings

    out: dict[str, str | None] = {}
    for key in keys:
        path = settings.cache_dir() / "runs" / key / "manifest.json"
        try:
            out[key] = json.loads(path.read_text())["checkpoint_sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            out[key] = None
    return out


def previous(build: Path, s: Section) -> dict[str, Any] | None:
    """The record of the section's executed notebook (None: none yet)."""
    try:
        nb = json.loads((build / "exec" / f"{s.stem}.ipynb").read_text())
        return nb["metadata"][META]
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass
class Job:
    section: Section
    overrides: dict[str, Any]  # injected into the parameters cell
    values: dict[str, Any]  # the section's merged parameters
    files: list[Path]  # the params files behind them
    given: str = ""  # the PARAMS= file as the user named it
    why: str = ""  # why it executes ('' when it does not)
    note: str = ""  # what to tell the user about its parameters
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Options:
    root: Path
    build: Path
    dist: Path
    profile: Path | None = None
    verbose: bool = False
    force: str = ""  # the stem `make section` runs
    params: Path | None = None  # and the PARAMS= file it gives
    lock: int | None = None  # the lock's descriptor, passed to Quarto


def _job(o: Options, s: Section, params: Path | None) -> Job:
    from a2 import params as schema

    overrides = schema.overrides(
        s.stem, params, o.profile, s.params_file(o.root)
    )
    files = [params or s.params_file(o.root)]
    files = [f for f in files + [o.profile] if f and f.is_file()]
    values = dict(schema.load(s.stem, overrides))
    return Job(s, overrides, values, files, given=str(params or ""))


def decide(o: Options, s: Section, default: Job) -> Job:
    """The job for ``s``: why it executes, or why its outputs stand."""
    prev = previous(o.build, s)
    if o.force == s.stem:
        job = _job(o, s, o.params) if o.params else default
        job.why = "as asked"
    elif prev and prev.get("given") and prev.get("values") != default.values:
        job = Job(s, prev["overrides"], prev["values"], [], prev["given"])
        job.inputs = inputs(o.root, o.build, s, job.values, default.values)
        if job.inputs == prev["inputs"] and _runs_ok(prev):
            job.note = (
                f"kept with {prev['given']} (`make section "
                f"S={s.stem}` goes back to its own params)"
            )
            return job
        job = default
        job.why = _changed(prev, o, s, default.values)
        job.note = f"it ran with {prev['given']} before"
    else:
        job = default
        job.why = "not executed yet" if prev is None else ""
    job.inputs = inputs(o.root, o.build, s, job.values, default.values)
    if prev is not None and not job.why:
        job.why = _changed(prev, o, s, default.values, job.inputs)
    return job


def _changed(
    prev: dict, o: Options, s: Section, defaults: dict, now: dict | None = None
) -> str:
    """'' when nothing ``s`` depends on changed, else what did."""
    now = now or inputs(o.root, o.build, s, prev["values"], defaults)
    what = [k for k in now if now[k] != prev.get("inputs", {}).get(k)]
    if not _runs_ok(prev):
        what.append("runs")
    return f"{', '.join(what)} changed" if what else ""


def _runs_ok(prev: dict) -> bool:
    runs = prev.get("runs", {})
    return run_digests(list(runs)) == runs


@contextlib.contextmanager
def locked(root: Path) -> Iterator[int]:
    """One build per tree: an exclusive lock on build/.lock, held by
    this process (and passed to Quarto, so a killed build's renderer
    still holds it). A second build says which pid to stop and waits."""
    path = root / "build" / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            if os.environ.get("A2_LOCK_WAIT", "1") == "0":
                raise BuildError(
                    f"another build is running in this tree (pid {holder});"
                    f" try again when it ends"
                ) from None
            say(
                f"another build is running in this tree (pid {holder}; "
                f"`kill {holder}` stops it); waiting for it"
            )
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        yield fh.fileno()


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def check(o: Options) -> None:
    """Every section's parameters, and the data source if a section
    reads it: what `make pdf` checks before any work."""
    secs = notebooks(o.root)
    for s in secs:
        _job(o, s, None)
    reading = [s.stem for s in secs if "a2.data" in _modules(o.root, s)]
    if reading:
        _check_data(", ".join(reading))


def run(o: Options) -> None:
    """The whole build (see the module docstring)."""
    from a2.pipeline import render

    for path in unlisted(o.root):
        say(f"warning: {path.name} is not a chapter in _quarto.yml; not built")
    secs = notebooks(o.root)
    base = {s.stem: _job(o, s, None) for s in secs}  # every file checked
    if o.force and o.params:
        _job(o, next(s for s in secs if s.stem == o.force), o.params)
    for part in (
        [s for s in secs if not s.appendix],
        [s for s in secs if s.appendix],
    ):
        jobs = [decide(o, s, base[s.stem]) for s in part]
        for j in jobs:
            if j.note and not j.why:
                say(f"{j.section.stem}: {j.note}")
        _execute(o, [j for j in jobs if j.why])
    render.render(o)


def _execute(o: Options, jobs: list[Job]) -> None:
    """Check the data once, train the jobs' runs side by side, then
    execute each job, a line when it starts and when it ends."""
    from a2.pipeline.execute import execute

    if not jobs:
        return
    reading = [
        j.section.stem
        for j in jobs
        if "a2.data" in _modules(o.root, j.section)
    ]
    if reading:
        _check_data(", ".join(reading))
    _train({j.section.stem: j.values for j in jobs})
    for j in jobs:
        stem = j.section.stem
        shown = (
            j.given
            or ", ".join(os.path.relpath(f, o.root) for f in j.files)
            or "its defaults"
        )
        note = f"; {j.note}" if j.note else ""
        say(f"{stem}: executing ({j.why}{note}) with {shown}")
        t0 = time.perf_counter()
        nb, values, prov = execute(
            o.root, j.section, o.build, j.overrides, j.files, o.verbose
        )
        nb.setdefault("metadata", {})[META] = {
            "inputs": j.inputs,
            "values": j.values,
            "overrides": j.overrides,
            "given": j.given,
            "inline": values,
            "runs": run_digests(prov["runs"]),
        }
        from a2.fileio import atomic_write

        atomic_write(
            o.build / "exec" / f"{stem}.ipynb", json.dumps(nb).encode()
        )
        for key in prov["runs"]:
            say(f"{stem}: loaded run {key} from the cache")
        say(f"{stem}: done in {time.perf_counter() - t0:.1f} s")


def _check_data(names: str) -> None:
    """The data source loaded once before any section reads it: a bad
    one is one line naming A2_DATA and the sections, not a failed cell."""
    from a2 import data, settings

    source = settings.data_source()
    try:
        x_train, y_train, x_test, y_test, _ = data.load_arrays(source)
        data._one_class(x_train, y_train, data.HORSE, "training")
        data._one_class(x_test, y_test, data.HORSE, "test")
    except data.DataError as err:
        raise BuildError(
            f"A2_DATA={source} (read by {names}): {err}"
        ) from None


def _train(values: dict[str, dict[str, Any]]) -> None:
    """Every run these sections will load (``a2.experiments.plan``),
    trained side by side beforehand (``a2.schedule``)."""
    from a2 import params
    from a2.schedule import train_sections

    chosen = {k: v for k, v in values.items() if params.SCHEMAS[k].trains}
    if not chosen:
        return
    failed = [o for o in train_sections(chosen) if o.status == "failed"]
    if failed:
        raise BuildError(
            f"{len(failed)} run(s) failed to train, first "
            f"{failed[0].key}: {failed[0].error}"
        )
