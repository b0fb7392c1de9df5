"""The appendix's tables: environment, data, sections, trained models
and checks, as rows for ``a2.report.table``.

Everything comes from what the build recorded: each section's
provenance record (``a2.provenance``: params files, commit, runs,
checks) and the checkpoint cache's manifests (``a2.cache``). Local paths
are never printed in full: a path inside the repository is shown
relative to it, any other by its file name only.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SECTIONS_HEADER = (
    "section",
    "params files",
    "commit",
    "executed (UTC)",
    "runs",
    "checks passed",
)
RUNS_HEADER = (
    "cache key",
    "model",
    "k, NF, lr, B, epochs, seed",
    "train / valid images",
    "device",
    "time (s)",
    "valid loss",
    "valid acc. (%)",
)
RUNS_DIGITS = (None, None, None, None, None, 1, 4, 2)
CHECKS_HEADER = ("check", "largest difference (allowed)")


def shown_path(path: str, root: Path) -> str:
    """A local path as the appendix prints it: relative to ``root`` when
    inside it, else the file name alone."""
    p = Path(path).expanduser()
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.name


def data_setting(setting: str, root: Path) -> str:
    """The ``A2_DATA`` setting, printable (see :func:`shown_path`)."""
    if setting == "download":
        return "`download` (the official CIFAR-10 archive)"
    return f"`{shown_path(setting, root)}` (a local copy)"


def environment_rows(built: str, commit: str) -> list[tuple[str, str]]:
    """Build time, commit, Python, PyTorch, NumPy and the device."""
    import numpy
    import torch

    if torch.cuda.is_available():
        device = f"GPU ({torch.cuda.get_device_name(0)})"
    else:
        device = (
            f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
        )
    return [
        ("built", built),
        ("commit", f"`{commit}`"),
        ("Python", f"{platform.python_version()} on {sys.platform}"),
        ("PyTorch", str(torch.__version__)),
        ("NumPy", str(numpy.__version__)),
        ("device", device),
    ]


def data_rows(
    setting: str, checksum: str, root: Path
) -> list[tuple[str, str]]:
    """The data source by its setting, and the checksum of its arrays
    (``kind:digest`` as ``a2.data.load_arrays`` returns it), in groups of
    16 hex digits so that a narrow page can wrap it."""
    kind, _, digest = checksum.partition(":")
    groups = " ".join(
        f"`{digest[i : i + 16]}`" for i in range(0, len(digest), 16)
    )
    return [
        ("setting (`A2_DATA`)", data_setting(setting, root)),
        (f"checksum ({kind})", groups),
    ]


def _files(paths: Sequence[str]) -> str:
    return ", ".join(f"`{Path(p).name}`" for p in paths) or "none"


def section_rows(records: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per executed section (``{stem: provenance record}``);
    the notebook is ``report/<stem>.qmd``, params files are in
    ``params/``."""
    rows = []
    for stem, r in records.items():
        checks = r.get("checks", [])
        passed = sum(bool(c.get("passed")) for c in checks)
        rows.append(
            (
                stem,
                _files(r.get("params", [])),
                f"`{r.get('commit', '?')}`",
                r.get("executed", "?").removesuffix(" UTC"),
                len(r.get("runs", [])),
                f"{passed} of {len(checks)}",
            )
        )
    return rows


def run_rows(manifests: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per stored run (``a2.cache`` manifests): settings, data
    subset, device, training time and final metrics."""
    from a2.experiments import MODEL_NAMES

    rows = []
    nan = float("nan")
    for m in manifests:
        c, meta, last = m["config"], m.get("meta", {}), m.get("final") or {}
        data = meta.get("data", {})
        rows.append(
            (
                f"`{m['key']}`",
                MODEL_NAMES.get(c["model"], c["model"]),
                f"{c['kernel']}, {c['num_filters']}, {c['lr']:g}, "
                f"{c['batch_size']}, {c['epochs']}, {c['seed']}",
                f"{data.get('n_train', '?')} / {data.get('n_valid', '?')}",
                ", ".join(meta.get("devices", [])) or "?",
                float(meta.get("train_seconds", nan)),
                float(last.get("valid_loss", nan)),
                float(last.get("valid_acc", nan)),
            )
        )
    return rows


def check_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per check a section made (``a2.report.check``): its name,
    and the largest difference found with the tolerance allowed ("holds"
    for a true/false check). Only passed checks reach the appendix: a
    failed one fails the build, which is said where it is marked."""
    rows = []
    for c in record.get("checks", []):
        diff = (c.get("quantity") or "").removeprefix("max |diff| ")
        shown = (
            f"{diff} ({c['tolerance']})"
            if c.get("tolerance")
            else (diff or "holds")
        )
        if not c.get("passed"):
            shown += ": FAILED"
        rows.append((c.get("name", "?"), shown))
    return rows
