"""`make pdf` and `make section`, in one process holding the tree's lock:
parameters validated, a section executed only when what its code sees
changed (:func:`inputs`; prose is not among it), the runs of those
sections trained side by side first, then the book rendered
(``a2.pipeline.render``). A section run with ``PARAMS=f`` keeps ``f``
until what it depends on changes or ``make section`` runs it without.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2.pipeline import BuildError
from a2.pipeline.sections import (
    Section,
    executed_code,
    module_path,
    notebooks,
    section_modules,
    unlisted,
)

META = "a2"  # the executed notebook's metadata key for the build's record
DATA_MODULES = (
    "a2.colour.data",
    "a2.config.environment",
)  # code that reads A2_DATA


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


def _sha(obj: Any) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def inputs(o: Options, s: Section, values: dict, defaults: dict) -> dict:
    """What section ``s``'s execution depends on, one hash per kind (the
    runs it loaded are compared apart, by their checkpoints' hashes)."""
    from a2.config import environment

    mods = section_modules(o.root, s)
    out = {
        "code": _sha(executed_code(s)),
        # The values run with, and those its params file gives (when they
        # differ, a change to the params file ends a PARAMS= run).
        "parameters": _sha([values, defaults]),
        "library": _sha(
            {m: _sha(module_path(o.root, m).read_text()) for m in mods}
        ),
    }
    if any(m in DATA_MODULES for m in mods):
        out["data"] = _sha(environment.data_identity())
    if s.appendix:  # it reports on the chapters' records
        records = sorted((o.build / "provenance").glob("[!.]*.json"))
        out["sections"] = _sha(
            {p.stem: p.read_text() for p in records if p.stem != s.stem}
        )
    return out


def previous(build: Path, s: Section) -> dict[str, Any] | None:
    """The record of the section's executed notebook (None: none yet)."""
    try:
        nb = json.loads((build / "exec" / f"{s.stem}.ipynb").read_text())
        return nb["metadata"][META]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _job(o: Options, s: Section, params: Path | None) -> Job:
    from a2.config import params as schema

    own = s.params_file(o.root)
    overrides = schema.overrides(s.stem, params, o.profile, own)
    files = [f for f in (params or own, o.profile) if f and f.is_file()]
    values = dict(schema.load(s.stem, overrides))
    return Job(s, overrides, values, files, given=str(params or ""))


def _changed(o: Options, s: Section, prev: dict, now: dict) -> str:
    """'' when nothing ``s`` depends on changed since ``prev``, else what
    did."""
    what = [k for k in now if now[k] != prev.get("inputs", {}).get(k)]
    from a2.config import environment
    from a2.report import provenance

    runs = prev.get("runs", {})
    if (
        provenance.run_digests(list(runs), environment.cache_dir() / "runs")
        != runs
    ):
        what.append("runs")
    return f"{', '.join(what)} changed" if what else ""


def decide(o: Options, s: Section, default: Job) -> Job:
    """The job for ``s``: why it executes, or why its outputs stand."""
    prev, job = previous(o.build, s), default
    if o.force == s.stem:
        job = _job(o, s, o.params) if o.params else default
        job.why = "as asked"
    elif prev and prev.get("given") and prev["values"] != default.values:
        kept = Job(s, prev["overrides"], prev["values"], [], prev["given"])
        kept.inputs = inputs(o, s, kept.values, default.values)
        why = _changed(o, s, prev, kept.inputs)
        if not why:
            kept.note = (
                f"kept with {prev['given']} (`make section S={s.stem}` "
                f"goes back to its own params)"
            )
            return kept
        job.why, job.note = why, f"it ran with {prev['given']} before"
    job.inputs = inputs(o, s, job.values, default.values)
    if prev is None:
        job.why = job.why or "not executed yet"
    job.why = job.why or _changed(o, s, prev, job.inputs)
    return job


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


