"""The book's sections: the manifest's chapters in book order, each
.qmd read once per build, and the library modules a section's code
imports (part of what its execution depends on).

A :class:`Section` is made once per build (:func:`chapters`) and passed
to every step; its notebook, code and modules are computed the first
time a step asks and kept on it. So the .qmd is parsed once, however
many steps read it, and a new build (or a test's second build in one
process) reads the files again.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from a2.pipeline import BuildError, qmd

MANIFEST = "_quarto.yml"


@dataclass(frozen=True)
class Section:
    stem: str
    source: Path  # report/<stem>.qmd (executed by the build) or a .md
    appendix: bool = False
    root: Path = Path()  # the repository (its src/ is the library)

    @property
    def is_notebook(self) -> bool:
        """Code to execute: a .qmd source."""
        return self.source.suffix == ".qmd"

    @property
    def where(self) -> str:
        """The source as messages name it: relative to the repository."""
        try:
            return self.source.relative_to(self.root).as_posix()
        except ValueError:
            return str(self.source)

    def params_file(self, root: Path) -> Path:
        """The section's own params file: params/<stem>.yaml."""
        return root / "params" / f"{self.stem}.yaml"

    @functools.cached_property
    def notebook(self) -> dict[str, Any]:
        """The .qmd as a notebook, with the cells that evaluate inline
        values (``a2.pipeline.qmd``): the one parse of this build."""
        return qmd.notebook(self.source, inline=True, where=self.where)

    @functools.cached_property
    def code(self) -> str:
        """What executes: chunk code, tags and inline expressions
        (Python text); not the cell options only Quarto reads (labels,
        captions), so a caption edit executes nothing."""
        return "\n".join(
            f"# tags: {c['metadata'].get('tags', [])}\n"
            + "\n".join(
                ln
                for ln in c["source"].splitlines()
                if not ln.startswith("#|")
            )
            for c in self.notebook["cells"]
            if c["cell_type"] == "code"
        )

    @functools.cached_property
    def modules(self) -> list[str]:
        """The library modules the section imports, transitively."""
        return library_modules(self.root, self.code)


def manifest(root: Path) -> dict[str, Any]:
    """_quarto.yml, the one list of chapters and the book's metadata."""
    path = root / MANIFEST
    if not path.is_file():
        raise BuildError(f"{path}: manifest not found")
    return yaml.safe_load(path.read_text()) or {}


def _flatten(entries: list[Any]) -> list[str]:
    """Chapter entries are paths, {href: path} or {part: .., chapters: ..}."""
    out: list[str] = []
    for entry in entries or []:
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and "chapters" in entry:
            out.extend(_flatten(entry["chapters"]))
        elif isinstance(entry, dict) and "href" in entry:
            out.append(entry["href"])
    return out


def chapters(root: Path, existing: bool = True) -> list[Section]:
    """Sections in book order; those whose source is missing are skipped
    so that the book builds while sections are being written."""
    book = manifest(root).get("book", {})
    out = []
    for key, appendix in (("chapters", False), ("appendices", True)):
        for rel in _flatten(book.get(key, [])):
            path = root / rel
            if existing and not path.is_file():
                continue
            out.append(Section(path.stem, path, appendix, root))
    return out


def unlisted(root: Path) -> list[Path]:
    """Sections in report/ that the manifest does not list (not built)."""
    listed = {s.source.resolve() for s in chapters(root, existing=False)}
    return [
        p
        for p in sorted((root / "report").glob("*.qmd"))
        if p.resolve() not in listed
    ]


def notebooks(root: Path) -> list[Section]:
    return [s for s in chapters(root) if s.is_notebook]


def resolve(root: Path, name: str) -> Section:
    """A section from its stem, its number ('4') or its path."""
    found = notebooks(root)
    valid = ", ".join(s.stem for s in found) or "(none)"
    stem = Path(name).stem
    for s in found:
        if stem == s.stem or stem == s.stem.split("-", 1)[0]:
            return s
    raise BuildError(f"unknown section '{name}'; valid sections: {valid}")


def _strip_magics(code: str) -> str:
    """IPython lines (%magic, !shell) are not Python; blank them."""
    return "\n".join(
        "" if ln.lstrip().startswith(("%", "!")) else ln
        for ln in code.splitlines()
    )


def _imports(code: str, package: str = "") -> set[str]:
    """Absolute names of the a2 modules (or module.attr) that code imports
    at run time; `package` resolves relative imports inside src/a2."""
    try:
        tree = ast.parse(_strip_magics(code))
    except SyntaxError:
        return set()
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[
                    : len(package.split(".")) - node.level + 1
                ]
                base = ".".join(p for p in parts + [base] if p)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return {n for n in out if n == "a2" or n.startswith("a2.")}


def _module_file(src: Path, name: str) -> Path | None:
    """src/a2/x.py or src/a2/x/__init__.py for 'a2.x'; None otherwise."""
    base = src.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_pipeline(name: str) -> bool:
    return name == "a2.pipeline" or name.startswith("a2.pipeline.")


def library_modules(root: Path, code: str) -> list[str]:
    """a2 modules that `code` uses, transitively, dependencies first.

    The package a2 itself comes first (importing a2.x runs it); a2.pipeline is
    the build, not library code of a section."""
    src = root / "src"
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or _is_pipeline(name):
            return
        seen.add(name)
        path = _module_file(src, name)
        if path is None:  # `from a2.x import attr`: attr is not a module
            return
        parent = name.rpartition(".")[0]
        if parent:  # importing a2.x.y runs a2/x/__init__.py first
            visit(parent)
        pkg = name if path.name == "__init__.py" else parent
        for dep in sorted(_imports(path.read_text(), pkg)):
            visit(dep)
        order.append(name)

    names = _imports(code)
    if names:
        visit("a2")
    for name in sorted(names):
        visit(name)
    return order


def module_path(root: Path, name: str) -> Path:
    path = _module_file(root / "src", name)
    assert path is not None, name
    return path
