"""The command line: help, info, one-line errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from conftest import write_h5

from galaxy10.cli import main
from galaxy10.core.classes import CLASS_NAMES

ROOT = Path(__file__).resolve().parents[2]


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
    assert "bench pipeline" not in text
    bench["pipeline"] = {"n": 2000, "batch_size": 32, "measured": "2026-12-02 15:50",
                         "machine": {"cpu_cores": 2}, "note": "idle machine",
                         "64px_numpy": {"pipeline_images_per_s": 3764.7,
                                        "epoch_images_per_s": 67.06}}
    text = results_markdown({}, bench)
    assert ("(`bench pipeline`, 2,000 images, batch 32, 2 cores, measured 2026-12-02 15:50; "
            "idle machine), images/s:") in text
    assert "| 64 px, NumPy | 3,765 | 67 |" in text


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


def _git(*args, cwd):
    import subprocess

    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def _repository(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    _git("init", "-q", cwd=folder)
    _git("add", "-A", cwd=folder)
    _git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x", cwd=folder)
    return folder


def test_run_records_the_commit_and_ignores_its_own_reports(tmp_path):
    from galaxy10.reporting.metrics import code_commit as _git_commit

    checkout = _repository(tmp_path, {"pyproject.toml": '[project]\nname = "galaxy10"\n',
                                      "galaxy10/__init__.py": "", "reports/metrics.json": "{}",
                                      "README.md": "readme\n"})
    package = checkout / "galaxy10"
    clean = _git_commit(package)
    assert clean == _git("rev-parse", "--short", "HEAD", cwd=checkout)
    (tmp_path / "reports" / "metrics.json").write_text('{"run": {}}')  # the run's own output
    (tmp_path / "README.md").write_text("edited while the run ran\n")
    assert _git_commit(package) == clean
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "galaxy10"\n# edited\n')
    assert _git_commit(package) == clean + "+dirty"


def test_the_commit_is_galaxy10s_never_the_working_folders_repository(tmp_path, monkeypatch):
    """Run from a user's own repository (even one that looks like a checkout): the commit
    recorded is that of the galaxy10 source running, or the installed version."""
    from importlib.metadata import version

    import galaxy10
    from galaxy10.reporting.metrics import code_commit

    foreign = _repository(tmp_path / "project", {"pyproject.toml": 'name = "galaxy10"\n',
                                                 "analysis.py": "print(1)\n"})
    monkeypatch.chdir(foreign)
    own = code_commit()
    assert own != _git("rev-parse", "--short", "HEAD", cwd=foreign)
    here = Path(galaxy10.__file__).resolve().parents[1]
    assert own.split("+")[0] == _git("rev-parse", "--short", "HEAD", cwd=here)
    # installed into a venv inside the user's repository: not a checkout of galaxy10
    site = foreign / ".venv" / "lib" / "site-packages" / "galaxy10"
    site.mkdir(parents=True)
    assert code_commit(site) == f"galaxy10=={version('galaxy10')}"
    # and a copy of galaxy10's files inside another repository's subfolder
    nested = _repository(tmp_path / "outer", {"vendor/galaxy10/galaxy10/__init__.py": "",
                                              "vendor/galaxy10/pyproject.toml":
                                                  '[project]\nname = "galaxy10"\n'})
    assert code_commit(nested / "vendor" / "galaxy10" / "galaxy10").startswith("galaxy10==")


def test_results_outside_a_checkout_find_the_run_in_reports_or_galaxy10_reports(
        tmp_path, monkeypatch, capsys):
    """Right after `run` in a plain folder, `results` reads what it wrote, not "no results"."""
    import json

    from galaxy10.reporting.results import results_markdown

    metrics = json.loads((ROOT / "reports" / "reference" / "metrics.json").read_text())
    work = tmp_path / "work"
    (work / "reports").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv("GALAXY10_REPORTS", raising=False)
    assert main(["results"]) == 0
    assert f"no results yet in {(work / 'reports').resolve()}:" in capsys.readouterr().out
    assert sorted(p.name for p in work.iterdir()) == ["reports"]  # nothing made by reading
    assert main(["results", "--reports-dir", "mine/reports"]) == 0  # nor where it was told to
    assert "no results yet" in capsys.readouterr().out
    assert sorted(p.name for p in work.iterdir()) == ["reports"]
    (work / "reports" / "metrics.json").write_text(json.dumps(metrics))
    assert main(["results"]) == 0
    first = capsys.readouterr().out
    assert first == results_markdown(metrics, {}) + "\n" and "no results yet" not in first
    elsewhere = tmp_path / "drive" / "reports"  # where run wrote when GALAXY10_REPORTS was set
    elsewhere.mkdir(parents=True)
    (elsewhere / "metrics.json").write_text(json.dumps(metrics))
    (work / "reports" / "metrics.json").unlink()
    monkeypatch.setenv("GALAXY10_REPORTS", str(elsewhere))
    assert main(["results"]) == 0
    assert capsys.readouterr().out == first


def test_results_in_a_checkout_read_the_committed_reference(monkeypatch):
    from galaxy10.core.paths import reference_reports_dir, results_dir

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("GALAXY10_REPORTS", "/nonexistent/reports")
    assert results_dir() == reference_reports_dir() == ROOT / "reports" / "reference"


def test_app_serves_with_the_quiet_environment_and_keeps_the_users_settings(tmp_path,
                                                                            monkeypatch):
    """Voila's kernel gets TF_CPP_MIN_LOG_LEVEL unless the user chose one, and the seed asked."""
    import socket

    from galaxy10.app.serve import AppServer

    served = []
    monkeypatch.setattr(AppServer, "__enter__", lambda self: served.append(self) or self)
    monkeypatch.setattr(AppServer, "__exit__", lambda self, *exc: None)
    monkeypatch.setattr(AppServer, "wait", lambda self: 0)  # nothing is started
    monkeypatch.setenv("GALAXY10_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("GALAXY10_MODELS", str(tmp_path / "m"))
    monkeypatch.setenv("GALAXY10_SEED", "9")  # an earlier session's: the --seed given wins
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    monkeypatch.chdir(ROOT)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    assert main(["app", "--seed", "4", "--port", port]) == 0
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    assert main(["app", "--port", port]) == 0
    first, second = (server.env for server in served)
    assert served[0].notebook.name == "app.ipynb"
    assert first["TF_CPP_MIN_LOG_LEVEL"] == "3" and first["GALAXY10_SEED"] == "4"
    assert second["TF_CPP_MIN_LOG_LEVEL"] == "1" and second["GALAXY10_SEED"] == "0"


def test_sigterm_unwinds_the_command_and_then_is_the_callers_again(tmp_path, capsys):
    """main() also runs inside long-lived processes (a notebook kernel, this test session):
    while a command runs, SIGTERM raises SystemExit(143) so atomic writers tidy up; once it
    returns, SIGTERM does what the process had it do before (a killed test run stops)."""
    import signal

    from galaxy10.cli import sigterm_unwinds

    def callers(*_):
        pass

    before = signal.signal(signal.SIGTERM, callers)
    try:
        assert main(["results", "--reports-dir", str(tmp_path)]) == 0
        assert "no results yet" in capsys.readouterr().out
        assert signal.getsignal(signal.SIGTERM) is callers
        with sigterm_unwinds():
            try:
                signal.raise_signal(signal.SIGTERM)
            except SystemExit as exc:
                assert exc.code == 143
            else:
                raise AssertionError("SIGTERM did not unwind the block")
        assert signal.getsignal(signal.SIGTERM) is callers
    finally:
        signal.signal(signal.SIGTERM, before)


def test_main_runs_outside_the_main_thread(tmp_path, capsys):
    """Python sets signal handlers only in the main thread; a command run from another (a
    notebook's background thread) runs without the SIGTERM handler instead of failing."""
    import threading

    statuses, errors = [], []

    def work():
        try:
            statuses.append(main(["results", "--reports-dir", str(tmp_path)]))
        except BaseException as exc:  # noqa: BLE001 - the test reports whatever escaped
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    assert errors == [] and statuses == [0]
    assert "no results yet" in capsys.readouterr().out


def test_a_terminated_command_exits_143_and_leaves_no_file(tmp_path):
    """`kill` (SIGTERM) of a command mid-write: exit status 143, no output and no temporary
    file left behind (the atomic writer removes its own on the way out)."""
    import signal
    import time

    out = tmp_path / "synth.h5"
    proc = subprocess.Popen([sys.executable, "-m", "galaxy10", "synth", "--n", "20000",
                             "--workers", "1", "--out", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not [p for p in tmp_path.iterdir() if ".tmp" in p.name]:  # writing has begun
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() < deadline, "synth never began to write"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
