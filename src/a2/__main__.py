"""Command line for the colourisation runs.

    python -m a2 train [--params FILE.yaml] [--set key=value ...] [--retrain]
    python -m a2 runs

``train`` trains a network, or loads it from the checkpoint cache, and
prints the epoch table. It takes the keys of ``a2.config.params.TrainCommand``:
the run's (model, kernel, num_filters, ...) and the data's (n_train,
n_valid, label, palette); the data source is ``A2_DATA``. A params file
of section 4 or 5 may also hold keys that other experiments use
(``batch_sizes``, ``seeds``, ...): ``train`` names them and ignores
them. ``runs`` lists the cached runs.

A bad key or value, a bad data source or palette, a cache that cannot be
used, a run that diverges, an operating-system error (a name too long, no
permission, a full disk) and running out of memory each end with a
one-line message and exit status 2 (a data problem names ``A2_DATA``, an
OS error its file). Whatever a listing prints from stored files goes
through ``a2.text.printable``: no control characters reach the terminal.
SIGINT (Ctrl-C) or SIGTERM ends training with one line, "interrupted after
epoch N; rerun to resume" (exit 130 or 143): finished epochs are cached,
and the next run goes on from there to the same numbers. What happens to
standard output or error never stops training (``a2.colour.cache.progress``):
with ``| head -1``, a hung-up terminal or a full disk for the log, the
run is trained and cached all the same, and the command ends with 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from typing import Any

from a2.colour.data import DataError
from a2.colour.palette import PaletteError
from a2.config import environment
from a2.config.files import ParamsError, load_yaml, parse_override, suggest
from a2.config.params import SCHEMAS, TrainCommand
from a2.fileio import os_error_line, shown_name
from a2.text import printable

_current: dict[str, Any] = {}  # the run being trained, for interruptions


def train_keys() -> list[str]:
    return TrainCommand.names()


def gather(
    params: str | None, overrides: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """Training keys from a params file and ``--set`` overrides, and the
    names of the file's keys that belong to other experiments."""
    keys = train_keys()
    valid = ", ".join(keys)
    others = {k for s in SCHEMAS.values() if s.trains for k in s.names()}
    chosen: dict[str, Any] = {}
    ignored: list[str] = []
    raw = load_yaml(params) if params else {}
    for key, value in raw.items():
        if key in keys:
            chosen[key] = TrainCommand.check(key, value, str(params))
        elif key in others:
            ignored.append(key)
        else:
            raise ParamsError(
                f"{params}: unknown key '{key}'"
                f"{suggest(str(key), keys)}; train takes: {valid}"
            )
    for text in overrides:
        key, value = parse_override(text)
        if key not in keys:
            raise ParamsError(
                f"--set {text}: '{key}' is not a training key"
                f"{suggest(key, keys)}; train takes: {valid}"
            )
        chosen[key] = TrainCommand.check(key, value, "--set")
    return chosen, ignored


def cmd_train(args: argparse.Namespace) -> None:
    from a2.colour import cache, data

    chosen, ignored = gather(args.params, args.set or [])
    if ignored:
        print(
            f"note: train ignores keys for other experiments: "
            f"{', '.join(ignored)}",
            file=sys.stderr,
        )
    command = TrainCommand(**chosen)
    run_config = command.run_config()
    colour_data = data.load(
        label=command.label,
        n_train=command.n_train,
        n_valid=command.n_valid,
        palette=command.palette,
        num_colours=run_config.num_colours,  # k-means when no palette file
    )
    if colour_data.num_colours != run_config.num_colours:
        raise ParamsError(
            f"palette {command.palette} has {colour_data.num_colours}"
            f" colours but num_colours is {run_config.num_colours}; valid: "
            f"a palette of {run_config.num_colours} colours, or "
            f"--set num_colours={colour_data.num_colours}"
        )
    _current.update(
        key=cache.run_key(run_config, colour_data), epochs=run_config.epochs
    )
    say = cache.progress(print)
    run = cache.train_or_load(
        run_config, colour_data, retrain=args.retrain, log=say
    )
    last = run.history.last
    say(
        f"run {run.key}: validation loss {last.valid_loss:.4f}, "
        f"accuracy {last.valid_acc:.2f}% after {last.epoch} epochs"
    )


