"""Ruff over the sections' code chunks, as over the library.

Ruff reads Python, not Quarto Markdown: each ``report/<stem>.qmd``
becomes one ``<stem>.py`` in a scratch folder, its chunks in order (a
section's names flow from chunk to chunk, as in the notebook) with a
marker line between them and their ``#|`` cell options set aside. Ruff
checks and formats those files with the project's settings
(pyproject.toml); ``--fix`` writes the formatted chunks back.

    python tests/tools/chunk_lint.py [--fix] [QMD ...]
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from a2.pipeline.qmd import CHUNK, expressions

MARKER = "# %% a2-chunk"
INLINE = "# %% a2-inline values"


@dataclass
class Chunk:
    start: int  # first line of code (0-based, after the ```{python} line)
    end: int  # the closing ``` line
    options: list[str]  # the leading #| lines
    code: str


def chunks(text: str) -> list[Chunk]:
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        if CHUNK.match(lines[i]):
            start = i + 1
            end = start
            while end < len(lines) and lines[end].rstrip() != "```":
                end += 1
            body = lines[start:end]
            n = 0
            while n < len(body) and body[n].startswith("#|"):
                n += 1
            out.append(Chunk(start, end, body[:n], "\n".join(body[n:])))
            i = end
        i += 1
    return out


def to_python(found: list[Chunk], inline: list[str] = ()) -> str:
    """The chunks in order, a blank line and a marker between them; then
    the prose's inline expressions, which use names too (never written
    back)."""
    body = "\n\n".join(f"{MARKER} {k}\n{c.code}" for k, c in enumerate(found))
    uses = "".join(f"{e}\n" for e in inline)
    return body + "\n" + (f"\n\n{INLINE}\n{uses}" if uses else "")


def from_python(text: str, count: int) -> list[str]:
    text = text.split(INLINE)[0]
    parts = re.split(rf"^{re.escape(MARKER)} \d+\n", text, flags=re.M)[1:]
    if len(parts) != count:
        raise ValueError("ruff moved a chunk marker")
    return [p.strip("\n") for p in parts]


def write_back(path: Path, found: list[Chunk], codes: list[str]) -> bool:
    """The .qmd with each chunk's code replaced; True if it changed."""
    lines = path.read_text().splitlines()
    for c, code in sorted(zip(found, codes), key=lambda x: -x[0].start):
        lines[c.start : c.end] = c.options + (
            code.splitlines() if code else []
        )
    new = "\n".join(lines) + "\n"
    changed = new != path.read_text()
    if changed:
        path.write_text(new)
    return changed


def ruff() -> str:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent))
    return exe or "ruff"


def main(argv: list[str]) -> int:
    fix = "--fix" in argv
    root = Path.cwd()
    paths = [Path(a) for a in argv if a != "--fix"] or sorted(
        (root / "report").glob("*.qmd")
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        found = {}
        for path in paths:
            text = path.read_text()
            found[path] = chunks(text)
            (work / f"{path.stem}.py").write_text(
                to_python(found[path], expressions(text))
            )
        settings = ["--config", str(root / "pyproject.toml")]
        fmt = subprocess.run(
            [
                ruff(),
                "format",
                *settings,
                *([] if fix else ["--check", "--diff"]),
                str(work),
            ],
            capture_output=True,
            text=True,
        )
        check = subprocess.run(
            [
                ruff(),
                "check",
                *settings,
                "--ignore",
                "E402,B018",  # notebook style
                *(["--fix"] if fix else []),
                str(work),
            ],
            capture_output=True,
            text=True,
        )
        report = (
            fmt.stdout + fmt.stderr + check.stdout + check.stderr
        ).replace(f"{work}/", "report/qmd:")
        if fix:
            for path, cs in found.items():
                text = (work / f"{path.stem}.py").read_text()
                if write_back(path, cs, from_python(text, len(cs))):
                    print(f"formatted {path}")
    print(report, end="")
    return 1 if (fmt.returncode or check.returncode) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
