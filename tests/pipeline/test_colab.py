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


def _run_cell(source: str, monkeypatch, tmp_path: Path, *, in_colab: bool, drive: bool,
              missing: tuple[str, ...] = ()) -> FakeIPython:
    from importlib.metadata import PackageNotFoundError

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
    real_version = colab._installed_version

    def version(name):
        if name in missing:
            raise PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(colab, "_installed_version", version)
    monkeypatch.delenv("GALAXY10_DATA", raising=False)
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
    assert os.environ["GALAXY10_DATA"] == str(tmp_path / "MyDrive" / "galaxy10")
    assert "Google Drive is mounted" in capsys.readouterr().out


def test_only_missing_light_dependencies_are_installed(monkeypatch, tmp_path):
    shell = _run_cell(_setup_cell(NOTEBOOKS[0]), monkeypatch, tmp_path, in_colab=True,
                      drive=False, missing=("pooch", "voila", "tensorflow-x"))
    assert shell.magics[1][0] == "pip"
    installed = shell.magics[1][1].split()
    assert installed[:2] == ["install", "--quiet"]
    assert [w.strip("'").split(">")[0] for w in installed[2:]] == ["pooch"]  # not voila


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
