"""Render the executed sections into the PDF and the HTML site.

With `quarto` on PATH the book is rendered by Quarto from _quarto.yml.
Otherwise the embedded renderer drives the engines Quarto uses: pandoc
reads each executed notebook (filters/cells.lua), the chapters are joined
into one book AST (filters/crossref.lua, --citeproc), and that AST is
written as Typst (compiled by the `typst` package) and as one HTML page
per section. Outputs are written to temporary paths, then moved.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from a2.pipeline import pandoc
from a2.pipeline.sections import BuildError, Section, chapters, manifest


@dataclass(frozen=True)
class Book:
    title: str
    author: str
    date: str
    sections: list[Section]  # notebook sources point at executed copies
    bibliography: Path | None
    # stem -> where the section came from (build/provenance/<stem>.json)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    root: Path = Path(".")

    @staticmethod
    def page(stem: str) -> str:
        return "index.html" if stem == "index" else f"{stem}.html"


def load_book(root: Path, build: Path) -> Book:
    """The manifest's metadata and chapters, each notebook replaced by its
    executed copy in build/exec."""
    book = manifest(root)
    meta = book.get("book", {})
    sections, records = [], {}
    for s in chapters(root):
        if s.is_notebook:
            executed = build / "exec" / s.source.name
            if not executed.is_file():
                raise BuildError(f"section {s.stem} has not been executed "
                                 f"({executed} missing)")
            records[s.stem] = _record(root, build, s)
            s = Section(s.stem, executed, s.appendix)
        sections.append(s)
    bib = book.get("bibliography")
    bib_path = root / bib if bib else None
    author = meta.get("author", "")
    if isinstance(author, list):
        author = ", ".join(a if isinstance(a, str) else a.get("name", "")
                           for a in author)
    return Book(meta.get("title", "a2"), str(author),
                str(meta.get("date", "")), sections,
                bib_path if bib_path and bib_path.is_file() else None,
                records, root)


def _record(root: Path, build: Path, s: Section) -> dict[str, Any]:
    """What the section was executed from; a section executed before
    records were kept gets its default params file and no commit."""
    from a2 import provenance

    record = provenance.read(build / "provenance" / f"{s.stem}.json")
    if record:
        return record
    params = s.params_file(root)
    return {"notebook": s.source.relative_to(root).as_posix(),
            "params": [params.relative_to(root).as_posix()]
            if params.is_file() else [], "commit": "unknown", "runs": []}


# --- the book AST ----------------------------------------------------------

def _markdown_outputs(src: Path, dst: Path) -> Path:
    """A copy of a notebook whose Markdown outputs (a2.report.md) reach
    pandoc as Markdown: its ipynb reader prefers their text/plain repr."""
    try:
        nb = json.loads(src.read_text())
        nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BuildError(f"executed notebook {src} is unreadable "
                         f"({type(err).__name__}); run `make section "
                         f"S={src.stem}` to execute it again") from None
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/markdown" in data:
                data.pop("text/plain", None)
    dst.write_text(json.dumps(nb))
    return dst


def _chapter(s: Section, work: Path,
             record: dict[str, Any] | None = None) -> list[Any]:
    source = s.source.resolve()
    if s.is_notebook:
        source = _markdown_outputs(source, work / f"{s.stem}.ipynb")
    fmt = "ipynb+citations" if s.is_notebook else "markdown"
    args = ["-f", fmt, "-t", "json", str(source),
            f"--extract-media=media/{s.stem}",
            "--lua-filter", str(pandoc.FILTERS / "cells.lua")]
    if record:  # a source line under every figure and table
        args += ["--lua-filter", str(pandoc.FILTERS / "provenance.lua"),
                 "-M", f"a2-stem={s.stem}",
                 "-M", f"a2-notebook={record['notebook']}",
                 "-M", f"a2-params={' '.join(record.get('params', []))}",
                 "-M", f"a2-commit={record.get('commit', 'unknown')}"]
    out = pandoc.run(args, cwd=work)
    return json.loads(out)["blocks"]


def book_ast(book: Book, work: Path) -> dict[str, Any]:
    """All chapters, each a Div#<stem>.chapter, cross-references and
    citations resolved; a references chapter when anything is cited."""
    blocks = [pandoc.div(s.stem, ["chapter"] +
                         (["appendix"] if s.appendix else []),
                         _chapter(s, work, book.records.get(s.stem)))
              for s in book.sections]
    args = ["-f", "json", "-t", "json",
            "--lua-filter", str(pandoc.FILTERS / "crossref.lua")]
    if book.bibliography:
        refs = [pandoc.block("Header", [1, ["references", [], []],
                                        [pandoc.block("Str", "References")]]),
                pandoc.div("refs", [], [])]
        blocks.append(pandoc.div("references", ["chapter"], refs))
        args += ["--citeproc", "--bibliography",
                 str(book.bibliography.resolve())]
    doc = {"pandoc-api-version": _api_version(), "meta": {},
           "blocks": blocks}
    resolved = json.loads(pandoc.run(args, work, pandoc.to_json(doc)))
    chapters_ = resolved["blocks"]
    if book.bibliography and not _has_refs(chapters_[-1]):
        chapters_.pop()
    return resolved


def _api_version() -> list[int]:
    probe = pandoc.run(["-f", "markdown", "-t", "json"], Path("."), "")
    return json.loads(probe)["pandoc-api-version"]


def _has_refs(chapter: dict[str, Any]) -> bool:
    return any(el["t"] == "Div" and el["c"][0][0] == "refs" and el["c"][1]
               for el in pandoc.walk(chapter))


def _chapter_parts(ch: dict[str, Any]) -> tuple[str, list[Any]]:
    attr, content = ch["c"]
    return attr[0], content


# --- PDF -------------------------------------------------------------------

# Fixes to pandoc's Typst math, applied inside $...$ only:
# \begin{vmatrix} comes out as mat(delim: "||"), which Typst rejects;
# \|x\|_2 comes out as `parallel x parallel_2`, whose subscript Typst
# sets under the bar (a relation symbol), and |x| as `\| x \|`.
_PAR = r"(?<![\w.])parallel(?![A-Za-z.])"
_TYPST_FIXES = [
    (re.compile(r'delim: "\|\|"'), 'delim: "|"'),
    (re.compile(rf"{_PAR} ([^$,;]*?) {_PAR}"), r"norm(\1)"),
    (re.compile(_PAR), "bar.v.double"),
    (re.compile(r"\\\| ([^$,;|]*?) \\\|"), r"abs(\1)"),
]
_MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.DOTALL)


def fix_math(typ: str) -> str:
    def fix(m: re.Match) -> str:
        body = m.group(1)
        for pattern, repl in _TYPST_FIXES:
            body = pattern.sub(repl, body)
        return f"${body}$"
    return _MATH.sub(fix, typ)


def typst_source(book: Book, doc: dict[str, Any], work: Path) -> Path:
    flat = [b for ch in doc["blocks"] for b in _chapter_parts(ch)[1]]
    args = ["-f", "json", "-t", "typst-citations", "--standalone",
            "--toc", "--toc-depth=3",
            "-H", str(pandoc.TEMPLATES / "header.typ"),
            "--lua-filter", str(pandoc.FILTERS / "typst.lua"),
            "-V", "papersize=a4", "-V", "page-numbering=1",
            "-M", f"title={book.title}", "-M", f"author={book.author}"]
    if book.date:
        args += ["-M", f"date={book.date}"]
    text = pandoc.run(args, work, pandoc.to_json({**doc, "blocks": flat}))
    text = fix_math(text)
    path = work / "book.typ"
    path.write_text(text)
    return path


def render_pdf(book: Book, doc: dict[str, Any], work: Path,
               out: Path) -> None:
    import typst

    source = typst_source(book, doc, work)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        typst.compile(str(source), output=str(tmp), root=str(work))
    except Exception as err:  # typst.TypstError carries the diagnostics
        tmp.unlink(missing_ok=True)
        raise BuildError(f"typst failed on {source}: {err}") from None
    os.replace(tmp, out)


# --- HTML ------------------------------------------------------------------

def _nav(pages: list[tuple[str, str]], current: str) -> str:
    items = []
    for page, title in pages:
        cls = ' class="current"' if page == current else ""
        items.append(f'<li{cls}><a href="{page}">{html.escape(title)}</a>'
                     "</li>")
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def _pager(pages: list[tuple[str, str]], i: int) -> str:
    prev = (f'<a rel="prev" href="{pages[i - 1][0]}">&larr; '
            f"{html.escape(pages[i - 1][1])}</a>"
            if i > 0 else "<span></span>")
    nxt = (f'<a rel="next" href="{pages[i + 1][0]}">'
           f"{html.escape(pages[i + 1][1])} &rarr;</a>"
           if i + 1 < len(pages) else "<span></span>")
    return prev + nxt


def _title(blocks: list[Any], fallback: str) -> str:
    for b in blocks:
        if b["t"] == "Header":
            return "".join(_text(b["c"][2]))
    return fallback


def _text(inlines: list[Any]) -> list[str]:
    out = []
    for el in inlines:
        if el["t"] == "Str":
            out.append(el["c"])
        elif el["t"] in ("Space", "SoftBreak"):
            out.append(" ")
        elif el["t"] in ("Emph", "Strong", "Span"):
            out += _text(el["c"] if el["t"] != "Span" else el["c"][1])
        elif el["t"] == "Math":
            out.append(el["c"][1])
    return out


def _relink(blocks: list[Any], where: dict[str, str], page: str) -> None:
    """Links to an id on another page get that page's file name."""
    for el in pandoc.walk(blocks):
        if el["t"] == "Link":
            target = el["c"][2]
            if target[0].startswith("#"):
                home = where.get(target[0][1:], page)
                if home != page:
                    target[0] = home + target[0]


