"""An executed notebook as one Markdown document, as Quarto turns a
notebook into Markdown before pandoc reads it (the embedded renderer).

Reading the notebook as one document, not cell by cell, lets a fenced
div (a callout) open in one Markdown cell and close in a later one, with
code cells between, as it does under Quarto. Per code cell:

- the code, only with ``#| echo: true``;
- images: with ``#| label: fig-x`` and ``#| fig-cap``, one figure
  ``![caption](file){#fig-x}``; otherwise plain images;
- Markdown outputs as Markdown; with ``#| label: tbl-x`` and
  ``#| tbl-cap`` the first table gets ``: caption {#tbl-x}``;
- stdout and plain-text results as code blocks; stderr and bare reprs
  (``<Figure size ...>``) are dropped, as Quarto does with
  ``warning: false``.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline.sections import BuildError

OPTION = re.compile(r"^#\|\s*([\w-]+):\s*(.*?)\s*$")
NOISE = re.compile(
    r"^\s*(\[?<.* at 0x[0-9a-f]+>\]?|<Figure size .*>|"
    r"<IPython\.core\.display\.\w+ object>)\s*$"
)
TABLE_END = re.compile(r"((?:^\|.*\|[ \t]*\n?)+)", re.MULTILINE)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def options(source: str, where: str = "cell") -> tuple[dict[str, Any], str]:
    """The ``#|`` options (YAML values) and the code after them."""
    opts: dict[str, Any] = {}
    lines = source.splitlines()
    n = 0
    for line in lines:
        m = OPTION.match(line)
        if not m:
            break
        try:
            opts[m.group(1)] = yaml.safe_load(m.group(2))
        except yaml.YAMLError as err:
            raise BuildError(
                f"{where}: unreadable cell option {m.group(1)} ({err})"
            ) from None
        n += 1
    return opts, "\n".join(lines[n:]).strip("\n")


def _fence(text: str, cls: str) -> str:
    ticks = "`" * max(
        3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1
    )
    return f"{ticks}{cls}\n{text.rstrip()}\n{ticks}"


def _caption(text: str) -> str:
    return " ".join(str(text).split())  # one line: a caption is inline


class _Media:
    def __init__(self, folder: Path, stem: str):
        self.folder, self.stem, self.n = folder, stem, 0

    def save(self, data: str, ext: str, label: str) -> str:
        self.n += 1
        name = f"{label or 'output'}-{self.n}.{ext}"
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / name).write_bytes(base64.b64decode(data))
        return f"{self.folder.parent.name}/{self.folder.name}/{name}"


def _outputs(
    cell: dict[str, Any], opts: dict[str, Any], media: _Media
) -> list[str]:
    label = str(opts.get("label", ""))
    out: list[str] = []
    images: list[str] = []
    for o in cell.get("outputs", []):
        kind = o.get("output_type")
        if kind == "stream":
            if o.get("name") == "stdout" and _text(o["text"]).strip():
                out.append(_fence(_text(o["text"]), "{.cell-output}"))
            continue
        if kind == "error":
            out.append(_fence("\n".join(o.get("traceback", [])), ""))
            continue
        data = o.get("data", {})
        for mime, ext in (("image/png", "png"), ("image/jpeg", "jpg")):
            if mime in data:
                images.append(media.save(_text(data[mime]), ext, label))
                break
        else:
            if "text/markdown" in data:
                out.append(_text(data["text/markdown"]).strip("\n"))
            elif "text/plain" in data:
                text = _text(data["text/plain"])
                if text.strip() and not NOISE.match(text):
                    out.append(_fence(text, "{.cell-output}"))
    if label.startswith("fig-") and images:
        cap = _caption(opts.get("fig-cap", ""))
        if len(images) == 1:
            out.insert(0, f"![{cap}]({images[0]}){{#{label}}}")
        else:  # one figure of several images, as Quarto's subfigures
            body = "\n\n".join(f"![]({i})" for i in images)
            out.insert(0, f"::: {{#{label}}}\n{body}\n\n{cap}\n:::")
    else:
        out = [f"![]({i})" for i in images] + out
    if label.startswith("tbl-"):
        out = _caption_table(out, label, _caption(opts.get("tbl-cap", "")))
    return out


def _caption_table(out: list[str], label: str, cap: str) -> list[str]:
    for i, block in enumerate(out):
        m = TABLE_END.search(block)
        if m:
            end = m.end(1)
            out[i] = (
                block[:end].rstrip("\n")
                + f"\n\n: {cap} {{#{label}}}"
                + "\n"
                + block[end:]
            )
            return out
    raise BuildError(
        f"cell {label} has '#| label: {label}' but shows no table"
    )


def document(
    nb: dict[str, Any], media_dir: Path, stem: str, where: str
) -> str:
    """The notebook as Markdown; images are written into media_dir."""
    media = _Media(media_dir, stem)
    parts: list[str] = []
    for cell in nb.get("cells", []):
        kind = cell.get("cell_type")
        source = _text(cell.get("source", ""))
        if kind == "markdown":
            parts.append(source.strip("\n"))
        elif kind == "code":
            opts, code = options(source, where)
            if opts.get("echo") is True and code:
                parts.append(_fence(code, "python"))
            parts += _outputs(cell, opts, media)
    return "\n\n".join(p for p in parts if p.strip()) + "\n"
