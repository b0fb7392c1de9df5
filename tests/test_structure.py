"""The library's architecture holds: the library never imports the build,
no module imports itself back through others, and no module reaches into
another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"


def _name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted((SRC / "a2").rglob("*.py"))}
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def _imports(name: str) -> list[tuple[str, ast.AST]]:
    """(a2 module imported, node) for each import in the module, at any
    depth; `from a2.x import y` imports a2.x.y when that is a module."""
    found = []
    package = (
        name
        if MODULES[name].name == "__init__.py"
        else (name.rpartition(".")[0])
    )
    for node in ast.walk(TREES[name]):
        if isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[
                    : len(package.split(".")) - node.level + 1
                ]
                base = ".".join([*parts, base] if base else parts)
            for a in node.names:
                full = f"{base}.{a.name}"
                found.append((full if full in MODULES else base, node))
    return [(m, n) for m, n in found if m in MODULES]


def _at_top() -> dict[str, set[str]]:
    """The a2 modules each module imports when it is imported (imports
    at module level, outside functions)."""
    graph: dict[str, set[str]] = {}
    for mod in MODULES:
        inside = {
            id(n)
            for f in ast.walk(TREES[mod])
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            for n in ast.walk(f)
        }
        graph[mod] = {m for m, n in _imports(mod) if id(n) not in inside}
    return graph


def test_the_library_never_imports_the_build() -> None:
    library = [m for m in MODULES if not m.startswith("a2.pipeline")]
    wrong = [
        f"{m} imports {dep}"
        for m in library
        for dep, _ in _imports(m)
        if dep.startswith("a2.pipeline")
    ]
    assert wrong == []


@pytest.mark.parametrize("scope", ["module level", "any depth"])
def test_no_module_imports_itself_back(scope: str) -> None:
    """No cycle among the imports made when a module is imported; and,
    for the build, none even counting the imports inside functions."""
    graph = _at_top()
    if scope == "any depth":
        graph = {
            m: {d for d, _ in _imports(m)}
            for m in MODULES
            if m.startswith("a2.pipeline")
        }
        graph = {m: deps & graph.keys() for m, deps in graph.items()}

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), set()) - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    assert [m for m in sorted(graph) if m in reach(m)] == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    """`from a2.x import _y` and `x._y` on an imported a2 module belong to
    a2.x alone (tests may patch them; the library may not)."""
    wrong = []
    for mod, tree in TREES.items():
        aliases = {}
        for dep, node in _imports(mod):
            if isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.name.startswith("_") and dep != mod:
                        wrong.append(f"{mod}: from {dep} import {a.name}")
                    full = f"{node.module}.{a.name}"
                    if full in MODULES:
                        aliases[a.asname or a.name] = full
            else:
                for a in node.names:
                    aliases[a.asname or a.name.split(".")[0]] = a.name
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name)
                and aliases.get(node.value.id, mod) != mod
            ):
                wrong.append(f"{mod}: {node.value.id}.{node.attr}")
    assert wrong == []
