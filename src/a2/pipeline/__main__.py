"""`python -m a2.pipeline <command>`: the steps the Makefile runs.

  deps OUT                   write Make rules: section -> library files
  check [--profile F]        validate every section's params file, and
                             the data source if a section reads data
  execute NAME [--params F] [--profile F]
                             validate, then run one section's notebook
  resolve NAME               print the stem of a section (stem or number)
  render --dist D [--extra F ...]
                             stage the executed sections, render the PDF
                             and the site (Quarto or the embedded renderer)
  assemble OUT
  params [NAME]              every parameter of a section (all when no
                             name): default, meaning, valid values
  train [NAME] [--params F] [--profile F] [--workers N]
                             train every run the sections (or one) will
                             load, side by side, into the cache
Errors print one line (no traceback) and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from a2.pipeline.sections import BuildError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m a2.pipeline")
    p.add_argument("--root", type=Path, default=Path.cwd())
    p.add_argument("--build", type=Path, default=Path("build/full"))
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("deps").add_argument("out", type=Path)
    sub.add_parser("check").add_argument("--profile", type=Path)
    ex = sub.add_parser("execute")
    ex.add_argument("name")
    ex.add_argument("--params", type=Path)
    ex.add_argument("--profile", type=Path)
    sub.add_parser("resolve").add_argument("name")
    rd = sub.add_parser("render")
    rd.add_argument("--dist", type=Path, required=True)
    rd.add_argument("--extra", type=Path, action="append", default=[])
    sub.add_parser("assemble").add_argument("out", type=Path)
    sub.add_parser("params").add_argument("name", nargs="?", default="")
    tr = sub.add_parser("train")
    tr.add_argument("name", nargs="?", default="")
    tr.add_argument("--params", type=Path)
    tr.add_argument("--profile", type=Path)
    tr.add_argument("--workers", type=int)
    return p


def _write_if_changed(path: Path, text: str) -> None:
    """Keep the file's time when its content is unchanged (Make stamps)."""
    if path.is_file() and path.read_text() == text:
        return
    from a2.fileio import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, text.encode())


def _absolute_data(root: Path) -> None:
    """A relative A2_DATA path means one under the repository root, for
    every process the build starts (notebooks run in other folders)."""
    value = os.environ.get("A2_DATA", "download").strip()
    if value and value != "download" and not Path(value).is_absolute():
        os.environ["A2_DATA"] = str((root / value).resolve())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root, build = args.root.resolve(), args.build.resolve()
    _absolute_data(root)
    from a2.pipeline import sections

    if args.cmd == "deps":
        for path in sections.unlisted(root):
            print(
                f"warning: {path.relative_to(root)} is not listed in "
                f"{sections.MANIFEST}; it is not built",
                file=sys.stderr,
            )
        _write_if_changed(args.out, sections.deps_makefile(root))
    elif args.cmd == "resolve":
        print(sections.resolve(root, args.name).stem)
    elif args.cmd == "check":
        from a2.pipeline.checks import check_data
        from a2.pipeline.execute import section_params

        params = {
            s: section_params(root, s, profile=args.profile)
            for s in sections.notebooks(root)
        }
        check_data(root, params)  # A2_DATA, for the sections that read it
    elif args.cmd == "execute":
        from a2.pipeline.execute import execute, section_params

        s = sections.resolve(root, args.name)
        params = section_params(root, s, args.params, args.profile)
        t0 = time.perf_counter()
        files = [
            args.params or s.params_file(root),
            *([args.profile] if args.profile else []),
        ]
        execute(root, s, build, params, files)
        print(f"executed {s.stem} in {time.perf_counter() - t0:.1f}s")
    elif args.cmd == "render":
        from a2.pipeline.render import render

        t0 = time.perf_counter()
        used = render(
            root, build, args.dist.resolve(), [e.resolve() for e in args.extra]
        )
        print(
            f"rendered the PDF and the site with {used} "
            f"in {time.perf_counter() - t0:.1f}s"
        )
    elif args.cmd == "train":
        from a2 import params as schemas
        from a2.pipeline.execute import section_params
        from a2.schedule import train_sections

        chosen = (
            [sections.resolve(root, args.name)]
            if args.name
            else sections.notebooks(root)
        )
        merged = {
            s.stem: schemas.load(
                s.stem, section_params(root, s, args.params, args.profile)
            )
            for s in chosen
            if sections.trains(root, s)
        }
        outcomes = train_sections(merged, workers=args.workers)
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise BuildError(
                f"{len(failed)} run(s) failed to train, "
                f"first {failed[0].key}: {failed[0].error}"
            )
    elif args.cmd == "params":
        from a2 import params

        stems = (
            [sections.resolve(root, args.name).stem]
            if args.name
            else [s.stem for s in sections.notebooks(root)]
        )
        print("\n\n".join(params.describe(s) for s in stems))
    elif args.cmd == "assemble":
        from a2.pipeline.assemble import assemble

        assemble(root, build, args.out.resolve())
        print(f"assembled {args.out}")
    return 0


if __name__ == "__main__":
    from a2.config import ParamsError

    try:
        sys.exit(main())
    except (BuildError, ParamsError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2 if isinstance(err, ParamsError) else 1)
    except KeyboardInterrupt:
        print(
            "error: interrupted; the previous outputs are kept",
            file=sys.stderr,
        )
        sys.exit(130)
    except OSError as err:  # a full disk, a folder that is not writable
        print(
            f"error: {err.strerror or err} ({err.filename or 'build'}); "
            f"the previous outputs are kept",
            file=sys.stderr,
        )
        sys.exit(1)
