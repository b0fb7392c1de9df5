"""Execute one section with papermill, its parameters injected; the
inline values are taken from its kernel. The full log goes to
build/logs/<stem>.log; a failing chunk is one line naming it.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2.pipeline import BuildError, qmd
from a2.pipeline.sections import Section

KERNEL = "a2"  # registered by `make venv` from the venv's python


def _failed_chunk(
    cells: list[dict[str, Any]], source: Path, root: Path
) -> str:
    """'report/x.qmd:120 (fig-curves)': the chunk whose cell holds the
    error (papermill's cell_index counts cells it injected), and its
    label or first line of code."""
    errs = [
        [o["output_type"] == "error" for o in c.get("outputs", [])]
        for c in cells
    ]
    cell = next((c for c, e in zip(cells, errs) if any(e)), {})
    text = "".join(cell.get("source", ""))
    label = re.search(r"^#\|\s*label:\s*(\S+)", text, re.M)
    code = [ln.strip() for ln in text.splitlines() if not ln.startswith("#|")]
    name = label.group(1) if label else (code or [""])[0][:60]
    line = cell.get("metadata", {}).get("a2_line", "?")
    return f"{source.relative_to(root)}:{line} ({name})"


def inline_values(nb: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Take the evaluating cells out of an executed notebook; return
    ``{expr: mime bundle}``. An expression that failed, or that shows
    two different values in the prose, is a BuildError."""
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
            if result.get("status") != "ok":
                raise BuildError(
                    f"{where}:{lines.get(expr, '?')}: `{{python}} {expr}` "
                    f"failed: {result.get('ename')}: {result.get('evalue')}"
                )
            data = result.get("data", {})
            if values.get(expr, data) != data:
                raise BuildError(
                    f"{where}:{lines.get(expr, '?')}: `{{python}} {expr}` "
                    f"shows another value than above; rename one of them"
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
    path.parent.mkdir(parents=True, exist_ok=True)
    handlers = [logging.FileHandler(path, mode="w")]
    handlers += [logging.StreamHandler()] if verbose else []
    for h in handlers:
        log.addHandler(h)  # the default format: the message alone
    return handlers


def execute(
    root: Path,
    section: Section,
    build: Path,
    overrides: dict[str, Any],
    params_files: Sequence[Path],
    verbose: bool = False,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """Execute the section with ``overrides`` injected: returns the
    executed notebook (without its evaluating cells), the inline values
    and the provenance record (``a2.report.provenance``: runs, checks, params
    files, commit), written to build/provenance/<stem>.json. A failure
    leaves the failed notebook in build/failed/ and nothing else."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from a2.report import provenance

    stem = section.stem
    where = section.source.relative_to(root).as_posix()
    work = build / "exec"
    work.mkdir(parents=True, exist_ok=True)
    tag = f"{stem}.{os.getpid()}"  # two builds never share these
    source, tmp = work / f".{tag}.source.ipynb", work / f".{tag}.tmp.ipynb"
    pending = build / "provenance" / f".{tag}.pending.json"
    log_path = build / "logs" / f"{stem}.log"
    source.write_text(json.dumps(qmd.notebook(section.source, inline=True)))
    os.environ[provenance.ENV] = str(pending)  # the kernel inherits it
    handlers = _logger(log_path, verbose)
    log = os.path.relpath(log_path)
    done = False
    stderr = os.dup(2)
    if not verbose:  # the kernel's and nbformat's noise goes to the log
        os.dup2(handlers[0].stream.fileno(), 2)
    try:
        papermill.execute_notebook(
            str(source),
            str(tmp),
            parameters={"params": overrides},
            kernel_name=KERNEL,
            log_output=True,
            progress_bar=verbose,
            cwd=str(root),
        )
        nb = json.loads(tmp.read_text())
        values = inline_values(nb, where)
        done = True
    except PapermillExecutionError as err:
        failed = build / "failed" / f"{stem}.ipynb"
        failed.parent.mkdir(exist_ok=True)
        os.replace(tmp, failed)
        cells = json.loads(failed.read_text())["cells"]
        chunk = _failed_chunk(cells, section.source, root)
        with open(log_path, "a") as fh:  # the traceback, without colours
            fh.write(re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err.traceback)))
        evalue = " ".join(str(err.evalue).split())[:300]
        raise BuildError(
            f"{chunk}: {err.ename}: {evalue} (full log: {log})"
        ) from None
    except BuildError as err:
        raise BuildError(f"{err} (full log: {log})") from None
    except Exception as err:  # kernel death, missing kernel, ...
        raise BuildError(
            f"section {stem} failed: {type(err).__name__}: {err} "
            f"(full log: {log})"
        ) from None
    finally:  # what a failed or interrupted run leaves goes
        os.dup2(stderr, 2)
        os.close(stderr)
        for h in handlers:
            logging.getLogger("papermill").removeHandler(h)
            h.close()
        for path in (source, tmp) if done else (source, tmp, pending):
            path.unlink(missing_ok=True)
    prov = provenance.finish(
        pending,
        build / "provenance" / f"{stem}.json",
        root,
        section.source,
        params_files,
    )
    return nb, values, prov
