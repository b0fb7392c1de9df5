"""The embedded renderer: the staged book (``a2.pipeline.stage``) to a
PDF and a site with pandoc and Typst from Python wheels, for machines
without Quarto.

It reads the stage's manifest and passes the project's filter
(``report/a2.lua``, listed in _quarto.yml) to pandoc, as Quarto does, and
emulates only what Quarto would otherwise do itself (docs/ARCHITECTURE.md
lists each):

- ``a2.pipeline.markdown``: a notebook as one Markdown document, with
  Quarto's cell options (``echo``, ``label``, ``fig-cap``, ``tbl-cap``);
- ``filters/callouts.lua``: callouts (drawn by html.lua and typst.lua);
- ``filters/crossref.lua``: chapter and section numbers (appendices get
  letters), figure, table and equation numbers per chapter, and
  ``@fig-``/``@tbl-``/``@eq-``/``@sec-`` references;
- ``{{< var >}}`` shortcodes, resolved from the stage's _variables.yml;
- the title page, the site's pages, navigation and search.
"""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import markdown, pandoc
from a2.pipeline.sections import BuildError, _flatten
from a2.pipeline.stage import page, resolve_vars

PDF = "a2-writeup.pdf"


@dataclass(frozen=True)
class Chapter:
    stem: str
    path: Path
    appendix: bool


@dataclass(frozen=True)
class Book:
    root: Path  # the stage
    title: str
    subtitle: str
    author: str
    chapters: list[Chapter]
    bibliography: Path | None
    filters: list[Path]  # the project's own, from the manifest
    css: list[Path]
    typst: list[Path]  # Typst includes (include-in-header)
    values: dict[str, dict[str, str]]
    resources: list[str]


def load(stage: Path) -> Book:
    m = yaml.safe_load((stage / "_quarto.yml").read_text()) or {}
    meta = m.get("book", {})
    chapters = [
        Chapter(Path(rel).stem, stage / rel, appendix)
        for key, appendix in (("chapters", False), ("appendices", True))
        for rel in _flatten(meta.get(key, []))
    ]
    author = meta.get("author", "")
    if isinstance(author, list):
        author = ", ".join(
            a if isinstance(a, str) else a.get("name", "") for a in author
        )
    bib = m.get("bibliography")
    css = (m.get("format", {}).get("html") or {}).get("css", [])
    typ = (m.get("format", {}).get("typst") or {}).get("include-in-header", [])
    values_file = stage / "_variables.yml"
    return Book(
        stage,
        str(meta.get("title", "a2")),
        str(meta.get("subtitle", "")),
        str(author),
        chapters,
        stage / bib if bib else None,
        [stage / f for f in m.get("filters", []) if f != "quarto"],
        [stage / c for c in ([css] if isinstance(css, str) else css)],
        [stage / t for t in ([typ] if isinstance(typ, str) else typ)],
        yaml.safe_load(values_file.read_text()) or {}
        if values_file.is_file()
        else {},
        list(m.get("project", {}).get("resources", [])),
    )


# --- the book AST ----------------------------------------------------------


def _markdown(c: Chapter, book: Book, work: Path) -> Path:
    """The chapter as one Markdown file (a notebook converted as Quarto
    converts it), its shortcodes resolved."""
    if c.path.suffix == ".ipynb":
        nb = json.loads(c.path.read_text())
        text = markdown.document(
            nb, work / "media" / c.stem, c.stem, c.path.name
        )
    else:
        text = c.path.read_text()
    dst = work / f"{c.stem}.md"
    dst.write_text(resolve_vars(text, book.values))
    return dst


def _chapter_blocks(c: Chapter, book: Book, work: Path) -> list[Any]:
    source = _markdown(c, book, work)
    out = pandoc.run(["-f", "markdown", "-t", "json", source.name], cwd=work)
    return json.loads(out)["blocks"]


