"""The appendix's tables: environment, data, sections, trained models
and checks, as rows for ``a2.report.table``.

Everything comes from what the build recorded: each section's
provenance record (``a2.report.provenance``: params files, commit, runs,
checks) and the checkpoint cache's manifests (``a2.colour.cache``). Local paths
are never printed in full: a path inside the repository is shown
relative to it, any other by its file name only.

Every string read from those files (or from the machine) reaches a
table cell through ``a2.text.code``: a file name, a manifest's model or
devices, a check's name is shown as written, never as markup.
"""

from __future__ import annotations

import numbers
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from a2.report import Md
from a2.text import code

SECTIONS_HEADER = (
    "section",
    "params files",
    "commit",
    "executed (UTC)",
    "runs",
    "checks passed",
)
RUNS_HEADER = (
    "model, cache key",
    "k",
    "NF",
    "lr",
    "B",
    "epochs",
    "seed",
    "train / valid images",
    "valid loss",
    "valid acc. (%)",
)
RUNS_DIGITS = (None,) * 8 + (4, 2)
ORIGINS_HEADER = ("model, cache key", "trained on", "PyTorch", "came from")
CHECKS_HEADER = ("check", "largest difference of any entry (allowed)")


def shown_path(path: str, root: Path) -> str:
    """A local path as the appendix prints it: relative to ``root`` when
    inside it, else the file name alone."""
    p = Path(path).expanduser()
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):  # outside; a link loop
        return p.name


def data_setting(setting: str, root: Path) -> Md:
    """The ``A2_DATA`` setting as Markdown for the prose (see
    :func:`shown_path`)."""
    if setting == "download":
        return Md("`download` (the official CIFAR-10 archive)")
    return Md(f"{code(shown_path(setting, root))} (a local copy)")


def environment_rows() -> list[tuple[str, str]]:
    """Python, PyTorch, NumPy and the device. The build's time and commit
    are the title page's: printed once, they cannot disagree."""
    import numpy
    import torch

    if torch.cuda.is_available():
        device = f"GPU ({torch.cuda.get_device_name(0)})"
    else:
        device = (
            f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
        )
    pytorch = torch.__version__
    if torch.version.cuda:  # a "+cu130" build runs on a CPU as well
        pytorch += f" (built with CUDA {torch.version.cuda})"
    rows = [
        ("Python", f"{platform.python_version()} on {sys.platform}"),
        ("PyTorch", pytorch),
        ("NumPy", numpy.__version__),
        ("device", device),
    ]
    return [(name, code(value, plain=True)) for name, value in rows]


def data_rows(
    setting: str, checksum: str, root: Path
) -> list[tuple[str, str]]:
    """The data source by its setting, and the checksum of its arrays
    (``kind:digest`` as ``a2.colour.data.load_arrays`` returns it), in
    groups of 16 hex digits so that a narrow page can wrap it."""
    kind, _, digest = checksum.partition(":")
    groups = " ".join(
        code(digest[i : i + 16]) for i in range(0, len(digest), 16)
    )
    return [
        ("setting (`A2_DATA`)", data_setting(setting, root)),
        (f"checksum ({code(kind, plain=True)})", groups),
    ]


def _files(paths: Sequence[str]) -> str:
    return ", ".join(code(Path(str(p)).name) for p in paths) or "none"


def _text(value: Any) -> str:
    """A value read from a record or manifest, for a cell: a number as
    written (``0.001``, not a power of ten), anything else escaped."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:g}" if isinstance(value, float) else f"{value:,}"
    return code(value, plain=True)


def _number(value: Any) -> float:
    """A numeric cell; NaN (shown blank) for anything that is not one."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return float(value) if ok else float("nan")


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
                code(stem, plain=True),
                _files(r.get("params", [])),
                code(r.get("commit", "?")),
                code(
                    str(r.get("executed", "?")).removesuffix(" UTC"),
                    plain=True,
                ),
                len(r.get("runs", [])),
                f"{passed} of {len(checks)}",
            )
        )
    return rows


def _model(manifest: dict[str, Any]) -> str:
    """A run's network and cache key, two words: a narrow column sets
    them on two lines."""
    from a2.colour.experiments import MODEL_NAMES

    model = str(manifest.get("config", {}).get("model", "?"))
    return f"{_text(MODEL_NAMES.get(model, model))} {code(manifest['key'])}"