def render_site(book: Book, doc: dict[str, Any], work: Path, out: Path,
                extras: list[Path]) -> None:
    """dist/site: one page per chapter, media, CSS, and the extra files
    (PDF, notebook), built in a temporary folder then swapped in."""
    chapter_list = []
    for ch in doc["blocks"]:
        stem, blocks = _chapter_parts(ch)
        page = Book.page(stem)
        chapter_list.append((stem, page, blocks))
    if not any(p == "index.html" for _, p, _ in chapter_list):
        chapter_list.insert(0, ("index", "index.html", []))
    pages = [(p, _title(b, book.title if p == "index.html" else s))
             for s, p, b in chapter_list]
    where = {i: p for _, p, b in chapter_list for i in pandoc.ids(b)}
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for i, (stem, page, blocks) in enumerate(chapter_list):
        _relink(blocks, where, page)
        args = ["-f", "json", "-t", "html5", "--standalone", "--mathml",
                "--template", str(pandoc.TEMPLATES / "page.html"),
                "--lua-filter", str(pandoc.FILTERS / "html.lua"),
                "--toc", "--toc-depth=3", "--section-divs",
                "-V", f"book-title={book.title}",
                "-V", f"nav={_nav(pages, page)}",
                "-V", f"pager={_pager(pages, i)}",
                "-M", f"pagetitle={pages[i][1]}",
                "-o", str(tmp / page)]
        if page == "index.html":
            blocks = _title_block(book) + blocks
        pandoc.run(args, work, pandoc.to_json({**doc, "blocks": blocks}))
    if (work / "media").is_dir():
        shutil.copytree(work / "media", tmp / "media")
    for name in ("style.css", "search.js"):
        shutil.copy(pandoc.TEMPLATES / name, tmp / name)
    index = [e for _, page, blocks in chapter_list
             for e in _search_entries(page, blocks)]
    (tmp / "search-index.js").write_text(
        "window.A2_SEARCH = " + json.dumps(index) + ";\n")
    _copy_sources(book, tmp)
    for extra in extras:
        shutil.copy(extra, tmp / extra.name)
    _swap(tmp, out)


