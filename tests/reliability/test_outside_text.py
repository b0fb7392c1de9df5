"""Text from outside the repository never renders as markup (issue 21,
class 1) nor reaches a terminal raw (class 9).

Each hostile string goes through every route by which such text reaches
the book: a file name (data setting, params files, a source line's
link), the fields of a run manifest in a shared cache, a parameter
value, a check's name, what the machine reports. The Markdown is turned
into HTML by pandoc (and, book-style, by Quarto): no element or
attribute of the input may be live, the table keeps its cells, and the
reader sees the input as written.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from a2 import report
from a2.config import params
from a2.report import appendix, checking, prose
from a2.text import code, link, printable

HOSTILE = {
    "issue's file name": "p`<img src=x onerror=alert(1)>`.yaml",
    "script": "<script>alert(1)</script>.npz",
    "pipes and rows": "a | b\n|---|---|\n| <img src=x onerror=alert(1)> |",
    "math": "$x^2$ $$y$$ \\(z\\) \\[w\\]",
    "shortcode": "{{< include /etc/hostname >}}",
    "var shortcode": "{{< var s6.setting >}}",
    "escaped shortcode": "{{{< var s6.setting >}}} {{</* var x */>}}",
    "cross-reference and citation": "@fig-x [@doe2020] -@tbl-y",
    "raw attribute": "`<img src=x onerror=alert(1)>`{=html}",
    "links": "[x](javascript:alert(1)) <javascript:alert(1)> <http://x>",
    "entities": "&lt;img src=x onerror=alert(1)&gt; &amp;",
    "html attribute": '<b onmouseover="alert(1)">x</b>',
    "backticks": "`` ` ```<img src=x onerror=alert(1)>",
    "backslashes": "\\`<i>x</i>\\ \\",
    "fenced div": "::: {.callout}\n<img src=x onerror=alert(1)>\n:::",
    "emphasis and footnote": "*a* _b_ **c** ~~d~~ ^e^ ~f~ [^1] <!-- c -->",
    "control characters": "\x1b[31mred\x1b[0m\r\x07\x00<u>x</u>\u202e",
}
BENIGN = "plain-name.yaml"  # each route's elements with harmless text
BAD_CLASSES = {"math", "citation", "quarto-xref", "footnote-ref"}


def slug(name: str) -> str:
    return re.sub("[^a-z0-9]+", "-", name.lower())


def seen(text: str) -> str:
    """What a reader should see of ``text``: as written, white space
    runs as one space, control characters as '?'."""
    return " ".join(printable(" ".join(text.split())).split())


def routes(h: str, root: Path, monkeypatch) -> dict[str, tuple[str, list]]:
    """route -> (Markdown, what a reader must see in it)."""
    shown = []  # what report.md displays
    monkeypatch.setattr(prose, "md", shown.append)
    monkeypatch.setattr("a2.report.provenance.note_check", lambda c: None)
    monkeypatch.setattr(checking, "_pending", [])
    report.check_true(h, True)
    report.checks()
    monkeypatch.setattr(appendix.platform, "machine", lambda: h)
    shown_params = params.load("4-pooling")
    object.__setattr__(shown_params, "kernel", h)  # as if read from a file
    data_file = Path("/elsewhere", h)
    manifest = {
        "key": h,
        "config": {
            "model": h,
            "kernel": h,
            "num_filters": 32,
            "lr": h,
            "batch_size": 100,
            "epochs": 25,
            "seed": [h],
        },
        "meta": {
            "data": {"n_train": h, "n_valid": 1000},
            "devices": ["cpu", h],
            "train_seconds": h,
        },
        "final": {"valid_loss": h, "valid_acc": 55.0},
    }
    record = {
        "params": [f"params/{h}", str(data_file)],
        "commit": h,
        "executed": h,
        "runs": [h],
        "checks": [{"name": h, "passed": True}],
    }
    check = {"name": h, "quantity": h, "tolerance": h, "passed": True}

    def table(rows, header) -> str:
        return report.table_markdown(rows, header)

    return {
        "data setting": (
            "The data come from "
            + appendix.data_setting(str(data_file), root)
            + ".",
            [data_file.name],
        ),
        "data table": (
            table(
                appendix.data_rows(str(data_file), "sha256:ab", root), ("", "")
            ),
            [data_file.name],
        ),
        "params files and commit": (
            table(
                appendix.section_rows({h: record}), appendix.SECTIONS_HEADER
            ),
            [h, Path(f"params/{h}").name, data_file.name],
        ),
        "run manifest": (
            table(appendix.run_rows([manifest]), appendix.RUNS_HEADER),
            [h],
        ),
        "check names (appendix)": (
            table(appendix.check_rows({"checks": [check]}), ("a", "b")),
            [h],
        ),
        "check names (section)": (shown[0], [h]),
        "parameter values": (
            shown_params._repr_markdown_(),
            [h],
        ),
        "parameter values in a table": (
            table([[[h, 1], h.count("x")]], ("values", "n")),
            [h],
        ),
        "source line": (f"[Source: {link(h, f'params/{h}')}]", [h]),
    }


class Page(HTMLParser):
    """Tags, attributes, text and table rows inside each route's div."""

    VOID = {"col", "img", "br", "hr", "input", "meta", "link", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.tags: dict[str, list] = {}
        self.text: dict[str, list[str]] = {}
        self.rows: dict[str, list[int]] = {}

    def route(self) -> str | None:
        return self.stack[-1][1] if self.stack else None

    def handle_starttag(self, tag, attrs):
        here = self.route()
        ident = dict(attrs).get("id") or ""
        if tag == "div" and ident.startswith("r-"):
            here = ident[2:]
        if here is not None:
            self.tags.setdefault(here, []).append((tag, attrs))
            if tag == "tr":
                self.rows.setdefault(here, []).append(0)
            if tag in ("td", "th"):
                self.rows[here][-1] += 1
        if tag not in self.VOID:
            self.stack.append((tag, here))

    def handle_startendtag(self, tag, attrs):  # <col ... />
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in {t for t, _ in self.stack}:
            while self.stack.pop()[0] != tag:
                pass

    def handle_data(self, data):
        if self.route() is not None:
            self.text.setdefault(self.route(), []).append(data)


def document(cases: dict[str, dict[str, tuple[str, list]]]) -> str:
    return "\n\n".join(
        f"::: {{#r-{case}--{slug(route)}}}\n{md}\n:::"
        for case, by_route in cases.items()
        for route, (md, _) in by_route.items()
    )


def elements(page: Page, where: str) -> set[tuple[str, frozenset]]:
    """The elements (tag and attribute names) of one route, less the
    column widths and styles pandoc gives a table by its width."""
    return {
        (tag, frozenset(name for name, _ in attrs if name != "style"))
        for tag, attrs in page.tags.get(where, [])
        if tag not in ("col", "colgroup")
    }


def assert_inert(page: Page, cases, link_prefix: str = "params/") -> None:
    """Every route of every case shows its text as written, with no
    element or attribute that the same route with harmless text lacks."""
    for case, by_route in cases.items():
        for route, (md, wanted) in by_route.items():
            where = f"{case}--{slug(route)}"
            base = f"benign--{slug(route)}"
            assert elements(page, where) <= elements(page, base), (
                where,
                elements(page, where) - elements(page, base),
            )
            for tag, attrs in page.tags.get(where, []):
                for name, value in attrs:
                    assert not name.startswith("on"), (where, tag, name)
                    assert "javascript:" not in (value or ""), (where, tag)
                    if name == "class":
                        assert not BAD_CLASSES & set(value.split()), where
                if tag == "a":
                    assert dict(attrs)["href"].startswith(link_prefix), where
            rows = page.rows.get(where, [])
            assert len(set(rows)) <= 1, (where, rows)  # no cell split off
            text = " ".join("".join(page.text.get(where, [])).split())
            text = text.replace("\u2060", "")
            for want in wanted:
                assert seen(want) in text, (where, seen(want), text)
            # Quarto reads a shortcode wherever these appear, code included.
            assert "{{<" not in md and ">}}" not in md, where


def cases_for(names, root: Path, monkeypatch) -> dict:
    """{case: routes}, with the harmless case every check compares to."""
    texts = {"benign": BENIGN, **{n: HOSTILE[n] for n in names}}
    return {
        slug(name): routes(text, root, monkeypatch)
        for name, text in texts.items()
    }


@pytest.mark.parametrize("case", HOSTILE)
def test_outside_text_reaches_html_inert_through_every_route(
    case, tmp_path, monkeypatch, quarto_path
):
    """Through Quarto's own pandoc (`quarto pandoc`)."""
    cases = cases_for([case], tmp_path, monkeypatch)
    html = subprocess.run(
        [quarto_path, "pandoc", "-f", "markdown", "-t", "html"],
        input=document(cases),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    page = Page()
    page.feed(html)
    assert len(page.tags) == sum(len(r) for r in cases.values())
    assert_inert(page, cases)
    assert "<img" not in html and "<script" not in html


def test_outside_text_reaches_a_quarto_page_inert(
    tmp_path, monkeypatch, quarto_path
):
    """The book's way: tables, and a value shown inline in the prose (the
    appendix's data setting, `{python} setting_text`, written in as the
    build does), rendered by Quarto, which reads shortcodes even inside
    code spans."""
    from IPython.core.formatters import DisplayFormatter

    from a2.pipeline import qmd

    exe = quarto_path
    cases = cases_for(HOSTILE, tmp_path, monkeypatch)
    body = document(cases)
    prose = []
    for key, text in [
        ("benign", BENIGN),
        *[(slug(n), h) for n, h in HOSTILE.items()],
    ]:
        value = appendix.data_setting(f"/elsewhere/{text}", tmp_path)
        shown = {"v": DisplayFormatter().format(value)[0]}
        prose.append(
            f"::: {{#r-{key}--var}}\n"
            + qmd.substitute("Data: `{python} v`.", shown, "page.qmd")
            + "\n:::"
        )
        cases[key]["var"] = (value, [Path("/elsewhere", text).name])
    book = tmp_path / "book"
    book.mkdir()
    (book / "_quarto.yml").write_text("project:\n  type: default\n")
    (book / "page.qmd").write_text(
        "---\ntitle: page\n---\n\n" + body + "\n\n" + "\n\n".join(prose)
    )
    proc = subprocess.run(
        [exe, "render", "page.qmd", "--to", "html"],
        cwd=book,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "WARN" not in proc.stderr, proc.stderr[-2000:]
    html = (book / "page.html").read_text()
    page = Page()
    page.feed(html)
    assert len(page.tags) == sum(len(r) for r in cases.values())
    assert_inert(page, cases, link_prefix="")
    assert "<img" not in html


# --- the one function per destination ---------------------------------------


def test_code_shows_any_text_verbatim_and_plain_escapes_every_mark():
    assert code("a`b") == "``a`b``"
    assert code("`x`") == "`` `x` ``"
    assert code("line\n  two") == "`line two`"
    assert code("") == ""
    assert code("a*b_c", plain=True) == "a\\*b\\_c"
    for text in HOSTILE.values():
        for md in (code(text), code(text, plain=True)):
            assert "\n" not in md and "\x1b" not in md
            assert "{{<" not in md and ">}}" not in md


# --- a plain string shown inline is text (issue 27, class 4) -----------------

PLAIN = {
    **HOSTILE,
    "the issue's case": "<img src=x onerror=alert(6)>",
    "typst shorthands": "a-?b x---y z...w -- ~ 1/2 a- b",
    "smart typography": "\"quoted\" it's -- --- ... 'single'",
    "backslash escapes": "\\(x\\) \\[y\\] \\\\ \\` \\$ \\@",
    "python quoting": 'it\'s "both" \\n kinds',
    "unicode": "Ünïcödé ✓ – — …",
}


def plain_values() -> dict[str, tuple[str, str]]:
    """{case: (Markdown the build writes for the value as a plain string,
    what a reader must see)}, through the build's own route: IPython's
    text/plain (the repr), then a2.pipeline.qmd.substitute."""
    from IPython.core.formatters import DisplayFormatter

    from a2.pipeline import qmd

    out = {}
    for case, text in PLAIN.items():
        data = DisplayFormatter().format(text)[0]
        assert "text/markdown" not in data  # a plain string
        md = qmd.substitute("`{python} v`", {"v": data}, "page.qmd")
        out[slug(case)] = (md, seen(text))
    return out


def test_a_plain_string_value_is_text_in_html(quarto_path):
    """Quarto's pandoc makes no element of it, and shows every
    character as written."""
    values = plain_values()
    body = "\n\n".join(
        f"::: {{#v-{key}}}\n{md}\n:::" for key, (md, _) in values.items()
    )
    html = subprocess.run(
        [quarto_path, "pandoc", "-f", "markdown", "-t", "html"],
        input=body,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    page = Page()
    page.feed(html.replace('id="v-', 'id="r-'))
    for key, (_, want) in values.items():
        assert {t for t, _ in page.tags.get(key, [])} <= {"div", "p"}, key
        text = " ".join("".join(page.text.get(key, [])).split())
        assert text.replace("\u2060", "") == want, key


def test_a_plain_string_value_is_text_in_the_pdf(quarto_path, tmp_path):
    """Rendered to PDF by Quarto with the book's filter (report/a2.lua),
    every character reads back from the PDF as written: no markup is
    read, none of Typst's shorthands (ellipsis, dashes, soft hyphen,
    smart quotes) changes a character, nothing disappears."""
    values = plain_values()
    repo = Path(__file__).resolve().parents[2]
    shutil.copy(repo / "report/a2.lua", tmp_path / "a2.lua")
    front = (
        "---\ntitle: values\nformat:\n  typst:\n    include-in-header:\n"
        "      text: '#set text(hyphenate: false)'\nfilters: [a2.lua]\n---\n"
    )
    body = "\n\n".join(
        f"BEGIN{n} {md} END{n}" for n, (md, _) in enumerate(values.values())
    )
    (tmp_path / "_quarto.yml").write_text("project:\n  type: default\n")
    (tmp_path / "page.qmd").write_text(front + "\n" + body + "\n")
    proc = subprocess.run(
        [quarto_path, "render", "page.qmd", "--to", "typst"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = subprocess.run(
        ["pdftotext", str(tmp_path / "page.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    flat = "".join(text.split()).replace("\u2060", "")
    for n, (case, (_, want)) in enumerate(values.items()):
        shown = flat.split(f"BEGIN{n}", 1)[1].split(f"END{n}", 1)[0]
        assert shown == "".join(want.split()), case


def test_markdown_marked_values_stay_markdown():
    """Only a value the library marks as Markdown (a2.report.Md) is
    Markdown: emphasis, math and code stay markup."""
    from IPython.core.formatters import DisplayFormatter

    from a2.pipeline import qmd
    from a2.report import Md

    for value in ("*a*", "$x^2$", "`c`", "[t](u)"):
        data = DisplayFormatter().format(Md(value))[0]
        assert qmd.substitute("`{python} v`", {"v": data}, "p.qmd") == value