def check(o: Options, data: bool = True) -> dict[str, Job]:
    """Every section's parameters (and, with ``data``, the data source
    if a section reads it): what `make pdf` checks before any work."""
    secs = notebooks(o.root)
    jobs = {s.stem: _job(o, s, None) for s in secs}
    if o.force and o.params:
        _job(o, next(s for s in secs if s.stem == o.force), o.params)
    if data:
        _check_data(o, secs)
    return jobs


def run(o: Options) -> None:
    """The whole build (see the module docstring)."""
    from a2.pipeline import render

    for path in unlisted(o.root):
        say(f"warning: {path.name} is not a chapter in _quarto.yml; not built")
    secs = notebooks(o.root)
    base = check(o, data=False)  # the data: once a section reading it runs
    for appendix in (False, True):
        part = [s for s in secs if s.appendix == appendix]
        jobs = [decide(o, s, base[s.stem]) for s in part]
        for j in jobs:
            if j.note and not j.why:
                say(f"{j.section.stem}: {j.note}")
        _execute(o, [j for j in jobs if j.why])
    render.render(o)


def _execute(o: Options, jobs: list[Job]) -> None:
    """Train the jobs' runs side by side, then execute each job, with a
    line when it starts and when it ends."""
    from a2.config.environment import cache_dir
    from a2.fileio import atomic_write
    from a2.pipeline.execute import execute
    from a2.report import provenance

    _check_data(o, [j.section for j in jobs])
    _train({j.section.stem: j.values for j in jobs})
    for j in jobs:
        stem = j.section.stem
        files = ", ".join(os.path.relpath(f, o.root) for f in j.files)
        note = f"; {j.note}" if j.note else ""
        shown = j.given or files or "its defaults"
        say(f"{stem}: executing ({j.why}{note}) with {shown}")
        t0 = time.perf_counter()
        nb, values, prov = execute(
            o.root, j.section, o.build, j.overrides, j.files, o.verbose
        )
        runs = provenance.run_digests(prov["runs"], cache_dir() / "runs")
        nb["metadata"][META] = {
            "inputs": j.inputs,
            "values": j.values,
            "overrides": j.overrides,
            "given": j.given,
            "inline": values,
            "runs": runs,
        }
        path = o.build / "exec" / f"{stem}.ipynb"
        atomic_write(path, json.dumps(nb).encode())
        for key in runs:
            say(f"{stem}: loaded run {key} from the cache")
        say(f"{stem}: done in {time.perf_counter() - t0:.1f} s")


def _check_data(o: Options, secs: list[Section]) -> None:
    """The data source loaded once, before any of ``secs`` reads it: a
    bad one is one line naming A2_DATA and the sections, not a cell."""
    from a2.colour import data
    from a2.config import environment

    names = [
        s.stem for s in secs if "a2.colour.data" in section_modules(o.root, s)
    ]
    try:
        if names:
            data.check_source(environment.data_source())
    except data.DataError as err:
        raise BuildError(
            f"A2_DATA={environment.data_source()} "
            f"(read by {', '.join(names)}): "
            f"{err}"
        ) from None


def _train(values: dict[str, dict[str, Any]]) -> None:
    """Every run these sections will load (``a2.colour.experiments.plan``),
    trained side by side beforehand (``a2.colour.schedule``)."""
    from a2.config import params

    chosen = {k: v for k, v in values.items() if params.SCHEMAS[k].trains}
    if not chosen:  # a2.colour.schedule imports torch: only to train
        return
    from a2.colour.data import DataError
    from a2.colour.schedule import train_sections
    from a2.config import environment

    try:  # the images a section asks for (n_train, n_valid) may lack
        outcomes = train_sections(chosen)
    except DataError as err:
        raise BuildError(
            f"A2_DATA={environment.data_source()}: {err}"
        ) from None
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise BuildError(
            f"{len(failed)} run(s) failed to train, first "
            f"{failed[0].key}: {failed[0].error}"
        )
