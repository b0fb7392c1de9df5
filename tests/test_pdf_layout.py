"""The PDF checked as a person would look at it: every page rendered by
pdftoppm (build/test-smoke/visual/pdf), text and ink inside the margins,
no blank page and no hole, tables that break well, no words printed over
one another, no heading left at the bottom of a page, every figure and
table after its first citation and in its question, every question
answered. The same checks, run on a PDF made with one of each defect,
find every one (tools/defects.typ)."""

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


@pytest.fixture(scope="session")
def pdf(smoke_dist: Path) -> Path:
    return smoke_dist / "a2-writeup.pdf"


@pytest.fixture(scope="session")
def layout(pdf: Path) -> visual.PdfLayout:
    return visual.layout(pdf)


@pytest.fixture(scope="session")
def pngs(pdf: Path, smoke_dist: Path) -> list[Path]:
    return visual.render_pages(
        pdf, smoke_dist.parent / "visual" / smoke_dist.name / "pdf"
    )


def test_every_page_is_rendered_to_png(
    pngs: list[Path], layout: visual.PdfLayout
) -> None:
    assert len(pngs) == len(layout.pages) > 1


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def rows(layout: visual.PdfLayout) -> list[visual.Row]:
    return visual.rows(layout)


def test_no_page_is_blank(pngs: list[Path], layout: visual.PdfLayout) -> None:
    assert visual.blank_pages(pngs, layout, visual.text_box(layout)) == []


def test_no_page_leaves_a_third_of_itself_blank(
    pngs: list[Path], layout: visual.PdfLayout
) -> None:
    """Except the page before a chapter."""
    assert (
        visual.blank_space(
            pngs, layout, visual.text_box(layout), visual.chapter_titles(REPO)
        )
        == []
    )


def test_tables_break_with_their_caption_and_rows_on_both_sides(
    pdf: Path, rows: list[visual.Row]
) -> None:
    assert visual.broken_tables(rows, visual.structure(pdf)) == []


def test_no_words_are_printed_over_one_another(pdf: Path) -> None:
    assert visual.overlapping_words(pdf) == []


def test_every_figure_and_table_follows_its_citation_in_its_question(
    pdf: Path, layout: visual.PdfLayout, rows: list[visual.Row]
) -> None:
    heads = visual.headings_at(pdf, layout.height)
    assert visual.misplaced_floats(rows, heads) == []


def test_every_figure_and_table_is_cited_in_the_text(
    rows: list[visual.Row],
) -> None:
    assert visual.unreferenced_floats(rows) == []


def test_check_summaries_are_said_once(text: str) -> None:
    """No question repeats a "N checks passed" line in print: the preface
    says once that every check passed, and the appendix lists each."""
    assert re.findall(r"\u2713|\d+ checks? passed", text) == []
    flat = " ".join(text.split())
    assert flat.count("so every check in this book passed") == 1


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
    """Nor with the bold title a folded block has in print."""
    headings = visual.source_headings(REPO)
    titles = visual.print_titles(REPO)
    assert len(headings) > 20 and "Derivation and checks" in titles
    assert visual.orphaned_headings(layout, headings + titles) == []


