"""Quarto and the embedded renderer make the same book: the two PDFs of
the smoke build carry the same question numbers, the same numbered
figure and table captions, the same source lines and equation numbers,
and neither doubles a number. Quarto missing: these are skipped, unless
A2_REQUIRE_QUARTO=1 (CI sets Quarto up and requires it)."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from test_pdf_layout import QUESTIONS


def text_of(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def squash(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.fixture(scope="module")
def texts(smoke_built: Path, quarto_dist: Path) -> dict[str, str]:
    return {
        "embedded": text_of(smoke_built / "dist-embedded/a2-writeup.pdf"),
        "quarto": text_of(quarto_dist / "a2-writeup.pdf"),
    }


def headings(text: str) -> set[str]:
    """Numbers that start a line followed by a title (headings and
    contents entries)."""
    return {
        m.group(1)
        for m in re.finditer(
            r"^[ \t]*(\d+(?:\.\d+)*|[A-Z](?:\.\d+)+)[ \t]+[A-Z]", text, re.M
        )
    }


def captions(text: str) -> Counter:
    """'Figure 4.1: First' for every numbered caption: its kind, number
    and first word (math in a caption extracts differently from each
    renderer's fonts)."""
    flat = squash(text)
    return Counter(
        f"{m.group(1)} {m.group(2)}: {m.group(3)}"
        for m in re.finditer(
            r"\b(Figure|Table) ([A-Z0-9]+\.\d+): "
            r"([A-Za-z]+)",
            flat,
        )
    )


def source_lines(text: str) -> Counter:
    flat = squash(text)
    flat = re.sub(r"(?<=[0-9a-f]-) (?=dirty)", "", flat)  # hyphenated
    return Counter(
        m.group(0)
        for m in re.finditer(
            r"Source: report/\S+\.qmd(?: · \S+)*?(?: · trained models "
            r"[0-9a-f, ]+)? · commit [0-9a-f]{7,}(?:-dirty)?",
            flat,
        )
    )


def equation_numbers(text: str) -> Counter:
    return Counter(
        re.findall(r"(?<!Equation )\(([A-Z0-9]+\.\d+)\)\s*$", text, re.M)
    )


def test_both_pdfs_number_every_question_as_the_handout(texts) -> None:
    for renderer, text in texts.items():
        missing = [q for q in QUESTIONS if q not in headings(text)]
        assert missing == [], renderer


def test_both_pdfs_have_the_same_numbered_captions(texts) -> None:
    embedded, quarto = (captions(texts[r]) for r in ("embedded", "quarto"))
    assert sum(embedded.values()) > 10
    assert embedded == quarto


def test_both_pdfs_have_the_same_source_lines(texts) -> None:
    embedded, quarto = (source_lines(texts[r]) for r in ("embedded", "quarto"))
    assert sum(embedded.values()) > 10
    assert embedded == quarto


def test_both_pdfs_number_the_same_equations(texts) -> None:
    embedded, quarto = (
        equation_numbers(texts[r]) for r in ("embedded", "quarto")
    )
    assert sum(embedded.values()) > 5
    assert embedded == quarto


@pytest.mark.parametrize("renderer", ["embedded", "quarto"])
def test_no_number_is_doubled(texts, renderer: str) -> None:
    """Neither "1. 1 Optimization" nor "1.0.1 1.1.1"."""
    text = texts[renderer]
    doubled = re.findall(
        r"^[ \t]*(\d+(?:\.\d+)*\.?[ \t]+\d+(?:\.\d+)*"
        r"[ \t]+[A-Z][a-z]+)",
        text,
        re.M,
    )
    assert doubled == []
    assert not re.search(r"^[ \t]*\d+\.0\.\d+[ \t]", text, re.M)
