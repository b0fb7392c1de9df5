"""Faults during long work: interrupted training resumes to the same
numbers, a damaged cache entry is retrained (never loaded), and two
builds on one cache do not corrupt it."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from conftest import PY
from nbformat import NotebookNode
from test_build import alpha

from a2.__main__ import main
from a2.colour import cache

METRICS = ("epoch", "train_loss", "valid_loss", "valid_acc")
EPOCHS = 12  # ~0.1 s each: the signal lands mid-run


def settings(palette: Path, epochs: int) -> list[str]:
    keys = dict(
        n_train=64,
        n_valid=32,
        num_filters=4,
        batch_size=16,
        epochs=epochs,
        device="cpu",
        shuffle="epoch",
        palette=palette,
    )
    return [a for k, v in keys.items() for a in ("--set", f"{k}={v}")]


def entry(cache_dir: Path) -> Path:
    (folder,) = (cache_dir / "runs").iterdir()
    return folder


def metrics(cache_dir: Path) -> list[tuple]:
    """The stored history without timings: bit-exact on the CPU."""
    manifest = json.loads((entry(cache_dir) / "manifest.json").read_text())
    return [tuple(r[k] for k in METRICS) for r in manifest["history"]]


def train_here(args: list[str], capsys) -> str:
    assert main(["train", *args]) == 0
    return capsys.readouterr().out


@pytest.fixture(scope="session")
def straight(tmp_path_factory, horse_npz, palette_file) -> list[tuple]:
    """An uninterrupted 12-epoch run: the numbers every resume must hit."""
    folder = tmp_path_factory.mktemp("straight")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("A2_CACHE", str(folder))
        mp.setenv("A2_DATA", str(horse_npz))
        assert main(["train", *settings(palette_file, EPOCHS)]) == 0
    return metrics(folder)


@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_interrupted_training_says_where_it_stopped_and_resumes_exactly(
    a2_cache, horse_npz, palette_file, straight, monkeypatch, capsys, signum
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = settings(palette_file, EPOCHS)
    log = a2_cache.parent / "child.out"
    with open(log, "w") as out:
        child = subprocess.Popen(
            [PY, "-m", "a2", "train", *args],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
    delay = random.uniform(0.0, 0.25)
    try:
        deadline = time.monotonic() + 60
        while not re.search(r"^\s+1\s", log.read_text(), re.M):
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "no epoch row in 60 s"
            time.sleep(0.01)
        time.sleep(delay)  # a random point after the first epoch's row
        child.send_signal(signum)
        err = child.communicate(timeout=60)[1]
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signum, (delay, err)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    done = cache.stored_epochs(entry(a2_cache).name)
    if done:
        assert last == f"interrupted after epoch {done}; rerun to resume"
    else:  # the signal beat the first save: nothing to resume from
        assert last == (
            "interrupted before epoch 1 finished; rerun to start again"
        )
    assert done < EPOCHS, f"the run finished before the signal ({delay:.2f} s)"

    out = train_here(args, capsys)
    if done:
        assert f"resuming after epoch {done}" in out
    assert metrics(a2_cache) == straight


def _ckpt(folder: Path) -> Path:
    """The checkpoint the manifest names."""
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder / manifest["checkpoint"]


DAMAGE = {
    "a flipped byte in the checkpoint": lambda f: _flip(_ckpt(f)),
    "a truncated checkpoint": lambda f: _truncate(_ckpt(f)),
    "a garbled manifest": lambda f: (f / "manifest.json").write_text("{"),
    "a missing checkpoint": lambda f: _ckpt(f).unlink(),
}


def _flip(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # same length: only a checksum sees it
    path.write_bytes(bytes(blob))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_cache_entry_is_reported_once_retrained_never_loaded(
    a2_cache, horse_npz, palette_file, monkeypatch, capsys, damage
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = settings(palette_file, 1)
    train_here(args, capsys)
    first = metrics(a2_cache)
    folder = entry(a2_cache)
    DAMAGE[damage](folder)

    loads = []
    real_load = torch.load
    monkeypatch.setattr(
        torch, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k)
    )
    out = train_here(args, capsys)
    damaged = [ln for ln in out.splitlines() if "damaged" in ln]
    assert damaged == [
        ln
        for ln in damaged
        if ln.startswith(f"cache entry {folder.name} is damaged (")
    ]
    assert len(damaged) == 1 and damaged[0].endswith(
        "; training it again from scratch"
    )
    assert loads == []  # the damaged checkpoint never reached torch.load
    assert metrics(a2_cache) == first

    out = train_here(args, capsys)  # the retrained entry is valid
    assert f"loaded run {folder.name}" in out and len(loads) == 1


def test_two_builds_on_one_cache_train_once_and_agree(
    a2_cache, horse_npz, palette_file, monkeypatch
) -> None:
    monkeypatch.setenv("A2_DATA", str(horse_npz))
    args = [PY, "-m", "a2", "train", *settings(palette_file, 2)]
    kids = [
        subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(2)
    ]
    outs = [k.communicate(timeout=120) for k in kids]
    assert [k.returncode for k in kids] == [0, 0], outs
    stdouts = [o for o, _ in outs]
    trained = [o for o in stdouts if "\ntraining run" in "\n" + o]
    loaded = [o for o in stdouts if "loaded run" in o]
    assert len(trained) == 1 and len(loaded) == 1, stdouts
    finals = [o.strip().splitlines()[-1] for o in stdouts]
    assert finals[0] == finals[1] and finals[0].startswith("run ")
    folder = entry(a2_cache)
    assert cache._read(folder, folder.name, log=None) is not None
    assert not list(folder.glob("*.tmp"))


# --- a build's bounded work (issue 27, class 1) -----------------------------
#
# Each case is an instance of one class: work a chunk or a value asks for
# without bound. Outputs are capped as they arrive (a2.pipeline.client),
# inline values are refused in the kernel past a length, each section
# has a time limit, and a quiet chunk gets a progress line.


def _out(**fields) -> NotebookNode:
    return NotebookNode(**fields)


def _stream(text: str, name: str = "stdout") -> NotebookNode:
    return _out(output_type="stream", name=name, text=text)


def _display(mime: str, size: int) -> NotebookNode:
    return _out(
        output_type="display_data", metadata={}, data={mime: "x" * size}
    )


MB = 1_000_000
OUTPUT_CASES = {
    "one 50 MB line": [_stream("y" * 50 * MB)],
    "200,000 lines in 2,000 messages": [
        _stream("a line\n" * 100) for _ in range(2_000)
    ],
    "stderr as well as stdout": [
        _stream("o\n" * 800),
        _stream("e\n" * 50_000, "stderr"),
    ],
    "a 5 MB Markdown display": [_display("text/markdown", 5 * MB)],
    "a 5 MB HTML table": [_display("text/html", 5 * MB)],
    "a 30 MB image": [_display("image/png", 30 * MB)],
    "500 small images": [_display("image/png", 1000) for _ in range(500)],
    "a 5 MB JSON display": [
        _out(
            output_type="execute_result",
            metadata={},
            execution_count=1,
            data={"application/json": {"k": "v" * 5 * MB}},
        )
    ],
}


@pytest.mark.parametrize("case", OUTPUT_CASES)
def test_outputs_are_capped_as_they_arrive_with_a_note(case: str) -> None:
    """What a chunk keeps is bounded whatever it prints or displays, and
    its last output says what was cut and where all of it is."""
    from a2.pipeline import client

    watch = client.Watch("1-x", "report/1-x.qmd", None, "logs/1-x.log", print)
    cell = _out(metadata={"a2_chunk": 3, "a2_line": 40}, outputs=[])
    watch.start(cell)
    for out in OUTPUT_CASES[case]:
        cell.outputs.append(out)
        watch.bound(cell.outputs)
    watch.executed(cell)
    kept = json.dumps(cell.outputs)
    assert len(kept) < client.STREAM_CHARS * 2 + client.OUTPUTS * 2000
    text = "".join(
        o["text"] for o in cell.outputs if o["output_type"] == "stream"
    )
    assert text.count("\n") <= client.STREAM_LINES + 1
    note = cell.outputs[-1]
    assert note["output_type"] == "stream"
    assert note["text"].startswith("[output cut here")
    assert "all of it is in logs/1-x.log" in note["text"]
    streams = [
        o["name"] for o in cell.outputs[:-1] if o["output_type"] == "stream"
    ]
    assert len(streams) == len(set(streams))  # one per name, as Jupyter


def test_outputs_within_the_caps_are_kept_whole() -> None:
    from a2.pipeline import client
    from a2.pipeline.qmd import INLINE_MIME

    watch = client.Watch("1-x", "report/1-x.qmd", None, "log", print)
    cell = _out(metadata={}, outputs=[])
    watch.start(cell)
    given = [
        _stream("a\n" * 10),
        _display("image/png", 300_000),  # a figure
        _stream("b\n"),
        _display("text/markdown", 5_000),  # a table
        _out(output_type="display_data", metadata={}, data={INLINE_MIME: {}}),
    ]
    for out in given:
        cell.outputs.append(out)
        watch.bound(cell.outputs)
    watch.executed(cell)
    assert [o["output_type"] for o in cell.outputs] == [
        "stream",
        "display_data",
        "stream",
        "display_data",
        "display_data",
    ]
    assert "output cut" not in json.dumps(cell.outputs)


def test_a_build_keeps_huge_outputs_out_of_the_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case (a chunk printing 50 MB, here 20 MB) and its
    kin, end to end: the executed notebook and what Quarto is given stay
    small, the log holds everything."""
    from conftest import build_cli
    from test_build import make_scratch

    book = make_scratch(tmp_path / "book")
    (book / "report/1-optimization.qmd").write_text(
        alpha(
            "print('z' * 20_000_000)\n"
            "for i in range(100_000):\n"
            "    print(i)\n"
            "import a2.report.prose\n"
            "a2.report.prose.md('| a |\\n|---|\\n' + '| b |\\n' * 400_000)\n"
            "steps = p.steps"
        )
    )
    monkeypatch.setenv("A2_DATA", "download")
    proc = build_cli(book, "pdf")
    assert proc.returncode == 0, proc.stderr
    executed = book / "build/full/exec/1-optimization.ipynb"
    assert executed.stat().st_size < 1_000_000
    assert (book / "dist/site/index.html").stat().st_size < 1_000_000
    notes = re.findall(r"\[output cut here[^\]]*\]", executed.read_text())
    assert len(notes) == 1, notes
    assert "displays" in notes[0] and "more lines printed" in notes[0]
    log = book / "build/full/logs/1-optimization.log"
    assert log.stat().st_size > 20_000_000  # everything, in the log
    assert "Alpha ran 2 steps." in (book / "dist/site/index.html").read_text()


