"""Every notebook stands alone, as Colab runs it: its own runtime, empty models and reports.

Colab gives each notebook opened from a badge a fresh runtime that shares nothing with the
others but Google Drive. These tests run each notebook (and the button page) with papermill
in its own fresh working folder under a fake ``google.colab``: an IPython start-up file makes
``"google.colab" in sys.modules`` true, records ``%pip`` instead of installing, and points
galaxy10's Drive and ``/content`` folders at temporary ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from galaxy10.pipeline.session import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]
NB_DIR = ROOT / "notebooks"

FAKE_COLAB = '''
import os, sys, types
from pathlib import Path

try:
    import google  # the namespace package of protobuf and friends: keep it whole
except ImportError:
    google = sys.modules["google"] = types.ModuleType("google")
google.colab = sys.modules["google.colab"] = types.ModuleType("google.colab")


def _pip(line):
    with open(os.environ["FAKE_COLAB_PIP_LOG"], "a") as log:
        log.write(line + "\\n")


get_ipython().register_magic_function(_pip, "line", "pip")

import galaxy10.pipeline.colab as colab

colab.DRIVE = Path(os.environ["FAKE_COLAB_DRIVE"])
colab.LOCAL_DATA = Path(os.environ["FAKE_COLAB_CONTENT"]) / "galaxy10-data"
'''


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory) -> Path:
    from galaxy10.datasets import synthetic

    return synthetic.generate(tmp_path_factory.mktemp("given") / "data.h5", n=600, seed=2,
                              progress=False)


def _fake_colab(tmp: Path, monkeypatch, drive: Path) -> Path:
    """Environment of a fake Colab runtime; returns the %pip log."""
    ipython = tmp / "ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-fake-colab.py").write_text(FAKE_COLAB)
    log = tmp / "pip.log"
    for name in ("GALAXY10_DATA", "GALAXY10_MODELS", "GALAXY10_REPORTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IPYTHONDIR", str(ipython))
    monkeypatch.setenv("FAKE_COLAB_PIP_LOG", str(log))
    monkeypatch.setenv("FAKE_COLAB_DRIVE", str(drive))
    monkeypatch.setenv("FAKE_COLAB_CONTENT", str(tmp / "content"))
    return log


def _run_alone(name: str, runtime: Path, monkeypatch, drive: Path, parameters: dict
               ) -> nbformat.NotebookNode:
    """Execute notebook ``name`` in a fresh runtime folder; return the executed notebook."""
    import papermill as pm

    runtime.mkdir(parents=True)
    log = _fake_colab(runtime, monkeypatch, drive)
    out = runtime / f"{name}.ipynb"
    pm.execute_notebook(NB_DIR / f"{name}.ipynb", out, parameters=parameters, cwd=runtime,
                        progress_bar=False, request_save_on_cell_execute=False)
    assert log.read_text().count("install") == 1  # galaxy10 itself, nothing else
    return nbformat.read(out, as_version=4)


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for k, v in output.get("data", {}).items()
                         if k.startswith("text/"))
    return "\n".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("name", [*NOTEBOOKS, "app"])
def test_each_notebook_runs_alone_in_a_fresh_runtime_without_drive(name, smoke_data, tmp_path,
                                                                   monkeypatch):
    drive = tmp_path / "drive" / "MyDrive"  # not mounted: the folder does not exist
    params = {} if name == "app" else {"data": str(smoke_data), "profile": "smoke"}
    nb = _run_alone(name, tmp_path / "runtime", monkeypatch, drive, params)
    text = _text(nb)
    local = tmp_path / "runtime" / "content" / "galaxy10-data"
    assert "Drive is not mounted" in text
    assert not drive.exists()
    if name == "app":
        assert "shipped with galaxy10" in text and "pretrained_synthetic" in text
        return
    assert (local / "reports" / "metrics.json").is_file()
    if name != "01_eda":  # it makes the splits itself, and says so
        assert "[galaxy10] splits: none saved" in text
    if name == "05_evaluation":
        assert "making them as notebook 04 does" in text
        for model in ("seed_cnn_lastfold", "seed_cnn", "galaxy_cnn"):
            assert (local / "models" / f"{model}.keras").is_file()
        metrics = json.loads((local / "reports" / "metrics.json").read_text())
        assert set(metrics["evaluation"]["models"]) >= {"seed_cnn", "galaxy_cnn"}


@pytest.mark.slow
def test_with_drive_every_notebook_keeps_its_outputs_there_for_the_next_runtime(
        smoke_data, tmp_path, monkeypatch):
    """Monday 04 in one runtime, Tuesday 05 and the button in others: they use Monday's model."""
    drive = tmp_path / "drive" / "MyDrive"
    drive.mkdir(parents=True)
    kept = drive / "galaxy10"
    texts = {}
    for k, name in enumerate([*NOTEBOOKS, "app"]):
        params = {} if name == "app" else {"data": str(smoke_data), "profile": "smoke"}
        texts[name] = _text(_run_alone(name, tmp_path / f"runtime{k}", monkeypatch, drive,
                                       params))
        assert "Google Drive is mounted" in texts[name]
        if name == "04_cnn":
            monday = (kept / "models" / "galaxy_cnn.keras").stat().st_mtime_ns
        assert not (tmp_path / f"runtime{k}" / "content").exists()  # nothing left behind
    assert "[galaxy10] splits" not in texts["02_classical_baselines"]  # 01's, from Drive
    assert "making them" not in texts["05_evaluation"]  # 04's models, from Drive
    assert (kept / "models" / "galaxy_cnn.keras").stat().st_mtime_ns == monday
    assert "shipped with galaxy10" not in texts["app"]  # the user's own model
    metrics = json.loads((kept / "reports" / "metrics.json").read_text())
    assert set(metrics) >= {"eda", "baselines", "ffn", "cnn", "evaluation"}
    assert (kept / "reports" / "figures" / "05_confusion_matrix.png").is_file()
    assert os.environ.get("GALAXY10_MODELS") is None  # the kernels' settings stay theirs
