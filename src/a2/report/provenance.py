"""Where the report's results come from.

The build executes each section with ``A2_PROVENANCE`` naming a JSON file
in the build folder; ``a2.colour.cache`` calls :func:`note_run` for every run a
section trains or loads, so that file lists the trained models the section
used. After a section succeeds the build folds that file into the
section's record, ``<stem>.json`` beside it (notebook, params files,
commit, runs, checks); the renderer prints these under every figure and
table, and the appendix lists the runs of all sections
(:func:`used_runs`). Outside the build (the code notebook) the runs are
kept in memory, where the appendix finds them in the same kernel.
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


def _flush() -> None:
    path = os.environ.get(ENV)
    if path:
        _write(Path(path), {"runs": _used, "checks": _checks})


def note_run(key: str) -> None:
    """Record that this process trained or loaded run ``key``."""
    if key not in _used:
        _used.append(key)
        _flush()


def note_check(check: dict[str, Any]) -> None:
    """Record a check (``a2.report.check``) for the appendix."""
    _checks.append(check)
    _flush()


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
    ``unknown`` outside a git checkout."""

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
        return out.stdout.strip() if out.returncode == 0 else None

    head = git("rev-parse", "--short", "HEAD")
    if head is None:
        return "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return head + ("-dirty" if dirty else "")


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def folder() -> Path | None:
    """The build's provenance folder (None outside the build)."""
    path = os.environ.get(ENV)
    return Path(path).parent if path else None
