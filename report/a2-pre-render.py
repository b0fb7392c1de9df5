"""Quarto's pre-render step (_quarto.yml): one line, before anything
executes, where plain Quarto cannot give what was asked.

- The whole book (`quarto render` or `quarto preview` at the root, an
  editor's "Render Book", or a chapter rendered to every format, which
  for a book is the whole book): `make pdf` builds it. Quarto would
  execute every chapter once per format, with the parameters in the
  notebooks rather than in params/, and without the build's source lines
  under figures and tables or its code notebook.
- One chapter (`quarto render report/4-pooling.qmd --to html`, `quarto
  preview ...`): Quarto executes it with the Python it found
  (QUARTO_PYTHON, else python3 on PATH), which must be the project's
  (`make venv`); another fails later with "No module named ...".

Quarto runs this file with that same Python, so it imports only the
standard library. The build's own render (build/<profile>/book) has no
pre-render step.
"""

import importlib.util
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = (
    "error: the book is built by `make pdf` (each chapter executed once, "
    "with its params/ file, trained runs from the cache); for one "
    "chapter, `make preview S=4` or `quarto render report/4-pooling.qmd "
    "--to html`"
)


def problem() -> str | None:
    if os.environ.get("QUARTO_PROJECT_RENDER_ALL") == "1":
        return BOOK
    needed = ("a2", "nbformat", "nbclient", "ipykernel")
    missing = [m for m in needed if importlib.util.find_spec(m) is None]
    if missing:
        venv = shlex.quote(str(ROOT / ".venv" / "bin" / "python"))
        return (
            f"error: Quarto runs {sys.executable}, which lacks "
            f"{', '.join(missing)}: use the project's Python (`make venv`), "
            f"e.g. `export QUARTO_PYTHON={venv}`, or activate .venv (in an "
            f"editor, select .venv as the Python interpreter)"
        )
    return None


if __name__ == "__main__":
    sys.exit(problem())  # a line: printed, and Quarto stops
