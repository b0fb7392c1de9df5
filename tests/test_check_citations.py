"""The same check prints the same number wherever it appears: prose that
states a checked difference shows the figure the check recorded (and so
the appendix's), not a number of its own (1.1.1 once printed a
Euclidean distance, 8.3e-15, beside a check's 3.3e-15)."""

from __future__ import annotations

import json
from pathlib import Path

from a2.report import Check, worst

# Section: (the checks whose figure a sentence cites, the sentence's start)
CITED = {
    "1-optimization": [
        ("SGD limit = min-norm solution", "random problems ends within"),
        ("iterates stay in row(X)", "the largest component of any"),
    ],
    "2-hyperparameters": [
        ("Adam with L2 reaches the ridge solution", "Adam with L2 ends"),
    ],
}


def prose(book: Path, stem: str) -> str:
    """A section's Markdown as staged for Quarto, inline values in."""
    nb = json.loads((book / f"{stem}.ipynb").read_text())
    return "\n".join(
        "".join(c["source"])
        for c in nb["cells"]
        if c["cell_type"] == "markdown"
    )


def test_prose_shows_the_figure_its_check_recorded(smoke_built: Path):
    for stem, cited in CITED.items():
        record = json.loads(
            (smoke_built / "provenance" / f"{stem}.json").read_text()
        )
        text = " ".join(prose(smoke_built / "book", stem).split())
        for name, start in cited:
            done = [
                Check(**c)
                for c in record["checks"]
                if c["name"].startswith(name)
            ]
            assert done, (stem, name)
            sentence = text[text.index(start) :][:300]
            assert worst(done).value in sentence, (stem, name, sentence)
