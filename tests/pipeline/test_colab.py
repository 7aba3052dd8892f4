"""Colab: every notebook's set-up cell, run with a fake google.colab; the README's badges."""

from __future__ import annotations

import os
import re
import sys
import types
from pathlib import Path

import nbformat
import pytest
import tomllib

from galaxy10.pipeline import colab

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def _setup_cell(path: Path) -> str:
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert not re.search(r"^\s*(import|from)\s+galaxy10", code[0].source, re.M)  # not yet
    return code[1].source


class FakeIPython:
    """Records line magics instead of running them (``%pip`` would install)."""

    def __init__(self) -> None:
        self.magics: list[tuple[str, str]] = []

    def run_line_magic(self, name: str, line: str) -> None:
        self.magics.append((name, line))


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CORE = PYPROJECT["dependencies"]
"""galaxy10's core requirements as this checkout declares them (what a wheel built from it
would list in its metadata; the installed metadata may be an older editable install's)."""

# A Colab runtime's versions (canonical names). Those of tensorflow, keras, numpy, ipywidgets,
# ipython, ipykernel, pandas and scikit-learn were measured for issue #22 (Python 3.11 and
# 3.12); the others stand for the rest of that image, were not measured by us, and matter here
# only as present and inside the declared ranges.
COLAB = {
    "tensorflow": "2.19.0", "keras": "3.10.0", "numpy": "2.0.2", "ipywidgets": "7.7.1",
    "ipython": "7.34.0", "ipykernel": "6.17.1", "pandas": "2.2.2", "scikit-learn": "1.6.1",
    "scipy": "1.16.1", "h5py": "3.14.0", "matplotlib": "3.10.0", "seaborn": "0.13.2",
    "pillow": "11.3.0", "opencv-python-headless": "4.12.0.88", "imbalanced-learn": "0.13.0",
    "pooch": "1.8.2", "tqdm": "4.67.1", "packaging": "25.0", "notebook": "6.5.7",
    "jupyter-server": "1.16.0", "jupyter-client": "6.1.12", "tornado": "6.4.2",
    "pyarrow": "18.1.0", "dask": "2024.12.1", "distributed": "2024.12.1",
    "filelock": "3.20.0",
}
NEVER_IN_COLAB = ("papermill", "voila", "jupyterlab", "ipykernel", "notebook", "jupyter-server")
"""What the notebooks do not use there (batch runs, the served page) or Colab itself owns."""


def _run_cell(source: str, monkeypatch, tmp_path: Path, *, in_colab: bool, drive: bool,
              installed: dict[str, str] | None = None,
              missing: tuple[str, ...] = ()) -> FakeIPython:
    """Run a set-up cell with ``%pip`` recorded; the runtime holds ``installed`` (default
    :data:`COLAB`) less ``missing``, and galaxy10's metadata lists :data:`CORE`."""
    from IPython.core.inputtransformer2 import TransformerManager

    shell = FakeIPython()
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    (tmp_path / "MyDrive").mkdir(exist_ok=True) if drive else None
    monkeypatch.setattr(colab, "DRIVE", tmp_path / "MyDrive")
    monkeypatch.setattr(colab, "LOCAL_DATA", tmp_path / "galaxy10-data")
    runtime = {k: v for k, v in (COLAB if installed is None else installed).items()
               if k not in missing}
    monkeypatch.setattr(colab, "installed_versions", lambda: dict(runtime))
    monkeypatch.setattr(colab, "core_requirements", lambda distribution="galaxy10": list(CORE))
    for name in ("GALAXY10_DATA", "GALAXY10_MODELS", "GALAXY10_REPORTS"):
        # setenv first: monkeypatch records only a variable that exists, and the cell sets
        # these three; without the record they would leak into every later test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    python = TransformerManager().transform_cell(source)  # %pip -> get_ipython().run_line_magic
    exec(compile(python, "setup-cell", "exec"), {"get_ipython": lambda: shell})
    return shell


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_setup_cell_follows_the_parameters_and_names_pyprojects_repository(path):
    assert _setup_cell(path) == colab.setup_cell(REPOSITORY)
    assert REPOSITORY.startswith("https://github.com/")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_in_colab_the_cell_installs_galaxy10_without_its_dependencies(path, monkeypatch,
                                                                      tmp_path):
    shell = _run_cell(_setup_cell(path), monkeypatch, tmp_path, in_colab=True, drive=False)
    assert shell.magics[0] == ("pip", f'install --quiet --no-deps "galaxy10 @ git+{REPOSITORY}"')
    assert len(shell.magics) == 1  # everything else is installed here: nothing more
    assert os.environ["GALAXY10_DATA"] == str(tmp_path / "galaxy10-data")
    assert (tmp_path / "galaxy10-data").is_dir()


