"""One build per tree: ``python -m a2.pipeline.lock ROOT CMD ...`` runs
CMD while holding an exclusive lock on ROOT/build/.lock.

A second build in the same tree says so in one line and waits for the
first; the lock is released by the OS if the holder dies. Ctrl-C reaches
the command from the terminal (its process group), SIGTERM is passed on;
the command's exit status is this one's.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
from pathlib import Path

WAIT_EXIT = 75  # EX_TEMPFAIL, when A2_LOCK_WAIT=0 and the tree is busy


def run_locked(root: Path, cmd: list[str]) -> int:
    path = root / "build" / ".lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            if os.environ.get("A2_LOCK_WAIT", "1") == "0":
                print(
                    f"error: another build is running in this tree "
                    f"(pid {holder}); try again when it ends",
                    file=sys.stderr,
                )
                return WAIT_EXIT
            print(
                f"another build is running in this tree (pid {holder});"
                f" waiting for it",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        child = subprocess.Popen(cmd)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the child's to handle
        signal.signal(signal.SIGTERM, lambda s, f: child.send_signal(s))
        code = child.wait()
        return 128 - code if code < 0 else code


if __name__ == "__main__":
    if len(sys.argv) < 3:
        print(
            "usage: python -m a2.pipeline.lock ROOT CMD [ARG ...]",
            file=sys.stderr,
        )
        sys.exit(2)
    sys.exit(run_locked(Path(sys.argv[1]), sys.argv[2:]))
