"""Checks made before any section executes, beyond each key's own range:

- the kernel against every network a section trains (an even kernel
  cannot keep Figure 4a's shapes in PoolUpsampleNet's stride-1
  convolutions): the networks are the model names (``a2.config.MODELS``)
  the section's code mentions outside its parameters cell, plus the
  values of its ``model``/``models`` parameters;
- the data source (``A2_DATA``) for the sections that read data: its
  arrays are loaded once (about a second), so a missing, garbage or
  wrongly shaped file is reported before hours of work, not in a cell.

Both raise with one line naming the file (or setting), the key and the
valid values.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

from a2.config import MODELS, SPECS, ParamsError
from a2.pipeline.sections import (BuildError, Section, _cells, _code,
                               _strip_magics, library_modules, notebook_code)


def section_models(section: Section, params: Mapping[str, Any]) -> list[str]:
    """The networks a section trains, in ``MODELS`` order."""
    found: set[str] = set()
    code = "\n".join(  # the parameters cell's defaults may be overridden
        _code(c) for c in _cells(section.source)
        if c.get("cell_type") == "code"
        and "parameters" not in c.get("metadata", {}).get("tags", []))
    try:
        tree = ast.parse(_strip_magics(code))
    except SyntaxError:
        tree = None
    if tree is not None:
        found.update(node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant)
                     and isinstance(node.value, str) and node.value in MODELS)
    if isinstance(params.get("model"), str):
        found.add(params["model"])
    if isinstance(params.get("models"), list):
        found.update(m for m in params["models"] if isinstance(m, str))
    return [m for m in MODELS if m in found]


def _kernel_problem(used: list[str], kernel: int,
                    dilation: int) -> str | None:
    from a2.models import check_kernel

    for model in used:
        try:
            check_kernel(model, kernel, dilation)
        except ValueError as err:
            return f"{model}: {err}"
    return None


def check_models(section: Section, params: Mapping[str, Any],
                 origin: Mapping[str, str]) -> None:
    """ParamsError when the kernel cannot build one of the section's
    networks; ``origin`` names the file each key came from."""
    if "kernel" not in params:
        return
    used = section_models(section, params)
    if not used:
        return
    kernel, dilation = params["kernel"], params.get("dilation", 1)
    problem = _kernel_problem(used, kernel, dilation)
    if problem is None:
        return
    spec = SPECS["kernel"]
    valid = [k for k in range(1, 10) if spec.check(k)
             and _kernel_problem(used, k, dilation) is None]
    where = origin.get("kernel", str(section.source))
    raise ParamsError(
        f"{where}: key 'kernel' has value {kernel}; valid: "
        f"{' or '.join(map(str, valid)) or 'none'} for section "
        f"{section.stem}, which trains {', '.join(used)} ({problem})")


def data_sections(root: Path, secs: list[Section]) -> list[Section]:
    """The sections whose code reads CIFAR-10 (imports ``a2.data``)."""
    return [s for s in secs if "a2.data" in
            library_modules(root, notebook_code(s.source))]


def check_data(root: Path, params: Mapping[Section, Mapping[str, Any]]
               ) -> None:
    """Load the configured source once when a section needs data; a
    DataError becomes one BuildError naming A2_DATA and the sections."""
    needing = data_sections(root, list(params))
    if not needing:
        return
    from a2 import data, settings

    source = settings.data_source()
    names = ", ".join(s.stem for s in needing)
    try:
        x_train, y_train, x_test, y_test, _ = data.load_arrays(source)
        for s in needing:
            label = params[s].get("label", data.HORSE)
            data._one_class(x_train, y_train, label, "training")
            data._one_class(x_test, y_test, label, "test")
    except data.DataError as err:
        raise BuildError(f"A2_DATA={source} (read by {names}): "
                         f"{err}") from None
