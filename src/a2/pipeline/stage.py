"""The book Quarto renders: ``build/<profile>/book``, a Quarto project.

Each chapter is staged as a notebook: its *current* .qmd (the build's
one parse of it) around the outputs of its last execution, so a prose
edit renders without executing anything; the execution's record gives
the values of its inline expressions, written into the prose as text
(``a2.pipeline.qmd.substitute``), and the source line that every figure
and table caption ends with: the executed notebook (as a page of the
site and as .ipynb), its params files, the trained models the cell named
with ``a2.report.source``, and the commit. The executed notebooks and
params files that those lines link to are copied beside the chapters,
and ``build/<profile>/views`` holds each executed notebook as a page of
its own (code and outputs under the chapter's headings).
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import BuildError, qmd
from a2.pipeline.sections import MANIFEST, Section
from a2.report.prose import SOURCE_MIME
from a2.text import code, link

STAGE = "book"
VIEWS = "views"
# A table written in the prose, captioned the pandoc way.
PROSE_TABLE = re.compile(r"^(:[ \t].*?)([ \t]*\{#tbl-[\w-]+\})[ \t]*$", re.M)
APPENDIX_PAGE = "6-reproducibility.ipynb"
APPENDIX_RUNS = "trained-models"  # id of the appendix's runs table


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _set_source(cell: dict[str, Any], text: str) -> None:
    """nbformat's list of lines, as Quarto expects of a notebook (a
    Markdown cell given as one string loses its line breaks there)."""
    cell["source"] = text.splitlines(keepends=True)


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


def _alt(caption: str) -> str:
    """A caption as plain text, for the alt text of a figure's image."""
    text = re.sub(r"\$([^$]*)\$", r"\1", caption)  # math as its source
    text = re.sub(r"[*_`]|\\(?=[a-zA-Z])", "", text)
    return " ".join(text.split())


def _captioned(cell: dict[str, Any], line: str) -> None:
    """The cell's options written again (as JSON, which YAML reads) with
    ``line`` appended to its caption, and the caption as plain text for
    a figure's alt text unless it has one."""
    options = dict(cell["metadata"]["a2_options"])
    kind = options["label"].partition("-")[0]
    caption = options[f"{kind}-cap"]
    options[f"{kind}-cap"] = f"{caption} {line}"
    if kind == "fig":
        options.setdefault("fig-alt", _alt(caption))
    lines = _source(cell).splitlines()
    body = lines[qmd.option_lines(_source(cell)) :]
    head = [
        f"#| {key}: {json.dumps(value, ensure_ascii=False)}"
        for key, value in options.items()
    ]
    _set_source(cell, "\n".join(head + body))


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
        label = cell["metadata"].get("a2_options", {}).get("label", "")
        if not re.match(r"(fig|tbl)-", label):
            if runs:
                raise BuildError(
                    f"{where}:{cell['metadata'].get('a2_line', '?')}: "
                    f"a2.report.source() in a cell without '#| label: "
                    f"fig-...' or 'tbl-...'"
                )
            continue
        _captioned(cell, source_line(stem, record, runs, label))


def _tagged(cell: dict[str, Any], tag: str) -> bool:
    return tag in cell.get("metadata", {}).get("tags", [])


def _code_only(cell: dict[str, Any]) -> str:
    return "\n".join(
        ln for ln in _source(cell).splitlines() if not ln.startswith("#|")
    )


def merged(
    s: Section, build: Path, done: dict[str, Any] | None
) -> dict[str, Any]:
    """Section ``s`` as it reads now, with the outputs of its last
    execution (``build/<profile>/exec/<stem>.ipynb``) and the inline
    values of its record ``done`` (see the module docstring)."""
    executed = build / "exec" / f"{s.stem}.ipynb"
    try:
        if done is None:
            raise KeyError("record")
        cells = json.loads(executed.read_text())["cells"]
        injected = [c for c in cells if _tagged(c, "injected-parameters")]
        ran = [
            c for c in cells if c["cell_type"] == "code" and c not in injected
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BuildError(
            f"executed notebook {executed} or its record is unreadable or "
            f"missing ({type(err).__name__}); run `make section "
            f"S={s.stem}`"
        ) from None
    nb = copy.deepcopy(s.notebook)
    nb["cells"] = [c for c in nb["cells"] if not _tagged(c, qmd.INLINE_TAG)]
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if [_code_only(c) for c in code] != [_code_only(c) for c in ran]:
        raise BuildError(
            f"{s.where}: its code changed since it was executed; run "
            f"`make pdf` (or `make section S={s.stem}`)"
        )
    for cell, ran_cell in zip(code, ran):
        cell["outputs"] = ran_cell.get("outputs", [])
        cell["execution_count"] = ran_cell.get("execution_count")
    # The parameters it ran with follow its parameters cell, as papermill
    # left them (the code notebook runs with them; the book hides code).
    at = next(
        (i for i, c in enumerate(nb["cells"]) if _tagged(c, "parameters")),
        None,
    )
    if at is not None:
        nb["cells"][at + 1 : at + 1] = injected
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            _set_source(
                cell, qmd.substitute(cell["source"], done["inline"], s.where)
            )
    return nb


def _without_build_metadata(nb: dict[str, Any]) -> None:
    for cell in nb["cells"]:
        for key in [k for k in cell.get("metadata", {}) if k[:3] == "a2_"]:
            del cell["metadata"][key]


def stage(
    root: Path,
    build: Path,
    sections: list[Section],
    notebooks: dict[str, dict[str, Any]],
    records: dict[str, dict[str, Any]],
    subtitle: str = "",
    extras: list[Path] | None = None,
) -> Path:
    """Write build/<profile>/book and build/<profile>/views (replacing
    them) from the book's ``sections``, the merged ``notebooks`` and the
    sections' ``records``; return the book's path. ``extras`` (the code
    notebook) are copied into it for the site."""
    out, views = build / STAGE, build / VIEWS
    for folder in (out, views):
        shutil.rmtree(folder, ignore_errors=True)
    for folder in ("notebooks", "params"):
        (out / folder).mkdir(parents=True)
    views.mkdir()
    (views / "_quarto.yml").write_text(VIEWS_MANIFEST)
    names: dict[str, str] = {}  # source path in the manifest -> staged
    for s in sections:
        if s.stem not in notebooks:
            names[s.where] = s.source.name
            shutil.copy(s.source, out / s.source.name)
            continue
        names[s.where] = f"{s.stem}.ipynb"
        nb = copy.deepcopy(notebooks[s.stem])
        _with_source_lines(nb, s.stem, records[s.stem], s.where)
        _without_build_metadata(nb)
        (out / f"{s.stem}.ipynb").write_text(json.dumps(nb))
        _write_view(views, s.stem, notebooks[s.stem])
        _copy_sources(build, s, records[s.stem], out)
    for extra in extras or []:
        shutil.copy(extra, out / extra.name)
    _write_manifest(root, names, out, subtitle, [e.name for e in extras or []])
    return out


VIEWS_MANIFEST = """project: {type: default, output-dir: _site}
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
            meta = {
                k: v for k, v in cell["metadata"].items() if k[:3] != "a2_"
            }
            cells.append(
                {**cell, "source": text, "outputs": outs, "metadata": meta}
            )
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


def _copy_sources(build: Path, s: Section, record: dict, out: Path) -> None:
    """The executed notebook and params files that source lines link to
    (site/notebooks/<stem>.ipynb, site/params/<name>)."""
    shutil.copy(build / "exec" / f"{s.stem}.ipynb", out / "notebooks")
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
