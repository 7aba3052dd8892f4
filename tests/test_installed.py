"""galaxy10 as an installed package: build the wheel, install it, run it outside the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest
import tomllib
from conftest import tensorflow_log_lines

ROOT = Path(__file__).resolve().parents[1]


def _copy_checkout(dest: Path) -> Path:
    """The checkout's tracked and untracked-but-not-ignored files (no build leftovers)."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                            "-z"], cwd=ROOT, text=True, capture_output=True, check=True,
                           timeout=60).stdout
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def _files(folder: Path) -> set[str]:
    return {os.fspath(p.relative_to(folder)) for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def _run(command: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([os.fspath(c) for c in command], text=True, capture_output=True,
                          **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_wheel_runs_the_notebooks_and_predicts_outside_the_checkout(tmp_path):
    """Wheel -> fresh venv -> `run --profile smoke` and `predict` from an unrelated folder."""
    import numpy as np
    from PIL import Image

    from galaxy10.datasets import synthetic
    from galaxy10.datasets.reader import Galaxy10File

    src = _copy_checkout(tmp_path / "src")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
          "-w", tmp_path / "dist", src], timeout=300)
    wheel = next((tmp_path / "dist").glob("galaxy10-*.whl"))
    shutil.rmtree(src / "build", ignore_errors=True)  # setuptools' own leftovers
    shutil.rmtree(src / "galaxy10.egg-info", ignore_errors=True)
    checkout_files = _files(src)

    # a fresh venv that borrows this environment's heavy dependencies through a .pth file
    # (.pth files inside the borrowed folder, such as an editable galaxy10, are not read)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                     ).stdout.strip())
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
          wheel], timeout=300)
    installed = _files(venv)

    work = tmp_path / "work"  # outside the checkout, no pyproject.toml above it
    work.mkdir()
    # ... but a git repository of the user's own, whose commit must not be recorded
    (work / "analysis.py").write_text("print('my own project')\n")
    for command in (["init", "-q"], ["add", "analysis.py"],
                    ["-c", "user.name=u", "-c", "user.email=u@u", "commit", "-qm", "mine"]):
        _run(["git", *command], cwd=work)
    foreign = _run(["git", "rev-parse", "--short", "HEAD"], cwd=work).stdout.strip()
    # PYTEST_CURRENT_TEST would turn off ipykernel's capture of descriptor 2: notebooks would
    # not show TensorFlow's C++ lines even when they are written
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTEST_CURRENT_TEST", "TF_CPP_MIN_LOG_LEVEL")
           and not k.startswith("GALAXY10_")}
    where = _run([python, "-c", "import galaxy10, galaxy10.pipeline.runner as r; "
                  "print(galaxy10.__file__); print(r.notebooks_home())"], cwd=work, env=env)
    module, notebooks = (Path(line) for line in where.stdout.split())
    assert module.is_relative_to(site) and notebooks == site / "galaxy10" / "_notebooks"
    shipped = site / "galaxy10" / "modeling" / "pretrained" / "pretrained_synthetic"
    assert shipped.with_suffix(".keras").is_file() and shipped.with_suffix(".json").is_file(), \
        "the wheel lacks the shipped pre-trained bundle (package-data)"

    data = synthetic.generate(work / "tiny.h5", n=300, seed=4, progress=False)
    _run([python, "-m", "galaxy10", "run", "--profile", "smoke", "--data", data.name, "-q"],
         cwd=work, env=env, timeout=1500)
    for name in ("01_eda", "05_evaluation"):
        assert (work / "reports" / f"{name}.ipynb").is_file()
    assert (work / "models" / "galaxy_cnn.keras").is_file()
    metrics = json.loads((work / "reports" / "metrics.json").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert metrics["run"]["commit"] == f"galaxy10=={version}" != foreign
    for executed in (work / "reports").glob("*.ipynb"):
        assert tensorflow_log_lines(nbformat.read(executed, as_version=4)) == [], executed.name
    results = _run([python, "-m", "galaxy10", "results"], cwd=work, env=env).stdout
    assert "no results yet" not in results and "Test set" in results

    image = work / "galaxy.png"
    with Galaxy10File(data) as f:
        Image.fromarray(np.asarray(f.read(np.array([0]))[0])).save(image)
    answer = _run([python, "-m", "galaxy10", "predict", image.name, "--model",
                   "models/galaxy_cnn.keras"], cwd=work, env=env)
    assert answer.stdout.startswith("galaxy.png\t") and len(answer.stdout.splitlines()) == 1
    assert _files(venv) == installed, "a run wrote inside the installation"
    assert _files(src) == checkout_files, "a run wrote into the checkout it was built from"


def test_outside_a_checkout_without_shipped_notebooks_the_error_says_what_to_do(
        tmp_path, monkeypatch):
    """galaxy10 on PYTHONPATH, run from elsewhere: one line that says how to get them."""
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.pipeline import runner as notebook_runner

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(notebook_runner, "_shipped_notebooks", lambda: None)
    with pytest.raises(Galaxy10Error, match="run from the galaxy10 checkout, or install"):
        notebook_runner.notebooks_home()
    monkeypatch.chdir(ROOT)
    assert notebook_runner.notebooks_home() == ROOT / "notebooks"  # a checkout's own copy
