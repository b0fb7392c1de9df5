"""End to end: `make pdf PROFILE=smoke` on the real report, from a cold
build folder, executed by papermill and rendered by Quarto, then checks
that a reader would make of each output."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import nbformat
import pytest

from a2.pipeline.sections import chapters

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def dist(smoke_dist: Path) -> Path:
    """The smoke build's outputs (built once per session, conftest.py)."""
    return smoke_dist


def headings() -> list[str]:
    """The first heading of every section, as its source writes it."""
    out = []
    for s in chapters(REPO):
        text = s.source.read_text()
        first = next(ln for ln in text.splitlines() if ln.startswith("# "))
        out.append(re.sub(r"\s*\{.*\}\s*$", "", first[2:]).strip())
    return out


def squash(text: str) -> str:
    return " ".join(text.split())


def test_pdf_has_every_section_heading(dist: Path) -> None:
    pdf = dist / "a2-writeup.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for heading in headings():
        assert squash(heading) in squash(text), heading


def test_the_book_builds_from_a_path_with_a_space_a_quote_and_an_accent(
    smoke_built: Path, dist: Path
) -> None:
    """The smoke book (conftest.py) is built by `make pdf PROFILE=smoke`
    in a copy of the sources at such a path; no page of the site shows
    that path, whole or as the shell or a URL would quote it."""
    clone = smoke_built.parents[1]
    name = clone.name
    assert " " in name and "'" in name and not name.isascii(), clone
    assert (dist / "a2-writeup.pdf").read_bytes().startswith(b"%PDF")
    shown = {str(clone), quote(str(clone)), str(clone).replace("'", "&#39;")}
    for page in (dist / "site").rglob("*.html"):
        html = page.read_text()
        assert not [s for s in shown if s in html], page


def test_code_notebook_is_valid(dist: Path) -> None:
    nb = nbformat.read(dist / "a2-code.ipynb", 4)
    nbformat.validate(nb)
    assert any(
        c.source.startswith("%%a2module a2 package\n") for c in nb.cells
    )


class Resources(HTMLParser):
    """Every URL a page loads (not links a reader may follow)."""

    LOADS = {
        "img": "src",
        "script": "src",
        "iframe": "src",
        "source": "src",
        "video": "src",
        "audio": "src",
        "embed": "src",
        "object": "data",
    }

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "link" and attrs.get("href") is not None:
            self.urls.append(attrs["href"])
        elif tag in self.LOADS and attrs.get(self.LOADS[tag]) is not None:
            self.urls.append(attrs[self.LOADS[tag]])  # not inline code
        style = attrs.get("style") or ""
        self.urls += re.findall(r"url\(([^)]*)\)", style)


def test_site_has_every_page_and_loads_nothing_remote(dist: Path) -> None:
    site = dist / "site"
    pages = ["index.html"] + [
        f"{s.stem}.html" for s in chapters(REPO) if s.stem != "index"
    ]
    for page in pages:
        parser = Resources()
        parser.feed((site / page).read_text())
        for url in parser.urls:
            if url.startswith("data:"):  # inline, e.g. the empty favicon
                continue
            assert not re.match(r"(https?:)?//", url), (page, url)
            assert (site / url).is_file(), (page, url)
    for css in site.rglob("*.css"):  # no web fonts, no remote imports
        text = css.read_text()
        assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", text), css
    for name in ("a2-writeup.pdf", "a2-code.ipynb"):
        assert (site / name).is_file()


# Cells the test adds around the code notebook: the first hides the
# installed package (the venv's .pth puts src/ on sys.path), the last
# checks that every a2 module came from a cell, not from a file.
HIDE_SRC = """\
import importlib, importlib.util, sys
from pathlib import Path
sys.path[:] = [p for p in sys.path if not (Path(p or ".") / "a2").is_dir()]
importlib.invalidate_caches()
assert importlib.util.find_spec("a2") is None, "a2 importable from files"
"""
FROM_CELLS = """\
import sys
from pathlib import Path
mods = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "a2"}
assert len(mods) > 5, sorted(mods)
assert all(not Path(m.__file__).exists() for m in mods.values()), mods
assert all(Path(m.__file__).is_relative_to(Path.cwd())
           for m in mods.values()), mods
"""


