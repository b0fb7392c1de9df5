"""Checks made before any section executes, beyond each key's own range
(``a2.params``): the data source (``A2_DATA``) for the sections that read
data. Its arrays are loaded once (about a second), so a missing, garbage or
wrongly shaped file is reported before hours of work, not in a cell, in
one line naming the setting and the sections that read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from a2.pipeline.sections import (
    BuildError,
    Section,
    library_modules,
    notebook_code,
)


def data_sections(root: Path, secs: list[Section]) -> list[Section]:
    """The sections whose code reads CIFAR-10 (imports ``a2.data``)."""
    return [
        s
        for s in secs
        if "a2.data" in library_modules(root, notebook_code(s.source))
    ]


def check_data(
    root: Path, params: Mapping[Section, Mapping[str, Any]]
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
        data._one_class(x_train, y_train, data.HORSE, "training")
        data._one_class(x_test, y_test, data.HORSE, "test")
    except data.DataError as err:
        raise BuildError(
            f"A2_DATA={source} (read by {names}): {err}"
        ) from None
