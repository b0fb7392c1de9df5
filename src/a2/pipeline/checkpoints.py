"""The trained runs apart from the report: `make train` trains every run
the sections' plans declare, `make checkpoints` packs them, and
`CHECKPOINTS=pack` brings a pack's runs into the cache before a build
(``a2.colour.packs``). The plan is the one `make pdf` trains: each
section's parameters as the build would run it (its params file, the
profile, a ``PARAMS=`` file kept), the data of ``DATA``. None of this
needs Quarto; on a machine with CUDA the runs train there.

The code notebook carries the same plan in one cell (:func:`training_cell`),
so that a cloud notebook trains, and packs, from that notebook alone.
"""

from __future__ import annotations

import ast
import os
import pprint
import sys
from pathlib import Path
from typing import Any

from a2.pipeline import BuildError

Values = dict[str, dict[str, Any]]  # {stem: parameters}, as `make pdf` runs


def bring_in(values: Values, pack: str, plan: list | None = None) -> None:
    """Import what fits the plan of ``values`` (``schedule.planned``)
    from pack ``pack`` into the cache: one line says how many runs came
    from it, and which were not used and why; a refused pack is a
    BuildError, with the cache as it was."""
    from a2.colour import packs, schedule

    plan = plan or schedule.planned(values)
    try:
        got = packs.bring_in(Path(pack).expanduser(), plan)
    except packs.PackError as err:
        raise BuildError(str(err)) from None
    _say(got.line())


def train(values: Values, pack: str = "") -> list:
    """Every run the plan of ``values`` declares into the cache (after
    the pack's, if given); a line per run as it trains, one for all."""
    from a2.colour import schedule

    plan = schedule.planned(values)
    if pack:
        bring_in(values, pack, plan)
    outcomes = []
    for data, runs in plan:
        outcomes += schedule.train_many(runs, data)
    failed = [r for r in outcomes if r.status == "failed"]
    if failed:
        raise BuildError(
            f"{len(failed)} run(s) failed to train, first "
            f"{failed[0].key}: {failed[0].error}"
        )
    cached = sum(r.status == "cached" for r in outcomes)
    _say(
        f"{len(outcomes)} planned run(s) in the cache "
        f"({len(outcomes) - cached} trained now)"
    )
    return outcomes


def pack(values: Values, dist: Path, given: str = "") -> Path:
    """:func:`train`, then every planned run packed into
    ``<dist>/a2-checkpoints.tar``."""
    from a2.colour import packs

    outcomes = train(values, given)
    out = dist / packs.NAME
    try:
        size = packs.write([r.key for r in outcomes], out)
    except packs.PackError as err:
        raise BuildError(str(err)) from None
    _say(
        f"wrote {os.path.relpath(out)}: {len(outcomes)} run(s), "
        f"{size / 1e6:.1f} MB; build elsewhere with `make pdf "
        f"CHECKPOINTS={packs.NAME}`"
    )
    return out


def keep_pack(dist: Path, new: Path) -> None:
    """The pack `make checkpoints` left in ``dist`` carried into the new
    outputs ``new`` before they replace ``dist`` (a hard link: no copy)."""
    from a2.colour import packs

    old = dist / packs.NAME
    if old.is_file() and not (new / packs.NAME).exists():
        try:
            os.link(old, new / packs.NAME)
        except OSError:
            import shutil

            shutil.copy2(old, new / packs.NAME)


def title_note(build: Path) -> str:
    """What the title page adds when the book's runs were trained on a GPU
    or came from a pack (``a2.report.appendix.origin_note``)."""
    from a2.colour import cache
    from a2.report import appendix, provenance

    keys: list[str] = []
    for record in sorted((build / "provenance").glob("[!.]*.json")):
        keys += provenance.read(record).get("runs", [])
    stored = {m["key"]: m for m in cache.list_runs()}
    return appendix.origin_note(
        [stored[k] for k in dict.fromkeys(keys) if k in stored]
    )


TRAIN_CELL = """\
# Every network the sections below load, trained into the cache
# (A2_CACHE, default .cache/) before they run, one after another: on a
# GPU, as in a cloud notebook, this is the long step, and each section
# then loads its runs. PACK = True also writes them to
# a2-checkpoints.tar; with it, `make pdf CHECKPOINTS=a2-checkpoints.tar`
# builds the report elsewhere without training.
from a2.colour import packs, schedule

PACK = False
PLAN = {plan}
outcomes = schedule.train_sections(PLAN, workers=1)
if PACK:
    packs.write([run.key for run in outcomes], packs.NAME)
"""


def training_cell(sections: dict[str, dict[str, Any]]) -> str:
    """The code notebook's training cell: the plan of the staged
    ``sections`` (each as it ran: its injected parameters); '' when no
    section trains."""
    from a2.config.params import SCHEMAS

    plan = {}
    for stem, nb in sections.items():
        if stem not in SCHEMAS or not SCHEMAS[stem].trains:
            continue
        for cell in nb["cells"]:
            if "injected-parameters" in cell["metadata"].get("tags", []):
                source = "".join(cell["source"])
                tree = ast.parse(source)
                plan[stem] = ast.literal_eval(tree.body[-1].value)
    if not plan:
        return ""
    shown = pprint.pformat(plan, width=70, sort_dicts=False)
    return TRAIN_CELL.format(plan=shown)


def _say(line: str) -> None:
    from a2.text import printable

    print(printable(line), file=sys.stderr, flush=True)
