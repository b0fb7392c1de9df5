"""Provenance: the runs a section used, the source line under every
figure and table, and the files those lines link to in the site."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from a2.report import provenance


@pytest.fixture
def record_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(provenance, "_used", [])
    monkeypatch.setattr(provenance, "_checks", [])
    monkeypatch.setenv(provenance.ENV, str(tmp_path / ".5-x.pending.json"))
    return tmp_path


def test_runs_a_section_uses_are_noted_once_each_in_order(
    record_dir: Path,
) -> None:
    for key in ("b", "a", "b"):
        provenance.note_run(key)
    pending = json.loads((record_dir / ".5-x.pending.json").read_text())
    assert pending["runs"] == ["b", "a"]


def test_used_runs_joins_finished_sections_and_this_process(
    record_dir: Path,
) -> None:
    (record_dir / "4-y.json").write_text(json.dumps({"runs": ["c", "a"]}))
    provenance.note_run("a")
    provenance.note_run("d")
    assert provenance.used_runs() == ["c", "a", "d"]


def test_commit_outside_a_checkout_says_so(tmp_path: Path) -> None:
    assert provenance.commit(tmp_path) == "not a git checkout"


@pytest.fixture
def kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A process outside the build (the code notebook's kernel)."""
    for name in ("_used", "_checks"):
        monkeypatch.setattr(provenance, name, [])
    monkeypatch.setattr(provenance, "_sections", {})
    monkeypatch.delenv(provenance.ENV, raising=False)


def test_sections_run_in_one_kernel_are_the_appendix_records(
    kernel: None, tmp_path: Path
) -> None:
    """Outside the build, each section's runs and checks are what it
    noted after loading its parameters; the running one (the appendix)
    is left out, and a section run again starts over."""
    from a2.config import params
    from a2.report import check, check_true

    params.load("1-optimization")
    check_true("one", True)
    params.load("4-pooling")
    provenance.note_run("k1")
    check("two", 1.0, 1.0, rtol=1e-9)
    params.load("1-optimization")  # again: its first record is gone
    check_true("three", True)
    check_true("four", True)
    params.load("6-reproducibility")
    got = provenance.records(tmp_path)
    assert list(got) == ["4-pooling", "1-optimization"]
    assert [c["name"] for c in got["1-optimization"]["checks"]] == [
        "three",
        "four",
    ]
    assert got["4-pooling"]["runs"] == ["k1"]
    assert [c["name"] for c in got["4-pooling"]["checks"]] == ["two"]
    assert {r["commit"] for r in got.values()} == {"not a git checkout"}
    assert provenance.used_runs() == ["k1"]


def test_in_the_build_the_records_are_the_finished_sections_files(
    record_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from a2.config import params

    monkeypatch.setattr(provenance, "_sections", {})
    for stem in ("2-b", "6-reproducibility", "1-a"):
        (record_dir / f"{stem}.json").write_text(json.dumps({"s": stem}))
    params.load("6-reproducibility")  # the appendix, running
    assert provenance.records(record_dir) == {
        "1-a": {"s": "1-a"},
        "2-b": {"s": "2-b"},
    }


class Captions(HTMLParser):
    """Every caption of a page (figcaption or caption) with its text and
    the links of its source line (span.a2-source)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict] = []
        self.open = 0  # depth inside the current caption
        self.source = 0  # depth inside its source line

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag in ("figcaption", "caption"):
            if not self.open:
                self.items.append({"text": "", "links": None})
            self.open += 1
        elif self.open and tag == "span":
            if "a2-source" in (attrs.get("class") or "").split():
                self.items[-1]["links"] = []
                self.source = 1
            elif self.source:
                self.source += 1
        elif self.source and tag == "a":
            self.items[-1]["links"].append(attrs.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("figcaption", "caption") and self.open:
            self.open -= 1
        elif tag == "span" and self.source:
            self.source -= 1

    def handle_data(self, data: str) -> None:
        if self.open:
            self.items[-1]["text"] += data


def numbered_captions(page: Path) -> list[dict]:
    parser = Captions()
    parser.feed(page.read_text())
    return [
        c
        for c in parser.items
        if re.match(r"\s*(Figure|Table)\s+\d+\.\d+", c["text"])
    ]


def test_every_figure_and_table_in_the_site_has_a_source_line_that_links(
    smoke_dist: Path,
) -> None:
    site = smoke_dist / "site"
    seen = 0
    for page in sorted(site.glob("[0-9]*.html")):
        for caption in numbered_captions(page):
            seen += 1
            links = caption["links"]
            assert links, (page.name, caption["text"][:60])
            assert links[0].startswith(f"notebooks/{page.stem}.html")
            assert links[1] == f"notebooks/{page.stem}.ipynb"
            for href in links:
                target = href.split("#")[0]
                assert (site / target).is_file(), (page.name, href)
    assert seen > 10


def test_figures_of_trained_models_name_their_cache_keys(
    smoke_dist: Path,
) -> None:
    html = (smoke_dist / "site/4-pooling.html").read_text()
    keys = re.findall(
        r'href="(?:\./)?6-reproducibility.html#trained-models"'
        r"><code>([0-9a-f]{16})</code>",
        html,
    )
    assert keys, "no trained model named under section 4's figures"
    appendix = (smoke_dist / "site/6-reproducibility.html").read_text()
    assert all(k in appendix for k in keys)


def test_appendix_lists_exactly_the_runs_this_build_used(
    smoke_dist: Path,
) -> None:
    records = (smoke_dist.parent / "provenance").glob("*.json")
    used = {k for r in records for k in json.loads(r.read_text())["runs"]}
    appendix = (smoke_dist / "site/6-reproducibility.html").read_text()
    keys = re.findall(r"\w <code>([0-9a-f]{16})</code></td>", appendix)
    listed = set(keys)
    assert used and listed == used


def test_the_build_trains_beforehand_exactly_the_runs_sections_use(
    smoke_built: Path, smoke_data: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """a2.colour.experiments.plan (trained side by side before the sections
    run) names every run a section then loads, and no other."""
    from a2.colour import cache, experiments
    from a2.config import params
    from a2.pipeline import sections

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("A2_DATA", smoke_data)
    profile = repo / "params/smoke.yaml"
    training = [
        s for s in sections.notebooks(repo) if params.SCHEMAS[s.stem].trains
    ]
    assert [s.stem for s in training] == ["4-pooling", "5-transposed"]
    for s in training:
        p = params.load(s.stem, params.overrides(s.stem, profile=profile))
        data = experiments.load_data(p.n_train, p.n_valid)
        runs = experiments.plan(p).configs()
        planned = {cache.run_key(c, data) for c in runs}
        record = provenance.read(smoke_built / "provenance" / f"{s.stem}.json")
        assert set(record["runs"]) == planned, s.stem