def book_ast(book: Book, work: Path) -> dict[str, Any]:
    """All chapters, each a Div#<stem>.chapter, numbered, with
    cross-references and citations resolved."""
    blocks = [
        pandoc.div(
            c.stem,
            ["chapter"] + (["appendix"] if c.appendix else []),
            _chapter_blocks(c, book, work),
        )
        for c in book.chapters
    ]
    args = [
        "-f",
        "json",
        "-t",
        "json",
        "--lua-filter",
        str(pandoc.FILTERS / "crossref.lua"),
    ]
    if book.bibliography:
        refs = [
            pandoc.block(
                "Header",
                [
                    1,
                    ["references", ["unnumbered"], []],
                    [pandoc.block("Str", "References")],
                ],
            ),
            pandoc.div("refs", [], []),
        ]
        blocks.append(pandoc.div("references", ["chapter"], refs))
        args += [
            "--citeproc",
            "--bibliography",
            str(book.bibliography.resolve()),
        ]
    doc = {"pandoc-api-version": _api_version(), "meta": {}, "blocks": blocks}
    resolved = json.loads(pandoc.run(args, work, pandoc.to_json(doc)))
    if book.bibliography and not _has_refs(resolved["blocks"][-1]):
        resolved["blocks"].pop()
    return resolved


def _api_version() -> list[int]:
    probe = pandoc.run(["-f", "markdown", "-t", "json"], Path("."), "")
    return json.loads(probe)["pandoc-api-version"]


def _has_refs(chapter: dict[str, Any]) -> bool:
    return any(
        el["t"] == "Div" and el["c"][0][0] == "refs" and el["c"][1]
        for el in pandoc.walk(chapter)
    )


def _parts(ch: dict[str, Any]) -> tuple[str, list[Any]]:
    attr, content = ch["c"]
    return attr[0], content


def _filters(book: Book, own: str) -> list[str]:
    """The project's filters first, as Quarto runs them before its own
    processing; then the stand-ins for Quarto's callouts and the writer's
    own filter."""
    args = []
    for f in [
        *book.filters,
        pandoc.FILTERS / "callouts.lua",
        pandoc.FILTERS / own,
    ]:
        args += ["--lua-filter", str(f)]
    return args


def _title_meta(book: Book) -> list[str]:
    args = ["-M", f"title={book.title}", "-M", f"author={book.author}"]
    if book.subtitle:
        args += ["-M", f"subtitle={book.subtitle}"]
    return args


# --- PDF -------------------------------------------------------------------


def render_pdf(book: Book, doc: dict[str, Any], work: Path, out: Path) -> None:
    import typst

    flat = [b for ch in doc["blocks"] for b in _parts(ch)[1]]
    args = [
        "-f",
        "json",
        "-t",
        "typst-citations",
        "--standalone",
        "--toc",
        "--toc-depth=3",
        "-H",
        str(pandoc.TEMPLATES / "header.typ"),
        *[a for t in book.typst for a in ("-H", str(t))],
        "-V",
        "papersize=a4",
        "-V",
        "page-numbering=1",
        *_filters(book, "typst.lua"),
        *_title_meta(book),
    ]
    text = pandoc.fix_math(
        pandoc.run(args, work, pandoc.to_json({**doc, "blocks": flat}))
    )
    source = work / "book.typ"
    source.write_text(text)
    try:
        typst.compile(str(source), output=str(out), root=str(work))
    except Exception as err:  # typst.TypstError carries the diagnostics
        raise BuildError(f"typst failed on {source}: {err}") from None


# --- HTML ------------------------------------------------------------------


def _nav(pages: list[tuple[str, str]], current: str) -> str:
    items = []
    for href, title in pages:
        cls = ' class="current"' if href == current else ""
        items.append(
            f'<li{cls}><a href="{html.escape(href)}">'
            f"{html.escape(title)}</a></li>"
        )
    return "<ul>\n" + "\n".join(items) + "\n</ul>"


def _pager(pages: list[tuple[str, str]], i: int) -> str:
    def link(j: int, rel: str, text: str) -> str:
        return f'<a rel="{rel}" href="{html.escape(pages[j][0])}">{text}</a>'

    prev = (
        link(i - 1, "prev", f"&larr; {html.escape(pages[i - 1][1])}")
        if i > 0
        else "<span></span>"
    )
    nxt = (
        link(i + 1, "next", f"{html.escape(pages[i + 1][1])} &rarr;")
        if i + 1 < len(pages)
        else "<span></span>"
    )
    return prev + nxt


def _title(blocks: list[Any], fallback: str) -> str:
    for b in blocks:
        if b["t"] == "Header":
            return _plain(b["c"][2]) or fallback
    return fallback


def _relink(blocks: list[Any], where: dict[str, str], here: str) -> None:
    """Links to an id on another page get that page's file name."""
    for el in pandoc.walk(blocks):
        if el["t"] == "Link":
            target = el["c"][2]
            if target[0].startswith("#"):
                home = where.get(target[0][1:], here)
                if home != here:
                    target[0] = home + target[0]
            elif ".ipynb#" in target[0]:  # another chapter's anchor
                stem, _, anchor = target[0].partition(".ipynb#")
                target[0] = f"{page(stem)}#{anchor}"


