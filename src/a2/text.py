"""Text that did not come from the repository (file names, fields of a
run manifest in a shared cache, parameter values, check names), made
safe for where it goes, each way by one function:

- :func:`printable` for a terminal: ANSI escape sequences and control
  characters go, so a stored string cannot move the cursor, clear the
  screen, rewrite an earlier line or reorder what is shown;
- :func:`code` for Markdown (the site, the PDF, the notebooks): the text
  shown verbatim whatever it holds (backticks, HTML, ``$``, ``@``, ``|``,
  Quarto shortcodes, newlines), as an inline code span or as plain text.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

# CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \), and any other
# two-character escape; then C0, DEL and C1 controls, line and paragraph
# separators, and the bidirectional controls that reorder shown text.
_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[ -~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f"
    "\u202a-\u202e\u2066-\u2069]"
)
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII, escapable in pandoc
# Where a word joiner goes: inside '{{<' and '>}}' (Quarto reads a
# shortcode in them, in code spans too) and between two colons (':::'
# makes it warn of a broken fenced div, even when text around adds one).
_QUARTO = re.compile(r"(?<=\{\{)(?=<)|(?<=>)(?=\}\})|(?<=:)(?=:)")


def printable(text: Any) -> str:
    """``text`` as one line a terminal shows as it reads: escape
    sequences removed, every other control character (tab and newline
    included) shown as '?'."""
    return _CONTROL.sub("?", _ESCAPE.sub("", str(text)))


def code(text: Any, plain: bool = False) -> str:
    """``text`` as Markdown that shows it verbatim: an inline code span,
    or with ``plain`` ordinary text with every markup character escaped.

    Control characters become '?' (:func:`printable`), white space runs
    one space; an invisible word joiner splits ``{{<``, ``>}}`` and
    ``:::``, which Quarto would read as a shortcode or a fenced div."""
    text = printable(" ".join(str(text).split()))
    text = _QUARTO.sub("\u2060", text)
    if plain:
        return _PUNCTUATION.sub(r"\\\1", text)
    if not text:
        return ""
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def link(text: Any, href: str) -> str:
    """A link whose text is a code span and whose target is
    percent-encoded: safe for any file name."""
    return f"[{code(text)}](<{quote(href, safe='/#.-_~')}>)"
