"""pyproject.toml declares what the code imports, no more; environment.yml and the lock agree.

The imports are read with ``ast`` from every module of ``galaxy10/`` and every code cell of
``notebooks/`` (function-local imports included), mapped to the distributions that provide
them in this environment, and compared with ``[project] dependencies`` and the extras.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import nbformat
import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CORE = [Requirement(r) for r in PROJECT["project"]["dependencies"]]
EXTRAS = {name: [Requirement(r) for r in reqs]
          for name, reqs in PROJECT["project"]["optional-dependencies"].items()}

IMPORTED_FROM_EXTRAS = {"papermill": "run", "faiss": "scale", "voila": "app", "tornado": "app",
                        "playwright": "dev"}
"""Imports that only a command of an extra makes (``run``; ``bench active --browser-clicks``
drives Chromium with the ``dev`` extra's Playwright); everything else must be core."""
RUN_NOT_IMPORTED = {"ipykernel": "the kernel that `run` and `app` start",
                    "jupyterlab": "opens the notebooks (`jupyter lab`)"}
"""Declared distributions that run as programs, so that no ``import`` names them."""


def _imports(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _cell_source(source: str) -> str:
    """A code cell as Python: IPython's ``%`` and ``!`` lines become ``pass``."""
    return "\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in source.splitlines())


def third_party_imports() -> dict[str, set[str]]:
    """Top-level module name -> the files (package modules, notebooks) that import it."""
    found: dict[str, set[str]] = {}
    sources = [(p, p.read_text(encoding="utf-8")) for p in (ROOT / "galaxy10").rglob("*.py")]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        sources += [(path, _cell_source(c.source)) for c in cells if c.cell_type == "code"]
    for path, source in sources:
        for name in _imports(source) - set(sys.stdlib_module_names) - {"galaxy10", "__future__"}:
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _names(requirements) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements}


def test_every_imported_package_is_declared_and_every_core_dependency_is_imported():
    providers = packages_distributions()
    imports = third_party_imports()
    assert {"numpy", "tensorflow", "pandas", "scipy", "IPython"} <= set(imports)  # the scan works
    core, used = _names(CORE), set()
    for module, where in sorted(imports.items()):
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        assert distributions, f"{module} (imported by {sorted(where)}) is not installed here"
        extra = IMPORTED_FROM_EXTRAS.get(module)
        declared = _names(EXTRAS[extra]) if extra else core
        assert distributions & declared, (
            f"{module}, imported by {sorted(where)[:3]}, comes from {sorted(distributions)}: "
            f"declare it in pyproject.toml's {'[' + extra + '] extra' if extra else 'dependencies'}")
        used |= distributions & (_names(EXTRAS[extra]) if extra else core)
    assert core - used == set(), "declared in dependencies but imported nowhere"
    programs = _names(r for reqs in EXTRAS.values() for r in reqs) - used
    dev = _names(EXTRAS["dev"])
    assert programs - dev == set(RUN_NOT_IMPORTED), "an extra holds a package nothing uses"


def test_the_scan_sees_function_local_imports_and_notebook_magics():
    assert _imports("def f():\n    import scipy.stats\n    from pandas import DataFrame\n") == {
        "scipy", "pandas"}
    assert _imports(_cell_source("%pip install x\nimport seaborn as sns")) == {"seaborn"}


def test_papermill_voila_and_jupyterlab_are_extras_not_core():
    assert not _names(CORE) & {"papermill", "voila", "jupyterlab", "ipykernel"}
    assert "papermill" in _names(EXTRAS["run"]) and "voila" in _names(EXTRAS["app"])


def _environment_yml() -> dict[str, str]:
    """name -> specifier of every package environment.yml lists (conda and pip sections)."""
    listed = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("\ndependencies:"):].splitlines():
        match = re.fullmatch(r"\s+- ([A-Za-z][\w.-]*)([<>=!~,.\d\s]*)", line.split("#")[0])
        if match and match.group(1) not in ("python", "pip"):
            listed[canonicalize_name(match.group(1))] = match.group(2).replace(" ", "")
    return listed


def test_environment_yml_mirrors_pyproject():
    from packaging.specifiers import SpecifierSet

    declared = {}
    for requirement in [*CORE, *(r for reqs in EXTRAS.values() for r in reqs)]:
        declared[canonicalize_name(requirement.name)] = requirement.specifier
    listed = _environment_yml()
    assert set(listed) == set(declared)
    for name, spec in listed.items():
        assert SpecifierSet(spec) == declared[name], name


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


@pytest.mark.parametrize("extra", ["core", "run", "app", "dev", "build-system"])
def test_the_lock_pins_every_declared_package_inside_its_range(extra):
    """`make setup` installs the lock, then galaxy10 with --no-deps: it must hold everything."""
    requirements = {"core": CORE, "build-system": [
        Requirement(r) for r in PROJECT["build-system"]["requires"]]}.get(extra) or EXTRAS[extra]
    pins = _locked()
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements-lock.txt (make lock)"
        assert requirement.specifier.contains(pins[name]), f"locked {name}=={pins[name]}"
