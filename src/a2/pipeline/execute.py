"""Execute one section with papermill, then leave its two files.

The section's notebook (its one parse, ``Section.notebook``) is executed
by papermill with the section's parameters injected, in a kernel of the
project's venv, from the repository root, with ``A2_PROVENANCE`` naming
a pending file where the kernel notes the runs it trains or loads and
the checks it makes. ``a2.pipeline.client`` bounds the work: outputs
capped, a progress line for a quiet chunk, the section's time limit.

On success the build keeps, in this order:

1. ``build/<profile>/exec/<stem>.ipynb``: the executed notebook without
   the cells that evaluated the inline values (the stage reads outputs
   from it, the site links to it);
2. ``build/<profile>/provenance/<stem>.json``: the one record of the
   execution (``a2.pipeline.record``), naming that notebook by its hash.

and removes a failure notebook an earlier run left. The full log is
``build/<profile>/logs/<stem>.log`` (papermill's cells and outputs, the
kernel's own stdout and stderr, a failing chunk's traceback). A failure
is one line naming the .qmd, the line and the chunk, with the log's
path; the failed notebook goes to ``build/<profile>/failed/<stem>.ipynb``
and nothing else is touched, so the previous outputs stand.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2.fileio import atomic_write
from a2.pipeline import BuildError, qmd, record, say
from a2.pipeline.sections import Section

KERNEL = "a2"  # registered by `make venv` from the venv's python


def _failed_chunk(cells: list[dict[str, Any]], where: str) -> str:
    """'report/x.qmd:120 (fig-curves)': the chunk whose cell holds the
    error, and its label or first line of code."""
    errs = [
        [o["output_type"] == "error" for o in c.get("outputs", [])]
        for c in cells
    ]
    cell = next((c for c, e in zip(cells, errs) if any(e)), {})
    meta = cell.get("metadata", {})
    text = "".join(cell.get("source", ""))
    code = [ln.strip() for ln in text.splitlines() if not ln.startswith("#|")]
    name = meta.get("a2_options", {}).get("label") or (code or [""])[0][:60]
    return f"{where}:{meta.get('a2_line', '?')} ({name})"


def inline_values(nb: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Take the evaluating cells out of an executed notebook; return
    ``{expr: mime bundle}``. An expression that failed, one too long to
    be inline, or one that shows two different values in the prose is a
    BuildError."""
    values: dict[str, dict[str, Any]] = {}
    kept = []
    for cell in nb["cells"]:
        if qmd.INLINE_TAG not in cell.get("metadata", {}).get("tags", []):
            kept.append(cell)
            continue
        lines = cell["metadata"].get("a2_lines", {})
        results = {}
        for out in cell.get("outputs", []):
            results.update(out.get("data", {}).get(qmd.INLINE_MIME, {}))
        for expr, result in results.items():
            at = f"{where}:{lines.get(expr, '?')}: `{{python}} {expr}`"
            if result.get("status") == "too long":
                raise BuildError(
                    f"{at} is {result.get('size', 0):,} characters long; "
                    f"an inline value is at most {qmd.INLINE_LIMIT:,} (show "
                    f"longer text from a chunk)"
                )
            if result.get("status") != "ok":
                raise BuildError(
                    f"{at} failed: {result.get('ename')}: "
                    f"{result.get('evalue')}"
                )
            data = result.get("data", {})
            if values.get(expr, data) != data:
                raise BuildError(
                    f"{at} shows another value than above; rename one of them"
                )
            values[expr] = data
    nb["cells"] = kept
    return values


def _logger(path: Path, verbose: bool) -> list[logging.Handler]:
    """papermill's log (cells, their output, training lines) to ``path``,
    and to the terminal with V=1."""
    log = logging.getLogger("papermill")
    log.setLevel(logging.INFO)
    log.propagate = False
    handlers = [logging.FileHandler(path, mode="a")]  # the kernel's too
    handlers += [logging.StreamHandler()] if verbose else []
    for h in handlers:
        log.addHandler(h)  # the default format: the message alone
    return handlers


def _clean(cells: list[dict[str, Any]]) -> None:
    """The build's cell metadata (``a2_*``) out of an executed notebook:
    the site offers it for download as the section's notebook."""
    for cell in cells:
        for key in [k for k in cell.get("metadata", {}) if k[:3] == "a2_"]:
            del cell["metadata"][key]


