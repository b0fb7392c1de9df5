"""One record per execution: ``build/<profile>/provenance/<stem>.json``.

A section's execution leaves two files: its executed notebook
(``exec/<stem>.ipynb``, the outputs the book shows) and this record,
written after it, which says everything else about that execution:

- what it depended on (``inputs``: one hash per kind, from
  ``a2.pipeline.build.inputs``), the parameters it ran with
  (``values``, ``overrides``) and the PARAMS= file a user gave
  (``given``): the next build compares these to decide whether to
  execute the section again;
- what it produced: the executed notebook's hash (``outputs``: the
  record speaks of that notebook only), the inline values of its prose
  (``inline``), the runs it trained or loaded (``runs``) with their
  checkpoints' hashes (``checkpoints``: a run trained again is new), and
  the checks it made (``checks``);
- where it came from: the .qmd, its params files, the commit and the
  time (``notebook``, ``params``, ``commit``, ``executed``), which the
  source lines under figures and tables and the appendix print.

The kernel notes its runs and checks in a pending file as it goes
(``a2.report.provenance``); :func:`write` folds them in. The appendix
reads the chapters' records from the same folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2.fileio import atomic_write
from a2.pipeline.sections import Section

FOLDER = "provenance"


def path(build: Path, stem: str) -> Path:
    return build / FOLDER / f"{stem}.json"


def read(build: Path, stem: str) -> dict[str, Any] | None:
    """The section's record, or None when it has none (or an unreadable
    one: the section then executes again)."""
    try:
        found = json.loads(path(build, stem).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def checkpoints(keys: Sequence[str]) -> dict[str, str | None]:
    """Each run's checkpoint hash in the cache (None: not there)."""
    from a2.colour import cache

    return {key: cache.checkpoint_sha256(key) for key in keys}


def write(
    build: Path,
    section: Section,
    pending: Path,
    params: Sequence[Path],
    decided: dict[str, Any],
) -> dict[str, Any]:
    """The record of an execution that succeeded, in one write: where it
    came from, what its kernel noted in ``pending`` (runs, checks), and
    ``decided`` (inputs, parameters, inline values, the executed
    notebook's hash)."""
    from a2.report import provenance

    root = section.root

    def rel(p: Path) -> str:  # the report prints no local path
        p = p.resolve()
        return (
            p.relative_to(root).as_posix()
            if p.is_relative_to(root)
            else p.name
        )

    given = [p for p in params if p.is_file()]
    noted = provenance.read(pending)
    runs = list(noted.get("runs", []))
    record = {
        "notebook": rel(section.source),
        "params": [rel(p) for p in given],
        "param_files": [str(p.resolve()) for p in given],  # for the site
        "commit": provenance.commit(root),
        "executed": provenance.now(),
        "runs": runs,
        "checkpoints": checkpoints(runs),
        "checks": noted.get("checks", []),
        **decided,
    }
    target = path(build, section.stem)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, json.dumps(record, indent=1).encode())
    pending.unlink(missing_ok=True)
    return record
