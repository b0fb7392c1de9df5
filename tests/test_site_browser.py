"""The HTML site in a real browser: Debian's chromium, headless, driven by
Playwright, loads every page of the smoke build served on 127.0.0.1.
Screenshots go to build/test-smoke*/build/smoke/visual/html (conftest.py)
for a person to look at.

Chromium missing is a failure, never a skip (CI installs it: .ci/run)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tools import visual

from a2.pipeline.sections import chapters

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def pages(smoke_dist: Path) -> list[visual.PageReport]:
    if visual.browser_path() is None:
        pytest.fail(
            "no chromium on PATH nor from Playwright: the site cannot "
            "be checked (apt-get install chromium)"
        )
    return visual.browse(
        smoke_dist / "site",
        smoke_dist.parent / "visual" / smoke_dist.name / "html",
    )


@pytest.fixture(scope="session")
def phone(smoke_dist: Path) -> list[visual.PageReport]:
    """The same pages in a 400 px wide window."""
    return visual.browse(
        smoke_dist / "site",
        smoke_dist.parent / "visual" / smoke_dist.name / "html-400",
        width=400,
    )


def problems(pages: list[visual.PageReport], pattern: str) -> list[str]:
    return [
        f"{r.page}: {p}"
        for r in pages
        for p in r.problems
        if re.match(pattern, p)
    ]


def test_every_section_page_and_the_index_are_visited(
    pages: list[visual.PageReport],
) -> None:
    visited = {r.page for r in pages}
    for s in chapters(REPO):
        assert (
            "index.html" if s.stem == "index" else f"{s.stem}.html"
        ) in visited
    assert "index.html" in visited


def test_pages_load_only_from_loopback_and_every_request_succeeds(
    pages: list[visual.PageReport],
) -> None:
    assert problems(pages, r"request|HTTP") == []


def test_pages_log_no_console_error(pages: list[visual.PageReport]) -> None:
    assert problems(pages, r"console|page error") == []


def test_every_image_loads_and_has_alt_text(
    pages: list[visual.PageReport],
) -> None:
    assert problems(pages, r"broken image|image without alt") == []


def test_math_is_rendered_with_a_visible_size(
    pages: list[visual.PageReport],
) -> None:
    assert sum(r.math for r in pages) > 0  # the sections do have math
    assert problems(pages, r"math") == []


def test_every_page_is_screenshotted(pages: list[visual.PageReport]) -> None:
    for r in pages:
        assert r.screenshot.stat().st_size > 1000, r.page


def test_search_box_finds_a_question_by_its_words(smoke_dist: Path) -> None:
    hits = visual.search(smoke_dist / "site", "ConvTransposeNet")
    assert any(
        re.search(r"/5-transposed\.html(\?[^#]*)?#", h) for h in hits
    ), hits
    assert visual.search(smoke_dist / "site", "zzqqxx") == []


def test_navigation_numbers_each_entry_once(
    pages: list[visual.PageReport],
) -> None:
    assert problems(pages, r"navigation") == []


def test_a_phone_sees_the_content_first_and_nothing_cut_off(
    phone: list[visual.PageReport],
) -> None:
    assert problems(phone, r"content starts|page is \d+ px wide") == []
    assert problems(phone, r"request|HTTP|console|page error") == []