def test_with_drive_mounted_the_data_goes_to_drive(monkeypatch, tmp_path, capsys):
    _run_cell(_setup_cell(NOTEBOOKS[0]), monkeypatch, tmp_path, in_colab=True, drive=True)
    kept = tmp_path / "MyDrive" / "galaxy10"
    assert os.environ["GALAXY10_DATA"] == str(kept)
    assert os.environ["GALAXY10_MODELS"] == str(kept / "models")  # the next runtime finds them
    assert os.environ["GALAXY10_REPORTS"] == str(kept / "reports")
    assert "Google Drive is mounted" in capsys.readouterr().out


def test_colabs_own_versions_are_accepted_and_nothing_more_is_installed(monkeypatch, tmp_path,
                                                                         capsys):
    """With Colab's versions, the cell installs galaxy10 alone (``--no-deps``): no second pip,
    so no resolver error, and no package of Colab's is re-pinned or replaced."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    shell = _run_cell(_setup_cell(NOTEBOOKS[0]), monkeypatch, tmp_path, in_colab=True,
                      drive=False)
    assert [m for m in shell.magics if m[0] == "pip"] == [
        ("pip", f'install --quiet --no-deps "galaxy10 @ git+{REPOSITORY}"')]
    assert "kept this runtime's" not in capsys.readouterr().out
    for text in CORE:  # even a plain `pip install galaxy10` there would keep Colab's versions
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in COLAB, f"{name} is not in Colab: the cell would install it"
        assert requirement.specifier.contains(COLAB[name]), f"{text} rejects Colab's {COLAB[name]}"
    assert not {canonicalize_name(Requirement(r).name) for r in CORE} & set(NEVER_IN_COLAB)


def test_only_missing_dependencies_are_installed_never_another_version(monkeypatch, tmp_path,
                                                                       capsys):
    older = {**COLAB, "ipywidgets": "7.6.5"}  # a Colab older than the declared range
    shell = _run_cell(_setup_cell(NOTEBOOKS[0]), monkeypatch, tmp_path, in_colab=True,
                      drive=False, installed=older, missing=("pooch", "seaborn"))
    assert shell.magics[1][0] == "pip"
    installed = shell.magics[1][1].split()
    assert installed[:2] == ["install", "--quiet"]
    assert [w.strip("'") for w in installed[2:]] == ["pooch>=1.8", "seaborn>=0.13"]
    assert len(shell.magics) == 2  # ipywidgets 7.6.5 is kept, and said
    assert "kept this runtime's ipywidgets 7.6.5 (galaxy10 asks for >=7.7)" in \
        capsys.readouterr().out


def test_the_install_list_comes_from_the_installed_metadata_without_extras():
    """What setup_colab reads in Colab: the wheel's Requires-Dist minus every extra."""
    from packaging.requirements import Requirement

    listed = colab.core_requirements()
    assert listed and all(Requirement(r).marker is None for r in listed)
    names = {Requirement(r).name for r in listed}
    assert "numpy" in names and not names & {"pytest", "ruff", "mutmut"}


def test_elsewhere_the_cell_does_nothing(monkeypatch, tmp_path):
    shell = _run_cell(_setup_cell(NOTEBOOKS[0]), monkeypatch, tmp_path, in_colab=False,
                      drive=True)
    assert shell.magics == [] and "GALAXY10_DATA" not in os.environ


def test_readme_has_one_colab_badge_per_notebook_from_pyprojects_repository():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert colab.badge(REPOSITORY, path.stem) in readme, path.stem
        assert (ROOT / "notebooks" / f"{path.stem}.ipynb").is_file()
    assert colab.colab_url(REPOSITORY, "01_eda") == (
        "https://colab.research.google.com/github/galaxy10-project/galaxy10/blob/main/"
        "notebooks/01_eda.ipynb")


def test_the_upload_reads_ipywidgets_7_and_8_values():
    from galaxy10.app.widget import first_upload

    assert first_upload(({"name": "a.png", "content": memoryview(b"xy")},)) == (b"xy", "a.png")
    assert first_upload({"b.jpg": {"metadata": {"name": "b.jpg"}, "content": b"z"}}) == (
        b"z", "b.jpg")
    assert first_upload(()) is None and first_upload({}) is None