@pytest.fixture(scope="session")
def defective(
    tmp_path_factory: pytest.TempPathFactory, quarto_path: str
) -> Path:
    """tools/defects.typ compiled by Quarto's Typst."""
    quarto = quarto_path
    out = tmp_path_factory.mktemp("defects") / "defects.pdf"
    source = Path(visual.__file__).with_name("defects.typ")
    subprocess.run(
        [quarto, "typst", "compile", str(source), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def test_the_checks_find_each_defect(defective: Path, tmp_path: Path) -> None:
    pdf = visual.layout(defective)
    rows = visual.rows(pdf)
    box = visual.text_box(pdf)
    pngs = visual.render_pages(defective, tmp_path)
    found = "\n".join(
        visual.blank_pages(pngs, pdf, box)
        + visual.blank_space(pngs, pdf, box, ["First", "Alone"])
        + visual.overlapping_words(defective)
        + visual.broken_tables(rows, visual.structure(defective))
        + visual.misplaced_floats(
            rows, visual.headings_at(defective, pdf.height)
        )
        + visual.unreferenced_floats(rows)
        + visual.orphaned_headings(pdf, ["A title left at the foot"])
    )
    defects = (
        "page 2 is blank",
        "page 3: a blank stretch",
        "page 4: the last",
        "'Overlappingword' and 'next' overlap",
        "Table 1.1 continues on page 4 without its caption",
        "Table 1.1: 1 row(s) alone on page 4",
        "Table 1.1 breaks around a figure on page 4",
        "Figure 1.1 (page 1) comes before the first text that refers to it",
        "Figure 1.2 (page 1) lies past the heading on page 1",
        "Figure 1.3 (page 1) is never referred to",
        "Figure 1.4 (page 4) is never referred to",
        "Figure 2.5 (page 7) is set above the heading on page 7",
        "page 6 holds only '2 Alone'",
        "page 4 ends with heading 'A title left at the foot'",
    )
    assert [d for d in defects if d not in found] == []
    assert len(found.splitlines()) == len(defects)  # and nothing else
    # pdf_problems, which runs on any PDF, runs each check (the stranded
    # title aside: pdf_problems looks for the report's own headings)
    every = "\n".join(visual.pdf_problems(defective, REPO, pngs))
    assert [d for d in defects[:-1] if d not in every] == []


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


# --- reading: text layer, figure sizes, page numbers, breaks, contents ------


def test_text_layer_copies_as_printed(text: str) -> None:
    """No variation selector after a script letter, no icon font's
    private-use glyph, no soft hyphen: a formula or a sentence copied out
    reads as printed."""
    assert visual.uncopyable(text) == []


def test_figures_print_text_of_7pt_and_images_of_15mm(
    pdf: Path, smoke_built: Path
) -> None:
    assert visual.figure_sizes(pdf, smoke_built / "book") == []


def test_each_page_prints_its_number_once(layout: visual.PdfLayout) -> None:
    assert visual.page_numbers(layout) == []


def test_no_sentence_is_split_from_what_it_leads_into(
    layout: visual.PdfLayout,
) -> None:
    """No page ends with "..., i.e." or a colon, its equation or list on
    the next page."""
    assert visual.lead_ins(layout) == []


def test_running_heads_name_the_section_at_the_top_of_their_page(
    layout: visual.PdfLayout,
) -> None:
    assert visual.running_heads(layout) == []


def test_answer_boxes_lie_on_one_page(
    pngs: list[Path], layout: visual.PdfLayout
) -> None:
    assert visual.split_boxes(pngs, visual.text_box(layout)) == []


def test_contents_fill_the_page_after_the_title_page(
    layout: visual.PdfLayout,
) -> None:
    page2 = [visual.text_of(ln) for ln in layout.pages[1]]
    assert "Contents" in page2[0]
    assert sum(bool(visual.LEADER.search(t)) for t in page2) > 20
    assert visual.contents(layout, visual.text_box(layout)) == []


@pytest.fixture(scope="session")
def reading_defects(
    tmp_path_factory: pytest.TempPathFactory, quarto_path: str
) -> Path:
    """tools/defects_reading.typ compiled by Quarto's Typst."""
    out = tmp_path_factory.mktemp("defects") / "defects_reading.pdf"
    source = Path(visual.__file__).with_name("defects_reading.typ")
    subprocess.run(
        [quarto_path, "typst", "compile", str(source), str(out)],
        check=True,
        capture_output=True,
    )
    return out


def test_the_reading_checks_find_each_defect(
    reading_defects: Path, tmp_path: Path
) -> None:
    pdf = visual.layout(reading_defects)
    pngs = visual.render_pages(reading_defects, tmp_path)
    text = subprocess.run(
        ["pdftotext", "-layout", str(reading_defects), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = (
        visual.lead_ins(pdf)
        + visual.split_boxes(pngs, visual.text_box(pdf))
        + visual.page_numbers(pdf)
        + visual.uncopyable(text)
        + visual.running_heads(pdf)
    )
    defects = (
        "page 1 ends with 'The sum of the two steps is the whole step, i.e.'",
        "page 4: an answer box goes on from page 3",
        "page 5 prints its number 2 times",
        "U+FE00 after",
        "U+00AD after",
        "running head names section 1.1, its top is in section 1.2",
    )
    assert [d for d in defects if not any(d in f for f in found)] == []
    assert len(found) == len(defects)  # and nothing else
    every = "\n".join(visual.pdf_problems(reading_defects, REPO, pngs))
    assert [d for d in defects if d not in every] == []
