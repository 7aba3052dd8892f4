"""The package's shape: no import cycles, and each sub-package imports only from those below it.

Imports are read from the source (every ``import`` and ``from ... import``, function-local ones
included), so a cycle hidden inside a function still fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "galaxy10"

LAYERS = ["core", "datasets", "modeling", "reporting", "evaluation", "pipeline", "app", "bench",
          "cli", "__main__"]
"""Sub-packages in the order the data flows: each may import from itself and those before it."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
            if "_notebooks" not in p.parts}


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The galaxy10 modules that ``path`` imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.startswith("galaxy10"):
                # the longest known module the name starts with (a name may be a function)
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name and name != "galaxy10":
                    found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported_modules(path, known) - {name} for name, path in mods.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_the_graph_sees_function_local_imports():
    graph = import_graph()
    # pipeline.training imports the predictor inside a function only
    assert "galaxy10.modeling.predict" in graph["galaxy10.pipeline.training"]


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_belongs_to_a_layer():
    strays = sorted(m for m in modules() if layer(m) not in (*LAYERS, "__init__"))
    assert not strays, f"modules outside the sub-packages {LAYERS}: {strays}"


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_only_from_layers_below(module):
    graph = import_graph()
    if layer(module) == "__init__":
        return  # the package's lazy re-exports import nothing at import time
    rank = LAYERS.index(layer(module))
    upward = sorted(m for m in graph[module] if LAYERS.index(layer(m)) > rank)
    assert not upward, f"{module} imports from layers above it: {upward}"


def test_every_sub_package_is_packaged():
    """A wheel holds only the packages pyproject.toml lists: a new folder left out of the list
    would import from a checkout and fail once installed."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    found = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")
             if "_notebooks" not in p.parts}
    assert found - listed == set(), "sub-packages missing from pyproject.toml's packages"
    assert listed - found - {"galaxy10._notebooks"} == set(), "listed packages that do not exist"