def cmd_runs(args: argparse.Namespace) -> None:
    """The cached runs, one row each; a malformed manifest is named in
    one line on stderr and the others are still listed."""
    from a2.colour import cache

    good, bad = cache.scan_runs()
    print(
        f"{'key':16} {'model':14} {'k':>1} {'NF':>3} {'epochs':>6} "
        f"{'device':8} {'train s':>8} {'val loss':>8} {'val acc':>7}"
    )
    for m in good:
        c, meta, last = m["config"], m["meta"], m["final"] or {}
        key, model = printable(m["key"]), printable(c["model"])
        print(
            f"{key[:16]:16} {model[:14]:14} {c['kernel']:>1} "
            f"{c['num_filters']:>3} "
            f"{meta.get('epochs_done', 0):>2}/{c['epochs']:<3} "
            f"{printable(','.join(meta['devices'])):8} "
            f"{meta.get('train_seconds', 0):>8.1f} "
            f"{last.get('valid_loss', float('nan')):>8.4f} "
            f"{last.get('valid_acc', float('nan')):>7.2f}"
        )
    for line in bad:
        print(printable(f"warning: {line}"), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m a2",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser(
        "train",
        help="train or load a colourisation run",
        description="Train or load a run; prints the epoch table. Keys: "
        + ", ".join(train_keys())
        + ". Other experiments' "
        "keys in the params file are ignored (and named).",
    )
    p_train.add_argument(
        "--params",
        metavar="FILE",
        help="YAML params file (e.g. params/smoke.yaml)",
    )
    p_train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one key (repeatable)",
    )
    p_train.add_argument(
        "--retrain",
        action="store_true",
        help="train again even if the run is cached",
    )
    p_train.set_defaults(func=cmd_train)
    p_runs = sub.add_parser("runs", help="list the cached runs")
    p_runs.set_defaults(func=cmd_runs)
    args = parser.parse_args(argv)
    _current.clear()
    with contextlib.suppress(ValueError):  # off the main thread
        # A closed pipe is an error a write reports (EPIPE), not a signal
        # that ends the process mid-epoch; Python's own default, kept.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    received = [signal.SIGINT]
    previous = _on_sigterm(received)
    from torch import OutOfMemoryError  # the GPU's, a RuntimeError

    from a2.colour.cache import RunError

    try:
        args.func(args)
    except DataError as err:
        return _error(
            f"A2_DATA={shown_name(environment.data_source())}: {err}"
        )
    except (
        ParamsError,
        PaletteError,
        RunError,
        environment.SettingError,
    ) as err:
        return _error(str(err))
    except BrokenPipeError:  # `runs | head`: the reader has what it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:  # a name too long, no permission, a full disk
        return _error(os_error_line(err))
    except (MemoryError, OutOfMemoryError):
        return _error(
            f"out of memory in 'python -m a2 {args.command}'; try smaller "
            f"n_train, batch_size or num_filters"
        )
    except KeyboardInterrupt:
        print(interrupted_message(), file=sys.stderr)
        return 128 + received[-1]
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _error(message: str) -> int:
    """One line on stderr, whatever the message holds; exit status 2."""
    print(printable(f"error: {message}"), file=sys.stderr)
    return 2


def _on_sigterm(received: list[int]):
    """SIGTERM (a killed build, a scheduler) ends like Ctrl-C: cleanly,
    with one line. Returns the previous handler (None off the main
    thread, where handlers cannot be set)."""

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:
        return None


def interrupted_message() -> str:
    """One line: how far the interrupted run got and what to do."""
    if "key" not in _current:
        return "interrupted before training started; nothing to resume"
    from a2.colour import cache

    done = cache.stored_epochs(_current["key"])
    if done == 0:
        return "interrupted before epoch 1 finished; rerun to start again"
    if done >= _current["epochs"]:
        return (
            f"interrupted after the run finished ({done} epochs, "
            f"cached); rerun to load it"
        )
    return f"interrupted after epoch {done}; rerun to resume"


if __name__ == "__main__":
    sys.exit(main())
