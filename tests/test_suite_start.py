"""The suite runs alike however it was started: from a terminal, as a
background job (`make test &`: SIGINT ignored), under `nohup` (SIGHUP
ignored), `setsid` (no terminal), with signals blocked, or from `make`
with its own variables set (tests/conftest.py: pytest_configure)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

# A session of its own, with the stop signals ignored and blocked.
HOSTILE_START = """
import os, signal, sys
for s in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
os.setsid()
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

INNER = '''
import os, signal, subprocess, sys

import pytest

STOPS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT]


@pytest.mark.parametrize("signum", STOPS, ids=lambda s: s.name)
def test_a_child_gets_the_default_action(signum):
    """A child that signals itself ends by that signal (Python's
    KeyboardInterrupt for SIGINT ends it so too), not after its sleep."""
    code = "import os, sys, time; os.kill(os.getpid(), int(sys.argv[1]));"
    code += " time.sleep(30)"
    child = subprocess.run(
        [sys.executable, "-c", code, str(int(signum))],
        capture_output=True, timeout=20,
    )
    assert child.returncode == -signum, child.stderr


def test_the_suite_itself_still_drops_what_it_was_started_ignoring():
    for s in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM):
        os.kill(os.getpid(), s)  # ignored (or blocked) at the start


def test_make_s_variables_are_not_the_tests_settings():
    unwanted = {"MAKEFLAGS", "V", "PROFILE", "S", "DATA", "A2_PROVENANCE"}
    assert not unwanted & set(os.environ)
    assert os.environ["A2_DATA"] == "from-make"
'''


def test_tests_see_the_same_signals_and_settings_however_started(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS),  # tests/conftest.py, as plugin `conftest`
        "MAKEFLAGS": "-j2 --jobserver-auth=fifo:/nowhere",
        "V": "1",
        "PROFILE": "smoke",
        "S": "4",
        "DATA": "from-make",
        "A2_PROVENANCE": "/nowhere/.1-optimization.pending.json",
    }
    env.pop("A2_TEST_DROPPED_SIGNALS", None)
    proc = subprocess.run(
        [
            *(sys.executable, "-c", HOSTILE_START),
            *("-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-c", os.devnull, "--rootdir", str(tmp_path), "-p", "conftest"),
            *("-n", "1", str(tmp_path / "test_inner.py")),
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout, proc.stdout[-2000:]


def test_signals_this_suite_was_started_with_are_dropped_not_defaulted() -> (
    None
):
    """Within the suite (here), a stop signal is either the default or
    dropped by the suite's own handler: never left ignored, which a
    child would inherit."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        assert signal.getsignal(s) != signal.SIG_IGN, s
