"""Render the book with Quarto, and switch the three outputs at once.

Quarto is the first found of: ``QUARTO``, ``quarto`` on PATH,
``.tools/quarto`` (``make quarto``), the venv's; with none, the pinned
``quarto-cli`` is installed into the venv. The steps:

1. Nothing is rendered when the outputs' stamp (a hash of the staged
   notebooks, the records and the files Quarto reads) is that of the
   outputs in place.
2. The code notebook is assembled and the book staged
   (``a2.pipeline.assemble``, ``a2.pipeline.stage``).
3. Quarto renders the site and the PDF side by side, two processes on
   two copies of the stage (Quarto's project files are not shared
   between processes), and the executed notebooks' pages (``views``)
   in a third; each in a session of its own (``a2.pipeline.stops``), its
   log in ``build/<profile>/logs/quarto-<folder>.log``. A failure is
   one line naming its cause as the log gives it (a full disk, a
   permission), with the log's path.
4. The outputs are moved, not copied, into a folder beside ``dist/``: the
   PDF, the site (with a second name of that PDF, which the site offers
   for download), the notebooks' pages into the site, the code notebook.
5. That folder and ``dist/`` are exchanged in one rename
   (``renameat2``), so a failure or a stop at any step leaves the
   previous three outputs, and no half-rendered folder is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from a2.pipeline import BuildError, checkpoints, record, stops
from a2.pipeline.assemble import assemble
from a2.pipeline.sections import Section
from a2.pipeline.stage import STAGE, VIEWS, merged, stage

STAMP = ".a2-render"  # in the outputs: what they were rendered from
PDF = "a2-writeup.pdf"
OUTPUTS = (PDF, "a2-code.ipynb", "site/index.html")
ASSETS = ("_quarto.yml", "index.md", "report", "src/a2/pipeline")
WAYS = (
    "get Quarto from https://quarto.org/docs/get-started/, or `conda env "
    "create -f environment.yml`, or pass QUARTO=path/to/quarto, or run "
    "`make quarto` where ../shared/quarto sits beside the clone"
)
# What a Quarto log says when the machine is the cause, as the C library
# words it (deno, pandoc and typst quote it so).
CAUSES = [
    os.strerror(e)
    for e in (
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOMEM,
        errno.EMFILE,
        errno.EIO,
    )
] + ["out of memory", "Heap exhausted"]


def _version(path: str) -> str | None:
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else None


def quarto_pin() -> str:
    """The pinned quarto-cli requirement (pyproject.toml, extra 'quarto')."""
    from importlib.metadata import requires

    return next(
        r.split(";")[0].strip()
        for r in requires("a2") or []
        if r.startswith("quarto-cli")
    )


def find_quarto(root: Path) -> tuple[str, str]:
    """Quarto's path and version (see the module docstring)."""
    given = os.environ.get("QUARTO", "")
    if given:
        version = _version(given)
        if version is None:
            raise BuildError(f"QUARTO={given} cannot be run; {WAYS}")
        return given, version
    venv = Path(sys.prefix) / "bin" / "quarto"
    local = root / ".tools" / "quarto" / "bin" / "quarto"
    for path in (shutil.which("quarto"), local, venv):
        if path and Path(path).is_file() and (version := _version(str(path))):
            return str(path), version
    pin = quarto_pin()
    # --no-deps: not its `jupyter` metapackage (JupyterLab, ...); Quarto
    # needs only nbclient, nbformat and ipykernel, pinned already.
    print(f"no Quarto found; installing {pin} into the venv", flush=True)
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", pin],
        capture_output=True,
        text=True,
    )
    if pip.returncode == 0 and (version := _version(str(venv))):
        return str(venv), version
    raise BuildError(f"no Quarto, and `pip install {pin}` failed; {WAYS}")


def _stamp(root: Path, nbs: dict, records: dict) -> str:
    """A hash of everything the outputs are made from."""
    h = hashlib.sha256(json.dumps([nbs, records], sort_keys=True).encode())
    for name in ASSETS:
        p = root / name
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            if f.is_file() and f.suffix not in (".qmd", ".pyc"):
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def render(o: Any, sections: list[Section]) -> None:
    """The three outputs of ``sections`` in ``o.dist`` (``o``:
    ``a2.pipeline.build.Options``), or the previous three untouched."""
    from a2.config import environment
    from a2.report import provenance

    done = {
        s.stem: record.read(o.build, s.stem) for s in sections if s.is_notebook
    }
    nbs = {
        s.stem: merged(s, o.build, done[s.stem])
        for s in sections
        if s.is_notebook
    }
    stamp, mark = _stamp(o.root, nbs, done), o.dist / STAMP
    if all((o.dist / f).is_file() for f in OUTPUTS) and (
        mark.is_file() and mark.read_text() == stamp
    ):
        print(f"nothing changed: outputs in {os.path.relpath(o.dist)}/")
        return
    quarto, version = find_quarto(o.root)
    for old in o.dist.parent.glob(f".{o.dist.name}.*.new"):
        shutil.rmtree(old, ignore_errors=True)  # a killed build's
    new = o.dist.parent / f".{o.dist.name}.{os.getpid()}.new"
    scratch = [o.build / STAGE, o.build / f"{STAGE}-pdf", o.build / VIEWS]
    ok = False
    try:
        new.mkdir(parents=True)
        code = new / "a2-code.ipynb"
        assemble(o.root, sections, nbs, code)
        subtitle = (
            f"Built {provenance.now()} from commit "
            f"{provenance.commit(environment.REPO)} with Quarto {version}"
            + checkpoints.title_note(o.build)
        )
        book = stage(o.root, o.build, sections, nbs, done, subtitle, [code])
        print(f"rendering with Quarto {version}", flush=True)
        _quarto(quarto, book, o)
        _collect(book, new, stamp)
        checkpoints.keep_pack(o.dist, new)
        switch(new, o.dist)
        ok = True
    except OSError as err:  # shutil.Error (a copy of many files) too
        raise BuildError(
            f"{_os_cause(err)}; the previous outputs are kept"
        ) from None
    finally:  # nothing half-made stays: only the staged book on success
        shutil.rmtree(new, ignore_errors=True)
        for folder in scratch[int(ok) :]:
            shutil.rmtree(folder, ignore_errors=True)
    shown = os.path.relpath(o.dist)
    print(f"outputs in {shown}/: a2-writeup.pdf a2-code.ipynb site/")


