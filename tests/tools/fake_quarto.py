#!/usr/bin/env python3
"""A stand-in for `quarto render DIR --to FMT`, for the build's own tests:
it writes what the build expects of Quarto (the site's index.html, the
PDF) from the staged notebooks' Markdown, in a second instead of Quarto's
ten. The real Quarto renders the smoke book (tests/conftest.py).

FAKE_QUARTO_FAIL=1 makes a render fail (any other text: the render fails
and its log is that text, as Quarto's would be); FAKE_QUARTO_SLEEP=S
waits first; FAKE_QUARTO_CHILD=1 first starts a child that waits too (as
deno starts pandoc); FAKE_QUARTO_PIDS=F appends each render's pid (and
its child's) to F.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

if sys.argv[1:] == ["--version"]:
    print("0.0.0-fake")
    sys.exit(0)
book, fmt = Path(sys.argv[2]), sys.argv[sys.argv.index("--to") + 1]
pids = [os.getpid()]
if os.environ.get("FAKE_QUARTO_CHILD"):
    wait = "import time; time.sleep(600)"
    pids.append(subprocess.Popen([sys.executable, "-c", wait]).pid)
if os.environ.get("FAKE_QUARTO_PIDS"):
    with open(os.environ["FAKE_QUARTO_PIDS"], "a") as fh:
        fh.write("".join(f"{pid}\n" for pid in pids))
time.sleep(float(os.environ.get("FAKE_QUARTO_SLEEP", "0")))
failure = os.environ.get("FAKE_QUARTO_FAIL", "")
if failure:
    text = "ERROR: the render failed as asked" if failure == "1" else failure
    print(text, file=sys.stderr)
    sys.exit(1)
text = [p.read_text() for p in sorted(book.glob("*.md"))]
for nb in sorted(book.glob("[0-9]*.ipynb")):  # the chapters
    cells = json.loads(nb.read_text())["cells"]
    for c in cells:
        src = c["source"]
        text.append("".join(src) if isinstance(src, list) else src)
        for o in c.get("outputs", []):
            for key in ("text", "data"):
                text.append(json.dumps(o.get(key, "")))
import re  # noqa: E402

manifest = (book / "_quarto.yml").read_text()
found = re.search(r"output-dir:\s*(\w+)", manifest)
out = book / (found.group(1) if found else "_book")
out.mkdir(exist_ok=True)
body = "\n".join(text)
if fmt == "html":
    (out / "index.html").write_text(f"<html><body>{body}</body></html>")
else:
    (out / "a2-writeup.pdf").write_text(f"%PDF-fake\n{body}")
