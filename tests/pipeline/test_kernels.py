"""Plain ``papermill IN OUT`` in an environment set up as ``make setup`` does: no TCP notice.

The end-to-end test runs papermill in a throwaway environment (:func:`conftest.bare_environment`)
whose ``sys.prefix`` is a folder of the test's own: the kernel config goes there, as ``make setup``
puts it in ``.venv``, and the developer's ``.venv`` is left alone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import bare_environment

from galaxy10.core.errors import GalaxyDataError
from galaxy10.pipeline import kernels

ROOT = Path(__file__).resolve().parents[2]
NOTICE = "running over TCP without encryption"


def _notebook(path: Path, *code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                *(nbformat.v4.new_code_cell(c) for c in code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}  # as the notebooks have it
    nbformat.write(nb, path)
    return path


def _papermill(python: Path, env: dict[str, str], source: Path, target: Path):
    """``papermill SOURCE TARGET -p x 2`` as a user types it (papermill's own console command)."""
    return subprocess.run([python, "-m", "papermill", source, target, "-p", "x", "2"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_plain_papermill_runs_quietly_once_set_up_and_still_shows_a_notebooks_error(tmp_path):
    python, env = bare_environment(tmp_path)
    tiny = _notebook(tmp_path / "tiny.ipynb", "print(x * 21)")
    loud = _papermill(python, env, tiny, tmp_path / "loud.ipynb")
    assert loud.returncode == 0, loud.stderr
    assert NOTICE in loud.stderr  # before the set-up: there is something to hide

    setup = subprocess.run([python, "-m", "galaxy10.pipeline.kernels"],  # what make setup runs
                           capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert setup.returncode == 0, setup.stderr
    assert (tmp_path / "env" / "etc" / "ipython" / kernels.CONFIG_NAME).is_file()

    quiet = _papermill(python, env, tiny, tmp_path / "quiet.ipynb")
    assert quiet.returncode == 0, quiet.stderr
    assert NOTICE not in quiet.stderr, quiet.stderr
    executed = nbformat.read(tmp_path / "quiet.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"] == "42\n"  # the parameter reached the kernel

    broken = _notebook(tmp_path / "broken.ipynb", "raise ValueError('a real error in cell 2')")
    failed = _papermill(python, env, broken, tmp_path / "broken-out.ipynb")
    assert failed.returncode != 0
    assert "ValueError" in failed.stderr and "a real error in cell 2" in failed.stderr


def test_make_setup_writes_the_setting_where_this_environments_kernels_read_it():
    from IPython.core.application import ENV_CONFIG_DIRS

    assert kernels.kernel_config_path().parent == Path(sys.prefix, "etc", "ipython")
    assert os.fspath(kernels.kernel_config_path().parent) in ENV_CONFIG_DIRS  # IPython's own list
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = re.search(r"^KERNEL_CONFIG := \$\(VENV\)/(\S+)$", makefile, re.M)
    assert target and Path(target[1]) == kernels.kernel_config_path(".venv").relative_to(".venv")
    assert re.search(r"^setup: .*\$\(KERNEL_CONFIG\)", makefile, re.M)
    assert re.search(r"^\$\(KERNEL_CONFIG\):.*\n\t\$\(BIN\)/python -m galaxy10\.pipeline\.kernels$",
                     makefile, re.M)


def test_the_command_line_and_the_config_file_carry_the_same_setting():
    assert kernels.KERNEL_ARGUMENTS == ("--IPKernelApp.log_level=ERROR",)
    assert kernels.KERNEL_SETTINGS == {"IPKernelApp": {"log_level": "ERROR"}}


def test_installing_keeps_what_the_file_holds_and_writes_only_what_is_missing(tmp_path):
    path = kernels.kernel_config_path(tmp_path)
    assert kernels.install_kernel_config(tmp_path) == path
    assert json.loads(path.read_text(encoding="utf-8")) == kernels.KERNEL_SETTINGS

    mine = {"IPKernelApp": {"log_level": "DEBUG"}, "InteractiveShell": {"autocall": 1}}
    path.write_text(json.dumps(mine), encoding="utf-8")
    before = path.stat().st_mtime_ns
    kernels.install_kernel_config(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8")) == mine  # their level stays
    assert path.stat().st_mtime_ns == before  # nothing to add: not rewritten

    path.write_text(json.dumps({"InteractiveShell": {"autocall": 1}}), encoding="utf-8")
    kernels.install_kernel_config(tmp_path)
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "InteractiveShell": {"autocall": 1}, "IPKernelApp": {"log_level": "ERROR"}}


@pytest.mark.parametrize(("text", "words"), [("{not json", "not JSON"),
                                             ('["IPKernelApp"]', "not a kernel config"),
                                             ('{"IPKernelApp": 3}', "not a kernel config")],
                         ids=["syntax", "list", "section"])
def test_a_broken_config_file_is_one_line_naming_it_and_is_left_as_it_is(tmp_path, monkeypatch,
                                                                          capsys, text, words):
    path = kernels.kernel_config_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GalaxyDataError, match=words):
        kernels.install_kernel_config(tmp_path)
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path))
    assert kernels.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {words}") and err.count("\n") == 1, err
    assert path.read_text(encoding="utf-8") == text


def test_the_setup_command_takes_no_arguments(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path))
    assert kernels.main(["--prefix"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not kernels.kernel_config_path(tmp_path).exists()
    assert kernels.main([]) == 0
    assert "start without the TCP notice" in capsys.readouterr().out
    assert kernels.kernel_config_path(tmp_path).is_file()


def test_a_folder_that_cannot_be_written_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    (tmp_path / "etc").write_text("a file where the folder would go", encoding="utf-8")
    monkeypatch.setattr(sys, "prefix", os.fspath(tmp_path))
    assert kernels.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {kernels.kernel_config_path(tmp_path)}: ") and err.count("\n") == 1, err
    assert (tmp_path / "etc").read_text(encoding="utf-8") == "a file where the folder would go"