def run_rows(manifests: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per stored run (``a2.colour.cache`` manifests): settings, data
    subset and final metrics. Not its training time: measured under
    whatever else the machine ran, it would read as a network's speed,
    which only 5.3's and 5.5's epochs timed in turns measure."""
    rows = []
    settings = ("kernel", "num_filters", "lr", "batch_size", "epochs", "seed")
    for m in manifests:
        c, meta, last = m["config"], m.get("meta", {}), m.get("final") or {}
        data = meta.get("data", {})
        rows.append(
            (
                _model(m),
                *(_text(c.get(k, "?")) for k in settings),
                f"{_text(data.get('n_train', '?'))} / "
                f"{_text(data.get('n_valid', '?'))}",
                _number(last.get("valid_loss")),
                _number(last.get("valid_acc")),
            )
        )
    return rows


def trained_on(manifest: dict[str, Any]) -> list[dict[str, str]]:
    """Where a run was trained: each device by name ("NVIDIA H100 80GB
    HBM3", "CPU, 1 thread") with its torch version, as the cache recorded
    it (``meta["trained_on"]``); for a run stored before it did, its
    devices and the torch version it was started with."""
    meta = manifest.get("meta", {})
    where = meta.get("trained_on")
    if isinstance(where, list) and where:
        return [
            {k: str(w.get(k, "?")) for k in ("device", "torch")}
            for w in where
            if isinstance(w, dict)
        ]
    return [
        {
            "device": "CPU" if d == "cpu" else str(d),
            "torch": str(meta.get("torch", "?")),
        }
        for d in meta.get("devices", [])
    ]


def _on_gpu(where: dict[str, str]) -> bool:
    return not str(where["device"]).startswith("CPU")


def origin_rows(manifests: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per stored run: the devices it was trained on, the torch
    versions, and whether it came from a checkpoint pack (its file
    name) or from this machine's cache."""
    rows = []
    for m in manifests:
        where = trained_on(m)
        pack = m.get("meta", {}).get("pack")
        rows.append(
            (
                _model(m),
                ", ".join(dict.fromkeys(_text(w["device"]) for w in where))
                or "?",
                ", ".join(dict.fromkeys(_text(w["torch"]) for w in where))
                or "?",
                f"pack {code(pack)}" if pack else "this machine's cache",
            )
        )
    return rows


def origin_note(manifests: Sequence[dict[str, Any]]) -> str:
    """For the title page, after "Built ... with Quarto X": '' when every
    run was trained on a CPU into this machine's cache, else which were
    trained on which GPU and which came from a checkpoint pack, e.g.
    "; its 14 trained networks were trained on NVIDIA H100 80GB HBM3 and
    came from a checkpoint pack"."""
    n = len(manifests)
    gpu = [m for m in manifests if any(map(_on_gpu, trained_on(m)))]
    packed = [m for m in manifests if m.get("meta", {}).get("pack")]
    if not gpu and not packed:
        return ""

    def who(runs: list) -> str:
        k, many = len(runs), len(runs) > 1
        nets = "networks" if n > 1 else "network"
        head = f"its {n} trained {nets}" if k == n else f"{k} of its {n}"
        return (
            head
            + (" trained networks" * (k < n))
            + (" were" if many else " was")
        )

    names = dict.fromkeys(
        code(w["device"], plain=True)
        for m in gpu
        for w in trained_on(m)
        if _on_gpu(w)
    )
    if not gpu:
        return f"; {who(packed)} imported from a checkpoint pack"
    note = f"; {who(gpu)} trained on {', '.join(names)}"
    if packed and [m["key"] for m in packed] == [m["key"] for m in gpu]:
        return note + " and came from a checkpoint pack"
    if packed:
        note += f", and {who(packed)} imported from a checkpoint pack"
    return note


def check_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per check a section made (``a2.report.check``): its name,
    and the largest difference found with the tolerance allowed ("holds"
    for a true/false check). Only passed checks reach the appendix: a
    failed one fails the build, which is said where it is marked."""
    rows = []
    for c in record.get("checks", []):
        diff = str(c.get("quantity") or "").removeprefix("max |diff| ")
        shown = (
            f"{diff} ({c['tolerance']})"
            if c.get("tolerance")
            else (diff or "holds")
        )
        if not c.get("passed"):
            shown += ": FAILED"
        rows.append(
            (code(c.get("name", "?"), plain=True), code(shown, plain=True))
        )
    return rows
