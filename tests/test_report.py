"""What a section shows: checks that fail the build when a derivation is
wrong, one folded summary line of them, values for the prose, numbers
formatted for print, and computed tables."""

import math
import re

import pytest

from a2 import report
from a2.report import CheckFailed, check, check_true, checking, prose


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list:
    """What the section would display, instead of IPython's display."""
    out: list = []
    monkeypatch.setattr(prose, "display_bundle", out.append)
    monkeypatch.setattr(prose, "md", out.append)
    monkeypatch.setattr(checking, "_pending", [])
    return out


def test_check_passes_agreeing_values_and_returns_the_largest_gap(shown):
    c = check("agree", [1.0, 2.0], [1.0, 2.0 + 1e-12])
    assert c.passed and c.abs_diff == pytest.approx(1e-12, abs=1e-15)


@pytest.mark.parametrize(
    "tolerance, quantity, allowed",
    [
        # relative tolerance: the relative difference, 0.1 / 2
        ({"rtol": 0.1}, "rel. diff 5.0e-02", "rtol 1e-01"),
        ({}, "rel. diff 5.0e-02", "rtol 1e-06"),  # the default: rtol
        # absolute tolerance: the absolute difference
        ({"atol": 0.2}, "|diff| 1.0e-01", "atol 2e-01"),
        # both: each figure with its tolerance, passing when either holds
        (
            {"atol": 0.2, "rtol": 0.01},
            "|diff| 1.0e-01, rel. diff 5.0e-02",
            "atol 2e-01 or rtol 1e-02",
        ),
        ({"rtol": 0, "atol": 0}, "|diff| 1.0e-01", "exact"),
        ({"rtol": 0}, "|diff| 1.0e-01", "exact"),
    ],
)
def test_a_check_shows_its_difference_in_the_unit_of_its_tolerance(
    shown, tolerance, quantity, allowed
):
    """An absolute difference is never set against a relative tolerance
    (Table A.7 read "5.0e+00 (rtol 2e-02)")."""
    try:
        check("x", [1.0, 2.1], [1.0, 2.0], **tolerance)
    except CheckFailed:
        pass
    (c,) = checking._pending
    assert (c.quantity, c.tolerance) == (quantity, allowed)
    assert c.line() == f"x: {quantity} ({allowed}): " + (
        "passed" if c.passed else "FAILED"
    )


def test_a_check_passes_exactly_when_its_shown_figure_is_within():
    checking._pending.clear()
    assert check("r", 105.0, 100.0, rtol=0.05).passed  # 5.0e-02 <= 5e-02
    with pytest.raises(CheckFailed, match="rel. diff 6.0e-02"):
        check("r", 106.0, 100.0, rtol=0.05)
    assert check("a", 1e-9, 0.0, atol=1e-8).passed
    with pytest.raises(CheckFailed, match=r"\|diff\| 2.0e-08"):
        check("a", 2e-8, 0.0, atol=1e-8)
    # both: a zero reference fails the relative test, the absolute holds
    assert check("b", [1e-16, 1.0], [0.0, 1.0], rtol=1e-12, atol=1e-15).passed
    assert check("e", [3, 4], [3, 4], rtol=0).passed
    with pytest.raises(CheckFailed, match="exact"):
        check("e", [3, 5], [3, 4], rtol=0)
    checking._pending.clear()


def test_the_value_the_prose_cites_is_the_recorded_figure(
    shown, monkeypatch: pytest.MonkeyPatch
):
    """A section's prose shows ``check(...).value``: the figure its
    provenance record (and so the appendix) holds, to the same digits."""
    from a2.report import provenance

    noted: list[dict] = []
    monkeypatch.setattr(provenance, "note_check", noted.append)
    cases = [
        ({"atol": 1e-8}, [3.26e-15], [0.0], "3.3e-15"),
        ({"rtol": 0.06}, [105.0], [100.0], "5.0e-02"),
        ({"rtol": 1e-9, "atol": 1e-12}, [1.0], [1.0], "0"),
    ]
    for tolerance, derived, independent, figure in cases:
        c = check("c", derived, independent, **tolerance)
        assert noted[-1]["quantity"].split(",")[0].split()[-1] == figure
        mant, _, exp = figure.partition("e")
        assert c.value == (
            f"${mant} \\times 10^{{{int(exp)}}}$" if exp else f"${figure}$"
        )


