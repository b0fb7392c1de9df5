"""`make preview S=4`: Quarto's live preview of one chapter, executed by
Quarto itself with the project's Python and the parameters the build
would give it (its params file, the profile, ``PARAMS=``).

The chapter is previewed alone (``--profile chapter``,
_quarto-chapter.yml): as a chapter of the book, Quarto's preview first
renders every other chapter whose page is missing from _book/, executing
each, so the first page came after sections 5 and 6 had run. The book's
numbers are kept (``number-offset``). Quarto runs in a process group of
its own: Ctrl-C, ``kill`` or a closed terminal stops all of it, and the
scratch files it writes beside the chapter go with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from a2.pipeline import BuildError, render, sections
from a2.pipeline.sections import Section

PROFILE = "chapter"  # _quarto-chapter.yml
STOPS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
UNNUMBERED = re.compile(r"^# .*\{[^}]*(\.unnumbered|(?<![\w-])-)[^}]*\}")


def chapter_number(root: Path, s: Section) -> int | None:
    """The number the book gives ``s``: its place among the chapters
    not marked unnumbered (None for an appendix, which the book letters)."""
    number = 0
    for c in sections.chapters(root):
        if c.appendix:
            return None
        first = next(
            (ln for ln in c.source.read_text().splitlines() if ln[:2] == "# "),
            "",
        )
        if not UNNUMBERED.match(first):
            number += 1
        if c == s:
            return number
    return None


def scratch(s: Section) -> set[Path]:
    """What Quarto writes beside the chapter while it renders it."""
    folder, stem = s.source.parent, s.stem
    names = [f"{stem}.html", f"{stem}_files", f"{stem}.quarto_ipynb*"]
    return {p for name in names for p in folder.glob(name)}


@contextlib.contextmanager
def _stops_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) end the preview as Ctrl-C
    does."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    held = {s: signal.signal(s, interrupt) for s in STOPS - {signal.SIGINT}}
    try:
        yield
    finally:
        for s, handler in held.items():
            signal.signal(s, handler)


def _stop(proc: subprocess.Popen) -> None:
    """Quarto's whole process group: SIGTERM (Quarto cleans up), then
    SIGKILL for what is left after 10 s."""
    for signum, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
            return


def preview(
    root: Path,
    build: Path,
    name: str,
    params: Path | None,
    profile: Path | None,
    quarto_args: list[str],
) -> int:
    """Run the preview until it stops: 0 when stopped by a signal, as a
    preview ends; Quarto ending by itself (an error it has shown) is a
    BuildError."""
    from a2.config import params as schema

    s = sections.resolve(root, name)
    values = schema.overrides(s.stem, params, profile, s.params_file(root))
    quarto, _ = render.find_quarto(root)
    given = build / "preview" / f"{s.stem}.params.json"
    given.parent.mkdir(parents=True, exist_ok=True)
    given.write_text(json.dumps({"params": values}))  # JSON is YAML
    number = chapter_number(root, s)
    numbers = (
        f"number-offset:[{number}]" if number else "number-sections:false"
    )
    command = [
        *(quarto, "preview", s.source.relative_to(root).as_posix()),
        *("--profile", PROFILE, "--execute-params", str(given)),
        *("-M", numbers, *quarto_args),
    ]
    env = {
        **os.environ,
        "QUARTO_PYTHON": sys.executable,  # the project's, with its kernel
        "VIRTUAL_ENV": sys.prefix,
    }
    before = scratch(s)
    print(f"previewing {s.source.relative_to(root)} (Ctrl-C stops it)")
    proc = None
    try:
        with _stops_as_interrupts():
            proc = subprocess.Popen(
                command,
                cwd=root,
                env=env,
                stdin=subprocess.DEVNULL,
                process_group=0,
            )
            code = proc.wait()
    except KeyboardInterrupt:
        print("preview stopped", file=sys.stderr)
        return 0
    finally:  # a second Ctrl-C waits for this
        held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPS)
        if proc is not None:
            _stop(proc)
        for path in scratch(s) - before:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    raise BuildError(f"quarto preview ended (exit {code}); see above")
