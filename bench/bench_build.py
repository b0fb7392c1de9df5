"""What a user waits for: the build after an edit, measured.

    python bench/bench_build.py [--profile full|smoke] [--cold]

Works on a copy of the repository (tracked files plus the profile's build
folder; the real tree is never touched), with this venv, Quarto as the
build finds it and the cache A2_CACHE points at, and prints:

- a prose-only edit to each section, to a new PDF and site: seconds,
  and the sections executed (none expected);
- `make section S=5 PARAMS=p.yaml` (batch_sizes [50, 200], sweep_epochs
  3) after an edit to another section: seconds, the sections executed,
  and whether the PDF shows the new batch sizes;
- with --cold: a build from an empty build folder and an empty cache,
  its time and the number of lines of its log.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make(copy: Path, *args: str, **env: str) -> tuple[float, str]:
    """`make ARGS` in the copy: seconds and the whole log."""
    full = {**os.environ, **env}
    full.pop("MAKEFLAGS", None)
    venv = Path(sys.executable).parents[1]
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["make", "--no-print-directory", f"VENV={venv}", "SETUP=", *args],
        cwd=copy,
        env=full,
        capture_output=True,
        text=True,
    )
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        sys.exit(f"make {' '.join(args)} failed:\n{log[-3000:]}")
    return time.perf_counter() - t0, log


def executed(log: str) -> list[str]:
    return re.findall(r"^([\w-]+): executing", log, re.M)


def copy_repo(dest: Path, profile: str) -> Path:
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, dest / rel)
    build = REPO / "build" / profile
    if build.is_dir():
        shutil.copytree(build, dest / "build" / profile, symlinks=True)
    return dest


def pdf_text(copy: Path, profile: str) -> str:
    dist = copy / ("dist" if profile == "full" else f"build/{profile}/dist")
    return subprocess.run(
        ["pdftotext", str(dist / "a2-writeup.pdf"), "-"],
        capture_output=True,
        text=True,
    ).stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="full")
    ap.add_argument("--cold", action="store_true")
    args = ap.parse_args()
    profile = f"PROFILE={args.profile}"
    with tempfile.TemporaryDirectory() as tmp:
        copy = copy_repo(Path(tmp) / "a2", args.profile)
        if args.cold:
            shutil.rmtree(copy / "build", ignore_errors=True)
            cache = Path(tmp) / "cache"
            secs, log = make(copy, "pdf", profile, A2_CACHE=str(cache))
            print(
                f"cold build ({args.profile}, empty cache): {secs:.0f} s, "
                f"{len(log.splitlines())} log lines"
            )
            return
        secs, log = make(copy, "pdf", profile)
        print(
            f"first build of the copy: {secs:.1f} s, executed {executed(log)}"
        )
        for qmd in sorted((copy / "report").glob("*.qmd")):
            text = qmd.read_text()
            first = re.search(r"^[A-Z][a-z]+ ", text, re.M)  # a prose word
            qmd.write_text(text.replace(first.group(0), first.group(0) * 2, 1))
            secs, log = make(copy, "pdf", profile)
            print(
                f"prose edit in {qmd.stem}: new PDF and site in "
                f"{secs:.1f} s, executed {executed(log) or 'nothing'}"
            )
        other = copy / "report/1-optimization.qmd"
        other.write_text(other.read_text() + "\nOne more sentence.\n")
        params = copy / "p.yaml"
        params.write_text("batch_sizes: [50, 200]\nsweep_epochs: 3\n")
        secs, log = make(copy, "section", "S=5", f"PARAMS={params}", profile)
        text = " ".join(pdf_text(copy, args.profile).split())
        shown = "batch_sizes = [50, 200]" in text
        print(
            f"make section S=5 PARAMS=p.yaml after an edit: {secs:.1f} s, "
            f"executed {executed(log)}; the PDF shows "
            f"batch_sizes = [50, 200]: {shown}"
        )


if __name__ == "__main__":
    main()
