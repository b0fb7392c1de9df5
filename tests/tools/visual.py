"""Look at the outputs the way a reader would.

HTML: every page of the site, served on 127.0.0.1, loaded in Debian's
chromium (headless, driven by Playwright): failed or non-loopback
requests, console errors, broken images and unrendered math are problems;
each page is screenshotted. PDF: pdftoppm renders every page; the word
boxes of ``pdftotext -bbox-layout`` and the rendered margins must stay
inside the page's margins; no page is blank or leaves a hole of more than
a third of itself (but the page before a chapter); no words overlap; a
table that breaks keeps a caption line and 3 rows (2 of a short table)
on each page; every figure and table is cited, and set after its first
citation and before the next heading; no heading ends a page, nor a line
that leads into what follows (": ", "i.e."); an answer box lies on one
page; each page prints its number once; the contents fill the page after
the title page; the text layer holds no variation selectors or
private-use characters (a formula copied out comes out as printed).

    python tests/tools/visual.py PROFILE     # build/PROFILE/visual/
    python tests/tools/visual.py --pdf FILE  # the PDF checks on any PDF
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from xml.etree import ElementTree

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# No network, no background services: the site must load from loopback.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = ("127.0.0.1", "localhost")
REPO = Path(__file__).resolve().parents[2]


def browser_path() -> str | None:
    """A Chromium on PATH, else the one Playwright installed; None if
    neither is there."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            path = pw.chromium.executable_path
    except Exception:  # playwright missing or never installed a browser
        return None
    return path if Path(path).is_file() else None


def _launch(pw):  # noqa: ANN001, ANN202 (Playwright objects)
    path = browser_path()
    if path is None:
        raise FileNotFoundError(
            f"no browser: none of {', '.join(BROWSERS)} on PATH and none "
            f"installed by Playwright (apt-get install chromium)"
        )
    return pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


# --- HTML ------------------------------------------------------------------


@dataclass
class PageReport:
    page: str
    screenshot: Path
    problems: list[str] = field(default_factory=list)
    math: int = 0  # math elements seen (each one checked for a size)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve folder on a free loopback port; yields the base URL."""
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def site_pages(site: Path) -> list[str]:
    """index.html first, then every other page of the site."""
    others = sorted(
        p.name for p in site.glob("*.html") if p.name != "index.html"
    )
    return ["index.html"] + others


# Before anything is unfolded: where the content (main) starts (narrow
# screens: navigation must not push the content far down) and whether
# the page is wider than the window (something cut off at the side).
_LAYOUT_CHECK = """() => {
  const h = document.querySelector('main') || document.body;
  return {top: h ? h.getBoundingClientRect().top + window.scrollY : 0,
          page: document.documentElement.scrollWidth,
          view: window.innerWidth};
}"""
NARROW = 500  # px: a phone
FIRST_HEADING_MAX = 450  # px from the top on a phone

# Quarto's collapsed callouts open, so that what they hold is checked
# and shown.
_UNFOLD = """() => {
  document.querySelectorAll('.callout-collapse.collapse')
    .forEach(e => e.classList.add('show'));
}"""

# Sizes of what should be visible: math, and images that did not load.
_PAGE_CHECK = r"""() => ({
  math: Array.from(document.querySelectorAll('math')).map(m => {
    const r = m.getBoundingClientRect();
    return [r.width, r.height, m.textContent.trim().slice(0, 40)];
  }),
  broken: Array.from(document.images)
    .filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute('src')),
  // navigation entries whose text carries two numbers ("2. 1 Optimization")
  nav: Array.from(document.querySelectorAll(
      'nav a, .sidebar a, #quarto-sidebar a'))
    .map(a => a.innerText.replace(/\s+/g, ' ').trim())
    .filter(t => /^\d+\.?\s+\d+(\.\d+)*\s/.test(t)),
  noalt: Array.from(document.images)
    .filter(i => !(i.getAttribute('alt') || '').trim())
    .map(i => i.getAttribute('src')),
})"""


def browse(site: Path, out: Path, width: int = 1280) -> list[PageReport]:
    """Load every page of site in chromium; screenshots go to out."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    reports = []
    with serve(site) as base, sync_playwright() as pw:
        browser = _launch(pw)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": 900}
            )
            for page_name in site_pages(site):
                shot = out / (Path(page_name).stem + ".png")
                report = PageReport(page_name, shot)
                _visit(context, base + page_name, report)
                reports.append(report)
        finally:
            browser.close()
    return reports


def search(site: Path, query: str) -> list[str]:
    """The links Quarto's search box lists for query (index page)."""
    from playwright.sync_api import sync_playwright

    box, hits = "#quarto-search .aa-Input", ".aa-Item a"
    with serve(site) as base, sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page()
            page.goto(base + "index.html")
            page.wait_for_load_state("networkidle")
            page.fill(box, query)
            page.wait_for_timeout(1000)  # Quarto searches asynchronously
            return page.eval_on_selector_all(hits, "as => as.map(a => a.href)")
        finally:
            browser.close()


