"""The book Quarto renders (build/<profile>/book): each chapter is its
current .qmd around the outputs and inline values of its last execution
(keyed on code, so prose edits need no execution), every figure and
table caption with its source line (notebook, params files, trained
models named by ``a2.report.source``, commit).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import BuildError, qmd
from a2.pipeline.sections import MANIFEST, Section, chapters
from a2.report.prose import SOURCE_MIME
from a2.text import code, link

STAGE = "book"
META = "a2"  # as a2.pipeline.build writes it
CAPTION = re.compile(r"^#\|\s*(fig|tbl)-cap:\s*(.*?)\s*$")
LABEL = re.compile(r"^#\|\s*label:\s*((?:fig|tbl)-[\w-]+)\s*$")
# A table written in the prose, captioned the pandoc way.
PROSE_TABLE = re.compile(r"^(:[ \t].*?)([ \t]*\{#tbl-[\w-]+\})[ \t]*$", re.M)
APPENDIX_RUNS = "trained-models"  # id of the appendix's runs table


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell: dict[str, Any], text: str) -> None:
    """nbformat's list of lines, as Quarto expects of a notebook (a
    Markdown cell given as one string loses its line breaks there)."""
    cell["source"] = text.splitlines(keepends=True)


def _options(cell: dict[str, Any]) -> list[str]:
    lines = _source(cell).splitlines()
    return list(itertools.takewhile(lambda ln: ln.startswith("#|"), lines))


def source_line(
    stem: str, record: dict[str, Any], runs: list[str], label: str = ""
) -> str:
    """Markdown for the source line of a figure or table: the executed
    notebook's page at the cell (and the .ipynb), params files, trained
    models, commit (site links; report/a2.lua keeps their text in print)."""
    notebook = record.get("notebook", f"report/{stem}.qmd")
    view = f"notebooks/{stem}.html" + (f"#{label}" if label else "")
    parts = [link(notebook, view) + f" ([ipynb](notebooks/{stem}.ipynb))"]
    parts += [
        link(p, f"params/{Path(p).name}") for p in record.get("params", [])
    ]
    if runs:
        parts.append(
            "trained models "
            + ", ".join(
                link(k, f"{APPENDIX_PAGE}#{APPENDIX_RUNS}") for k in runs
            )
        )
    parts.append("commit " + code(record.get("commit", "unknown")))
    return "[Source: " + " · ".join(parts) + "]{.a2-source}"


APPENDIX_PAGE = "6-reproducibility.ipynb"


def _alt(caption: str) -> str:
    """A caption as plain text, for the alt text of a figure's image."""
    text = re.sub(r"\$([^$]*)\$", r"\1", caption)  # math as its source
    text = re.sub(r"[*_`]|\\(?=[a-zA-Z])", "", text)
    return " ".join(text.split())


def _set_caption(cell: dict[str, Any], extra: str, where: str) -> None:
    """``extra`` appended to the cell's fig-cap or tbl-cap (and the
    caption, as plain text, for a figure's alt text unless it has one)."""
    lines = _source(cell).splitlines()
    at = next((i for i, ln in enumerate(lines) if CAPTION.match(ln)), None)
    if at is None or at >= len(_options(cell)):
        raise BuildError(f"{where}: a figure or table cell needs a caption")
    kind, raw = CAPTION.match(lines[at]).groups()
    try:
        text = str(yaml.safe_load(raw))
    except yaml.YAMLError as err:
        raise BuildError(f"{where}: unreadable {kind}-cap ({err})") from None
    new = [f"#| {kind}-cap: " + json.dumps(f"{text} {extra}")]
    if kind == "fig" and not any(ln.startswith("#| fig-alt:") for ln in lines):
        new.append("#| fig-alt: " + json.dumps(_alt(text)))
    lines[at : at + 1] = new
    _set_source(cell, "\n".join(lines))