# What an inline value may hold, evaluated by the build's own cell in a
# real kernel: (expression, status).
INLINE_CASES = {
    "the issue's 1,000,000-character string": ("'x' * 1_000_000", "too long"),
    "a long list": ("list(range(100_000))", "too long"),
    "long Markdown (a2.report.Md)": ("Md('*' * 5000)", "too long"),
    "one character over": ("'x' * 999", "too long"),  # 1001 with quotes
    "at the limit": ("'x' * 998", "ok"),
    "a number": ("40.1", "ok"),
    "a phrase": ("Md('$10^{-3}$')", "ok"),
}


def test_inline_values_over_the_limit_are_refused_in_the_kernel(
    tmp_path: Path,
) -> None:
    """The evaluating cell refuses each too long value before it is sent
    (its status says so, its data are not there); others pass."""
    import nbformat
    import papermill

    from a2.pipeline import qmd

    prose = " ".join(f"`{{python}} {e}`" for e, _ in INLINE_CASES.values())
    cells = qmd.with_inline_cells(
        qmd.cells(
            "```{python}\nfrom a2.report import Md\n```\n\n" + prose + "\n"
        )
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.from_dict(c) for c in cells])
    path = tmp_path / "inline.ipynb"
    nbformat.write(nb, path)
    papermill.execute_notebook(
        str(path), str(path), kernel_name="a2", progress_bar=False
    )
    (out,) = nbformat.read(path, 4).cells[-1].outputs
    results = out["data"][qmd.INLINE_MIME]
    for case, (expr, status) in INLINE_CASES.items():
        assert results[expr]["status"] == status, case
        if status == "too long":
            assert "data" not in results[expr], case
            assert results[expr]["size"] > qmd.INLINE_LIMIT


