"""`make pdf` and `make section`: what executes, in what order.

One process, holding the tree's lock (:func:`locked`), runs these steps;
a step a later version adds (training only, checkpoint packs) goes into
:func:`run` before the sections execute.

1. **Read.** The chapters of ``_quarto.yml``, each ``.qmd`` parsed once
   (``Section.notebook``): a malformed chunk or cell option stops the
   build here, before anything runs.
2. **Check.** Every section's parameters (params file, profile, a
   ``PARAMS=`` file) validated (:func:`check`): a bad file is one line
   before any work. The data source is checked once, before the first
   section that reads it.
3. **Decide.** For each section, why it executes (:func:`decide`):
   when what its code sees changed since its record (:func:`inputs`:
   code and tags, parameters, the library modules it imports, the data
   setting if it reads data, the trained runs it loaded, and for the
   appendix the other sections' records), or when asked; never for
   prose, which is staged around the last outputs. A section run with
   ``PARAMS=f`` keeps ``f`` until what it sees changes or ``make
   section`` runs it without.
4. **Train.** The runs of the sections that execute
   (``a2.colour.experiments.plan``) trained side by side first
   (``a2.colour.schedule``), so that the sections only load them.
5. **Execute.** The chapters in book order, then the appendix (it
   reports on the chapters' records), a line each when it starts and
   ends (``a2.pipeline.execute``), each within the time limit
   ``TIMEOUT``.
6. **Render** (``a2.pipeline.render``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2.pipeline import BuildError, record, say
from a2.pipeline.sections import Section, module_path, unlisted

DATA_MODULES = (
    "a2.colour.data",
    "a2.config.environment",
)  # code that reads A2_DATA
LIMIT_S = 3600  # a section's time limit unless TIMEOUT says otherwise
UNITS = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}


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
    limit: float | None = LIMIT_S  # seconds a section may execute


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

    mods = s.modules
    out = {
        "code": _sha(s.code),
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
        records = sorted((o.build / record.FOLDER).glob("[!.]*.json"))
        out["sections"] = _sha(
            {p.stem: p.read_text() for p in records if p.stem != s.stem}
        )
    return out


def previous(build: Path, s: Section) -> dict[str, Any] | None:
    """The record of the section's last execution (``a2.pipeline.record``),
    if the executed notebook beside it is the one it names (None: the
    section has not executed, or its notebook is gone or torn)."""
    done = record.read(build, s.stem)
    try:
        blob = (build / "exec" / f"{s.stem}.ipynb").read_bytes()
    except OSError:
        return None
    if done is None or done.get("outputs") != hashlib.sha256(blob).hexdigest():
        return None
    return done


def _job(o: Options, s: Section, params: Path | None) -> Job:
    from a2.config import params as schema

    own = s.params_file(o.root)
    overrides = schema.overrides(s.stem, params, o.profile, own)
    files = [f for f in (params or own, o.profile) if f and f.is_file()]
    values = dict(schema.load(s.stem, overrides))
    return Job(s, overrides, values, files, given=str(params or ""))


def _changed(prev: dict, now: dict) -> str:
    """'' when nothing the section depends on changed since ``prev``, its
    record, else what did."""
    what = [k for k in now if now[k] != prev.get("inputs", {}).get(k)]
    runs = prev.get("checkpoints", {})
    if record.checkpoints(list(runs)) != runs:
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
        why = _changed(prev, kept.inputs)
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
    job.why = job.why or _changed(prev, job.inputs)
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


def time_limit(text: str) -> float | None:
    """A section's time limit as TIMEOUT gives it: seconds, or a number
    with ``s``, ``m`` or ``h``; ``0`` for none; empty for the default."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([a-z]*)\s*", text.lower())
    if not text.strip():
        return LIMIT_S
    if found is None or found.group(2) not in UNITS:
        raise BuildError(
            f"TIMEOUT={text.strip()[:40]!r}: a section's time limit is a "
            f"number of seconds, or of minutes or hours (90, 30m, 2h); 0 "
            f"for none"
        )
    seconds = float(found.group(1)) * UNITS[found.group(2)]
    return seconds or None


def read(book: list[Section]) -> list[Section]:
    """The sections to execute, each .qmd parsed now (the build's one
    parse): a malformed chunk or cell option stops here."""
    secs = [s for s in book if s.is_notebook]
    for s in secs:
        s.notebook  # noqa: B018 (parsed, and kept on the section)
    return secs


def check(o: Options, book: list[Section], data: bool = True) -> dict:
    """Every section read and its parameters checked (and, with
    ``data``, the data source if a section reads it): what `make pdf`
    checks before any work. Returns each section's default job."""
    secs = read(book)
    jobs = {s.stem: _job(o, s, None) for s in secs}
    if o.force and o.params:
        _job(o, next(s for s in secs if s.stem == o.force), o.params)
    if data:
        _check_data(o, secs)
    return jobs


def run(o: Options, book: list[Section]) -> None:
    """The whole build (see the module docstring)."""
    from a2.pipeline import render

    for path in unlisted(o.root):
        say(f"warning: {path.name} is not a chapter in _quarto.yml; not built")
    base = check(o, book, data=False)  # the data: once a section reads it
    secs = [s for s in book if s.is_notebook]
    for appendix in (False, True):
        part = [s for s in secs if s.appendix == appendix]
        jobs = [decide(o, s, base[s.stem]) for s in part]
        for j in jobs:
            if j.note and not j.why:
                say(f"{j.section.stem}: {j.note}")
        _execute(o, [j for j in jobs if j.why])
    render.render(o, book)


def _execute(o: Options, jobs: list[Job]) -> None:
    """Train the jobs' runs side by side, then execute each job, with a
    line when it starts and when it ends."""
    from a2.pipeline.execute import execute

    _check_data(o, [j.section for j in jobs])
    _train({j.section.stem: j.values for j in jobs})
    for j in jobs:
        stem = j.section.stem
        files = ", ".join(os.path.relpath(f, o.root) for f in j.files)
        note = f"; {j.note}" if j.note else ""
        shown = j.given or files or "its defaults"
        say(f"{stem}: executing ({j.why}{note}) with {shown}")
        t0 = time.perf_counter()
        decided = {
            "inputs": j.inputs,
            "values": j.values,
            "overrides": j.overrides,
            "given": j.given,
        }
        done = execute(
            j.section,
            o.build,
            j.overrides,
            j.files,
            decided,
            o.limit,
            o.verbose,
        )
        for key in done["runs"]:
            say(f"{stem}: loaded run {key} from the cache")
        say(f"{stem}: done in {time.perf_counter() - t0:.1f} s")


def _check_data(o: Options, secs: list[Section]) -> None:
    """The data source loaded once, before any of ``secs`` reads it: a
    bad one is one line naming A2_DATA and the sections, not a cell."""
    from a2.colour import data
    from a2.config import environment

    names = [s.stem for s in secs if "a2.colour.data" in s.modules]
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
