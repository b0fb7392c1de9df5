"""Whole stops: a signal to the build ends the build and every child.

A build has children in process groups of their own: papermill's kernel
(jupyter_client starts it in a new session, and its own children with
it) and each Quarto render (deno, and the pandoc and typst it runs),
which the build starts in a session of its own for the same reason: a
terminal's Ctrl-C or hangup reaches the build's group only, and ``kill
PID`` the build only, so the build itself must end the others, by
group, or they go on as orphans.

While :func:`handled` is in force, INT (Ctrl-C), TERM (``kill PID``)
and HUP (a closed terminal) raise :class:`Stopped` where the build
stands. Every step's ``finally`` then ends its children (the kernel
through nbclient's cleanup, Quarto through :func:`end`) and removes its
partial files, and the command line prints one line naming the signal;
the previous outputs stay, since they are only ever replaced whole.
Signals that arrive while the build stops are ignored, so that a second
Ctrl-C cannot cut the cleanup short.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

SIGNALS = {
    signal.SIGINT: "interrupted",
    signal.SIGTERM: "stopped by SIGTERM",
    signal.SIGHUP: "stopped by SIGHUP (the terminal closed)",
}
GRACE_S = 3.0  # how long a child may take to end on TERM before KILL


class Stopped(KeyboardInterrupt):
    """The build was stopped by a signal. A KeyboardInterrupt, so that
    the library's own stops (training workers, cache writes) apply."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return SIGNALS.get(self.signum, f"stopped by signal {self.signum}")


def _stop(signum: int, frame: Any) -> None:
    for sig in SIGNALS:  # the first signal stops; later ones wait for it
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """INT, TERM and HUP raise :class:`Stopped` meanwhile."""
    old = {sig: signal.signal(sig, _stop) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def start(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """A child in a session of its own, ended whole by :func:`end`."""
    return subprocess.Popen(args, start_new_session=True, **kwargs)


def end(procs: list[subprocess.Popen], grace: float = GRACE_S) -> None:
    """End the process group of each of ``procs`` (started by
    :func:`start`), those that finished included: a group outlives its
    leader when deno exits before its pandoc. TERM first, KILL for what
    is still there after ``grace`` seconds."""
    for how in (signal.SIGTERM, signal.SIGKILL):
        for p in procs:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, how)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(grace if how == signal.SIGTERM else None)
        if how == signal.SIGTERM and not any(map(_group_alive, procs)):
            return


def _group_alive(p: subprocess.Popen) -> bool:
    try:
        os.killpg(p.pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
