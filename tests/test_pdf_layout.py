"""The PDF checked as a person would look at it: every page rendered by
pdftoppm (build/test-smoke/visual/pdf), text and ink inside the margins,
no heading left at the bottom of a page, every question answered."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from tools import visual

REPO = Path(__file__).resolve().parents[1]
# Every numbered question of the assignment (shared/seed/assignment-a2);
# 1.1, 1.2, 2.1, 2.2 and 3.1 only introduce the questions under them.
QUESTIONS = [
    *("1.1.1", "1.2.1", "1.2.2"),
    *("2.1.1", "2.1.2", "2.1.3", "2.2.1", "2.2.2", "2.2.3"),
    *("3.1.1", "3.1.2", "3.2"),
    *("4.1", "4.2", "4.3"),
    *("5.1", "5.2", "5.3", "5.4", "5.5"),
]


@pytest.fixture(scope="module")
def pdf(smoke_dist: Path) -> Path:
    return smoke_dist / "a2-writeup.pdf"


@pytest.fixture(scope="module")
def layout(pdf: Path) -> visual.PdfLayout:
    return visual.layout(pdf)


@pytest.fixture(scope="module")
def pngs(pdf: Path, smoke_dist: Path) -> list[Path]:
    return visual.render_pages(
        pdf, smoke_dist.parent / "visual" / smoke_dist.name / "pdf"
    )


def test_every_page_is_rendered_to_png(
    pngs: list[Path], layout: visual.PdfLayout
) -> None:
    assert len(pngs) == len(layout.pages) > 1


@pytest.fixture(scope="module")
def text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_text_stays_inside_the_margins(layout: visual.PdfLayout) -> None:
    assert layout.width == pytest.approx(595.3, abs=1)  # A4
    assert visual.overflowing_words(layout) == []


def test_margins_are_blank_so_figures_tables_and_code_fit(
    pngs: list[Path], layout: visual.PdfLayout
) -> None:
    skip = visual.chapter_pages(layout, visual.chapter_titles(REPO))
    assert visual.inked_margins(pngs, visual.text_box(layout), skip) == []


def test_no_page_leaves_a_third_of_itself_blank(
    pngs: list[Path], layout: visual.PdfLayout
) -> None:
    assert (
        visual.blank_space(
            pngs, layout, visual.text_box(layout), visual.chapter_titles(REPO)
        )
        == []
    )


def test_every_reference_resolves(text: str) -> None:
    """An unknown @fig-/@tbl-/@eq-/@sec- label prints as "?@label"."""
    assert re.findall(r"\?@[\w-]+", text) == []


def test_every_heading_has_its_title(text: str) -> None:
    assert visual.empty_headings(text) == []


def test_captions_set_math_as_math(text: str) -> None:
    assert visual.ascii_math(text) == []


def test_no_path_of_the_build_machine_is_printed(
    text: str, smoke_dist: Path
) -> None:
    assert visual.local_paths(text) == []
    for page in (smoke_dist / "site").glob("*.html"):
        assert visual.local_paths(page.read_text()) == [], page.name


def test_title_page_names_date_commit_and_renderer(
    layout: visual.PdfLayout, smoke_dist: Path
) -> None:
    first = " ".join(visual.text_of(ln) for ln in layout.pages[0])
    assert re.search(r"Built \d{4}-\d\d-\d\d", first)
    assert re.search(r"commit [0-9a-f]{7}", first)
    assert re.search(r"with Quarto \d+\.\d+", first)


def test_no_page_ends_with_a_heading(layout: visual.PdfLayout) -> None:
    headings = visual.source_headings(REPO)
    assert len(headings) > 20
    assert visual.orphaned_headings(layout, headings) == []


def test_every_question_number_is_in_the_text(text: str) -> None:
    lines = {ln.split()[0] for ln in text.splitlines() if ln.split()}
    missing = [q for q in QUESTIONS if q not in lines]
    assert missing == []


def test_figures_and_tables_carry_a_source_line(pdf: Path) -> None:
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    flat = " ".join(text.split())
    captions = re.findall(
        r"(?:Figure|Table) \d+\.\d+: (.*?)(?=(?:Figure|"
        r"Table) \d+\.\d+: |$)",
        flat,
    )
    assert len(captions) > 10
    without = [c[:60] for c in captions if "Source: report/" not in c]
    assert without == []


def test_library_and_notebook_code_lines_fit_a_printed_page() -> None:
    """Code is printed (listings in the PDF, the code notebook): lines
    stay under 80 characters; Quarto's `#|` cell options are exempt."""
    from a2.pipeline import qmd

    long = [
        f"{p.relative_to(REPO)}:{i}"
        for p in sorted((REPO / "src/a2").rglob("*.py"))
        for i, ln in enumerate(p.read_text().splitlines(), 1)
        if len(ln) >= 80
    ]
    chunks = 0
    for p in sorted((REPO / "report").glob("*.qmd")):
        for n, cell in enumerate(qmd.notebook(p)["cells"], 1):
            if cell["cell_type"] == "code":
                chunks += 1
                long += [
                    f"{p.name} cell {n}"
                    for ln in cell["source"].splitlines()
                    if len(ln) >= 80 and not ln.startswith("#|")
                ]
    assert chunks > 30
    assert long == []
