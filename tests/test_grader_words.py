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


def test_parameters_never_print_null() -> None:
    for stem in params.SCHEMAS:
        assert "null" not in params.load(stem)._repr_markdown_(), stem
