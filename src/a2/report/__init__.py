"""What turns results into the report.

The helpers a section's chunks call are re-exported here, so a chunk
writes ``from a2.report import check, fmt, table``:

- :mod:`a2.report.prose`: computed values as text (:func:`fmt`,
  :func:`sci`, :class:`Md`) and the models behind a figure
  (:func:`source`);
- :mod:`a2.report.tables`: computed tables, and tables whose verdict
  columns are decided from their own figures (:class:`VerdictTable`);
- :mod:`a2.report.checking`: derivations checked against independent
  computations (:func:`check`, :func:`check_true`, :func:`checks`).

Beside them: :mod:`a2.report.rules` (the rules behind every verdict
word), :mod:`a2.report.figures` (the figures' shared style),
:mod:`a2.report.provenance` (which runs and checks each section made)
and :mod:`a2.report.appendix` (the appendix's tables).
"""

from a2.report.checking import (
    Check,
    CheckFailed,
    check,
    check_true,
    checks,
    worst,
)
from a2.report.prose import Md, fmt, md, plural, sci, source
from a2.report.tables import Verdict, VerdictTable, table, table_markdown
from a2.text import code, link

__all__ = [
    "Check",
    "CheckFailed",
    "Md",
    "Verdict",
    "VerdictTable",
    "check",
    "check_true",
    "checks",
    "code",
    "fmt",
    "link",
    "md",
    "plural",
    "sci",
    "source",
    "table",
    "table_markdown",
    "worst",
]
