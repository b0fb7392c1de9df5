"""Run one section: validate its parameters, execute its notebook with
papermill into the build folder, atomically."""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any, Sequence

from a2.config import ParamsError, check_value, load_yaml, validate
from a2.pipeline.checks import check_models
from a2.pipeline.sections import NOT_LITERAL, BuildError, Section, parameters

KERNEL = "a2"  # registered by `make venv` from the venv's python


def section_params(root: Path, section: Section,
                   params_file: Path | None = None,
                   profile: Path | None = None) -> dict[str, Any]:
    """The parameters a section runs with: its notebook's defaults, its
    params file (params/<stem>.yaml unless given), then the profile.

    The params file may only use the section's keys; the profile is a flat
    mapping whose keys must exist in config.SPECS and apply only to the
    sections that take them. Any problem raises ParamsError."""
    defaults = parameters(section.source)
    origin = dict.fromkeys(defaults, str(section.source))
    if params_file is None:
        params_file = section.params_file(root)
        raw = load_yaml(params_file) if params_file.is_file() else {}
    else:
        raw = load_yaml(params_file)
    values = validate(raw, defaults, str(params_file))
    origin.update(dict.fromkeys(values, str(params_file)))
    if profile is not None:
        overlay = load_yaml(profile)
        for key, value in overlay.items():
            value = check_value(key, value, str(profile))
            if key in defaults:
                values[key] = value
                origin[key] = str(profile)
    # Every parameter is injected, so the executed notebook records them all.
    merged = {k: v for k, v in defaults.items() if v is not NOT_LITERAL}
    merged.update(values)
    check_models(section, merged, origin)  # e.g. the kernel vs Figure 4
    return merged


def _source_cell(nb_path: Path, cell_index: int) -> int:
    """1-based cell number in the source notebook (papermill's injected
    cell shifts the executed notebook's indices by one)."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    injected = [i for i, c in enumerate(nb.cells)
                if "injected-parameters" in c.metadata.get("tags", [])]
    shift = 1 if injected and injected[0] < cell_index else 0
    return cell_index - shift + 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def execute(root: Path, section: Section, build: Path,
            params: dict[str, Any],
            params_files: Sequence[Path] = ()) -> Path:
    """Execute into build/exec/<stem>.ipynb; a failure keeps the previous
    executed notebook and leaves the failed one in build/failed/.
    build/provenance/<stem>.json records the runs the section used, its
    params files and the commit (figure source lines, the appendix)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from a2 import provenance

    out = build / "exec" / f"{section.stem}.ipynb"
    tmp = out.with_name(f".{section.stem}.tmp.ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    record = build / "provenance" / f"{section.stem}.json"
    pending = record.with_name(f".{section.stem}.pending.json")
    pending.unlink(missing_ok=True)
    os.environ[provenance.ENV] = str(pending)  # the kernel inherits it
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _interrupt)  # make killed: clean up too
    print(f"executing {section.stem} with {params}", flush=True)
    try:
        papermill.execute_notebook(
            str(section.source), str(tmp), parameters=params,
            kernel_name=KERNEL, log_output=True, progress_bar=True,
            cwd=str(root))
    except PapermillExecutionError as err:
        failed = build / "failed" / f"{section.stem}.ipynb"
        failed.parent.mkdir(exist_ok=True)
        os.replace(tmp, failed)
        cell = _source_cell(failed, err.cell_index)
        raise BuildError(
            f"section {section.stem} failed in cell {cell}: "
            f"{err.ename}: {err.evalue}\n"
            f"  (traceback in {os.path.relpath(failed)})") from None
    except Exception as err:  # kernel death, missing kernel, ...
        tmp.unlink(missing_ok=True)
        raise BuildError(f"section {section.stem} failed: "
                         f"{type(err).__name__}: {err}") from None
    except KeyboardInterrupt:
        tmp.unlink(missing_ok=True)
        raise
    provenance.finish(pending, record, root, section.source, params_files)
    os.replace(tmp, out)
    return out


__all__ = ["ParamsError", "section_params", "execute"]
