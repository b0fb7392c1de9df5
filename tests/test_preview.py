"""A chapter renders with plain Quarto, as an editor's Preview button
does: Quarto executes the .qmd itself (the runs come from the cache) and
shows the same numbers as the build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def answer(page: str) -> str:
    """The sentence of 4.2's answer that states the accuracy."""
    found = re.search(r"After \d+ epochs? the network gives [\d.]+%", page)
    assert found, page[:2000]
    return found.group(0)


def test_quarto_render_of_one_chapter_shows_the_builds_numbers(
    smoke_dist: Path, smoke_data: str, quarto_path: str, tmp_path: Path
) -> None:
    book = tmp_path / "book"
    for name in ("report", "params", "_quarto.yml", "index.md"):
        src = REPO / name
        copy = shutil.copytree if src.is_dir() else shutil.copy
        copy(src, book / name)
    smoke = yaml.safe_load((REPO / "params/smoke.yaml").read_text())
    (tmp_path / "p.yml").write_text(
        yaml.safe_dump({"params": smoke["4-pooling"]})
    )
    env = {
        **os.environ,
        "QUARTO_PYTHON": sys.executable,
        "A2_DATA": smoke_data,
    }
    proc = subprocess.run(
        [
            quarto_path,
            "render",
            "report/4-pooling.qmd",
            "--to",
            "html",
            "--execute-params",
            str(tmp_path / "p.yml"),
        ],
        cwd=book,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    preview = text((book / "_book/report/4-pooling.html").read_text())
    built = text((smoke_dist / "site/4-pooling.html").read_text())
    assert "{python}" not in preview
    assert answer(preview) == answer(built)