def test_an_inline_value_too_long_is_one_line_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import build_cli, one_error_line
    from test_build import make_scratch

    book = make_scratch(tmp_path / "book")
    (book / "report/1-optimization.qmd").write_text(
        alpha("steps = 'x' * 1_000_000")
    )
    monkeypatch.setenv("A2_DATA", "download")
    line = one_error_line(build_cli(book, "pdf"))
    assert line.startswith(
        "error: report/1-optimization.qmd:22: `{python} steps` is "
        "1,000,002 characters long; an inline value is at most 1,000"
    )
    assert len(line) < 300, line
    assert not (book / "dist").exists()


@pytest.mark.parametrize("unit", ["", "s", "m", "min", "h"])
def test_the_time_limit_takes_seconds_minutes_or_hours(unit: str) -> None:
    from a2.pipeline import build

    factor = {"": 1, "s": 1, "m": 60, "min": 60, "h": 3600}[unit]
    assert build.time_limit(f"1.5{unit}") == 1.5 * factor
    assert build.time_limit(f" 90 {unit.upper()} ") == 90 * factor
    assert build.time_limit(f"0{unit}") is None  # no limit


@pytest.mark.parametrize("text", ["abc", "-5", "5d", "1e3", "1:30", "5 5"])
def test_a_time_limit_that_is_no_duration_is_one_line(text: str) -> None:
    from a2.pipeline import BuildError, build

    with pytest.raises(BuildError, match="a section's time limit is"):
        build.time_limit(text)


