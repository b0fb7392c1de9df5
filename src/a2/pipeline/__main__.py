"""`python -m a2.pipeline [--profile NAME] [--build B] [--dist D] [-v]`:

  pdf                        execute what changed, render the book
  check                      validate the sections, parameters and data
  section NAME [--params F]  execute one section, then render
  preview NAME [--params F] [--quarto-arg=A ...]
                             Quarto's live preview of one chapter
  params [NAME]              every parameter: default, meaning, values
  train                      train every run the sections' plans declare
  checkpoints                train, then pack them: <dist>/a2-checkpoints.tar

Settings come from the environment, as make passes them: DATA (or
A2_DATA), A2_CACHE, QUARTO, TIMEOUT (a section's time limit), V;
CHECKPOINTS=pack brings a pack's runs into the cache first (pdf, section,
train; ``a2.pipeline.checkpoints``).

Errors print one line of at most ``LINE`` characters (no traceback) and
exit non-zero; a longer one is cut there, its full text appended to
``build/<profile>/logs/build.log``. INT, TERM and HUP stop the build and
every child, with one line (``a2.pipeline.stops``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from a2.pipeline import BuildError, stops

# Characters of an error line at most. The build's own lines name the
# cause, file and line in under 300; this cuts any other (a library's
# message around long paths, a list of errors) before it floods a screen.
LINE = 500
KEPT = "; the previous outputs are kept"
_folder: list[Path] = []  # the build folder, once main() has checked it

if TYPE_CHECKING:
    from a2.pipeline.build import Options
    from a2.pipeline.sections import Section


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m a2.pipeline")
    p.add_argument("--root", type=Path, default=Path.cwd())
    p.add_argument("--profile", default="")
    p.add_argument("--build", type=Path)
    p.add_argument("--dist", type=Path)
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("pdf")
    sub.add_parser("check")
    sec = sub.add_parser("section")
    sec.add_argument("name")
    sec.add_argument("--params", default="")
    sub.add_parser("params").add_argument("name", nargs="?", default="")
    pre = sub.add_parser("preview")
    pre.add_argument("name")
    pre.add_argument("--params", default="")
    # One argument for `quarto preview` each: --quarto-arg=--no-browser
    pre.add_argument("--quarto-arg", action="append", default=[])
    sub.add_parser("train")
    sub.add_parser("checkpoints")
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line's work; errors are raised (:func:`cli` prints
    them)."""
    from a2.pipeline import build, sections

    args = _parser().parse_args(argv)
    root = args.root.resolve()
    if args.cmd == "params":
        from a2.config import params

        stems = (
            [sections.resolve(root, args.name).stem]
            if args.name
            else [s.stem for s in sections.notebooks(root)]
        )
        print("\n\n".join(params.describe(s) for s in stems))
        return 0
    from a2.config.params import profile_path

    name = args.profile or "full"
    profile = profile_path(name, root / "params")  # a bad name: one line
    b = (args.build or Path("build") / name).resolve()
    _folder[:] = [b]
    dist = args.dist or (Path("dist") if profile is None else b / "dist")
    verbose = args.verbose or os.environ.get("V", "") not in ("", "0")
    o = build.Options(root, b, dist.resolve(), profile, verbose)
    if args.cmd == "preview":
        from a2.pipeline.preview import preview

        given = Path(args.params).expanduser() if args.params else None
        return preview(root, b, args.name, given, profile, args.quarto_arg)
    o.limit = build.time_limit(os.environ.get("A2_TIMEOUT", ""))
    book = sections.chapters(root)  # each .qmd is parsed once, from here
    if args.cmd == "check":
        build.check(o, book)
        return 0
    pack = os.environ.get("CHECKPOINTS", "")
    if args.cmd in ("train", "checkpoints"):
        from a2.pipeline import checkpoints

        with build.locked(root):
            if args.cmd == "train":
                checkpoints.train(_planned(o, book), pack)
            else:
                checkpoints.pack(_planned(o, book), o.dist, pack)
        return 0
    if args.cmd == "section":
        o.force = sections.resolve(root, args.name).stem
        o.params = Path(args.params).expanduser() if args.params else None
    build.check(o, book, data=False)  # a bad file: one line, before any lock
    with build.locked(root) as fd:
        o.lock = fd
        if pack:
            from a2.pipeline import checkpoints

            checkpoints.bring_in(_planned(o, book), pack)
        build.run(o, book)
    return 0


def _planned(o: Options, book: list[Section]) -> dict[str, dict]:
    """Every section's parameters as the build would run it (its params
    file, the profile, a PARAMS= file kept), parameters and data checked:
    the plan `make train` trains and CHECKPOINTS= imports."""
    from a2.pipeline import build

    base = build.check(o, book)
    return {
        s.stem: build.decide(o, s, base[s.stem]).values
        for s in book
        if s.is_notebook
    }


def _settings(root: Path) -> None:
    """DATA (make) or A2_DATA, A2_CACHE and TIMEOUT (make) or A2_TIMEOUT,
    read as the library reads them (``~`` expanded, a relative path made
    absolute against the repository), for every process the build
    starts."""
    from a2.config import environment

    data = os.environ.get("DATA") or os.environ.get("A2_DATA", "")
    os.environ["A2_DATA"] = environment.normalise_data(data, root)
    if os.environ.get("A2_CACHE", "").strip():
        cache = environment.normalise_path(os.environ["A2_CACHE"], root)
        os.environ["A2_CACHE"] = str(cache)
    if os.environ.get("TIMEOUT", ""):
        os.environ["A2_TIMEOUT"] = os.environ["TIMEOUT"]


def _line(err: BaseException) -> tuple[str, int]:
    """The error line (the cause, the file and the line where they are
    known) and the exit status."""
    from a2.config.files import ParamsError
    from a2.fileio import os_error_line
    from a2.text import printable

    if isinstance(err, stops.Stopped):
        return str(err) + KEPT, 128 + err.signum
    if isinstance(err, KeyboardInterrupt):
        return "interrupted" + KEPT, 130
    if isinstance(err, OSError):  # a full disk, a folder not writable
        return os_error_line(err) + KEPT, 1
    if isinstance(err, MemoryError):
        return "out of memory" + KEPT, 1
    return printable(err), 2 if isinstance(err, ParamsError) else 1


def _log(line: str) -> str:
    """``line`` appended to the build's log; the log's path ('' before
    the build folder is known, or when the log cannot be written: the
    disk may be the cause)."""
    if not _folder:
        return ""
    path = _folder[0] / "logs" / "build.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} error: {line}\n")
    except OSError:
        return ""
    return os.path.relpath(path)


def cli(argv: list[str] | None = None) -> int:
    """main() as the command line runs it: its exit status, every error
    printed as one line (no traceback), a signal's too."""
    from a2.config.files import ParamsError

    _parser().parse_args(argv)  # a wrong argument: argparse says so
    _folder.clear()
    try:
        with stops.handled():
            _settings(Path.cwd())
            return main(argv)
    except (
        BuildError,
        ParamsError,
        KeyboardInterrupt,
        OSError,
        MemoryError,
    ) as err:
        line, code = _line(err)
    if len(line) > LINE:
        log = _log(line)
        tail = f" ... (in full: {log})" if log else " ..."
        line = line[: LINE - len(tail)] + tail
    try:
        print(f"error: {line}", file=sys.stderr, flush=True)
    except OSError:  # the terminal is gone (SIGHUP): the log has it
        pass
    return code


if __name__ == "__main__":
    sys.exit(cli())
