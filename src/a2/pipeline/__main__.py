"""`python -m a2.pipeline [--profile NAME] [--build B] [--dist D] [-v]`:

  pdf                        execute what changed, render the book
  check                      validate the parameters and the data source
  section NAME [--params F]  execute one section, then render
  params [NAME]              every parameter: default, meaning, values
  train                      train every run the sections' plans declare
  checkpoints                train, then pack them: <dist>/a2-checkpoints.tar

CHECKPOINTS=pack (environment) brings a pack's runs into the cache
first (pdf, section, train; ``a2.pipeline.checkpoints``). Errors print
one line (no traceback) and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from a2.pipeline import BuildError

if TYPE_CHECKING:
    from a2.pipeline.build import Options


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
    sub.add_parser("train")
    sub.add_parser("checkpoints")
    return p


def main(argv: list[str] | None = None) -> int:
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
    profile = profile_path(name, root / "params")
    b = (args.build or Path("build") / name).resolve()
    dist = args.dist or (Path("dist") if profile is None else b / "dist")
    verbose = args.verbose or os.environ.get("V", "") not in ("", "0")
    o = build.Options(root, b, dist.resolve(), profile, verbose)
    if args.cmd == "check":
        build.check(o)
        return 0
    pack = os.environ.get("CHECKPOINTS", "")
    if args.cmd in ("train", "checkpoints"):
        from a2.pipeline import checkpoints

        with build.locked(root):
            if args.cmd == "train":
                checkpoints.train(_planned(o), pack)
            else:
                checkpoints.pack(_planned(o), o.dist, pack)
        return 0
    if args.cmd == "section":
        o.force = sections.resolve(root, args.name).stem
        o.params = Path(args.params).expanduser() if args.params else None
    build.check(o, data=False)  # a bad file: one line, before any lock
    with build.locked(root) as fd:
        o.lock = fd
        if pack:
            from a2.pipeline import checkpoints

            checkpoints.bring_in(_planned(o), pack)
        build.run(o)
    return 0


def _planned(o: Options) -> dict[str, dict]:
    """Every section's parameters as the build would run it (its params
    file, the profile, a PARAMS= file kept), parameters and data checked:
    the plan `make train` trains and CHECKPOINTS= imports."""
    from a2.pipeline import build

    base = build.check(o)
    return {
        s.stem: build.decide(o, s, base[s.stem]).values
        for s in build.notebooks(o.root)
    }


def _settings(root: Path) -> None:
    """DATA (make) or A2_DATA, and A2_CACHE, read as the library reads
    them (``~`` expanded, a relative path made absolute against the
    repository), for every process the build starts."""
    from a2.config import environment

    data = os.environ.get("DATA") or os.environ.get("A2_DATA", "")
    os.environ["A2_DATA"] = environment.normalise_data(data, root)
    if os.environ.get("A2_CACHE", "").strip():
        cache = environment.normalise_path(os.environ["A2_CACHE"], root)
        os.environ["A2_CACHE"] = str(cache)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def cli(argv: list[str] | None = None) -> int:
    """main() as the command line runs it: its exit status, every error
    printed as one line (no traceback)."""
    from a2.config.files import ParamsError
    from a2.text import printable

    _settings(Path.cwd())
    kept = "; the previous outputs are kept"
    try:
        return main(argv)
    except (BuildError, ParamsError) as err:
        line, code = printable(err), 2 if isinstance(err, ParamsError) else 1
    except KeyboardInterrupt:
        line, code = "interrupted" + kept, 130
    except OSError as err:  # a full disk, a folder that is not writable
        from a2.fileio import os_error_line

        line, code = os_error_line(err) + kept, 1
    except MemoryError:
        line, code = "out of memory" + kept, 1
    print(f"error: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID`: clean up too
    sys.exit(cli())