def execute(
    section: Section,
    build: Path,
    overrides: dict[str, Any],
    params_files: Sequence[Path],
    decided: dict[str, Any],
    limit: float | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """Execute ``section`` with ``overrides`` injected and at most
    ``limit`` seconds (None: no limit); write its executed notebook and
    then its record (``decided`` and what the execution gave); return
    the record."""
    import papermill
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    from a2.pipeline import client
    from a2.report import provenance

    stem, where = section.stem, section.where
    work = build / "exec"
    for folder in (work, build / "logs", build / record.FOLDER):
        folder.mkdir(parents=True, exist_ok=True)
    tag = f"{stem}.{os.getpid()}"  # two builds never share these
    source, tmp = work / f".{tag}.source.ipynb", work / f".{tag}.tmp.ipynb"
    pending = build / record.FOLDER / f".{tag}.pending.json"
    log_path = build / "logs" / f"{stem}.log"
    log = os.path.relpath(log_path)
    failed = build / "failed" / f"{stem}.ipynb"
    source.write_text(json.dumps(section.notebook))
    log_path.write_text("")
    os.environ[provenance.ENV] = str(pending)  # the kernel inherits it
    handlers = _logger(log_path, verbose)
    kernel_output = None if verbose else open(log_path, "a")  # noqa: SIM115
    watch = client.Watch(stem, where, limit, log, say, verbose)
    ok = False
    try:
        with watch:
            papermill.execute_notebook(
                str(source),
                str(tmp),
                parameters={"params": overrides},
                engine_name=client.ENGINE,
                kernel_name=KERNEL,
                log_output=True,
                progress_bar=verbose,
                cwd=str(section.root),
                watch=watch,
                kernel_output=kernel_output,
                timeout_func=watch.remaining,
                on_cell_start=watch.start,
                on_cell_executed=watch.executed,
                shutdown_kernel="immediate",  # no grace: it is done
            )
        nb = json.loads(tmp.read_text())
        values = inline_values(nb, where)
        ok = True
    except PapermillExecutionError as err:
        cells = _keep_failed(tmp, failed)
        with open(log_path, "a") as fh:  # the traceback, without colours
            fh.write(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback)))
        evalue = " ".join(str(err.evalue).split())[:200]
        raise BuildError(
            f"{_failed_chunk(cells, where)}: {err.ename}: {evalue} "
            f"(full log: {log})"
        ) from None
    except CellTimeoutError:
        _keep_failed(tmp, failed)
        raise BuildError(
            f"{watch.place(watch.cell)}: still executing when the "
            f"section's time limit of {_duration(limit)} ran out (TIMEOUT "
            f"sets it, 0 for none; full log: {log})"
        ) from None
    except BuildError as err:
        raise BuildError(f"{err} (full log: {log})") from None
    except (KeyboardInterrupt, OSError, MemoryError):
        raise  # a stop or the machine: the command line says which
    except Exception as err:  # kernel death, missing kernel, ...
        raise BuildError(
            f"section {stem} failed: {type(err).__name__}: {err} "
            f"(full log: {log})"
        ) from None
    finally:  # what a failed or interrupted run leaves goes
        os.environ.pop(provenance.ENV, None)
        for h in handlers:
            logging.getLogger("papermill").removeHandler(h)
            h.close()
        if kernel_output is not None:
            kernel_output.close()
        for path in (source, tmp) if ok else (source, tmp, pending):
            path.unlink(missing_ok=True)
    try:
        _clean(nb["cells"])
        blob = json.dumps(nb).encode()
        atomic_write(work / f"{stem}.ipynb", blob)
        decided = {
            **decided,
            "inline": values,
            "outputs": hashlib.sha256(blob).hexdigest(),
        }
        done = record.write(build, section, pending, params_files, decided)
    finally:
        pending.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)  # an earlier failure is stale now
    return done


def _duration(seconds: float | None) -> str:
    if not seconds:
        return "none"
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:g} s"


def _keep_failed(tmp: Path, failed: Path) -> list[dict[str, Any]]:
    """The failed notebook moved to ``failed`` (for its outputs and
    traceback); its cells."""
    if not tmp.is_file():
        return []
    failed.parent.mkdir(exist_ok=True)
    os.replace(tmp, failed)
    try:
        return json.loads(failed.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        return []