def _with_source_lines(
    nb: dict[str, Any], stem: str, record: dict[str, Any], where: str
) -> None:
    """Source lines into every caption of ``nb``, in place; the outputs
    naming runs (``a2.report.source``) are taken out."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            line = source_line(stem, record, [])
            _set_source(
                cell,
                PROSE_TABLE.sub(
                    lambda m, line=line: f"{m.group(1)} {line}{m.group(2)}",
                    _source(cell),
                ),
            )
            continue
        if cell["cell_type"] != "code":
            continue
        runs: list[str] = []
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if SOURCE_MIME in data:
                runs += data[SOURCE_MIME]["runs"]
            else:
                kept.append(out)
        cell["outputs"] = kept
        label = next(
            (m[1] for ln in _options(cell) if (m := LABEL.match(ln))), ""
        )
        if runs and not label:
            raise BuildError(
                f"{where}: a2.report.source() in a cell "
                f"without '#| label: fig-...' or 'tbl-...'"
            )
        if label:
            _set_caption(cell, source_line(stem, record, runs, label), where)


def _tagged(cell: dict[str, Any], tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def _code_only(cell: dict[str, Any]) -> str:
    return "\n".join(
        ln for ln in _source(cell).splitlines() if not ln.startswith("#|")
    )


def merged(root: Path, build: Path, s: Section) -> dict[str, Any]:
    """Section ``s`` as it reads now, with the outputs and inline values
    of its last execution (see the module docstring)."""
    where = _rel(root, s.source)
    executed = build / "exec" / f"{s.stem}.ipynb"
    try:
        old = json.loads(executed.read_text())
        record = old["metadata"][META]
        cells = old["cells"]
        injected = [c for c in cells if _tagged(c, "injected-parameters")]
        ran = [
            c for c in cells if c["cell_type"] == "code" and c not in injected
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BuildError(
            f"executed notebook {executed} is unreadable or missing "
            f"({type(err).__name__}); run `make section S={s.stem}`"
        ) from None
    nb = qmd.notebook(s.source)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if [_code_only(c) for c in code] != [_code_only(c) for c in ran]:
        raise BuildError(
            f"{where}: its code changed since it was executed; run "
            f"`make pdf` (or `make section S={s.stem}`)"
        )
    for cell, done in zip(code, ran):
        cell["outputs"] = done.get("outputs", [])
        cell["execution_count"] = done.get("execution_count")
    # The parameters it ran with follow its parameters cell, as papermill
    # left them (the code notebook runs with them; the book hides code).
    at = next(
        (i for i, c in enumerate(nb["cells"]) if _tagged(c, "parameters")),
        None,
    )
    if at is not None:
        nb["cells"][at + 1 : at + 1] = injected
    for cell in nb["cells"]:
        cell["metadata"].pop("a2_line", None)
        if cell["cell_type"] == "markdown":
            _set_source(
                cell, qmd.substitute(cell["source"], record["inline"], where)
            )
    nb["metadata"][META] = {"given": record.get("given", "")}
    return nb


def _record(build: Path, s: Section) -> dict[str, Any]:
    """Its provenance record (``a2.report.provenance``), written as it ran."""
    from a2.report import provenance

    return provenance.read(build / "provenance" / f"{s.stem}.json")


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def stage(
    root: Path,
    build: Path,
    notebooks: dict[str, dict[str, Any]],
    subtitle: str = "",
    extras: list[Path] | None = None,
) -> Path:
    """Write build/<profile>/book (replacing it) from the merged
    ``notebooks`` and return its path; ``extras`` (the code notebook)
    are copied into it for the site."""
    out = build / STAGE
    for folder in (out, out.with_name("views")):
        shutil.rmtree(folder, ignore_errors=True)
    for folder in ("notebooks", "params"):
        (out / folder).mkdir(parents=True)
    out.with_name("views").mkdir()
    names: dict[str, str] = {}  # source path in the manifest -> staged
    for s in chapters(root):
        if s.stem not in notebooks:
            names[_rel(root, s.source)] = s.source.name
            shutil.copy(s.source, out / s.source.name)
            continue
        names[_rel(root, s.source)] = f"{s.stem}.ipynb"
        nb = json.loads(json.dumps(notebooks[s.stem]))  # a copy
        _with_source_lines(nb, s.stem, _record(build, s), _rel(root, s.source))
        (out / f"{s.stem}.ipynb").write_text(json.dumps(nb))
        _write_view(out.with_name("views"), s.stem, notebooks[s.stem])
        _copy_sources(build, s, _record(build, s), out)
    for extra in extras or []:
        shutil.copy(extra, out / extra.name)
    _write_manifest(root, names, out, subtitle, [e.name for e in extras or []])
    return out


VIEWS = """project: {type: default, output-dir: _site}
format: {html: {toc: true, html-math-method: mathml, code-overflow: wrap}}
"""


def _write_view(out: Path, stem: str, nb: dict[str, Any]) -> None:
    """The executed notebook as a page of the site (Quarto renders
    build/<profile>/views as a project of its own): every cell's code and
    outputs under the chapter's headings, each cell at its label."""
    heading = re.search(r"^# (.*?)\s*(\{.*)?$", _source(nb["cells"][0]), re.M)
    title = heading.group(1) if heading else stem
    front = f"---\ntitle: {json.dumps(title + ': the executed notebook')}\n---"
    link = f"Download: [{stem}.ipynb]({stem}.ipynb)"
    cells = [{"cell_type": "raw", "metadata": {}, "source": front}]
    cells.append({"cell_type": "markdown", "metadata": {}, "source": link})
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":  # references into the book as text
            text = re.sub(r"@((?:fig|tbl|eq|sec)-)", r"\1", _source(cell))
            outs = [
                o
                for o in cell["outputs"]
                if SOURCE_MIME not in o.get("data", {})
            ]
            cells.append({**cell, "source": text, "outputs": outs})
            continue
        lines = ["", *_source(cell).splitlines()]  # a callout's title: no
        heads = [
            b
            for a, b in zip(lines, lines[1:])
            if re.match(r"#{2,} ", b) and not a.startswith(":::")
        ]
        if heads:
            cells.append({**cell, "source": "\n\n".join(heads)})
    for i, c in enumerate(cells):
        _set_source(c, _source(c))  # lists of lines, as Quarto reads them
        c["id"] = f"v{i}"
    view = {**nb, "cells": cells}
    (out / f"{stem}.ipynb").write_text(json.dumps(view))
    (out / "_quarto.yml").write_text(VIEWS)


