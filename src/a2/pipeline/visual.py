"""Look at the outputs the way a reader would.

HTML: every page of the site, served on 127.0.0.1, loaded in Debian's
chromium (headless, driven by Playwright): failed or non-loopback
requests, console errors, broken images and unrendered math are problems;
each page is screenshotted. PDF: pdftoppm renders every page; the word
boxes of ``pdftotext -bbox-layout`` and the rendered margins must stay
inside the page's margins, and no heading may end a page.

    python -m a2.pipeline.visual DIST OUT   # OUT/html/*.png, OUT/pdf/*.png
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse
from xml.etree import ElementTree

CHROMIUM = "/usr/bin/chromium"
# No network, no background services: the site must load from loopback.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-quic", "--no-first-run",
                 "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
LOOPBACK = ("127.0.0.1", "localhost")


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
    others = sorted(p.name for p in site.glob("*.html")
                    if p.name != "index.html")
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

# Folded blocks open, so that what they hold is checked and shown:
# <details> (embedded renderer) and Quarto's collapsed callouts.
_UNFOLD = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  document.querySelectorAll('.callout-collapse.collapse')
    .forEach(e => e.classList.add('show'));
}"""

# Sizes of what should be visible: math, and images that did not load.
_PAGE_CHECK = """() => ({
  math: Array.from(document.querySelectorAll('math')).map(m => {
    const r = m.getBoundingClientRect();
    return [r.width, r.height, m.textContent.trim().slice(0, 40)];
  }),
  broken: Array.from(document.images)
    .filter(i => !i.complete || i.naturalWidth === 0)
    .map(i => i.getAttribute('src')),
  noalt: Array.from(document.images)
    .filter(i => !(i.getAttribute('alt') || '').trim())
    .map(i => i.getAttribute('src')),
})"""