def _plain(node: Any) -> str:
    """The words of an AST fragment, for the search index."""
    out = []
    for el in pandoc.walk(node):
        if el["t"] == "Str":
            out.append(el["c"])
        elif el["t"] in ("Code", "Math"):
            out.append(el["c"][1])
        elif el["t"] in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
    return " ".join("".join(out).split())


def _search_entries(page: str, blocks: list[Any]) -> list[dict[str, Any]]:
    """One entry per heading (levels 1-3): its page, id, title and the
    text up to the next such heading (search-index.js)."""
    entries: list[dict[str, Any]] = []
    for b in pandoc.walk(blocks):
        if b["t"] == "Header" and b["c"][0] <= 3:
            entries.append({"p": page, "i": b["c"][1][0],
                            "t": _plain(b["c"][2]), "x": []})
        elif entries and b["t"] in ("Para", "Plain", "CodeBlock"):
            entries[-1]["x"].append(_plain(b) if b["t"] != "CodeBlock"
                                    else b["c"][1])
    for e in entries:
        e["x"] = " ".join(e["x"])
    return entries


def _copy_sources(book: Book, site: Path) -> None:
    """The executed notebooks and params files that source lines link
    to: site/notebooks/<stem>.ipynb, site/params/<name>."""
    for s in book.sections:
        record = book.records.get(s.stem)
        if record is None:
            continue
        (site / "notebooks").mkdir(exist_ok=True)
        shutil.copy(s.source, site / "notebooks" / f"{s.stem}.ipynb")
        for rel in record.get("params", []):
            path = book.root / rel  # rel may be absolute: then rel
            if path.is_file():
                (site / "params").mkdir(exist_ok=True)
                shutil.copy(path, site / "params" / path.name)


