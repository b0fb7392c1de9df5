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
        ("SGD's limit = minimum-norm solution", "random problems ends within"),
        (
            "every iterate lies in the row space of X",
            "No iterate has a part outside",
        ),
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


def test_table_1_1_shows_gradient_descents_distance_as_its_check(
    smoke_built: Path,
):
    """Table 1.1 and the appendix print gradient descent's distance to
    w* from one check, to the same digits (they once showed 1.24e-16
    and a per-coordinate 1.1e-16)."""
    stem = "1-optimization"
    record = json.loads(
        (smoke_built / "provenance" / f"{stem}.json").read_text()
    )
    (done,) = [
        Check(**c)
        for c in record["checks"]
        if c["name"] == "gradient descent reaches w∗"
    ]
    nb = json.loads((smoke_built / "book" / f"{stem}.ipynb").read_text())
    rows = [
        line
        for cell in nb["cells"]
        for out in cell.get("outputs", [])
        for line in "".join(
            out.get("data", {}).get("text/markdown", "")
        ).splitlines()
        if line.startswith("| gradient descent")
    ]
    assert len(rows) == 1, rows
    cells = [c.strip() for c in rows[0].split("|")[1:-1]]
    assert done.value in cells, (done.value, cells)
