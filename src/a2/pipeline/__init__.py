"""The build: `make pdf` and `make section` (``python -m a2.pipeline``).

Papermill executes each section's .qmd, keyed on what its code sees;
Quarto renders the book. docs/ARCHITECTURE.md shows the modules."""


class BuildError(RuntimeError):
    """A build step that cannot go on; the message says why (no traceback)."""