def _os_cause(err: OSError) -> str:
    """An OSError as one short line: the system's reason and the file;
    for a copy of many files (``shutil.Error``), the first failure and
    how many failed."""
    from a2.fileio import os_error_line, shown_name

    if isinstance(err, shutil.Error) and isinstance(err.args[0], list):
        failures = err.args[0]
        src, dst, why = (list(failures[0]) + ["", "", ""])[:3]
        return (
            f"copying {len(failures):,} file(s) failed, the first "
            f"{shown_name(src, 80)} to {shown_name(dst, 80)}: "
            f"{shown_name(why, 80)}"
        )
    return os_error_line(err)


def _quarto(quarto: str, book: Path, o: Any) -> None:
    """`quarto render` of the stage: the site (book/_book), the PDF (a
    copy of the stage, book-pdf/_book) and the notebooks' pages
    (views/_site), side by side, each ended whole however this ends."""
    pdf_book = book.with_name(f"{book.name}-pdf")
    shutil.rmtree(pdf_book, ignore_errors=True)
    shutil.copytree(book, pdf_book)
    views = book.with_name(VIEWS)
    procs, logs = [], []
    try:
        for fmt, where in (
            ("html", book),
            ("typst", pdf_book),
            ("html", views),
        ):
            logs.append(o.build / "logs" / f"quarto-{where.name}.log")
            with contextlib.ExitStack() as files:
                fh = None
                if not o.verbose:
                    fh = files.enter_context(open(logs[-1], "w"))
                procs.append(
                    stops.start(
                        [quarto, "render", str(where), "--to", fmt],
                        cwd=where,
                        stdout=fh,
                        stderr=subprocess.STDOUT if fh else None,
                        pass_fds=(o.lock,) if o.lock is not None else (),
                    )
                )
        codes = [p.wait() for p in procs]
    finally:
        stops.end(procs)
    for log, code in zip(logs, codes):
        if code != 0:
            text = log.read_text(errors="replace") if log.is_file() else ""
            raise BuildError(
                f"quarto render failed (exit {code}): {_cause(text)}; full "
                f"log: {os.path.relpath(log)}; the previous outputs are kept"
            )


def _cause(log: str) -> str:
    """What a Quarto log says went wrong, in a line: the machine's reason
    when a line gives one (a full disk, a permission: it may follow an
    error that only says which step failed), else the first error."""
    lines = [" ".join(ln.split()) for ln in log.splitlines()]
    for why in CAUSES:
        found = next((ln for ln in lines if why.lower() in ln.lower()), "")
        if found:
            return f"{why}: {found[:150]}"
    first = next(
        (ln for ln in lines if ln.lower().startswith(("error", "[error"))),
        next((ln for ln in lines if "ERROR" in ln), ""),
    )
    return first[:200] or "no error in its log"


def _link(src: str | Path, dst: str | Path) -> None:
    """A second name for ``src`` (a copy across file systems)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _collect(book: Path, new: Path, stamp: str) -> None:
    """The rendered PDF, site and notebooks' pages into ``new``, moved
    (the site's PDF is a second name of the same file), and the stamp."""
    shutil.move(book.with_name(f"{book.name}-pdf") / "_book" / PDF, new / PDF)
    shutil.move(book / "_book", new / "site")
    _link(new / PDF, new / "site" / PDF)
    shutil.copytree(
        book.with_name(VIEWS) / "_site",
        new / "site" / "notebooks",
        ignore=shutil.ignore_patterns("*.ipynb"),  # the executed ones stay
        copy_function=_link,
        dirs_exist_ok=True,
    )
    (new / STAMP).write_text(stamp)


def switch(new: Path, dist: Path) -> None:
    """``new`` becomes ``dist``; the old outputs end up in ``new``."""
    if not dist.exists():
        os.replace(new, dist)
        return
    try:  # renameat2(RENAME_EXCHANGE): one step
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.renameat2(-100, bytes(new), -100, bytes(dist), 2) == 0:
            return
    except (AttributeError, OSError):
        pass
    old = new.with_suffix(".old")
    held = signal.pthread_sigmask(signal.SIG_BLOCK, set(stops.SIGNALS))
    try:
        os.replace(dist, old)
        os.replace(new, dist)
        os.replace(old, new)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
