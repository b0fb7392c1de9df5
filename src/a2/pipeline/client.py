"""How papermill executes a section: papermill's own notebook client
(nbclient's), with the bounds no library sets for a build.

- **Outputs are capped as they arrive**, as Jupyter front ends cap what
  they show (JupyterLab keeps the first ``maxNumberOutputs`` outputs;
  VS Code and Colab cut long text with a note): a chunk keeps the first
  ``STREAM_LINES`` lines (at most ``STREAM_CHARS`` characters) of what
  it prints and ``OUTPUTS`` displays, and a display over ``RICH_CHARS``
  (text) or ``BINARY_CHARS`` (an image) is left out; a note at the end
  of the chunk says what was cut. The full text still goes to the
  section's log (papermill logs each output as it comes). Unbounded, a
  chunk printing 50 MB reached pandoc whole, which took 11 GB of memory.
- **A quiet chunk gets a progress line.** When a chunk has run for
  ``QUIET_S`` seconds with nothing shown on the terminal, the build says
  which chunk is executing and for how long, and again each
  ``QUIET_S``.
- **Each section has a time limit** (``TIMEOUT``, ``a2.pipeline.build``):
  nbclient's per-cell timeout is set, as each cell starts, to what is
  left of the section's; when it runs out nbclient raises
  ``CellTimeoutError`` and shuts the kernel down, and the build says so
  in one line.

:class:`Engine` is registered with papermill as ``a2`` (papermill's way
to extend how it executes); :class:`Watch` holds one execution's state.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from nbclient.exceptions import CellTimeoutError
from nbclient.util import run_sync
from nbformat import NotebookNode
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.log import logger
from traitlets import Any as AnyTrait

from a2.pipeline.qmd import INLINE_MIME, INLINE_TAG

ENGINE = "a2"
STREAM_LINES = 1000  # printed lines a chunk keeps
STREAM_CHARS = 100_000  # and characters
OUTPUTS = 50  # displays a chunk keeps (JupyterLab's maxNumberOutputs)
RICH_CHARS = 200_000  # one display's text (Markdown, HTML, LaTeX, JSON)
BINARY_CHARS = 20_000_000  # one image, as base64 text
QUIET_S = 60  # seconds without a line on the terminal before one


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} characters"


class Watch:
    """One section's execution: its time limit, the chunk executing,
    the outputs each chunk kept and cut, and the progress lines (from a
    thread of its own, while papermill waits on the kernel)."""

    def __init__(
        self,
        stem: str,
        where: str,
        limit: float | None,
        log: str,
        say: Callable[[str], None],
        verbose: bool = False,
    ) -> None:
        self.stem, self.where, self.limit, self.log = stem, where, limit, log
        self.say, self.verbose = say, verbose
        self.deadline: float | None = None  # from the first cell's start
        self.cell: NotebookNode | None = None
        self.started = self.heard = time.monotonic()
        self.kept = dict.fromkeys(("lines", "chars", "outputs"), 0)
        self.cut = dict.fromkeys(("lines", "chars", "outputs"), 0)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._progress, daemon=True)

    def __enter__(self) -> Watch:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    # --- where the execution stands (nbclient's hooks) -------------------

    def _label(self, cell: NotebookNode | None) -> tuple[str, Any]:
        meta = cell.metadata if cell is not None else {}
        if "a2_chunk" in meta:
            return f"chunk {meta['a2_chunk']}", meta.get("a2_line", "?")
        if INLINE_TAG in meta.get("tags", []):
            return "the inline values", meta.get("a2_line", "?")
        return "the injected parameters", "?"

    def name(self, cell: NotebookNode | None) -> str:
        """'chunk 7 of report/x.qmd (line 120)', for a progress line."""
        label, line = self._label(cell)
        return f"{label} of {self.where} (line {line})"

    def place(self, cell: NotebookNode | None) -> str:
        """'report/x.qmd:120 (chunk 7)', for an error line."""
        label, line = self._label(cell)
        return f"{self.where}:{line} ({label.removeprefix('the ')})"

    def start(self, cell: NotebookNode, **_: Any) -> None:
        """A cell starts (``on_cell_start``); none starts past the
        section's time limit."""
        with self.lock:
            self.cell = cell
            self.started = self.heard = time.monotonic()
            if self.deadline is None and self.limit:  # the kernel is up
                self.deadline = self.started + self.limit
            self.kept = dict.fromkeys(self.kept, 0)
            self.cut = dict.fromkeys(self.cut, 0)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise CellTimeoutError("the section's time limit ran out")

    def remaining(self, cell: NotebookNode) -> int | None:
        """The cell's timeout (``timeout_func``): what is left of the
        section's time limit (None: no limit)."""
        if self.deadline is None:
            return None
        return max(1, round(self.deadline - time.monotonic()))

    def executed(self, cell: NotebookNode, **_: Any) -> None:
        """A cell ended (``on_cell_executed``): the note of what its
        outputs' cap left out, as its last output."""
        with self.lock:
            self.cell = None  # between cells: nothing to report
        cut = []
        if self.cut["chars"]:
            cut.append(
                f"{self.cut['lines']:,} more lines printed "
                f"({_size(self.cut['chars'])})"
            )
        if self.cut["outputs"]:
            cut.append(
                f"{self.cut['outputs']:,} displays over {OUTPUTS} or over "
                f"{_size(RICH_CHARS)} of text or {_size(BINARY_CHARS)} of "
                f"image"
            )
        if cut:
            note = (
                f"[output cut here, as a notebook's front end cuts it: "
                f"{' and '.join(cut)}; all of it is in {self.log}]\n"
            )
            cell.outputs.append(
                NotebookNode(output_type="stream", name="stdout", text=note)
            )

    # --- outputs -----------------------------------------------------------

    def bound(self, outs: list[NotebookNode]) -> None:
        """The output just appended to ``outs``, kept within the caps:
        printed text runs into the stream before it, cut at the caps; a
        display over its size is left out."""
        out = outs.pop()
        if self.verbose:  # papermill shows it on the terminal
            self.heard = time.monotonic()
        if out.output_type == "stream":
            self._stream(outs, out)
            return
        data = out.get("data", {})
        if INLINE_MIME in data:  # the build's own: bounded in the kernel
            outs.append(out)
            return
        over = self.kept["outputs"] >= OUTPUTS or any(
            len(v if isinstance(v, str) else json.dumps(v))
            > (BINARY_CHARS if mime.startswith("image/") else RICH_CHARS)
            for mime, v in data.items()
        )
        if over:
            self.cut["outputs"] += 1
            return
        self.kept["outputs"] += 1
        outs.append(out)

    def _stream(self, outs: list[NotebookNode], out: NotebookNode) -> None:
        text = "".join(out.text) if isinstance(out.text, list) else out.text
        lines = STREAM_LINES - self.kept["lines"]
        chars = STREAM_CHARS - self.kept["chars"]
        head = "".join(text[: max(chars, 0)].splitlines(True)[: max(lines, 0)])
        self.kept["lines"] += head.count("\n")
        self.kept["chars"] += len(head)
        rest = text[len(head) :]
        self.cut["lines"] += rest.count("\n") + (rest[-1:] not in ("", "\n"))
        self.cut["chars"] += len(rest)
        if not head:
            return
        last = outs[-1] if outs else None
        if last is not None and last.get("name") == out.name:
            last.text = "".join(last.text) + head  # one stream, as Jupyter
        else:
            outs.append(NotebookNode(out, text=head))

    # --- progress ------------------------------------------------------------

    def _progress(self) -> None:
        while not self.done.wait(1):
            with self.lock:
                now, cell = time.monotonic(), self.cell
                if cell is None or now - self.heard < QUIET_S:
                    continue
                self.heard = now
                ran = now - self.started
            self.say(
                f"{self.stem}: still executing {self.name(cell)}, {ran:.0f} s"
            )


class Client(PapermillNotebookClient):
    """papermill's client with a :class:`Watch` on its outputs, and the
    kernel's own stdout and stderr (a library's warnings written to the
    file descriptor, not through IPython) in the section's log."""

    watch = AnyTrait(allow_none=True)
    kernel_output = AnyTrait(allow_none=True)  # a file, or None: terminal

    def output(
        self,
        outs: list[NotebookNode],
        msg: dict[str, Any],
        display_id: str | None,
        cell_index: int,
    ) -> NotebookNode | None:
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and outs and outs[-1] is out and self.watch:
            self.watch.bound(outs)
        return out  # whole: papermill writes it to the log

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        if self.kernel_output is not None:
            kwargs.setdefault("stdout", self.kernel_output)
            kwargs.setdefault("stderr", self.kernel_output)
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)


class Engine(NBClientEngine):
    """papermill's nbclient engine, executing with :class:`Client`."""

    @classmethod
    def execute_managed_notebook(  # noqa: ANN206
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        **kwargs: Any,
    ):
        kwargs.pop("input_path", None)
        return Client(
            nb_man,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
            startup_timeout=start_timeout,
            **kwargs,
        ).execute()


papermill_engines.register(ENGINE, Engine)
