"""A quiet command line: TensorFlow's start-up lines never reach the terminal; -q everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("E0000", "I0000", "W0000", "WARNING: All log messages", "oneDNN", "cuInit",
         "cpu_feature_guard")


@pytest.mark.slow
def test_predict_prints_only_its_answer(tmp_path):
    """In a fresh process, with no TF_CPP_MIN_LOG_LEVEL set by the caller."""
    from PIL import Image

    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.preprocess import ImageConfig

    config = ImageConfig(size=32, color="rgb", crop=0.5)
    save_bundle(build_galaxy_cnn(config.shape, filters=(2, 4), seed=0), tmp_path / "tiny.keras",
                kind="galaxy", config=config, tta=True,
                data={"path": "x.h5", "source": "synthetic", "n_images": 1})
    rng = np.random.default_rng(0)
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[24:40, 24:40] = rng.integers(100, 255, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "galaxy.png")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "GALAXY10_"))}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "galaxy10", "predict", "galaxy.png", "--model",
                           "tiny.keras"], cwd=tmp_path, env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("galaxy.png\t"), done.stdout
    assert not any(word in done.stdout for word in NOISE)


def test_captured_log_lines_are_dropped_and_anything_else_is_kept():
    from galaxy10.core.quiet import LOG_LINE

    noise = ["I0000 00:00:1795730726.809663   23073 port.cc:153] oneDNN custom operations",
             "E0000 00:00:1795730734.484226   23073 cuda_platform.cc:52] failed call to cuInit",
             "W0000 00:00:1795730734.484226   23073 cpu_feature_guard.cc:210] This TensorFlow",
             "WARNING: All log messages before absl::InitializeLog() is called are written to "
             "STDERR",
             # a GPU runtime (Colab's): at import, and while training
             "E0000 00:00:1740000000.123456    1234 cuda_dnn.cc:8310] Unable to register cuDNN "
             "factory: Attempting to register factory for plugin cuDNN when one has already been "
             "registered",
             "E0000 00:00:1740000001.5    1234 node_def_util.cc:682] NodeDef mentions attribute "
             "use_unbounded_threadpool which is not in the op definition",
             # TensorFlow's older format, and the second line of its CPU-instructions notice
             "2024-04-10 10:12:34.123456: I tensorflow/core/util/port.cc:113] oneDNN custom "
             "operations are on.",
             "To enable the following instructions: AVX2 FMA, in other operations, rebuild "
             "TensorFlow with the appropriate compiler flags."]
    kept = ["Traceback (most recent call last):", "error: something real", "I0 is a name",
            "WARNING: something else", "2024-04-10 10:12:34: the user's own dated line",
            "To enable the plot, set show=True"]
    assert all(LOG_LINE.match(line) for line in noise)
    assert not any(LOG_LINE.match(line) for line in kept)


@pytest.mark.parametrize("argv", [
    ["synth", "--preset", "tiny"], ["import", "folder", "--out", "x.h5"],
    ["train", "--data", "x.h5", "--out", "m.keras"], ["pretrain"], ["run"], ["bench", "memory"],
    ["fetch"]], ids=lambda a: a[0])
def test_every_long_command_takes_q(argv):
    from galaxy10.cli import build_parser

    assert build_parser().parse_args([*argv, "-q"]).quiet is True
    assert build_parser().parse_args(argv).quiet is False


def test_main_sets_the_log_level_before_tensorflow(monkeypatch):
    from galaxy10.cli import main

    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    assert main(["--help"]) == 0
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user's own choice is kept
    assert main(["--help"]) == 0 and os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0"