TIMEOUT_CASES = {
    "a chunk that never returns": (
        alpha("import time\nwhile True:\n    time.sleep(1)"),
        "16 (chunk 3)",
        "chunk 3 of report/1-optimization.qmd (line 16)",
        3,
    ),
    "chunks that add up past it": (
        alpha("import time\ntime.sleep(5)")
        + "\n```{python}\nimport time\ntime.sleep(5)\n```\n",
        "31 (chunk 5)",
        "chunk 5 of report/1-optimization.qmd (line 31)",
        8,
    ),
    "an inline value that never returns": (
        alpha(
            "import time\ndef forever():\n    while True:\n"
            "        time.sleep(1)",
            prose="It ran `{python} forever()` times.",
        ),
        "23 (inline values)",
        "the inline values of report/1-optimization.qmd (line 23)",
        3,
    ),
}


@pytest.mark.parametrize("case", TIMEOUT_CASES)
def test_a_section_past_its_time_limit_is_one_line_with_progress_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """The section's cells share TIMEOUT seconds; past them, one line
    names the cell executing, the kernel is gone, nothing of the run is
    kept but its failure notebook. A quiet cell meanwhile gets progress
    lines (each second here: QUIET_S patched)."""
    from conftest import build_cli, none_survive, one_error_line
    from test_build import make_scratch

    from a2.pipeline import client

    text, place, name, limit = TIMEOUT_CASES[case]
    book = make_scratch(tmp_path / "book")
    (book / "report/1-optimization.qmd").write_text(text)
    monkeypatch.setattr(client, "QUIET_S", 1)
    monkeypatch.setenv("A2_DATA", "download")
    token = f"timeout-{os.getpid()}-{time.monotonic()}"
    env = {"TIMEOUT": str(limit), "A2_TEST_TOKEN": token}
    proc = build_cli(book, "pdf", env=env)
    line = one_error_line(proc)
    assert line.startswith(
        f"error: report/1-optimization.qmd:{place}: still executing when "
        f"the section's time limit of {limit} s ran out (TIMEOUT sets it"
    ), line
    assert len(line) < 300
    progress = [
        ln
        for ln in proc.stderr.splitlines()
        if ln.startswith("1-optimization: still executing")
    ]
    assert progress, proc.stderr
    assert progress[-1].startswith(f"1-optimization: still executing {name}")
    none_survive(token)
    assert (book / "build/full/failed/1-optimization.ipynb").is_file()
    assert not (book / "build/full/exec/1-optimization.ipynb").exists()


@pytest.mark.parametrize("verbose", [False, True])
def test_a_quiet_chunk_gets_progress_lines_a_chunk_shown_as_it_runs_none(
    monkeypatch: pytest.MonkeyPatch, verbose: bool
) -> None:
    """Quiet is what the terminal shows: with V=1 a chunk's output goes
    there as it comes, which is no silence; without, it goes to the log
    only, and the terminal hears from the build each QUIET_S."""
    from a2.pipeline import client

    monkeypatch.setattr(client, "QUIET_S", 0.5)
    lines: list[str] = []
    watch = client.Watch("1-x", "report/1-x.qmd", None, "log", lines.append)
    watch.verbose = verbose
    cell = NotebookNode(metadata={"a2_chunk": 4, "a2_line": 30}, outputs=[])
    with watch:
        watch.start(cell)
        for _ in range(25):  # prints every 0.1 s for 2.5 s
            cell.outputs.append(_stream("tick\n"))
            watch.bound(cell.outputs)
            time.sleep(0.1)
    if verbose:
        assert lines == []
    else:
        assert len(lines) >= 2, lines
        assert lines[0].startswith(
            "1-x: still executing chunk 4 of report/1-x.qmd (line 30), "
        )
