"""End to end: `make pdf PROFILE=smoke` on the real report, from a cold
build folder, with papermill and the embedded renderer, then checks that
a reader would make of each output."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from a2.build.sections import chapters

REPO = Path(__file__).resolve().parents[1]
BUILD = "build/test-smoke"  # apart from build/smoke, which users keep
STAND_IN = REPO.parent / "shared/data/cifar10-horse.npz"


def data_setting() -> str:
    """A local source when there is one: `make test` exports A2_DATA as
    `download` by default, and a test should not need the network."""
    chosen = os.environ.get("A2_DATA", "download")
    if chosen == "download" and STAND_IN.is_file():
        return str(STAND_IN)
    return chosen


@pytest.fixture(scope="module")
def dist() -> Path:
    shutil.rmtree(REPO / BUILD, ignore_errors=True)
    env = {**os.environ, "A2_EMBEDDED_RENDERER": "1"}
    env.pop("MAKEFLAGS", None)
    proc = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "pdf",
         "PROFILE=smoke", f"B={BUILD}", f"DATA={data_setting()}"],
        capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "embedded (pandoc + typst) renderer" in proc.stdout
    return REPO / BUILD / "dist"


def headings() -> list[str]:
    """The first heading of every section, as its source writes it."""
    out = []
    for s in chapters(REPO):
        if s.is_notebook:
            text = nbformat.read(s.source, 4).cells[0].source
        else:
            text = s.source.read_text()
        first = next(ln for ln in text.splitlines() if ln.startswith("# "))
        out.append(re.sub(r"\s*\{.*\}\s*$", "", first[2:]).strip())
    return out


def squash(text: str) -> str:
    return " ".join(text.split())


def test_pdf_has_every_section_heading(dist: Path) -> None:
    pdf = dist / "a2-writeup.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    for heading in headings():
        assert squash(heading) in squash(text), heading


def test_code_notebook_is_valid(dist: Path) -> None:
    nb = nbformat.read(dist / "a2-code.ipynb", 4)
    nbformat.validate(nb)
    assert any(c.source.startswith("%%a2module a2\n") for c in nb.cells)


class Resources(HTMLParser):
    """Every URL a page loads (not links a reader may follow)."""

    LOADS = {"img": "src", "script": "src", "iframe": "src",
             "source": "src", "video": "src", "audio": "src",
             "embed": "src", "object": "data"}

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "link":
            self.urls.append(attrs.get("href") or "")
        elif tag in self.LOADS:
            self.urls.append(attrs.get(self.LOADS[tag]) or "")
        style = attrs.get("style") or ""
        self.urls += re.findall(r"url\(([^)]*)\)", style)


def test_site_has_every_page_and_loads_nothing_remote(dist: Path) -> None:
    site = dist / "site"
    pages = ["index.html"] + [f"{s.stem}.html" for s in chapters(REPO)
                              if s.stem != "index"]
    for page in pages:
        parser = Resources()
        parser.feed((site / page).read_text())
        for url in parser.urls:
            assert not re.match(r"(https?:)?//", url), (page, url)
            assert (site / url).is_file(), (page, url)
    css = (site / "style.css").read_text()
    assert not re.search(r"https?://|@import", css)
    for name in ("a2-writeup.pdf", "a2-code.ipynb"):
        assert (site / name).is_file()


def test_code_notebook_runs_top_to_bottom_elsewhere(
        dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a folder without src/a2: the library comes from its cells."""
    import papermill

    nb = tmp_path / "a2-code.ipynb"
    shutil.copy(dist / "a2-code.ipynb", nb)
    monkeypatch.setenv("A2_DATA", data_setting())
    monkeypatch.setenv("A2_CACHE", str(tmp_path / "cache"))
    papermill.execute_notebook(str(nb), str(nb), kernel_name="a2",
                               cwd=str(tmp_path), progress_bar=False)
