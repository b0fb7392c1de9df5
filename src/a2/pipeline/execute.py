"""Run one section: validate its parameters, turn its .qmd into a
notebook and execute that with papermill into the build folder,
atomically."""

from __future__ import annotations

import json
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2 import params as section_schema
from a2.config import ParamsError, load_yaml
from a2.pipeline import qmd
from a2.pipeline.sections import BuildError, Section

KERNEL = "a2"  # registered by `make venv` from the venv's python


def profile_overrides(profile: Path | None, stem: str) -> dict[str, Any]:
    """The profile's mapping for one section (a profile maps section
    stems to overrides); a key that is not a section is an error."""
    if profile is None:
        return {}
    raw = load_yaml(profile)
    unknown = [k for k in raw if k not in section_schema.SCHEMAS]
    if unknown:
        from a2.config import suggest

        raise ParamsError(
            f"{profile}: '{unknown[0]}' is not a section"
            f"{suggest(str(unknown[0]), list(section_schema.SCHEMAS))}; "
            f"a profile maps section stems "
            f"({', '.join(section_schema.SCHEMAS)}) to their keys"
        )
    return section_schema.validate(stem, raw.get(stem), str(profile))


def section_params(
    root: Path,
    section: Section,
    params_file: Path | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    """The overrides a section runs with: its params file
    (params/<stem>.yaml unless given), then the profile's entry for it.
    The defaults live in ``a2.params``; any problem raises ParamsError."""
    if params_file is None:
        params_file = section.params_file(root)
        raw = load_yaml(params_file) if params_file.is_file() else {}
    else:
        raw = load_yaml(params_file)
    values = section_schema.validate(section.stem, raw, str(params_file))
    values.update(profile_overrides(profile, section.stem))
    section_schema.validate(
        section.stem,
        values,  # the combination
        str(profile or params_file),
    )
    return values


def _failed_chunk(nb_path: Path) -> int:
    """1-based number, in the .qmd, of the code chunk whose cell holds
    the error (papermill adds an injected cell and an error banner)."""
    nb = json.loads(nb_path.read_text())
    n = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "injected-parameters" in tags:
            continue
        n += 1
        if any(
            o.get("output_type") == "error" for o in cell.get("outputs", [])
        ):
            return n
    return n


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def execute(
    root: Path,
    section: Section,
    build: Path,
    params: dict[str, Any],
    params_files: Sequence[Path] = (),
) -> Path:
    """Execute into build/exec/<stem>.ipynb; a failure keeps the previous
    executed notebook and leaves the failed one in build/failed/.
    build/provenance/<stem>.json records the runs the section used, its
    checks, params files and commit (source lines, the appendix)."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from a2 import provenance

    out = build / "exec" / f"{section.stem}.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{section.stem}.{os.getpid()}"  # two builds never share these
    source = out.with_name(f".{tag}.source.ipynb")
    tmp = out.with_name(f".{tag}.tmp.ipynb")
    record = build / "provenance" / f"{section.stem}.json"
    pending = record.with_name(f".{tag}.pending.json")
    source.write_text(json.dumps(qmd.notebook(section.source)))
    os.environ[provenance.ENV] = str(pending)  # the kernel inherits it
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _interrupt)  # make killed: clean up too
    print(
        f"executing {section.stem} with {params or 'the defaults'}", flush=True
    )
    done = False
    try:
        papermill.execute_notebook(
            str(source),
            str(tmp),
            parameters={"params": params},
            kernel_name=KERNEL,
            log_output=True,
            progress_bar=True,
            cwd=str(root),
        )
        done = True
    except PapermillExecutionError as err:
        failed = build / "failed" / f"{section.stem}.ipynb"
        failed.parent.mkdir(exist_ok=True)
        os.replace(tmp, failed)
        cell = _failed_chunk(failed)
        raise BuildError(
            f"section {section.stem} failed in code chunk {cell} of "
            f"{section.source.relative_to(root)}: "
            f"{err.ename}: {err.evalue}\n"
            f"  (traceback in {os.path.relpath(failed)})"
        ) from None
    except Exception as err:  # kernel death, missing kernel, ...
        raise BuildError(
            f"section {section.stem} failed: {type(err).__name__}: {err}"
        ) from None
    finally:  # what a failed or interrupted run leaves goes
        source.unlink(missing_ok=True)
        if not done:
            tmp.unlink(missing_ok=True)
            pending.unlink(missing_ok=True)
    provenance.finish(pending, record, root, section.source, params_files)
    os.replace(tmp, out)
    return out


__all__ = ["ParamsError", "section_params", "execute"]
