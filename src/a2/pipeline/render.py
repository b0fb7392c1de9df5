"""Render the book with Quarto (``QUARTO``, on PATH, .tools/quarto, or
the pinned quarto-cli installed into the venv), the site and the PDF side
by side; the code notebook, PDF and site are written beside the outputs
and switched with them in one step, or not at all.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from a2.pipeline import BuildError, checkpoints
from a2.pipeline.assemble import assemble
from a2.pipeline.sections import chapters
from a2.pipeline.stage import merged, stage

STAMP = ".a2-render"  # in the outputs: what they were rendered from
ASSETS = ("_quarto.yml", "index.md", "report", "src/a2/pipeline")
WAYS = (
    "get Quarto from https://quarto.org/docs/get-started/, or `conda env "
    "create -f environment.yml`, or pass QUARTO=path/to/quarto, or run "
    "`make quarto` where ../shared/quarto sits beside the clone"
)


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


def _stamp(root: Path, nbs: dict) -> str:
    """A hash of everything the outputs are made from."""
    h = hashlib.sha256(json.dumps(nbs, sort_keys=True).encode())
    for name in ASSETS:
        p = root / name
        for f in sorted(p.rglob("*")) if p.is_dir() else [p]:
            if f.is_file() and f.suffix not in (".qmd", ".pyc"):
                h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()


def render(o) -> None:  # noqa: ANN001 (build.Options: no import cycle)
    from a2.config import environment
    from a2.report import provenance

    nbs = {
        s.stem: merged(o.root, o.build, s)
        for s in chapters(o.root)
        if s.is_notebook
    }
    stamp, done = _stamp(o.root, nbs), o.dist / STAMP
    outputs = ("a2-writeup.pdf", "a2-code.ipynb", "site/index.html")
    if all((o.dist / f).is_file() for f in outputs) and (
        done.is_file() and done.read_text() == stamp
    ):
        print(f"nothing changed: outputs in {os.path.relpath(o.dist)}/")
        return
    quarto, version = find_quarto(o.root)
    for old in o.dist.parent.glob(f".{o.dist.name}.*.new"):
        shutil.rmtree(old, ignore_errors=True)  # a killed build's
    new = o.dist.parent / f".{o.dist.name}.{os.getpid()}.new"
    try:
        new.mkdir(parents=True)
        assemble(o.root, nbs, new / "a2-code.ipynb")
        subtitle = (
            f"Built {provenance.now()} from commit "
            f"{provenance.commit(environment.REPO)} with Quarto {version}"
            + checkpoints.title_note(o.build)
        )
        book = stage(o.root, o.build, nbs, subtitle, [new / "a2-code.ipynb"])
        print(f"rendering with Quarto {version}", flush=True)
        _collect(_quarto(quarto, book, o), new, stamp)
        checkpoints.keep_pack(o.dist, new)
        switch(new, o.dist)
    except KeyboardInterrupt:
        raise BuildError(
            "interrupted; the previous outputs are kept"
        ) from None
    except OSError as err:
        raise BuildError(
            f"{err.strerror or err} ({err.filename or new}); the previous "
            f"outputs are kept"
        ) from None
    finally:
        shutil.rmtree(new, ignore_errors=True)
    shown = os.path.relpath(o.dist)
    print(f"outputs in {shown}/: a2-writeup.pdf a2-code.ipynb site/")


def _quarto(quarto: str, book: Path, o) -> Path:  # noqa: ANN001
    """`quarto render` of the stage, the site and the PDF side by side
    (two processes, one per format, on two copies of the stage): the
    site in book/_book, with the PDF copied in. Logs in
    build/logs/quarto-<format>.log (the terminal too with V=1)."""
    pdf_book = book.with_name(book.name + "-pdf")
    shutil.rmtree(pdf_book, ignore_errors=True)
    shutil.copytree(book, pdf_book)
    procs, logs = [], []
    views = book.with_name("views")
    for fmt, where in (("html", book), ("typst", pdf_book), ("html", views)):
        logs.append(o.build / "logs" / f"quarto-{where.name}.log")
        logs[-1].parent.mkdir(parents=True, exist_ok=True)
        fh = None if o.verbose else open(logs[-1], "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                [quarto, "render", str(where), "--to", fmt],
                cwd=where,
                stdout=fh,
                stderr=subprocess.STDOUT if fh else None,
                pass_fds=(o.lock,) if o.lock is not None else (),
            )
        )
        if fh:
            fh.close()  # the child has its own copy
    try:
        codes = [p.wait() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for log, code in zip(logs, codes):
        if code != 0:
            text = log.read_text(errors="replace") if log.is_file() else ""
            first = next((ln for ln in text.splitlines() if "ERROR" in ln), "")
            raise BuildError(
                f"quarto render failed (exit {code})"
                f"{': ' + ' '.join(first.split())[:200] if first else ''}; "
                f"full log: {os.path.relpath(log)}; the previous outputs "
                f"are kept"
            )
    site = book / "_book"
    shutil.copy(pdf_book / "_book" / "a2-writeup.pdf", site / "a2-writeup.pdf")
    shutil.copytree(
        views / "_site",
        site / "notebooks",
        ignore=shutil.ignore_patterns("*.ipynb"),  # the executed ones stay
        dirs_exist_ok=True,
    )
    shutil.rmtree(pdf_book, ignore_errors=True)
    return site


def _collect(site: Path, new: Path, stamp: str) -> None:
    """The rendered site and its PDF into ``new``, with the stamp."""
    shutil.copy(site / "a2-writeup.pdf", new / "a2-writeup.pdf")
    shutil.move(site, new / "site")
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
    held = signal.pthread_sigmask(
        signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM}
    )
    try:
        os.replace(dist, old)
        os.replace(new, dist)
        os.replace(old, new)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