def table_rows(cell: dict) -> list[list[str]]:
    """The cells of the pipe table a notebook cell shows, as text."""
    (text,) = [
        "".join(o["data"]["text/markdown"])
        for o in cell["outputs"]
        if "text/markdown" in o.get("data", {})
    ]
    rows = [ln.strip().strip("|") for ln in text.splitlines()[2:]]
    unescape = re.compile(r"\\(.)")
    return [
        [
            unescape.sub(r"\1", c).replace("`", "").strip()
            for c in r.split(" | ")
        ]
        for r in rows
    ]


def appendix_tables(nb: dict) -> dict[str, list[list[str]]]:
    """{label: rows} of the appendix's tables in an executed notebook."""
    out = {}
    for cell in nb["cells"]:
        label = re.search(r"^#\| label: (tbl-\S+)", "".join(cell["source"]))
        if cell["cell_type"] == "code" and label:
            out[label[1]] = cell
    return {k: table_rows(c) for k, c in out.items() if c.get("outputs")}


def test_code_notebook_runs_top_to_bottom_without_the_repository(
    dist: Path,
    smoke_built: Path,
    smoke_data: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In an empty folder, with src/a2 hidden from sys.path: the library
    comes from the notebook's own cells, and the appendix lists what the
    sections did in that kernel: the build's checks and runs, section by
    section, and no commit (no git checkout there)."""
    import papermill

    nb = nbformat.read(dist / "a2-code.ipynb", 4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(HIDE_SRC))
    nb.cells.append(nbformat.v4.new_code_cell(FROM_CELLS))
    path = tmp_path / "a2-code.ipynb"
    nbformat.write(nb, path)
    monkeypatch.setenv("A2_DATA", smoke_data)
    from a2.config import environment

    # The smoke build's cache: its runs load (keys are the library's
    # source, the same from the notebook's cells), nothing is retrained.
    monkeypatch.setenv("A2_CACHE", str(environment.cache_dir()))
    monkeypatch.delenv("A2_PROVENANCE", raising=False)
    papermill.execute_notebook(
        str(path),
        str(path),
        kernel_name="a2",
        cwd=str(tmp_path),
        progress_bar=False,
    )
    assert not (tmp_path / "src").exists()
    tables = appendix_tables(json.loads(path.read_text()))
    built = {
        p.stem: json.loads(p.read_text())
        for p in sorted((smoke_built / "provenance").glob("[!.]*.json"))
        if p.stem != "6-reproducibility"  # the appendix: listed by none
    }
    rows = tables["tbl-sections"]
    assert [r[0] for r in rows] == list(built), rows
    for row, record in zip(rows, built.values()):
        n = len(record["checks"])
        assert row[2] == "not a git checkout"
        assert row[4:] == [str(len(record["runs"])), f"{n} of {n}"], row
    for number, record in enumerate(built.values(), start=1):
        names = [r[0] for r in tables[f"tbl-checks-{number}"]]
        assert names == [c["name"] for c in record["checks"]], number
    keys = [r[0].split()[-1] for r in tables["tbl-runs"]]
    assert keys == list(
        dict.fromkeys(k for r in built.values() for k in r["runs"])
    )


def test_every_source_link_opens_the_cell_that_made_it(dist: Path) -> None:
    """A figure's or table's source line links to its section's executed
    notebook as a page of the site, at the cell that made it, with the
    .ipynb beside it; every such link is followed."""
    site = dist / "site"
    links = {
        href
        for page in site.glob("*.html")
        for href in re.findall(r'href="(notebooks/[^"]+)"', page.read_text())
    }
    views = {h for h in links if ".html#" in h}
    assert len(views) >= 10, sorted(links)
    for href in links:
        path, _, anchor = href.partition("#")
        target = site / path
        assert target.is_file(), href
        if anchor:
            assert f'id="{anchor}"' in target.read_text(), href
    for stem in {h.split("/")[1].split(".")[0] for h in views}:
        page = (site / f"notebooks/{stem}.html").read_text()
        assert f'href="{stem}.ipynb"' in page  # the download beside it
        nbformat.validate(nbformat.read(site / f"notebooks/{stem}.ipynb", 4))
        assert 'class="sourceCode' in page  # the code is shown
