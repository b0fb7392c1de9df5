"""The report speaks to a grader, not a maintainer: its prose and
captions name no library module or function (those belong in the code,
the source lines and the appendix), and the parameters read as a person
would write them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from a2.config import params
from a2.pipeline import qmd

REPO = Path(__file__).resolve().parents[1]
LIB = REPO / "src" / "a2"
SPAN = re.compile(r"`([^`\n]+)`")
CAPTION = re.compile(r"^#\| (?:fig|tbl)-cap:(.*)$", re.M)


def library_names() -> tuple[set[str], set[str]]:
    """The library's module names, and its functions' names (classes
    aside: PoolUpsampleNet is the handout's name too)."""
    files = list(LIB.rglob("*.py"))
    modules = {"a2"} | {p.stem for p in files if not p.stem.startswith("_")}
    functions = {
        node.name
        for p in files
        for node in ast.parse(p.read_text()).body
        if isinstance(node, ast.FunctionDef)
    }
    return modules, functions


def prose(path: Path) -> list[str]:
    """A section's Markdown and its figure and table captions."""
    out = []
    for cell in qmd.notebook(path)["cells"]:
        if cell["cell_type"] == "markdown":
            out.append(cell["source"])
        else:
            out += CAPTION.findall(cell["source"])
    return out


def library_words(text: str, modules: set[str], funcs: set[str]) -> list:
    """Code spans in ``text`` that name a module's member (``rules.x``),
    the package, a library function or a private name (a bare module
    name may be a word of PyTorch's: ``padding``)."""
    names = "|".join(sorted(modules))
    dotted = re.compile(rf"^(?:a2$|(?:{names})\.\w)")
    return [
        s
        for s in SPAN.findall(text)
        if not s.startswith("{python}")
        and (dotted.match(s) or s in funcs or s.startswith("_"))
    ]


def test_the_finder_sees_module_and_function_names() -> None:
    modules, funcs = library_names()
    assert {"rules", "convarith", "a2"} <= modules
    assert {"colour_stats", "closed_form"} <= funcs
    text = (
        "The rule `rules.speed` and `a2.colour.models.UNet`, `_final_conv`, "
        "`vividness` and `a2`; but `nn.Sequential`, `padding`, "
        "`report/<section>.qmd` and `{python} a.b` are fine."
    )
    assert library_words(text, modules, funcs) == [
        "rules.speed",
        "a2.colour.models.UNet",
        "_final_conv",
        "vividness",
        "a2",
    ]


def test_prose_and_captions_name_no_library_module_or_function() -> None:
    modules, funcs = library_names()
    found = [
        f"{path.name}: {word}"
        for path in sorted((REPO / "report").glob("*.qmd"))
        for text in prose(path)
        for word in library_words(text, modules, funcs)
    ]
    assert found == []


def test_each_chapter_opens_with_its_parameter_line() -> None:
    """The parameter line, set as a source line, stands right under the
    chapter's title: between two paragraphs a reader takes it for text."""
    for path in sorted((REPO / "report").glob("[1-5]-*.qmd")):
        # each chunk as one word, so that its code is not read as prose
        text = re.sub(
            r"^```\{python\}\n(.*?)^```$",
            lambda m: "PARAMS" if "params.load(" in m[1] else "CHUNK",
            path.read_text().split("\n", 1)[1],
            flags=re.S | re.M,
        )
        before = text[: text.index("PARAMS")]
        assert re.sub(r"CHUNK|\s", "", before) == "", path.name


def test_parameters_never_print_null() -> None:
    for stem in params.SCHEMAS:
        assert "null" not in params.load(stem)._repr_markdown_(), stem


# --- words from the code, in the book as printed ----------------------------

# Tools a grader need not know: the build's, and libraries by name (the
# handout's PyTorch is the course's own word).
TOOLS = re.compile(
    r"\b(papermill|quarto|typst|pytest|ruff|autograd|lapack|numpy|"
    r"matplotlib|torchvision|forward hooks?|A2_DATA|A2_CACHE|torch)\b",
    re.I,
)
KEY = re.compile(r"\b[0-9a-f]{16}\b")  # a trained run's cache key
SOURCE = re.compile(r"\[Source: .*?\]\{\.a2-source\}", re.S)
CHAPTERS = ("1-", "2-", "3-", "4-", "5-")  # the appendix may name both


def staged_prose(book: Path) -> dict[str, str]:
    """Each chapter's Markdown as Quarto prints it (inline values in),
    captions included and their source lines left out."""
    import json

    out = {}
    for path in sorted(book.glob("[1-5]-*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        parts = [
            "".join(c["source"])
            if c["cell_type"] == "markdown"
            else "\n".join(CAPTION.findall("".join(c["source"])))
            for c in cells
        ]
        out[path.stem] = SOURCE.sub("", "\n".join(parts))
    return out


def parameter_names() -> set[str]:
    """Parameter keys a reader would see as code: those with an
    underscore, unless the handout uses the word itself."""
    handout = (REPO.parent / "shared/seed/assignment-a2.txt").read_text()
    keys = {
        name
        for schema in params.SCHEMAS.values()
        for name in schema.__dataclass_fields__
        if "_" in name
    }
    return {k for k in keys if k not in handout}


def test_the_word_finders_find_each_kind() -> None:
    text = (
        "cache key `257a483e67212c50`, torch autograd, the `sweep_epochs` "
        "parameter and papermill; PyTorch's `Conv2d`, `num_filters`."
    )
    assert KEY.findall(text) == ["257a483e67212c50"]
    assert [m.lower() for m in TOOLS.findall(text)] == [
        "torch",
        "autograd",
        "papermill",
    ]
    names = parameter_names()
    assert "sweep_epochs" in names and "num_filters" not in names


def test_chapters_print_no_cache_key_tool_or_parameter_name(smoke_built):
    """Answers, derivations and captions speak of ideas: a cache key, a
    tool or a parameter's code name belongs in the source lines, the
    listings and the appendix."""
    names = parameter_names()
    found = []
    for stem, text in staged_prose(smoke_built / "book").items():
        found += [f"{stem}: key {k}" for k in KEY.findall(text)]
        found += [f"{stem}: tool {t}" for t in TOOLS.findall(text)]
        found += [
            f"{stem}: parameter {w}"
            for w in re.findall(r"\b\w+_\w+\b", text)
            if w in names
        ]
    assert found == []


def test_listings_show_or_describe_every_helper_they_call(smoke_built):
    """A listing's code calls library functions it shows, or says what
    each computes (``a2.analysis.shapes.source_listing``)."""
    import json

    _, functions = library_names()
    listings = 0
    for path in sorted((smoke_built / "book").glob("[1-5]-*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            for out in cell.get("outputs", []):
                md = "".join(out.get("data", {}).get("text/markdown", ""))
                if not md.startswith("```python"):
                    continue
                listings += 1
                code, _, notes = md[3:].partition("```")
                called = set(re.findall(r"\b(\w+)\(", code)) & functions
                defined = set(re.findall(r"^(?:def|class) (\w+)", code, re.M))
                # In words below the code: "`name` gives ...".
                described = set(re.findall(r"`(\w+)` gives", notes))
                assert called - defined - described == set(), path.stem
    assert listings == 2


# A reference says what it points at: "Section 5.4", "eq. (5.4)".
REFERENCE = re.compile(
    r"(?<![\w.$])\(?[1-6]\.\d+(?:\.\d+)?\)?(?:-\(?[1-6]\.\d+\)?)?(?![\w])"
)
NAMED = re.compile(
    r"(?:[Ee]qs?\.|Equations?|[Ss]ections?|questions?|Tables?|"
    r"Figures?|Figs?\.)\s*$"
)


def bare_references(text: str) -> list[str]:
    """Numbers like "(5.4)" or "of 4.3" with no word saying what they
    are (math, code and inline values aside)."""
    t = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    t = re.sub(r"\$[^$]*\$|`[^`]*`", " ", t)
    return [
        m[0]
        for m in REFERENCE.finditer(t)
        if not NAMED.search(t[max(0, m.start() - 12) : m.start()])
    ]


def test_the_reference_finder_finds_bare_numbers() -> None:
    text = (
        "formulas (5.4), so; the rule of 4.2; their eqs. (1.7)-(1.8); "
        "Section 2.1; question 3.2; handout eq. (2); $x = 1.5$; "
        "their Eqs. (1.1)-(1.2)"
    )
    assert bare_references(text) == ["(5.4)", "4.2"]


def test_every_reference_says_what_it_points_at() -> None:
    found = [
        f"{path.name}: {ref}"
        for path in sorted((REPO / "report").glob("*.qmd"))
        for text in prose(path)
        for ref in bare_references(text)
    ]
    assert found == []


def test_sections_4_and_5_quote_no_recorded_training_time() -> None:
    """The times recorded with each trained run carry the machine's load
    at the time: sections 4 and 5 quote none of them (their speed words
    rest on epochs timed in turns), and the appendix's table of trained
    models prints none (it would read as a network's speed)."""
    texts = {
        stem: (REPO / "report" / f"{stem}.qmd").read_text()
        for stem in ("4-pooling", "5-transposed")
    }
    for stem, text in texts.items():
        assert not re.search(r"\{python\} [\w.]*train_s", text), stem
    from a2.report import appendix

    assert not any("time" in h for h in appendix.RUNS_HEADER)


def test_section_3_cites_kaplan_et_al_equations_by_locator() -> None:
    """Section 3's "Eq." references are all Kaplan et al.'s, written as
    citation locators ("[5, Eq. 5.4]"): a bare "Eq. (5.4)" or "their
    Eq. (5.4)" reads as the report's own Equation (5.4) of section 5."""
    cited = re.compile(r"\[@kaplan2020scaling, [^\]]*\]")
    eq = re.compile(r"\bEqs?\.\s*\(?\d")
    found = [
        m[0]
        for text in prose(REPO / "report" / "3-resources.qmd")
        for m in eq.finditer(cited.sub(" ", text))
    ]
    assert found == []
    assert any(
        cited.search(t) for t in prose(REPO / "report" / "3-resources.qmd")
    )


CODE_ISH = re.compile(
    r"(?<=\d) x (?=\d|the\b)"  # "2 x the fewest": ×
    r"|(?<![\w−])-\d"  # an ASCII minus: −
    r"|\^|~|_|\bd2|\w=\w"  # "x^T", "lambda~", "h_max", "d2L", "NIC=1"
)


def check_names(path: Path) -> list[str]:
    """The names (first arguments) of a module's check() and
    check_true() calls: the appendix prints them."""
    return [
        node.args[0].value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) in ("check", "check_true")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


def test_section_3_check_names_are_words_a_grader_reads() -> None:
    """The appendix's check tables print these names: symbols in Unicode
    (×, −), no code-ish ASCII."""
    names = [
        n
        for m in ("nqm", "scaling")
        for n in check_names(LIB / "questions" / f"{m}.py")
    ]
    assert len(names) >= 15
    assert [n for n in names if CODE_ISH.search(n)] == []
    assert CODE_ISH.search("point C's examples = 2 x the fewest")
    assert CODE_ISH.search("slope = -1") and CODE_ISH.search("x^T w = t")