def _plain(node: Any) -> str:
    """The words of an AST fragment (titles, the search index)."""
    out = []
    for el in pandoc.walk(node):
        if el["t"] == "Str":
            out.append(el["c"])
        elif el["t"] in ("Code", "Math"):
            out.append(el["c"][1])
        elif el["t"] in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
    return " ".join("".join(out).split())


def _search_entries(
    href: str, title: str, blocks: list[Any]
) -> list[dict[str, Any]]:
    """One entry per heading (levels 1-3): page, page title, id, heading
    and the text up to the next such heading (search-index.js)."""
    entries: list[dict[str, Any]] = []
    for b in pandoc.walk(blocks):
        if b["t"] == "Header" and b["c"][0] <= 3:
            entries.append(
                {
                    "p": href,
                    "pt": title,
                    "i": b["c"][1][0],
                    "t": _plain(b["c"][2]),
                    "x": [],
                }
            )
        elif entries and b["t"] in ("Para", "Plain", "CodeBlock"):
            entries[-1]["x"].append(
                _plain(b) if b["t"] != "CodeBlock" else b["c"][1]
            )
    for e in entries:
        e["x"] = " ".join(e["x"])
    return entries


def _title_block(book: Book) -> list[Any]:
    def para(text: str, cls: str) -> dict[str, Any]:
        return pandoc.div(
            "", [cls], [pandoc.block("Para", [pandoc.block("Str", text)])]
        )

    head = [para(book.title, "book-title-block")]
    if book.author:
        head.append(para(book.author, "author"))
    if book.subtitle:
        head.append(para(book.subtitle, "subtitle"))
    return head


def render_site(
    book: Book, doc: dict[str, Any], work: Path, out: Path
) -> None:
    """out: one page per chapter, media, CSS, search, and the stage's
    resources (notebooks, params files, the code notebook)."""
    chapter_list = []
    for ch in doc["blocks"]:
        stem, blocks = _parts(ch)
        chapter_list.append((stem, page(stem), blocks))
    if not any(p == "index.html" for _, p, _ in chapter_list):
        chapter_list.insert(0, ("index", "index.html", []))
    pages = [
        (p, _title(b, book.title if p == "index.html" else s))
        for s, p, b in chapter_list
    ]
    where = {i: p for _, p, b in chapter_list for i in pandoc.ids(b)}
    styles = [pandoc.TEMPLATES / "style.css", *book.css]
    for i, (_stem, href, blocks) in enumerate(chapter_list):
        _relink(blocks, where, href)
        args = [
            "-f",
            "json",
            "-t",
            "html5",
            "--standalone",
            "--mathml",
            "--template",
            str(pandoc.TEMPLATES / "page.html"),
            *_filters(book, "html.lua"),
            "--toc",
            "--toc-depth=3",
            "--section-divs",
            "-V",
            f"book-title={book.title}",
            "-V",
            f"nav={_nav(pages, href)}",
            "-V",
            f"pager={_pager(pages, i)}",
            "-M",
            f"pagetitle={pages[i][1]}",
            "-o",
            str(out / href),
        ]
        for css in styles:
            args += ["-V", f"css={css.name}"]
        if href == "index.html":
            blocks = _title_block(book) + blocks
        pandoc.run(args, work, pandoc.to_json({**doc, "blocks": blocks}))
    if (work / "media").is_dir():
        shutil.copytree(work / "media", out / "media")
    for f in [*styles, pandoc.TEMPLATES / "search.js"]:
        shutil.copy(f, out / f.name)
    titles = dict(pages)
    index = [
        e
        for _, href, blocks in chapter_list
        for e in _search_entries(href, titles[href], blocks)
    ]
    (out / "search-index.js").write_text(
        "window.A2_SEARCH = " + json.dumps(index) + ";\n"
    )
    for rel in book.resources:
        src = book.root / rel
        if src.is_dir():
            shutil.copytree(src, out / rel.rstrip("/"))
        elif src.is_file():
            shutil.copy(src, out / rel)


def render(stage: Path, work: Path) -> Path:
    """Write the PDF and the site into work/_book; returns that folder."""
    book = load(stage)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    doc = book_ast(book, work)
    made = work / "_book"
    made.mkdir()
    render_site(book, doc, work, made)
    render_pdf(book, doc, work, made / PDF)
    return made
