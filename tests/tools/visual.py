"""Look at the outputs the way a reader would.

HTML: every page of the site, served on 127.0.0.1, loaded in Debian's
chromium (headless, driven by Playwright): failed or non-loopback
requests, console errors, broken images and unrendered math are problems;
each page is screenshotted. PDF: pdftoppm renders every page; the word
boxes of ``pdftotext -bbox-layout`` and the rendered margins must stay
inside the page's margins, and no heading may end a page.

    python tests/tools/visual.py PROFILE   # build/PROFILE/visual/{html,pdf}
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

# Folded blocks open, so that what they hold is checked and shown:
# <details> (embedded renderer) and Quarto's collapsed callouts.
_UNFOLD = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
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
    """The links the site's search box lists for query (index page):
    the embedded renderer's box, or Quarto's."""
    from playwright.sync_api import sync_playwright

    quarto = (site / "search.json").is_file()
    box, hits = (
        ("#quarto-search .aa-Input", ".aa-Item a")
        if quarto
        else ("#search", "#search-results a")
    )
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


def layout(pdf: Path) -> PdfLayout:
    """Word boxes by line from ``pdftotext -bbox-layout``."""
    xhtml = subprocess.run(
        ["pdftotext", "-bbox-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    xhtml = re.sub(r"<!DOCTYPE[^>]*>", "", xhtml)
    root = ElementTree.fromstring(xhtml)
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages, width, height = [], 0.0, 0.0
    for i, page in enumerate(root.iterfind(".//h:page", ns)):
        width, height = float(page.get("width")), float(page.get("height"))
        lines = []
        for line in page.iterfind(".//h:line", ns):
            lines.append(
                [
                    Word(
                        i + 1,
                        *(
                            float(w.get(k))
                            for k in ("xMin", "yMin", "xMax", "yMax")
                        ),
                        w.text or "",
                    )
                    for w in line.iterfind("h:word", ns)
                ]
            )
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
    A chapter's last page may end early, and a book may leave the page
    before a chapter empty (Quarto's book starts chapters on odd pages);
    the title page is exempt."""
    import numpy as np
    from PIL import Image

    scale = dpi / 72
    titles = [_squash(t) for t in chapter_titles]

    def starts_chapter(i: int) -> bool:
        """The next page with text opens a chapter (or there is none)."""
        while i < len(pdf.pages) and not [
            ln for ln in pdf.pages[i] if not _is_page_number(ln)
        ]:
            i += 1
        if i >= len(pdf.pages):
            return True
        head = _squash(" ".join(text_of(ln) for ln in pdf.pages[i][:4]))
        return any(t and t in head for t in titles)

    out = []
    for i, png in enumerate(pngs):
        if i == 0:
            continue
        a = np.asarray(Image.open(png).convert("L")) < 200
        y0, y1 = int(box.y0 * scale), int(box.y1 * scale)
        rows = a[y0:y1, int(box.x0 * scale) : int(box.x1 * scale)].any(1)
        inked = np.flatnonzero(rows)
        height = y1 - y0
        if inked.size == 0:  # an empty page
            if not starts_chapter(i + 1):
                out.append(f"page {i + 1} is empty")
            continue
        gaps = np.diff(inked)
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


def pdf_problems(
    pdf: Path, pngs: list[Path], headings: list[str], chapter_titles: list[str]
) -> list[str]:
    """Everything a reader of the PDF would trip on, one line each."""
    found = layout(pdf)
    box = text_box(found)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return (
        overflowing_words(found, box)
        + orphaned_headings(found, headings)
        + inked_margins(pngs, box, chapter_pages(found, chapter_titles))
        + blank_space(pngs, found, box, chapter_titles)
        + [f"heading without a title: {h}" for h in empty_headings(text)]
        + [f"math as plain text in a caption: {m}" for m in ascii_math(text)]
        + [f"local path: {p}" for p in local_paths(text)]
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
    """``visual.py PROFILE``: the outputs of that profile's build."""
    profile = argv[0] if argv and argv[0] else "full"
    root = Path.cwd()
    build = root / "build" / profile
    dist = root / "dist" if profile == "full" else build / "dist"
    out = build / "visual"
    problems = []
    for r in browse(dist / "site", out / "html"):
        problems += [f"{r.page}: {p}" for p in r.problems]
    pngs = render_pages(dist / "a2-writeup.pdf", out / "pdf")
    problems += pdf_problems(
        dist / "a2-writeup.pdf",
        pngs,
        source_headings(root),
        chapter_titles(root),
    )
    for p in problems:
        print(f"problem: {p}")
    print(
        f"screenshots in {out}/html, PDF pages in {out}/pdf "
        f"({len(pngs)} pages); {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