@pytest.mark.parametrize(
    "derived, independent",
    [
        ([1.0, 2.0], [1.0, 2.1]),  # values disagree
        ([1.0, 2.0], [1.0, 2.0, 3.0]),  # shapes disagree
        ([math.nan], [1.0]),  # NaN never agrees
    ],
)
def test_check_raises_when_derivation_and_computation_disagree(
    shown, derived, independent
):
    with pytest.raises(CheckFailed):
        check("disagree", derived, independent)


def test_true_false_check_fails_on_false_and_names_no_difference(shown):
    check_true("a holds", 2 > 1)
    with pytest.raises(CheckFailed, match="check 'b holds' failed"):
        check_true("b holds", False)
    assert checking._pending[0].line() == "a holds: passed"


def test_checks_show_as_one_folded_line_with_quantity_and_tolerance(shown):
    check("x = y", 1.0, 1.0 + 1e-9, rtol=0, atol=1e-8)
    check_true("sign", True)
    report.checks()
    (callout,) = shown
    assert callout.startswith(
        '::: {.callout-note .a2-checks collapse="true"}\n## 2 checks passed\n'
    )
    # the name escaped (it is shown as written), the rest computed here
    assert "- x \\= y: |diff| 1.0e-09 (atol 1e-08): passed" in callout
    assert "- sign: passed" in callout
    report.checks()  # nothing new: nothing shown
    assert len(shown) == 1


def test_formatted_values_reach_the_prose_as_markdown():
    """An inline `{python} x` shows text/markdown as it is (Quarto would
    escape the $ and \\ of a plain string's text/plain)."""
    from IPython.core.formatters import DisplayFormatter

    shown = {
        v: DisplayFormatter().format(report.fmt(v))[0]
        for v in (5000, 0.5, 9.0e-15, "Yes")
    }
    assert {v: d["text/markdown"] for v, d in shown.items()} == {
        5000: "5,000",
        0.5: "0.5",
        9.0e-15: "$9.0 \\times 10^{-15}$",
        "Yes": "Yes",
    }


@pytest.mark.parametrize(
    "x, text",
    [
        (0, "$0$"),
        (1e8, "$1.0 \\times 10^{8}$"),
        (-2.5e-3, "$-2.5 \\times 10^{-3}$"),
        (9.96e-5, "$1.0 \\times 10^{-4}$"),  # rounding carries the exponent
    ],
)
def test_powers_of_ten_are_typeset_never_as_e_notation(x, text):
    assert report.sci(x) == text


def test_numbers_are_formatted_for_print():
    assert report.fmt(1234567) == "1,234,567"
    assert report.fmt(0.1234, 2) == "0.12"
    assert report.fmt(1e-8) == "$1.0 \\times 10^{-8}$"
    assert report.fmt([1, 2.5]) == "[1, 2.5]"
    assert report.fmt(None) == "null" and report.fmt(True) == "True"
    assert report.plural(1, "epoch") == "1 epoch"
    assert report.plural(25, "epoch") == "25 epochs"


def test_tables_align_numbers_right_and_text_left():
    text = report.table_markdown(
        [["a|b", 1.5], ["c", 10.25]], ["name", "value"], [None, 2]
    )
    lines = text.splitlines()
    assert lines[0] == "| name | value |"
    assert re.fullmatch(r"\|:-{3,}\|-{3,}:\|", lines[1])
    assert lines[2:] == ["| a\\|b | 1.50 |", "| c | 10.25 |"]
    # a column's dashes follow its longest cell (pandoc sizes by them)
    wide = report.table_markdown([["x" * 30, 1]], ["a", "b"])
    first, second = wide.splitlines()[1].strip("|").split("|")
    assert len(first) > 3 * len(second)
    with pytest.raises(ValueError):
        report.table_markdown([[1]], ["a", "b"])


def test_source_names_the_runs_of_its_cell(shown):
    class Run:
        key = "abc"

    report.source(Run(), "def")
    assert shown == [
        {prose.SOURCE_MIME: {"runs": ["abc", "def"]}, "text/plain": ""}
    ]