def _visit(context, url: str, report: PageReport) -> None:  # noqa: ANN001
    problems = report.problems
    page = context.new_page()

    def on_request(request) -> None:  # noqa: ANN001
        host = urlparse(request.url).hostname
        if request.url.startswith("http") and host not in LOOPBACK:
            problems.append(f"request leaves loopback: {request.url}")

    def on_response(response) -> None:  # noqa: ANN001
        if response.status >= 400:
            problems.append(f"HTTP {response.status}: {response.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on(
        "requestfailed",
        lambda r: problems.append(f"request failed: {r.url} ({r.failure})"),
    )
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    box = page.evaluate(_LAYOUT_CHECK)
    if box["page"] > box["view"] + 1:
        problems.append(
            f"page is {box['page']} px wide in a "
            f"{box['view']} px window: content cut off"
        )
    if box["view"] <= NARROW and box["top"] > FIRST_HEADING_MAX:
        problems.append(
            f"content starts {box['top']:.0f} px down on a "
            f"{box['view']} px screen"
        )
    page.evaluate(_UNFOLD)
    seen = page.evaluate(_PAGE_CHECK)
    report.math = len(seen["math"])
    for w, h, text in seen["math"]:
        if w <= 0 or h <= 0:
            problems.append(f"math not rendered (size {w}x{h}): {text}")
    problems += [f"broken image: {src}" for src in seen["broken"]]
    problems += [f"image without alt text: {src}" for src in seen["noalt"]]
    problems += [f"navigation entry numbered twice: {t}" for t in seen["nav"]]
    page.screenshot(path=str(report.screenshot), full_page=True)
    page.close()


# --- PDF -------------------------------------------------------------------


@dataclass
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@dataclass
class PdfLayout:
    width: float
    height: float
    pages: list[list[list[Word]]]  # page -> lines -> words


_NS = {"h": "http://www.w3.org/1999/xhtml"}


