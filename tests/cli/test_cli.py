"""The command line: help, info, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from conftest import write_h5

from galaxy10.cli import main
from galaxy10.core.classes import CLASS_NAMES


def run(*args):
    return subprocess.run([sys.executable, "-m", "galaxy10", *args], capture_output=True,
                          text=True, timeout=120)


def test_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("fetch", "synth", "info", "import", "gallery"):
        assert command in out.stdout


def test_info_prints_counts(tmp_path, capsys):
    path = write_h5(tmp_path / "f.h5", ans=np.array([2] * 15 + [4] * 5, np.uint8))
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    # no galaxy10 attribute and no verified checksum: not called real data
    assert "an HDF5 file in the Galaxy10 layout (not verified" in text
    assert "real Galaxy10" not in text
    expected = {2: (15, "75.0%"), 4: (5, "25.0%")}
    for label, name in enumerate(CLASS_NAMES):
        count, share = expected.get(label, (0, "0.0%"))
        row = rf"^  {label} {re.escape(name)} +{count} +{re.escape(share)}$"
        assert len(re.findall(row, text, flags=re.MULTILINE)) == 1, (row, text)


def test_bad_file_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("<html>error</html>")
    out = run("info", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == (f"error: {bad}: not an HDF5 file (it looks like an HTML page, "
                                  "e.g. a saved download error); first bytes b'<html>er'")
    assert "Traceback" not in out.stderr


def test_import_is_cheap():
    code = ("import sys, galaxy10; heavy = {'tensorflow', 'keras', 'h5py', 'matplotlib', "
            "'sklearn'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_corrupt_metrics_file_is_kept_aside(tmp_path):
    from galaxy10.reporting.metrics import update_metrics

    path = tmp_path / "metrics.json"
    path.write_text("{half a json")
    update_metrics(path, "eda", {"n": 1})
    assert (tmp_path / "metrics.json.corrupt").read_text() == "{half a json"
    update_metrics(path, "ffn", {"mean": 0.3})
    import json

    assert json.loads(path.read_text()) == {"eda": {"n": 1}, "ffn": {"mean": 0.3}}


def test_results_tables_come_from_metrics(tmp_path):
    from galaxy10.reporting.results import results_markdown

    assert results_markdown({}, {}) == ""
    bench = {"button": {"model": "galaxy_cnn", "tta_views": 8, "click_median_ms": 41.2,
                        "click_p95_ms": 55.0, "clicks": 50, "predict_one_median_ms": 30.4}}
    text = results_markdown({}, bench)
    assert "median 41 ms, p95 55 ms over 50 clicks" in text


def test_results_quote_the_run_wall_time_and_the_ablation():
    from galaxy10.reporting.results import results_markdown

    row = {"accuracy": 0.5, "balanced_accuracy": 0.5, "balanced_accuracy_ci95": [0.4, 0.6],
           "macro_f1": 0.5}
    metrics = {
        "evaluation": {"data": {"source": "synthetic", "n_images": 17736, "profile": "faithful"},
                       "n_test": 668, "models": {"seed_cnn_lastfold": {**row, "accuracy": 0.437}}},
        "run": {"profile": "faithful", "notebook_seconds": {"01_eda": 60.0, "02_x": 5340.0},
                "total_seconds": 5400.0, "cpu_count": 2, "commit": "abc1234",
                "finished_utc": "2026-11-26T01:00:00Z"},
        "cnn": {"ablation": {"epochs": 4, "variants": [
            {"name": "full recipe", "input": [64, 64, 3], "n_train": 11000,
             "balanced_accuracy": 0.7, "delta_vs_full": 0.0},
            {"name": "grey instead of colour", "input": [64, 64, 1], "n_train": 11000,
             "balanced_accuracy": 0.55, "delta_vs_full": -0.15}]}}}
    text = results_markdown(metrics)
    assert "| Seed CNN (last fold of best search), test accuracy | 0.407 | 0.437 |" in text
    assert "Wall time of this run: 90.0 min on 2 CPU cores (minutes per notebook: 01 1.0, " \
           "02 89.0; commit abc1234" in text
    assert "| grey instead of colour | 64x64x1 | 11,000 | 0.550 | -0.150 |" in text
    metrics["run"]["profile"] = "quick"  # timings of another run are not quoted
    assert "Wall time" not in results_markdown(metrics)


def test_run_records_the_commit_and_ignores_its_own_reports(tmp_path, monkeypatch):
    import subprocess

    from galaxy10.reporting.metrics import code_commit as _git_commit

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "galaxy10"\n')
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "metrics.json").write_text("{}")
    (tmp_path / "README.md").write_text("readme\n")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    monkeypatch.chdir(tmp_path)
    clean = _git_commit()
    assert clean and "+" not in clean
    (tmp_path / "reports" / "metrics.json").write_text('{"run": {}}')  # the run's own output
    (tmp_path / "README.md").write_text("edited while the run ran\n")
    assert _git_commit() == clean
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "galaxy10"\n# edited\n')
    assert _git_commit() == clean + "+dirty"
