"""The build: `make pdf` and `make section` (``python -m a2.pipeline``).

One process, holding the tree's lock, takes the book from its sources
to its three outputs; each module is one step:

1. ``sections``: the chapters that ``_quarto.yml`` lists, each ``.qmd``
   read once (``qmd``: chunks to cells, cell options checked, a cell
   after each paragraph with inline values to evaluate them);
2. ``build``: the parameters of every section checked, and for each
   section whether it executes: only when what its code sees changed
   (code, parameters, library modules it imports, data, trained runs),
   never for prose; the runs of those sections trained side by side
   first (``a2.colour.schedule``);
3. ``execute``: each of them executed by papermill (``client``: outputs
   capped, progress lines, a time limit), leaving its executed notebook
   and one record (``record``);
4. ``stage``: the book Quarto renders: every chapter's current ``.qmd``
   around the outputs of its last execution, values written into the
   prose as text, a source line in every caption;
5. ``assemble``: the code notebook, the library inlined;
6. ``render``: Quarto renders the site and the PDF side by side, and
   the three outputs replace the previous three in one rename.

``stops`` makes a signal end the build and all its children, whatever
step it is in. docs/ARCHITECTURE.md draws the flow.
"""

import sys


class BuildError(RuntimeError):
    """A build step that cannot go on; the message says why (no traceback)."""


def say(line: str) -> None:
    """One line of the build's log on the terminal (stderr)."""
    print(line, file=sys.stderr, flush=True)
