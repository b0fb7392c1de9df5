"""Tables that agree with their own numbers: in every table of the
report with a verdict column, the rule applied to the figures the table
shows gives the verdict it shows (Table 3.3 once said "seek parallel
compute" beside figures that favoured the other option, its deciding
figure only in the text)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from a2.config import params
from a2.questions import minnorm, nqm, weightdecay
from a2.report import VerdictTable

REPO = Path(__file__).resolve().parents[1]


def limits() -> tuple[VerdictTable, list]:
    """Section 1.2: where each method stops on the hint's example."""
    p = params.load("1-optimization")
    trajs = minnorm.adaptive_experiment(
        p.adaptive_lr, p.adaptive_steps, p.beta, p.eps
    )
    return minnorm.LIMITS, minnorm.limit_figures(trajs)


def gaps() -> tuple[VerdictTable, list]:
    """Section 2.2.3: L2 against decoupled weight decay."""
    p = params.load("2-hyperparameters")
    _, comp = weightdecay.decay_experiment(
        p.n,
        p.d,
        p.eta,
        p.adaptive_lr,
        p.weight_decay,
        p.steps,
        p.beta,
        p.eps,
        p.seed,
    )
    return weightdecay.GAPS, weightdecay.gap_figures(comp)


def remedies() -> tuple[VerdictTable, list]:
    """Section 3.1.2(b): regimes and remedies at A and B."""
    p = params.load("3-resources")
    curve = nqm.steps_curve(p.d, p.target_loss, p.grid_points)
    pts = nqm.operating_points(curve, p.d, p.target_loss, p.grid_points)
    return nqm.REMEDIES, nqm.remedy_figures(pts, nqm.fewest_steps(curve))


TABLES = {
    "tbl-adaptive-limits": limits,
    "tbl-decay-gaps": gaps,
    "tbl-remedies": remedies,
}

_SCI = re.compile(r"\$(-?[\d.]+) \\times 10\^\{(-?\d+)\}\$")


def read(cell: str) -> float | str:
    """A cell as a reader reads it: a number (thousands separators,
    powers of ten) or its text."""
    m = _SCI.fullmatch(cell)
    if m:
        return float(m[1]) * 10 ** int(m[2])
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return cell


def cells(markdown: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a pipe table."""
    lines = [
        ln.strip().strip("|").split(" | ") for ln in markdown.splitlines()
    ]
    strip = [[c.strip() for c in ln] for ln in lines]
    return strip[0], strip[2:]


@pytest.mark.parametrize("label", TABLES)
def test_each_verdict_follows_from_the_figures_shown_beside_it(label):
    table, figures = TABLES[label]()
    header, rows = cells(table.markdown(figures))
    first = len(table.header)
    assert header[first:] == [v.header for v in table.verdicts]
    assert rows, label
    for row in rows:
        for j, v in enumerate(table.verdicts):
            shown = [read(row[i]) for i in v.reads]
            assert all(isinstance(x, float) for x in shown), (label, row)
            assert v.rule(*shown) == row[first + j], (label, v.header, row)


def test_table_3_3_shows_the_steps_its_remedy_compares():
    """At A the remedy compares the fewest steps any batch size reaches
    with the preconditioner's steps: both are columns of the table."""
    table, figures = remedies()
    header, rows = cells(table.markdown(figures))
    a = dict(zip(header, rows[0]))
    fewest = read(a["fewest steps at any $B$ (parallel compute)"])
    precond = read(a["steps with $H^{-1/2}$ (higher order)"])
    word = "seek parallel compute" if fewest < precond else "use higher"
    assert a["remedy"].startswith(word)


def test_every_verdict_table_of_the_library_is_tested_here():
    """A new table with verdict columns is covered as soon as it exists:
    every VerdictTable of the a2 modules is one of TABLES'."""
    import a2

    modules = [
        importlib.import_module(m.name)
        for m in pkgutil.walk_packages(a2.__path__, "a2.")
        if not m.name.startswith(("a2.__main__", "a2.pipeline"))
    ]
    found = {
        f"{mod.__name__}.{attr}"
        for mod in modules
        for attr, obj in vars(mod).items()
        if isinstance(obj, VerdictTable)
    }
    tested = {
        "a2.questions.minnorm.LIMITS",
        "a2.questions.weightdecay.GAPS",
        "a2.questions.nqm.REMEDIES",
    }
    assert found == tested


def test_no_table_chunk_decides_a_verdict_itself():
    """A table chunk shows a VerdictTable or a table without verdicts:
    one that calls a rule of a2.report.rules would put a verdict beside figures
    nothing checks."""
    chunk = re.compile(r"```\{python\}\n(#\| label: tbl-[^\n]*\n.*?)```", re.S)
    for qmd in sorted((REPO / "report").glob("*.qmd")):
        for found in chunk.findall(qmd.read_text()):
            label, *lines = found.splitlines()
            code = "\n".join(ln for ln in lines if not ln.startswith("#|"))
            assert "rules." not in code, f"{qmd.name}: {label}"
            assert "is_min_norm" not in code, f"{qmd.name}: {label}"
