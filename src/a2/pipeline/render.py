"""Render the book: stage the executed sections (``a2.pipeline.stage``),
then write the PDF and the site from that stage with one renderer.

- Quarto (first choice): one ``quarto render`` of the stage writes both
  formats; found as ``QUARTO=path``, ``quarto`` on PATH, or the one
  ``make quarto`` set up in .tools/quarto.
- The embedded renderer (``a2.pipeline.embedded``): pandoc and Typst from
  Python wheels, for machines without Quarto.

``A2_RENDERER`` (make: ``RENDERER=``) is ``auto`` (Quarto when found),
``quarto`` or ``embedded``. Outputs are written aside and then moved in,
so a failed render keeps the previous PDF and site.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from a2.pipeline.sections import BuildError
from a2.pipeline.stage import stage

CHOICES = ("auto", "quarto", "embedded")


@dataclass(frozen=True)
class Renderer:
    name: str  # "quarto" or "embedded"
    version: str
    path: str | None = None  # quarto's executable

    def __str__(self) -> str:
        if self.name == "quarto":
            return f"Quarto {self.version}"
        return f"the embedded renderer ({self.version})"


def _quarto_version(path: str) -> str | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version = out.stdout.strip().splitlines()
    return version[0] if out.returncode == 0 and version else None


def _embedded_version() -> str:
    from a2.pipeline import pandoc

    return f"pandoc {pandoc.version()}, Typst {pandoc.typst_version()}"


def choose() -> Renderer:
    """The renderer the settings ask for; BuildError when Quarto is asked
    for and cannot be run."""
    setting = os.environ.get("A2_RENDERER", "auto").strip() or "auto"
    if setting not in CHOICES:
        raise BuildError(f"RENDERER={setting}: valid: {', '.join(CHOICES)}")
    if setting != "embedded":
        given = os.environ.get("QUARTO", "").strip()
        path = given or shutil.which("quarto") or _local_quarto()
        version = _quarto_version(path) if path else None
        if version:
            return Renderer("quarto", version, path)
        if given or setting == "quarto":
            where = f"QUARTO={given}" if given else "no quarto on PATH"
            raise BuildError(
                f"RENDERER={setting} needs Quarto, but it cannot be run "
                f"({where}); install it (README: Quarto) or use "
                f"RENDERER=embedded"
            )
    return Renderer("embedded", _embedded_version())


def _local_quarto() -> str | None:
    """The Quarto `make quarto` set up in the repository (.tools)."""
    from a2 import settings

    path = settings.REPO / ".tools" / "quarto" / "bin" / "quarto"
    return str(path) if path.is_file() else None


def subtitle(renderer: Renderer) -> str:
    from a2 import provenance, settings

    return (
        f"Built {provenance.now()} from commit "
        f"{provenance.commit(settings.REPO)} with {renderer}"
    )


def render(
    root: Path, build: Path, dist: Path, extras: list[Path] | None = None
) -> Renderer:
    """Write dist/a2-writeup.pdf and dist/site; returns the renderer."""
    renderer = choose()
    print(f"rendering with {renderer}", flush=True)
    work = build / "render"
    book = None
    try:
        book = stage(root, build, subtitle(renderer), extras or [])
        dist.mkdir(parents=True, exist_ok=True)
        if renderer.name == "quarto":
            made = render_quarto(book, renderer)
        else:
            from a2.pipeline import embedded

            made = embedded.render(book, work)
        replace_outputs(made, dist)
    finally:  # what a render leaves takes space: none of it is kept
        shutil.rmtree(work, ignore_errors=True)
        if book is not None:
            shutil.rmtree(book / "_book", ignore_errors=True)
    return renderer


def render_quarto(book: Path, renderer: Renderer) -> Path:
    """One `quarto render` of the stage: both formats into book/_book."""
    assert renderer.path
    try:
        proc = subprocess.run([renderer.path, "render", str(book)], cwd=book)
    except KeyboardInterrupt:
        raise BuildError(
            "interrupted while Quarto was rendering; the "
            "previous PDF and site are kept"
        ) from None
    if proc.returncode != 0:
        raise BuildError(
            f"quarto render failed (exit {proc.returncode}); "
            f"the previous PDF and site are kept"
        )
    return book / "_book"


def replace_outputs(made: Path, dist: Path) -> None:
    """made/ holds the site with a2-writeup.pdf in it: the PDF goes to
    dist/, the folder becomes dist/site (each with one rename)."""
    pdf = made / "a2-writeup.pdf"
    if not pdf.is_file() or not (made / "index.html").is_file():
        raise BuildError(
            f"the renderer wrote no PDF or no index.html in {made}"
        )
    tmp_pdf = dist / f".a2-writeup.{os.getpid()}.pdf"
    shutil.copy(pdf, tmp_pdf)
    os.replace(tmp_pdf, dist / "a2-writeup.pdf")
    swap(made, dist / "site")


def swap(new: Path, out: Path) -> None:
    """Replace the folder ``out`` by ``new``: ``new`` is moved next to it
    first (same file system), then two renames."""
    tag = f"{out.name}.{os.getpid()}"
    near, old = out.with_name(f".{tag}.new"), out.with_name(f".{tag}.old")
    try:
        shutil.move(str(new), near)
        if out.exists():
            os.replace(out, old)
        os.replace(near, out)
    finally:
        shutil.rmtree(near, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
