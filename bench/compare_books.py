"""The numbers of two commits' smoke books, compared.

    python bench/compare_books.py OLD NEW [--profile smoke]
    python bench/compare_books.py --pdfs A.pdf B.pdf

Builds the book of each commit (a git worktree each, this venv, the
Quarto that QUARTO names, the cache A2_CACHE points at, so trained runs
are shared) and compares the numbers each PDF prints: those only one of
them prints are listed. Made to show that a change of
how values reach the prose (``{{< var >}}`` to inline `` `{python} x` ``)
left every number as it was; times measured during a build differ from
one build to the next and are named as such.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")


def build(rev: str, where: Path, profile: str) -> str:
    """The PDF text of commit ``rev``'s book."""
    subprocess.run(
        ["git", "worktree", "add", "-q", "--detach", str(where), rev],
        cwd=REPO,
        check=True,
    )
    env = {**os.environ, "PYTHONPATH": str(where / "src")}
    env.pop("MAKEFLAGS", None)
    venv = Path(sys.executable).parents[1]
    # -o: an older Makefile's `pdf: venv` would otherwise re-install the
    # package into this venv from the worktree, which is then removed.
    stamp = f"{venv}/.a2-installed"
    proc = subprocess.run(
        ["make", "-o", stamp, "pdf", f"PROFILE={profile}", f"VENV={venv}"]
        + ["SETUP="],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"{rev}: the build failed\n{proc.stderr[-3000:]}")
    # The full profile's outputs go to dist/, another profile's to
    # build/<profile>/dist/.
    out = where / "dist" if profile == "full" else where / "build" / profile
    return pdf_text(next(out.rglob("a2-writeup.pdf")))


def pdf_text(pdf: str | Path) -> str:
    return subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True
    ).stdout


def numbers(text: str) -> collections.Counter:
    """How often each number is printed."""
    return collections.Counter(NUMBER.findall(text))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--profile", default="smoke")
    ap.add_argument(
        "--pdfs", action="store_true", help="OLD and NEW are built PDFs"
    )
    args = ap.parse_args()
    if args.pdfs:  # e.g. a CPU build's and a GPU pack's (gpu_check.sh)
        books = {r: pdf_text(r) for r in (args.old, args.new)}
        compare(books, args.old, args.new)
        return
    with tempfile.TemporaryDirectory() as tmp:
        books = {}
        try:
            for rev in (args.old, args.new):
                books[rev] = build(rev, Path(tmp) / rev, args.profile)
        finally:
            for rev in (args.old, args.new):
                subprocess.run(
                    [
                        "git",
                        "worktree",
                        "remove",
                        "--force",
                        str(Path(tmp) / rev),
                    ],
                    cwd=REPO,
                    capture_output=True,
                )
    compare(books, args.old, args.new)


def compare(books: dict[str, str], a: str, b: str) -> None:
    """The numbers only one of the two books prints, each with where it
    stands, and how many both print alike."""
    old, new = numbers(books[a]), numbers(books[b])
    for rev, only in ((a, old - new), (b, new - old)):
        print(f"only {rev}: {sorted(only.elements())}")
        for n in sorted(only):  # where each stands: a time, a page, ...
            print(f"  {n}: {context(books[rev], n)}")
    print(f"{sum((old & new).values())} numbers printed by both alike")


def context(text: str, number: str) -> str:
    """The first line of ``text`` that prints ``number``."""
    pattern = rf"(?<![\w.]){re.escape(number)}(?![\w.]\d)"
    line = next((ln for ln in text.splitlines() if re.search(pattern, ln)), "")
    return " ".join(line.split())[:110]


if __name__ == "__main__":
    main()
