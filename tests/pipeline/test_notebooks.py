"""The notebooks: committed clean, thin, parameterised, and all five run headless (smoke)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import tensorflow_log_lines, without_timings

from galaxy10.pipeline.session import INTERACTIVE, NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"
ALL = sorted(NB_DIR.glob("*.ipynb"))


def test_every_numbered_notebook_exists():
    assert [p.stem for p in ALL if p.stem[:2].isdigit()] == [*NOTEBOOKS, *INTERACTIVE]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.stem)
def test_committed_clean_parameterised_and_thin(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip outputs"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged"
    source = "\n".join(c.source for c in code)
    assert not re.search(r"^\s*(def|class)\s+\w+", source, re.M), "logic belongs in galaxy10"
    assert nb.metadata["kernelspec"]["name"] == "python3"  # Voila and papermill need it


def _walk_numbers(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_numbers(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk_numbers(v, f"{path}[{i}]")
    elif isinstance(obj, float):
        yield path, obj


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, text=True, capture_output=True, check=True,
                          timeout=60).stdout


def _clone_with_working_changes(dest: Path) -> Path:
    """A fresh git repository holding this checkout's files as they are now.

    Like a clone of main, but with uncommitted edits included, so the test checks the code
    under test rather than the last commit.
    """
    files = _git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=ROOT)
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    _git("init", "-q", cwd=dest)
    _git("add", "-A", cwd=dest)
    _git("-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-qm",
         "snapshot", cwd=dest)
    return dest


@pytest.mark.slow
def test_all_notebooks_run_headless_with_the_smoke_profile(tmp_path):
    """`python -m galaxy10 run` in a clone: every notebook runs, and git status stays clean."""
    from galaxy10.datasets import synthetic

    clone = _clone_with_working_changes(tmp_path / "clone")
    data = synthetic.generate(tmp_path / "data.h5", n=600, seed=2, progress=False)
    env = {**os.environ, "PYTHONPATH": str(clone), "GALAXY10_DATA": str(tmp_path / "data_home")}
    # as outside pytest: ipykernel leaves descriptor 2 to pytest when this is set, so C++ log
    # lines would go to the terminal instead of the notebooks, and their check would be empty
    env.pop("PYTEST_CURRENT_TEST", None)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # `run` sets it for its kernels
    done = subprocess.run([sys.executable, "-m", "galaxy10", "run", "--profile", "smoke",
                           "--data", str(data)], cwd=clone, env=env, text=True,
                          capture_output=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    # no kernel start-up warnings; jupyter_client's shutdown interrupts each kernel first (SIGINT,
    # then a shutdown request), and a kernel still handling a message then logs that it caught
    # it: a race of a busy machine, not a fault of the notebook
    noise = [line for line in done.stderr.splitlines() if "IPKernelApp" in line
             and "KeyboardInterrupt caught in kernel" not in line]
    assert noise == [], done.stderr[-2000:]
    assert _git("status", "--porcelain", cwd=clone) == "", "a run changed committed files"
    reports, models = clone / "reports", clone / "models"
    for name in NOTEBOOKS:
        nb = nbformat.read(reports / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[:1]}"
        assert tensorflow_log_lines(nb) == [], name
        assert "injected-parameters" in nb.cells[2].metadata.get("tags", []) or any(
            "injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
    metrics = json.loads((reports / "metrics.json").read_text())
    assert set(metrics) >= {"eda", "baselines", "ffn", "cnn", "evaluation", "run"}
    run = metrics.pop("run")
    assert run["profile"] == "smoke" and run["data_path"] == str(data)
    assert list(run["notebook_seconds"]) == list(NOTEBOOKS)
    assert run["total_seconds"] == pytest.approx(sum(run["notebook_seconds"].values()), abs=0.5)
    for section in metrics.values():
        assert section["data"]["source"] == "synthetic"
        assert section["data"]["path"] == str(data)
    ev = metrics["evaluation"]["models"]
    assert set(ev) == {"random_forest", "seed_cnn_lastfold", "seed_cnn", "galaxy_cnn"}
    for model in ev.values():
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert 0.0 <= model[key] <= 1.0
        lo, hi = model["balanced_accuracy_ci95"]
        assert 0.0 <= lo <= model["balanced_accuracy"] <= hi <= 1.0
    for where, value in _walk_numbers({k: metrics[k] for k in ("baselines", "ffn")}):
        if "score" in where or where.endswith(".mean"):
            assert 0.0 <= value <= 1.0, where
    figures = {p.name for p in (reports / "figures").glob("*.png")}
    assert {"01_class_counts.png", "01_gallery.png", "02_baselines.png",
            "03_ffn_learning_curves.png", "04_seed_cnn_learning_curves.png",
            "05_confusion_matrix.png", "05_mistakes.png"} <= figures
    for name in ("seed_cnn", "seed_cnn_lastfold", "galaxy_cnn"):
        assert (models / f"{name}.keras").is_file() and (models / f"{name}.json").is_file()
    assert not list(reports.glob("*.failed.ipynb"))
    # one training workflow: `train` on the same data, profile and seed makes the same bundle
    door = tmp_path / "door" / "galaxy_cnn.keras"
    done = subprocess.run([sys.executable, "-m", "galaxy10", "train", "--data", str(data),
                           "--profile", "smoke", "--seed", "0", "--out", str(door), "-q"],
                          cwd=clone, env=env, text=True, capture_output=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    from galaxy10.modeling.models import load_model

    for a, b in zip(load_model(models / "galaxy_cnn.keras").get_weights(),
                    load_model(door).get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    notebook_json, train_json = (without_timings(json.loads(p.with_suffix(".json").read_text()))
                                 for p in (models / "galaxy_cnn.keras", door))
    assert notebook_json == train_json
    assert [step["stage"] for step in train_json["lineage"]] == ["train"]


def test_a_notebook_run_alone_makes_the_splits_an_earlier_one_would_have(tmp_path):
    from galaxy10.datasets import synthetic
    from galaxy10.pipeline.runner import run_notebooks
    from galaxy10.pipeline.session import open_run

    data = synthetic.generate(tmp_path / "data.h5", n=300, seed=2, progress=False)
    run_notebooks("smoke", data=data, only="02", reports_dir=tmp_path / "r",
                  models_dir=tmp_path / "m", progress=False)
    executed = nbformat.read(tmp_path / "r" / "02_classical_baselines.ipynb", as_version=4)
    said = [o.get("text", "") for c in executed.cells for o in c.get("outputs", [])]
    assert any("[galaxy10] splits: none saved" in t for t in said)
    run = open_run(data, "smoke", models_dir=tmp_path / "other", reports_dir=tmp_path / "r2")
    made_by_01 = run.make_splits()
    alone = open_run(data, "smoke", models_dir=tmp_path / "m", reports_dir=tmp_path / "r").splits()
    for name in ("seed_train", "test", "all_train"):  # the same rows whoever makes them
        np.testing.assert_array_equal(getattr(made_by_01, name), getattr(alone, name))