def _copy_sources(root: Path, s: Section, record: dict, out: Path) -> None:
    """The executed notebook and params files that source lines link to
    (site/notebooks/<stem>.ipynb, site/params/<name>)."""
    shutil.copy(root / "exec" / f"{s.stem}.ipynb", out / "notebooks")
    for name in record.get("param_files", []):
        if Path(name).is_file():
            shutil.copy(name, out / "params" / Path(name).name)


def _write_manifest(
    root: Path,
    names: dict[str, str],
    out: Path,
    subtitle: str,
    extras: list[str],
) -> None:
    """_quarto.yml with the staged chapters, and the files it names
    (report/'s filter, styles, bibliography) copied beside it."""
    text = (root / MANIFEST).read_text()
    for source, staged in names.items():
        text = re.sub(
            rf"(?m)^([ \t]*- ){re.escape(source)}[ \t]*$",
            rf"\g<1>{staged}",
            text,
        )
    book = yaml.safe_load(text)
    book.setdefault("book", {})["subtitle"] = subtitle
    project = book.setdefault("project", {"type": "book"})
    project.pop("pre-render", None)  # for plain Quarto's renders only
    project["render"] = list(names.values())
    project["resources"] = ["notebooks/", "params/", *extras]
    shutil.copytree(
        root / "report",
        out / "report",
        ignore=shutil.ignore_patterns("*.qmd"),
        dirs_exist_ok=True,
    )
    (out / MANIFEST).write_text(yaml.safe_dump(book, sort_keys=False))
