"""TensorFlow is loaded through one function that keeps its C++ lines out of every output."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_but_quiet_imports_tensorflow_or_keras_itself():
    """Every other module calls load_tensorflow/load_keras (function-local imports included)."""
    offenders = []
    for path in sorted((ROOT / "galaxy10").rglob("*.py")):
        if path == ROOT / "galaxy10" / "core" / "quiet.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for name in names
                          if name.split(".")[0] in ("tensorflow", "keras")]
    assert offenders == []


FAKE_TENSORFLOW = '''
import os
os.write(1, ("level " + os.environ.get("TF_CPP_MIN_LOG_LEVEL", "unset") + "\\n").encode())
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n"
            b"I0000 00:00:1795730726.809663   23073 port.cc:153] oneDNN custom operations\\n"
            b"E0000 00:00:1795730726.9   23073 cuda_dnn.cc:8310] Unable to register cuDNN factory\\n"
            b"2025-01-01 12:00:00.123456: I tensorflow/core/util/port.cc:113] oneDNN custom\\n"
            b"a message that is not a log line\\n")
'''


def _fake_tensorflow(folder: Path) -> Path:
    (folder / "tensorflow").mkdir()
    (folder / "tensorflow" / "__init__.py").write_text(FAKE_TENSORFLOW)
    (folder / "keras").mkdir()
    (folder / "keras" / "__init__.py").write_text("import tensorflow\nVERSION = 'fake'\n")
    return folder


def _python(code: str, folder: Path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "GALAXY10_"))}
    return subprocess.run([sys.executable, "-c", code], cwd=folder, text=True,
                          capture_output=True, timeout=120,
                          env={**base, "PYTHONPATH": f"{folder}{os.pathsep}{ROOT}", **env})


def test_load_keras_drops_the_log_lines_and_passes_anything_else_on(tmp_path):
    folder = _fake_tensorflow(tmp_path)
    done = _python("from galaxy10.core.quiet import load_keras\n"
                   "print(load_keras().VERSION)\nload_keras()\n"
                   "import warnings; warnings.warn('a real warning')", folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["level 3", "fake"]  # set before TF loads, imported once
    err = done.stderr.splitlines()
    assert err[0] == "a message that is not a log line"
    assert err[1:] == ["<string>:4: UserWarning: a real warning"]


def test_the_users_own_log_level_is_kept(tmp_path):
    done = _python("from galaxy10.core.quiet import load_tensorflow\nload_tensorflow()",
                   _fake_tensorflow(tmp_path), TF_CPP_MIN_LOG_LEVEL="1")
    assert done.stdout == "level 1\n"


def test_importing_galaxy10_sets_nothing_and_loads_no_tensorflow(tmp_path):
    done = _python("import os, sys, galaxy10, galaxy10.pipeline.session, galaxy10.cli, "
                   "galaxy10.pipeline.colab, galaxy10.app.widget\n"
                   "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), 'tensorflow' in sys.modules)",
                   _fake_tensorflow(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "None False\n" and done.stderr == ""


def test_tensorflows_retracing_notice_is_dropped_and_its_other_warnings_still_show(tmp_path):
    """A fresh model per fold traces its own step functions; TensorFlow counts them together."""
    done = _python("import logging, numpy as np\n"
                   "from galaxy10.core.quiet import load_keras\n"
                   "keras = load_keras()\n"
                   "for i in range(8):\n"
                   "    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
                   "    model.predict_on_batch(np.zeros((3 + i, 4), 'float32'))\n"
                   "logging.getLogger('tensorflow').warning('a real TensorFlow warning')\n",
                   tmp_path)
    assert done.returncode == 0, done.stderr
    assert "retracing" not in done.stderr
    assert "a real TensorFlow warning" in done.stderr


def test_the_retracing_filter_is_attached_once_and_matches_only_that_notice():
    import logging

    from galaxy10.core.quiet import RetracingNoticeFilter, drop_retracing_notices

    drop_retracing_notices()
    drop_retracing_notices()
    logger = logging.getLogger("tensorflow")
    assert sum(isinstance(f, RetracingNoticeFilter) for f in logger.filters) == 1

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    notice = ("5 out of the last 11 calls to <function TensorFlowTrainer._make_function.<locals>."
              "multi_step_on_iterator at 0x7f0a> triggered tf.function retracing. Tracing is "
              "expensive")
    assert not RetracingNoticeFilter().filter(record(notice))
    assert RetracingNoticeFilter().filter(record("tf.function retracing is mentioned here"))
