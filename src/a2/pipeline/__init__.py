"""The build: `make pdf` and `make section` (``python -m a2.pipeline``).

Papermill executes each section's .qmd, keyed on what its code sees;
Quarto renders the book. docs/ARCHITECTURE.md shows the modules."""


class BuildError(RuntimeError):
    """A build step that cannot go on; the message says why (no traceback)."""


def oneline(text: object) -> str:
    """``text`` on one line: control characters (a newline in a file
    name, a terminal escape) shown as escapes, never acted on."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