def browse(site: Path, out: Path,
           width: int = 1280) -> list[PageReport]:
    """Load every page of site in chromium; screenshots go to out."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(
            f"{CHROMIUM} missing: apt-get install chromium")
    out.mkdir(parents=True, exist_ok=True)
    reports = []
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": 900})
            for page_name in site_pages(site):
                shot = out / (Path(page_name).stem + ".png")
                report = PageReport(page_name, shot)
                _visit(context, base + page_name, report)
                reports.append(report)
        finally:
            browser.close()
    return reports


def search(site: Path, query: str) -> list[str]:
    """The links the site's search box lists for query (index page)."""
    from playwright.sync_api import sync_playwright

    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(base + "index.html")
            page.fill("#search", query)
            return page.eval_on_selector_all(
                "#search-results a", "as => as.map(a => a.href)")
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
    page.on("requestfailed", lambda r: problems.append(
        f"request failed: {r.url} ({r.failure})"))
    page.on("console", lambda m: problems.append(
        f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    box = page.evaluate(_LAYOUT_CHECK)
    if box["page"] > box["view"] + 1:
        problems.append(f"page is {box['page']} px wide in a "
                        f"{box['view']} px window: content cut off")
    if box["view"] <= NARROW and box["top"] > FIRST_HEADING_MAX:
        problems.append(f"content starts {box['top']:.0f} px down on a "
                        f"{box['view']} px screen")
    page.evaluate(_UNFOLD)
    seen = page.evaluate(_PAGE_CHECK)
    report.math = len(seen["math"])
    for w, h, text in seen["math"]:
        if w <= 0 or h <= 0:
            problems.append(f"math not rendered (size {w}x{h}): {text}")
    problems += [f"broken image: {src}" for src in seen["broken"]]
    problems += [f"image without alt text: {src}" for src in seen["noalt"]]
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


def layout(pdf: Path) -> PdfLayout:
    """Word boxes by line from ``pdftotext -bbox-layout``."""
    xhtml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"],
                           check=True, capture_output=True,
                           text=True).stdout
    xhtml = re.sub(r"<!DOCTYPE[^>]*>", "", xhtml)
    root = ElementTree.fromstring(xhtml)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages, width, height = [], 0.0, 0.0
    for i, page in enumerate(root.iterfind(".//h:page", ns)):
        width, height = float(page.get("width")), float(page.get("height"))
        lines = []
        for line in page.iterfind(".//h:line", ns):
            lines.append([Word(i + 1, *(float(w.get(k)) for k in
                                        ("xMin", "yMin", "xMax", "yMax")),
                               w.text or "")
                          for w in line.iterfind("h:word", ns)])
        pages.append([ln for ln in lines if ln])
    return PdfLayout(width, height, pages)


def text_of(line: list[Word]) -> str:
    return " ".join(w.text for w in line)


def _is_page_number(line: list[Word]) -> bool:
    return len(line) == 1 and line[0].text.isdigit()


# The renderer's page: pandoc's Typst template sets 1.25in margins.
MARGIN = 90.0  # points
# pdftotext's word boxes are a little larger than the ink: justified
# lines end up to 2pt past the margin, line boxes start 4pt above it.
TOL_X, TOL_Y = 4.0, 6.0


def overflowing_words(pdf: PdfLayout, margin: float = MARGIN) -> list[str]:
    """Words outside the text area (the page number in the bottom margin
    is expected)."""
    lo_x, hi_x = margin - TOL_X, pdf.width - margin + TOL_X
    lo_y, hi_y = margin - TOL_Y, pdf.height - margin + TOL_Y
    out = []
    for lines in pdf.pages:
        for line in lines:
            if _is_page_number(line) and line[0].y0 > hi_y:
                continue
            for w in line:
                if w.x0 < lo_x or w.x1 > hi_x or w.y0 < lo_y or w.y1 > hi_y:
                    out.append(f"page {w.page}: '{text_of(line)[:60]}' "
                               f"at x {w.x0:.0f}-{w.x1:.0f}, "
                               f"y {w.y0:.0f}-{w.y1:.0f}")
                    break
    return out


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
            if last == h or (last.startswith(first_word + " ")
                             and h.startswith(last)
                             and re.match(r"\d", first_word)):
                out.append(f"page {i + 1} ends with heading '{h}'")
    return out


def render_pages(pdf: Path, out: Path, dpi: int = 50) -> list[Path]:
    """Every page as out/page-NN.png (what a reader sees)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(pdf),
                    str(out / "page")], check=True, capture_output=True)
    return sorted(out.glob("page-*.png"))


def inked_margins(pngs: list[Path], dpi: int = 50,
                  margin: float = MARGIN) -> list[str]:
    """Pages with ink in a margin (anything: a figure or table too
    wide or too tall, a code block, a rule); the centre of the bottom
    margin holds the page number."""
    import numpy as np
    from PIL import Image

    px = int((margin - 3) * dpi / 72)  # a little inside the margin
    out = []
    for png in pngs:
        a = np.asarray(Image.open(png).convert("L")) < 200
        h, w = a.shape
        strips = {"left": a[:, :px], "right": a[:, w - px:],
                  "top": a[:px, :],
                  "bottom": np.concatenate([a[h - px:, :w // 2 - px],
                                            a[h - px:, w // 2 + px:]], 1)}
        for side, strip in strips.items():
            if strip.any():
                out.append(f"{png.name}: ink in the {side} margin")
    return out


def pdf_problems(pdf: Path, pngs: list[Path],
                 headings: list[str]) -> list[str]:
    found = layout(pdf)
    return (overflowing_words(found) + orphaned_headings(found, headings)
            + inked_margins(pngs))


# --- make check-visual -----------------------------------------------------

def source_headings(root: Path) -> list[str]:
    """Every Markdown heading the sections' sources write."""
    import nbformat

    from a2.pipeline.sections import chapters

    out = []
    for s in chapters(root):
        if s.is_notebook:
            nb = nbformat.read(s.source, 4)
            text = "\n".join(c.source for c in nb.cells
                             if c.cell_type == "markdown")
        else:
            text = s.source.read_text()
        out += [re.sub(r"\s*\{.*\}\s*$", "", m) for m in
                re.findall(r"^#{1,6}\s+(.+)$", text, re.M)]
    return out


def main(argv: list[str]) -> int:
    dist, out = Path(argv[0]), Path(argv[1])
    root = Path.cwd()
    problems = []
    for r in browse(dist / "site", out / "html"):
        problems += [f"{r.page}: {p}" for p in r.problems]
    pngs = render_pages(dist / "a2-writeup.pdf", out / "pdf")
    problems += pdf_problems(dist / "a2-writeup.pdf", pngs,
                             source_headings(root))
    for p in problems:
        print(f"problem: {p}")
    print(f"screenshots in {out}/html, PDF pages in {out}/pdf "
          f"({len(pngs)} pages); {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