def _title_block(book: Book) -> list[Any]:
    def para(text: str, cls: str) -> dict[str, Any]:
        return pandoc.div("", [cls], [pandoc.block(
            "Para", [pandoc.block("Str", text)])])
    head = [para(book.title, "book-title-block")]
    return head + ([para(book.author, "author")] if book.author else [])


def _swap(new: Path, out: Path) -> None:
    """Replace the folder out by new with one rename of each."""
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.replace(out, old)
    os.replace(new, out)
    shutil.rmtree(old, ignore_errors=True)


# --- entry points ----------------------------------------------------------

def _work(build: Path) -> Path:
    work = build / "render"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    return work


def quarto() -> str | None:
    return shutil.which("quarto")


def render(root: Path, build: Path, dist: Path, what: str,
           extras: list[Path] | None = None) -> str:
    """Render `what` ("pdf" or "html"); returns the renderer's name."""
    dist.mkdir(parents=True, exist_ok=True)
    if quarto() and not os.environ.get("A2_EMBEDDED_RENDERER"):
        render_quarto(root, build, dist, what, extras or [])
        return "quarto"
    book = load_book(root, build)
    work = _work(build)
    doc = book_ast(book, work)
    if what == "pdf":
        render_pdf(book, doc, work, dist / "a2-writeup.pdf")
    else:
        render_site(book, doc, work, dist / "site", extras or [])
    return "embedded (pandoc + typst)"


def render_quarto(root: Path, build: Path, dist: Path, what: str,
                  extras: list[Path]) -> None:
    """`quarto render` on a staging copy whose notebooks are the executed
    ones (the manifest sets execute: enabled: false)."""
    stage = build / "quarto"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    shutil.copy(root / "_quarto.yml", stage)
    book = manifest(root)
    for s in chapters(root):
        src = build / "exec" / s.source.name if s.is_notebook else s.source
        dst = stage / s.source.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
        if s.is_notebook:
            _echo_tagged_cells(dst)
    if book.get("bibliography") and (root / book["bibliography"]).is_file():
        shutil.copy(root / book["bibliography"],
                    stage / book["bibliography"])
    fmt = "typst" if what == "pdf" else "html"
    proc = subprocess.run(["quarto", "render", str(stage), "--to", fmt])
    if proc.returncode != 0:
        raise BuildError(f"quarto render --to {fmt} failed")
    made = stage / "_book"
    if what == "pdf":
        os.replace(made / "a2-writeup.pdf", dist / "a2-writeup.pdf")
    else:
        for extra in extras:
            shutil.copy(extra, made / extra.name)
        _swap(made, dist / "site")


def _echo_tagged_cells(path: Path) -> None:
    """Quarto has no `show-code` tag: such cells get `#| echo: true`."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if "show-code" in cell.get("metadata", {}).get("tags", []):
            src = cell["source"]
            src = "".join(src) if isinstance(src, list) else src
            cell["source"] = "#| echo: true\n" + src
    path.write_text(json.dumps(nb))
