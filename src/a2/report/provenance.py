"""Where the report's results come from.

The build executes each section with ``A2_PROVENANCE`` naming a JSON file
in the build folder; ``a2.colour.cache`` calls :func:`note_run` for every run a
section trains or loads, so that file lists the trained models the section
used. After a section succeeds the build folds that file into the
section's record, ``<stem>.json`` beside it (notebook, params files,
commit, runs, checks: ``a2.pipeline.record``); the renderer prints these
under every figure and table, and the appendix lists the runs of all
sections (:func:`used_runs`). Outside the build (the code notebook, a chapter
that Quarto executes) each section's runs and checks are kept in
memory from its start (:func:`begin`), where the appendix finds them in
the same kernel (:func:`records`).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from a2.fileio import atomic_write

ENV = "A2_PROVENANCE"
_used: list[str] = []  # keys this process used, in order
_checks: list[dict[str, Any]] = []  # checks this process made
# Outside the build: the sections this process ran, in order, each with
# its runs and checks (the last one is running).
_sections: dict[str, dict[str, Any]] = {}


def _flush() -> None:
    path = os.environ.get(ENV)
    if path:
        _write(Path(path), {"runs": _used, "checks": _checks})


def begin(stem: str) -> None:
    """Section ``stem`` starts in this process (its parameters are
    loaded): the runs and checks that follow are its own."""
    _sections.pop(stem, None)  # run again: its record starts over
    _sections[stem] = {"executed": now(), "runs": [], "checks": []}


def _current() -> dict[str, Any] | None:
    return next(reversed(_sections.values()), None)


def note_run(key: str) -> None:
    """Record that this process trained or loaded run ``key``."""
    section = _current()
    if section is not None and key not in section["runs"]:
        section["runs"].append(key)
    if key not in _used:
        _used.append(key)
        _flush()


def note_check(check: dict[str, Any]) -> None:
    """Record a check (``a2.report.check``) for the appendix."""
    section = _current()
    if section is not None:
        section["checks"].append(check)
    _checks.append(check)
    _flush()


def records(root: Path) -> dict[str, dict[str, Any]]:
    """``{stem: record}`` of the sections the appendix reports on, in
    book order, without the one running (the appendix itself). In the
    build: every finished section's record file. Elsewhere: the sections
    this process ran before, from checkout ``root`` (:func:`commit`)."""
    path = os.environ.get(ENV)
    if path:
        found = sorted(Path(path).parent.glob("[!.]*.json"))
        out = {p.stem: read(p) for p in found}
    else:
        built = commit(root)
        out = {s: {**r, "commit": built} for s, r in _sections.items()}
    if _sections:
        out.pop(next(reversed(_sections)), None)
    return out


def used_runs() -> list[str]:
    """Keys of the runs this build used: every finished section's record
    in the provenance folder, then this process's own runs."""
    keys: list[str] = []
    path = os.environ.get(ENV)
    if path:
        for record in sorted(Path(path).parent.glob("[!.]*.json")):
            keys += read(record).get("runs", [])
    keys += _used
    return list(dict.fromkeys(keys))


def read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(record, indent=1).encode())


def commit(root: Path) -> str:
    """Short hash of HEAD, with ``-dirty`` when tracked files changed;
    ``not a git checkout`` when ``root`` is in none (``unknown`` without
    git)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args],
                cwd=root,
                timeout=10,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown" if head is None else "not a git checkout"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + ("-dirty" if dirty else "")


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