def _pdftotext_pages(pdf: Path, *mode: str) -> list[ElementTree.Element]:
    xhtml = subprocess.run(
        ["pdftotext", *mode, str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    xhtml = re.sub(r"<!DOCTYPE[^>]*>", "", xhtml)
    return ElementTree.fromstring(xhtml).findall(".//h:page", _NS)


def _words(page: int, parent: ElementTree.Element) -> list[Word]:
    return [
        Word(
            page,
            *(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")),
            w.text or "",
        )
        for w in parent.iterfind("h:word", _NS)
    ]


def layout(pdf: Path) -> PdfLayout:
    """Word boxes by line from ``pdftotext -bbox-layout``."""
    pages, width, height = [], 0.0, 0.0
    for i, page in enumerate(_pdftotext_pages(pdf, "-bbox-layout")):
        width, height = float(page.get("width")), float(page.get("height"))
        lines = [_words(i + 1, ln) for ln in page.iterfind(".//h:line", _NS)]
        pages.append([ln for ln in lines if ln])
    return PdfLayout(width, height, pages)


def text_of(line: list[Word]) -> str:
    return " ".join(w.text for w in line)


def _is_page_number(line: list[Word]) -> bool:
    return len(line) == 1 and line[0].text.isdigit()


# pdftotext's word boxes are a little larger than the ink: justified
# lines end up to 2pt past the margin, line boxes start 4pt above it.
TOL_X, TOL_Y = 4.0, 6.0


@dataclass(frozen=True)
class Box:
    """The text area of a PDF's pages, in points."""

    x0: float
    y0: float
    x1: float
    y1: float


def text_box(pdf: PdfLayout) -> Box:
    """Where the body text lies, read off the pages themselves (each
    renderer's template has its own margins): the common left and right
    edges of the lines, and the top and bottom of the body lines."""
    import numpy as np

    lines = [
        ln
        for page in pdf.pages
        for ln in page
        if not _is_page_number(ln) and len(ln) > 3
    ]
    if not lines:
        return Box(0, 0, pdf.width, pdf.height)
    left = np.array([ln[0].x0 for ln in lines])
    right = np.array([ln[-1].x1 for ln in lines])
    top = np.array([min(w.y0 for w in ln) for ln in lines])
    bottom = np.array([max(w.y1 for w in ln) for ln in lines])
    return Box(
        float(np.percentile(left, 5)),
        float(np.percentile(top, 1)),
        float(np.percentile(right, 95)),
        float(np.percentile(bottom, 99.5)),
    )


OUTDENT = 45.0  # points: a template may hang heading numbers left


def overflowing_words(pdf: PdfLayout, box: Box | None = None) -> list[str]:
    """Words outside the text area: right of it, or left of it by more
    than a hanging heading number; the title page is exempt."""
    box = box or text_box(pdf)
    lo_x, hi_x = box.x0 - OUTDENT, box.x1 + TOL_X
    out = []
    for lines in pdf.pages[1:]:
        for line in lines:
            for w in line:
                if w.x0 < lo_x or w.x1 > hi_x or w.y0 < 0 or w.y1 > pdf.height:
                    out.append(
                        f"page {w.page}: '{text_of(line)[:60]}' "
                        f"at x {w.x0:.0f}-{w.x1:.0f}, "
                        f"y {w.y0:.0f}-{w.y1:.0f}"
                    )
                    break
    return out


def chapter_pages(pdf: PdfLayout, titles: list[str]) -> set[int]:
    """0-based pages that open a chapter (their first lines hold a
    chapter's title), and the front matter before the first chapter."""
    heads = [_squash(t) for t in titles if t.strip()]
    opening = set()
    for i, lines in enumerate(pdf.pages):
        head = _squash(" ".join(text_of(ln) for ln in lines[:4]))
        if any(h in head for h in heads):
            opening.add(i)
    first = min(opening, default=0)
    return opening | set(range(first))


def _squash(text: str) -> str:
    return " ".join(text.split())


def orphaned_headings(pdf: PdfLayout, headings: list[str]) -> list[str]:
    """Pages whose last line is a heading (or a heading's first line)."""
    heads = [_squash(h) for h in headings if h.strip()]
    out = []
    for i, lines in enumerate(pdf.pages):
        body = [ln for ln in lines if not _is_page_number(ln)]
        if not body or i + 1 == len(pdf.pages):
            continue
        last = _squash(text_of(body[-1]))
        for h in heads:
            first_word = h.split()[0]
            if last == h or (
                last.startswith(first_word + " ")
                and h.startswith(last)
                and re.match(r"\d", first_word)
            ):
                out.append(f"page {i + 1} ends with heading '{h}'")
    return out


def render_pages(pdf: Path, out: Path, dpi: int = 50) -> list[Path]:
    """Every page as out/page-NN.png (what a reader sees)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-png", str(pdf), str(out / "page")],
        check=True,
        capture_output=True,
    )
    return sorted(out.glob("page-*.png"))


def inked_margins(
    pngs: list[Path], box: Box, skip: set[int] = frozenset(), dpi: int = 50
) -> list[str]:
    """Pages with ink left or right of the text area: a figure, table,
    equation or code block too wide for the page. Pages in ``skip``
    (chapter openings, front matter) carry the template's decorations."""
    import numpy as np
    from PIL import Image

    scale = dpi / 72
    out = []
    for i, png in enumerate(pngs):
        if i in skip:
            continue
        a = np.asarray(Image.open(png).convert("L")) < 200
        w = a.shape[1]
        left = int((box.x0 - OUTDENT) * scale)
        right = int((box.x1 + 2 * TOL_X) * scale)
        for side, strip in (
            ("left", a[:, : max(left, 0)]),
            ("right", a[:, min(right, w) :]),
        ):
            if strip.any():
                out.append(f"{png.name}: ink in the {side} margin")
    return out


def blank_space(
    pngs: list[Path],
    pdf: PdfLayout,
    box: Box,
    chapter_titles: list[str],
    dpi: int = 50,
    most: float = 1 / 3,
) -> list[str]:
    """Pages with a blank stretch of more than ``most`` of the page's
    height inside the text area, where a float or a break left a hole.
    Only the page before a chapter may end early; the title page and
    blank or one-line pages (see blank_pages) are left out."""
    titles = [_squash(t) for t in chapter_titles]

    def starts_chapter(i: int) -> bool:
        """The next page with text opens a chapter (or there is none)."""
        while i < len(pdf.pages) and not _body(pdf.pages[i]):
            i += 1
        if i >= len(pdf.pages):
            return True
        head = _squash(" ".join(text_of(ln) for ln in pdf.pages[i][:4]))
        return any(t and t in head for t in titles)

    out = []
    height = int(box.y1 * dpi / 72) - int(box.y0 * dpi / 72)
    for i, png in enumerate(pngs):
        inked = _inked_rows(png, box, dpi)
        if i == 0 or len(_body(pdf.pages[i])) <= 1:
            continue
        gaps = inked[1:] - inked[:-1]
        inner = int(gaps.max()) if gaps.size else 0
        end = height - 1 - int(inked[-1])
        if inner > most * height:
            out.append(
                f"page {i + 1}: a blank stretch of "
                f"{inner / height:.0%} of the page"
            )
        elif end > most * height and not starts_chapter(i + 1):
            out.append(
                f"page {i + 1}: the last {end / height:.0%} of the "
                f"page is blank, and the next page goes on"
            )
    return out


def blank_pages(
    pngs: list[Path], pdf: PdfLayout, box: Box, dpi: int = 50
) -> list[str]:
    """Pages with nothing on them but a page number (the title page's
    back, a book's filler before a chapter on an odd page), or with one
    line of text and no figure (a part's title page, a paragraph's last
    line pushed over)."""
    height = (box.y1 - box.y0) * dpi / 72
    out = []
    for i, png in enumerate(pngs[1:], 1):
        body, inked = _body(pdf.pages[i]), _inked_rows(png, box, dpi)
        if not body and not inked.size:
            out.append(f"page {i + 1} is blank")
        elif len(body) == 1 and inked[-1] - inked[0] < 0.1 * height:
            out.append(f"page {i + 1} holds only '{text_of(body[0])}'")
    return out


def _body(lines: list[list[Word]]) -> list[list[Word]]:
    return [ln for ln in lines if not _is_page_number(ln)]


def _inked_rows(png: Path, box: Box, dpi: int):  # noqa: ANN202 (ndarray)
    """Indices of the pixel rows of the text area that carry ink."""
    import numpy as np
    from PIL import Image

    scale = dpi / 72
    a = np.asarray(Image.open(png).convert("L")) < 200
    y0, y1 = int(box.y0 * scale), int(box.y1 * scale)
    area = a[y0:y1, int(box.x0 * scale) : int(box.x1 * scale)]
    return np.flatnonzero(area.any(1))


# --- PDF: floats, tables and overlaps ---------------------------------------
# What a reader sees, located on the page: `pdftotext` says where each word
# is, the PDF's structure tree (`pdfinfo -struct`; Typst tags every PDF)
# how many rows each table has, `pdfinfo -dests` where each heading starts.


@dataclass(frozen=True)
class Row:
    """The words at one height of one page, left to right."""

    page: int
    y0: float
    y1: float
    text: str

    @property
    def at(self) -> tuple[int, float]:
        return (self.page, self.y0)


def rows(pdf: PdfLayout) -> list[Row]:
    """Every page's words gathered into visual rows, top to bottom (the
    cells of a table row are one row, whatever pdftotext's blocks),
    without the page's furniture: its number and its running head (a
    first row that starts or ends with the page number)."""
    out = []
    for n, page in enumerate(pdf.pages, 1):
        words = sorted((w for ln in page for w in ln), key=_middle)
        found: list[Row] = []
        group: list[Word] = []
        for w in [*words, None]:
            if group and (w is None or _middle(w) - _middle(group[0]) > 3):
                group.sort(key=lambda w: w.x0)
                found.append(
                    Row(
                        n,
                        min(w.y0 for w in group),
                        max(w.y1 for w in group),
                        " ".join(w.text for w in group),
                    )
                )
                group = []
            if w is not None:
                group.append(w)
        if found and re.match(rf"{n}\s|.*\s{n}$", found[0].text):
            found.pop(0)
        out += [r for r in found if r.text != str(n)]
    return out


def _middle(w: Word) -> float:
    return (w.y0 + w.y1) / 2


@dataclass
class Tag:
    """A node of the PDF's structure tree (its type and children)."""

    name: str
    children: list[Tag] = field(default_factory=list)

    def find(self, name: str) -> Iterator[Tag]:
        for c in self.children:
            if c.name == name:
                yield c
            yield from c.find(name)


def structure(pdf: Path) -> Tag:
    """The structure tree of a tagged PDF (Typst tags every PDF), from
    ``pdfinfo -struct``; an empty Document for an untagged one."""
    out = subprocess.run(  # (pdfinfo's warnings on stderr are harmless)
        ["pdfinfo", "-struct", str(pdf)], capture_output=True
    ).stdout.decode("utf-8", "replace")
    root = Tag("Document")
    stack: list[tuple[int, Tag]] = [(-1, root)]
    for line in out.splitlines():
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        if not indent or not body[:1].isalpha() or body.startswith("Object "):
            continue  # the root, attributes, annotations
        while stack[-1][0] >= indent:
            stack.pop()
        tag = Tag(re.split(r"[\s:]", body, maxsplit=1)[0])
        stack[-1][1].children.append(tag)
        stack.append((indent, tag))
    return root


FLOAT = r"(Figure|Table)\s+((?:[A-Z]|\d+)\.\d+)"


def _number(label: str) -> tuple:
    """Sort key of "Table 2.1", "Table A.5": chapters, then appendices."""
    chapter, n = label.split()[1].split(".")
    return (chapter.isalpha(), chapter.rjust(4), int(n))


@dataclass(frozen=True)
class TableShape:
    header: bool  # a header row, repeated on every page the table spans
    rows: int  # body rows


def _captioned_tables(tag: Tag, captioned: bool = False) -> Iterator[Tag]:
    """The innermost tables that have a caption: in the table itself, in
    a table around it (a figure tagged as a table), or just before it or
    before a block around it."""
    before = None
    for c in tag.children:
        mine = (
            captioned
            or getattr(before, "name", "") == "Caption"
            or (
                c.name == "Table"
                and any(k.name == "Caption" for k in c.children)
            )
        )
        if c.name == "Table" and not next(c.find("Table"), None):
            if mine:
                yield c
        else:
            yield from _captioned_tables(c, mine)
        before = c


def table_shapes(doc: Tag, labels: list[str]) -> dict[str, TableShape]:
    """Each numbered table's header and number of body rows, by label:
    the structure tree lists the captioned tables in the order of their
    numbers (an empty dict if their count is not that of the labels)."""
    shapes = []
    for t in _captioned_tables(doc):
        head = [tr for h in t.find("THead") for tr in h.find("TR")]
        # a header row of one cell spanning the table is a title line
        columns = [tr for tr in head if len(tr.children) > 1]
        rows = len(list(t.find("TR"))) - len(head)
        shapes.append(TableShape(bool(columns), rows))
    tables = sorted((x for x in labels if x.startswith("Table")), key=_number)
    return dict(zip(tables, shapes)) if len(tables) == len(shapes) else {}


def captions(found: list[Row]) -> dict[str, Row]:
    """Where each numbered figure or table has its caption ("Figure
    2.1: ..."), by label."""
    out: dict[str, Row] = {}
    for row in found:
        for m in re.finditer(FLOAT + r":", row.text):
            out.setdefault(f"{m.group(1)} {m.group(2)}", row)
    return out


def references(found: list[Row]) -> dict[str, list[Row]]:
    """Rows that mention a figure or table (not its caption, not a
    table's "(continued)" line), by label, in reading order."""
    out: dict[str, list[Row]] = {}
    for row in found:
        for m in re.finditer(FLOAT + r"(?![\d:]|\s*\(continued)", row.text):
            out.setdefault(f"{m.group(1)} {m.group(2)}", []).append(row)
    return out


def headings_at(pdf: Path, height: float) -> list[tuple[int, float]]:
    """Where every heading starts (page, y from the top): Typst gives
    each heading a named destination."""
    out = subprocess.run(
        ["pdfinfo", "-dests", str(pdf)], capture_output=True, text=True
    ).stdout
    return sorted(
        (int(m.group(1)), height - float(m.group(2)))
        for m in re.finditer(
            r"^\s*(\d+)\s+\[\s*XYZ\s+\S+\s+([\d.]+)[^\]]*\]\s+\"(.*)\"$",
            out,
            re.M,
        )
        if not re.match(r"(fig|tbl|eq|lst)-", m.group(3))
    )


def unreferenced_floats(found: list[Row]) -> list[str]:
    """Figures and tables that no text refers to."""
    refs = references(found)
    return [
        f"{label} (page {cap.page}) is never referred to in the text"
        for label, cap in captions(found).items()
        if label not in refs
    ]


def misplaced_floats(
    found: list[Row], heads: list[tuple[int, float]]
) -> list[str]:
    """Figures and tables that come before the first text that refers to
    them, or that lie past the next heading after the last text before
    them that does (in another question). A question may point ahead to
    another chapter's table (Section 5 to the appendix's): the table
    keeps its place when its own question refers to it. A float atop the
    page whose text refers to it is in place, as in any book, unless a
    heading lies between it and that text. A figure's
    image lies above its caption and holds no text, so "before" compares
    with the caption."""
    refs = references(found)
    out = []
    for label, cap in captions(found).items():
        if label not in refs:
            continue
        where = f"{label} (page {cap.page})"
        before = [r for r in refs[label] if r.at < cap.at]
        # A float set atop the page that refers to it, as books set one:
        # no text above it there.
        atop = any(r.page == cap.page for r in refs[label]) and not any(
            r.page == cap.page and r.at < cap.at for r in found
        )
        if not before and atop:
            # ... unless it sits above its own question's heading there.
            over = [h for h in heads if cap.at < h < refs[label][0].at]
            if over:
                out.append(
                    f"{where} is set above the heading on page "
                    f"{over[0][0]} of the question that refers to it"
                )
            continue
        if not before:
            out.append(
                f"{where} comes before the first text that refers to it "
                f"(page {refs[label][0].page})"
            )
            continue
        past = [h for h in heads if before[-1].at < h < cap.at]
        if past:
            out.append(
                f"{where} lies past the heading on page {past[0][0]}, in "
                f"another question than the text that refers to it (page "
                f"{before[-1].page})"
            )
    return out


# Rows of a broken table on either side of a page break: three, or half
# of a table of four or five rows, but never one.
MIN_ROWS = 3


def _least_rows(rows: int) -> int:
    return max(2, min(MIN_ROWS, rows // 2))


ROW_GAP = 3.0  # points: more between two lines of a table starts a row


def table_parts(
    found: list[Row], cap: int, shape: TableShape
) -> list[list[Row]]:
    """Where a table's body rows lie: per page, the first line of each
    row. The table starts after its caption (found[cap] and the lines
    that follow it closely) and its header row; a row starts wherever
    the gap to the line above exceeds ROW_GAP. On a new page the table
    goes on after its repeated header, or (without one) after the
    "(continued)" line."""
    i = cap + 1
    while i < len(found) and _gap(found[i - 1], found[i]) < ROW_GAP:
        i += 1  # the caption's lines and its source line
    if i >= len(found):
        return []
    header = found[i].text if shape.header else None
    parts: list[list[Row]] = [[]]
    if header is None:
        parts[0].append(found[i])
    i += 1
    while i < len(found) and sum(map(len, parts)) < shape.rows:
        row, above = found[i], found[i - 1]
        if row.page != above.page:
            j = _goes_on(found, i, header)
            if j is None:
                break  # the table ended with the page
            parts.append([] if header else [found[j]])
            i = j + 1
        elif _gap(above, row) >= ROW_GAP:
            parts[-1].append(row)
            i += 1
        else:
            i += 1
    return [p for p in parts if p]


def _goes_on(found: list[Row], i: int, header: str | None) -> int | None:
    """Where a table goes on, on the page of found[i]: its repeated
    header, or the first line after a "(continued)" line."""
    page = found[i].page
    if header is not None:
        return next(
            (
                j
                for j in range(i, len(found))
                if found[j].page == page and found[j].text == header
            ),
            None,
        )
    while (
        i < len(found)
        and found[i].page == page
        and (
            re.match(rf"{page}\b|.*\b{page}$", found[i].text)
            or "(continued)" in found[i].text
        )
    ):
        i += 1
    return i if i < len(found) and found[i].page == page else None


def _gap(above: Row, row: Row) -> float:
    return row.y0 - above.y1 if row.page == above.page else float("inf")


def broken_tables(found: list[Row], doc: Tag) -> list[str]:
    """Tables that break badly: the caption on one page and the first row
    on the next; a continuation with no "Table N (continued)" line above
    it; fewer rows than _least_rows on one side of a break; a figure
    between two parts."""
    caps = captions(found)
    shapes = table_shapes(doc, list(caps))
    if not shapes:
        return ["tables not checked: no structure tree lists them"]
    figures = [r for label, r in caps.items() if label.startswith("Figure")]
    out = []
    for label, shape in shapes.items():
        cap = caps[label]
        parts = table_parts(found, found.index(cap), shape)
        if not parts:
            continue
        if parts[0][0].page != cap.page:
            out.append(
                f"{label}: caption on page {cap.page}, its rows from page "
                f"{parts[0][0].page}"
            )
        for before, part in zip(parts, parts[1:]):
            page, top = part[0].page, part[0].y0
            if not any(
                r.page == page
                and r.y0 < top
                and re.search(re.escape(label) + r"\b.*continued", r.text)
                for r in found
            ):
                out.append(
                    f"{label} continues on page {page} without its caption"
                )
            out += [
                f"{label}: {len(p)} row(s) alone on page {p[0].page}"
                for p in (before, part)
                if len(p) < _least_rows(shape.rows)
            ]
            out += [
                f"{label} breaks around a figure on page {f.page}"
                for f in figures
                if before[-1].at < f.at < part[0].at
            ]
    return out


def overlapping_words(pdf: Path) -> list[str]:
    """Words printed over one another (a cell's text running into the
    next cell): boxes from `pdftotext -raw -bbox`, which keeps words in
    the order they were drawn, that overlap by more than OVERLAP across
    and half their height up and down."""
    out = []
    for i, page in enumerate(_pdftotext_pages(pdf, "-raw", "-bbox")):
        words = sorted(
            (w for w in _words(i + 1, page) if _spelled(w.text)),
            key=lambda w: w.x0,
        )
        for k, a in enumerate(words):
            for b in words[k + 1 :]:
                if b.x0 >= a.x1 - OVERLAP:
                    break
                high = min(a.y1, b.y1) - max(a.y0, b.y0)
                if high > 0.5 * min(a.y1 - a.y0, b.y1 - b.y0):
                    out.append(
                        f"page {i + 1}: '{a.text}' and '{b.text}' overlap"
                    )
    return out


OVERLAP = 1.0  # points: glyph boxes of neighbouring words may touch


def _spelled(text: str) -> bool:
    """A word with letters or digits: accents, radicals and quotes that
    math and typography set over or against a letter are left out."""
    return any(c.isalnum() for c in text)


def empty_headings(text: str) -> list[str]:
    """Contents entries with a number and no title ("1.2.2 . . . 6")."""
    return re.findall(
        r"^\s*((?:\d+|[A-Z])(?:\.\d+)*)\s*(?:\.\s*){3,}"
        r"\d+\s*$",
        text,
        re.M,
    )


# Math written as text: a subscript by underscore (S_min; not a code
# name such as num_filters), a star glued to a letter, Greek letters
# spelled out, L1(...).
ASCII_MATH = re.compile(
    r"\b[A-Za-z]{1,2}_[A-Za-z0-9{]+\b|\b(?:eta|lambda|sigma|alpha|beta|"
    r"theta|mu|epsilon)\b|\b[A-Za-z]\*(?!\w)|\bL\d\("
)


def captions_of(text: str) -> list[str]:
    """The numbered captions of a PDF's text, without their source line."""
    flat = _squash(text)
    found = re.findall(
        r"(?:Figure|Table) [A-Z0-9]+\.\d+: (.*?)(?= Source:"
        r"|(?:Figure|Table) [A-Z0-9]+\.\d+: |$)",
        flat,
    )
    return found


def ascii_math(text: str) -> list[str]:
    return [
        f"{m.group(0)!r} in '{c[:60]}'"
        for c in captions_of(text)
        for m in ASCII_MATH.finditer(c)
    ]


# A path on the build machine: the report names files by their place in
# the repository, or by their name.
LOCAL_PATH = re.compile(
    r"(?<![\w.~-])(?:/(?:home|root|tmp|work|Users|mnt|"
    r"var|opt|srv)/[^\s)\]]*|\.\./shared/\S*|"
    r"[A-Z]:\\\S+)"
)


def local_paths(text: str) -> list[str]:
    return sorted(set(LOCAL_PATH.findall(text)))


# --- PDF: page numbers, lead-ins, answer boxes, contents, text layer ------


MARGIN = 0.075  # of the page's height: where running heads and feet lie


def page_numbers(pdf: PdfLayout) -> list[str]:
    """Pages that print their number more than once in their top and
    bottom margins (a running head and a footer both)."""
    out = []
    top, bottom = MARGIN * pdf.height, (1 - MARGIN) * pdf.height
    for i, lines in enumerate(pdf.pages):
        count = sum(
            w.text == str(i + 1) and (w.y1 <= top or w.y0 >= bottom)
            for ln in lines
            for w in ln
        )
        if count > 1:
            out.append(f"page {i + 1} prints its number {count} times")
    return out


SECTION = re.compile(r"(?:\d+|[A-Z])\.\d+")  # "4.3", "A.4": a section


def running_heads(pdf: PdfLayout) -> list[str]:
    """Pages whose running head names a section other than the one a
    reader finds at the page's top: the first section that starts on the
    page, else the last one started before it. A section starts where
    its number begins a line in large type."""
    out, current = [], None
    top = MARGIN * pdf.height
    for i, lines in enumerate(pdf.pages):
        body = sorted(
            (ln for ln in lines if ln[0].y0 > top), key=lambda ln: ln[0].y0
        )
        if not body:
            continue
        size = statistics.median(ln[0].y1 - ln[0].y0 for ln in body)
        starts = [
            m[1]
            for ln in body
            if (m := re.match(rf"({SECTION.pattern})(?: |$)", text_of(ln)))
            and ln[0].y1 - ln[0].y0 > 1.35 * size
        ]
        heads = [text_of(ln) for ln in lines if ln[0].y1 <= top]
        named = next((m[0] for h in heads if (m := SECTION.match(h))), None)
        expected = starts[0] if starts else current
        if named and expected and named != expected:
            out.append(
                f"page {i + 1}'s running head names section {named}, "
                f"its top is in section {expected}"
            )
        current = starts[-1] if starts else current
    return out


LEAD_IN = re.compile(r"(:|\bi\.e\.|\be\.g\.)$")
# A listing's line that opens a block ("class Net(nn.Module):") is code, not
# a sentence: a listing may break across pages after it.
CODE_OPENER = re.compile(
    r"^\s*(class|def|for|if|elif|else|with|while|try|except|finally)\b.*:$"
)


def lead_ins(pdf: PdfLayout) -> list[str]:
    """Pages whose last line leads into what the next page holds (an
    equation, a list): a sentence split from its equation."""
    out = []
    for i, lines in enumerate(pdf.pages[:-1]):
        body = sorted(_body(lines), key=lambda ln: ln[0].y0)
        last_line = text_of(body[-1]).strip() if body else ""
        if LEAD_IN.search(last_line) and not CODE_OPENER.match(last_line):
            last = text_of(body[-1])[-50:]
            out.append(
                f"page {i + 1} ends with '{last}', split from its sequel"
            )
    return out


# An answer box (a tip callout): a title band of this colour opens it, and
# a green frame (its icon colour) surrounds it.
ANSWER_BAND = (204, 241, 227)


def split_boxes(
    pngs: list[Path], box: Box, dpi: int = 50, band: tuple = ANSWER_BAND
) -> list[str]:
    """Pages where an answer box goes on from the page before: a stretch
    framed in green at both edges of the text area that does not open
    with the title band."""
    import numpy as np
    from PIL import Image

    scale = dpi / 72
    x0, x1 = int(box.x0 * scale), int(box.x1 * scale)
    out = []
    for i, png in enumerate(pngs):
        a = np.asarray(Image.open(png).convert("RGB")).astype(int)
        green = (a[..., 1] - a[..., 0] > 12) & (a[..., 1] >= a[..., 2])
        inner = a[:, x0 + 4 : x1 - 4]
        banded = (np.abs(inner - band).sum(axis=2) < 40).mean(axis=1) > 0.5

        def side(x: int, green=green):  # noqa: ANN202 (ndarray)
            return green[:, max(x - 3, 0) : x + 4].any(axis=1)

        rows = np.flatnonzero(side(x0) & side(x1))
        runs = np.split(rows, np.flatnonzero(np.diff(rows) > 2) + 1)
        if any(r.size > 4 and not banded[r[0] : r[0] + 4].any() for r in runs):
            out.append(f"page {i + 1}: an answer box goes on from page {i}")
    return out


# Variation selectors, private-use glyphs, and the soft hyphen that a word
# broken at a line's end leaves in a copied sentence.
FORBIDDEN = re.compile(
    "[\u00ad\ufe00-\ufe0f\ue000-\uf8ff\U000e0100-\U000e01ef"
    "\U000f0000-\U0010fffd]"
)


def uncopyable(text: str) -> list[str]:
    """Variation selectors, private-use characters and soft hyphens in
    the text layer, each with the text before it."""
    return [
        f"U+{ord(m[0]):04X} after '{text[max(0, m.start() - 12) : m.start()]}'"
        for m in FORBIDDEN.finditer(text)
    ]


LEADER = re.compile(r"(?:\.\s?){4,}\s*\d+\s*$")  # a contents line's dots


def contents(pdf: PdfLayout, box: Box) -> list[str]:
    """The contents: on the page after the title page, on that page only,
    and filling it (its last line in the page's lower third). Nothing to
    say of a PDF without contents."""
    found = [
        i
        for i, lines in enumerate(pdf.pages)
        if any(LEADER.search(text_of(ln)) for ln in lines)
    ]
    if not found:
        return []
    out = []
    if found[0] != 1:
        out.append(f"the contents start on page {found[0] + 1}, not page 2")
    out += [f"the contents run on to page {i + 1}" for i in found[1:]]
    lowest = max(ln[0].y1 for ln in pdf.pages[found[0]])
    if lowest < box.y0 + 2 / 3 * (box.y1 - box.y0):
        out.append(f"the contents fill less of page {found[0] + 1}")
    return out


def figure_sizes(pdf: Path, book: Path) -> list[str]:
    """Figures whose smallest text prints under 7 pt or whose narrowest
    image prints under 15 mm. The staged chapters (``book``) hold each
    figure's PNG with its smallest text and narrowest image as drawn
    (``a2.report.figures.png``); the PDF gives the scale it prints each
    at (its resolution there), matched to them in order."""
    import base64
    import io
    import json

    from PIL import Image

    from a2.report import figures as style

    drawn = []
    for path in sorted(book.glob("[0-9]*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for out in cell.get("outputs", []):
                data = out.get("data", {}).get("image/png")
                if data:
                    image = Image.open(io.BytesIO(base64.b64decode(data)))
                    drawn.append((path.stem, image.size, image.text))
    listed = subprocess.run(
        ["pdfimages", "-list", str(pdf)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()[2:]
    printed = [
        (int(f[3]), int(f[4]), float(f[12]))  # width, height, x-ppi
        for f in (line.split() for line in listed)
        if f[2] == "image"
    ]
    if [d[1] for d in drawn] != [p[:2] for p in printed]:
        return [f"{len(drawn)} figures staged, {len(printed)} printed"]
    out = []
    for n, ((stem, _, meta), (_, _, ppi)) in enumerate(zip(drawn, printed)):
        scale = style.DPI / ppi
        if style.FONT_KEY not in meta:
            out.append(f"{stem}, figure {n + 1}: sizes not recorded")
            continue
        font = float(meta[style.FONT_KEY]) * scale  # 0: no text
        if 0 < font < style.MIN_PRINT_PT - 0.01:
            out.append(f"{stem}, figure {n + 1}: text prints at {font:.1f} pt")
        if style.IMAGE_KEY in meta:
            mm = float(meta[style.IMAGE_KEY]) * scale * 25.4
            if mm < MIN_IMAGE_MM:
                out.append(
                    f"{stem}, figure {n + 1}: images print {mm:.0f} mm wide"
                )
    return out


MIN_IMAGE_MM = 15.0  # the narrowest image a reader can make out


def pdf_problems(
    pdf: Path, root: Path = REPO, pngs: list[Path] | None = None
) -> list[str]:
    """Everything a reader of the PDF would trip on, one line each; the
    headings and chapter titles are those of the sources under root, the
    pages are rendered to a scratch folder unless given."""
    if pngs is None:
        with tempfile.TemporaryDirectory() as scratch:
            pngs = render_pages(pdf, Path(scratch))
            return pdf_problems(pdf, root, pngs)
    found = layout(pdf)
    box = text_box(found)
    titles = chapter_titles(root)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    seen = rows(found)
    return (
        overflowing_words(found, box)
        + overlapping_words(pdf)
        + orphaned_headings(found, source_headings(root) + print_titles(root))
        + inked_margins(pngs, box, chapter_pages(found, titles))
        + blank_pages(pngs, found, box)
        + blank_space(pngs, found, box, titles)
        + broken_tables(seen, structure(pdf))
        + unreferenced_floats(seen)
        + misplaced_floats(seen, headings_at(pdf, found.height))
        + [f"heading without a title: {h}" for h in empty_headings(text)]
        + [f"math as plain text in a caption: {m}" for m in ascii_math(text)]
        + [f"local path: {p}" for p in local_paths(text)]
        + page_numbers(found)
        + lead_ins(found)
        + running_heads(found)
        + split_boxes(pngs, box)
        + contents(found, box)
        + [f"not copyable: {c}" for c in uncopyable(text)]
        + [
            f"unresolved reference: {r}"
            for r in sorted(set(re.findall(r"\?@[\w-]+", text)))
        ]
    )


# --- make check-visual -----------------------------------------------------


def _markdown(path: Path) -> str:
    """A section source's Markdown, code chunks left out."""
    if path.suffix != ".qmd":
        return path.read_text()
    from a2.pipeline import qmd

    return "\n".join(
        c["source"]
        for c in qmd.notebook(path)["cells"]
        if c["cell_type"] == "markdown"
    )


def _heading(line: str) -> str:
    return re.sub(r"\s*\{.*\}\s*$", "", line).strip()


def source_headings(root: Path) -> list[str]:
    """Every heading the sections' sources write (a callout's title is
    no heading: it is the line after a callout's opening fence)."""
    from a2.pipeline.sections import chapters

    out = []
    for s in chapters(root):
        lines = _markdown(s.source).splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"^#{1,6}\s+(.+)$", line)
            if m and not (i and lines[i - 1].startswith(":::")):
                out.append(_heading(m.group(1)))
    return out


def print_titles(root: Path) -> list[str]:
    """The titles of folded callouts ("Derivation and checks"): in print
    they unfold into a bold title line over their text, a heading to the
    reader."""
    from a2.pipeline.sections import chapters

    out = []
    for s in chapters(root):
        lines = _markdown(s.source).splitlines()
        for i, line in enumerate(lines[1:], 1):
            m = re.match(r"^#{1,6}\s+(.+)$", line)
            if m and re.match(r"^:::.*collapse=.?true", lines[i - 1]):
                out.append(_heading(m.group(1)))
    return sorted(set(out))


def chapter_titles(root: Path) -> list[str]:
    """The first heading of every chapter (and the references)."""
    from a2.pipeline.sections import chapters

    out = ["References", "Bibliography", "Appendices"]
    for s in chapters(root):
        first = re.search(r"^#\s+(.+)$", _markdown(s.source), re.M)
        if first:
            out.append(_heading(first.group(1)))
    return out


def main(argv: list[str]) -> int:
    """PROFILE: the site and the PDF of that profile's build; --pdf
    FILE: the PDF checks on one PDF."""
    if argv[:1] == ["--pdf"]:
        problems = pdf_problems(Path(argv[1]))
        for p in problems:
            print(f"problem: {p}")
        print(f"{argv[1]}: {len(problems)} problems")
        return 1 if problems else 0
    profile = argv[0] if argv and argv[0] else "full"
    build = Path.cwd() / "build" / profile
    dist = Path.cwd() / "dist" if profile == "full" else build / "dist"
    out = build / "visual"
    problems = []
    for r in browse(dist / "site", out / "html"):
        problems += [f"{r.page}: {p}" for p in r.problems]
    pngs = render_pages(dist / "a2-writeup.pdf", out / "pdf")
    problems += pdf_problems(dist / "a2-writeup.pdf", Path.cwd(), pngs)
    for p in problems:
        print(f"problem: {p}")
    print(
        f"screenshots in {out}/html, PDF pages in {out}/pdf "
        f"({len(pngs)} pages); {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
