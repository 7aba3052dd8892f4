"""Validate first, then work: the refusals of issue #26 come before TensorFlow and any work.

Each case used to be refused only after TensorFlow's import (seconds) or after real work
(rendering the synthetic set, training fold 1, reading gigabytes of blank images). They run
here in one fresh interpreter, so that an import of TensorFlow by any of them shows; the
synthetic set and the models folder must not appear either.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from conftest import write_h5

LATE_REFUSALS = [
    ["pretrain", "--size", "7", "-q"],
    ["pretrain", "--out", "/proc/x.keras", "-q"],
    ["pretrain", "--data", "fifty.h5", "--real", "nowhere", "-q"],
    ["train", "--data", "fifty.h5", "--out", "model.h5", "-q"],
    ["train", "--data", "twenty.h5", "--out", "model.keras", "-q"],
    ["train", "--data", "fifty.h5", "--out", "model.keras", "--init", "seed.keras", "-q"],
    ["bench", "real", "--real", "fifty.h5", "--init", "seed.keras", "--profile", "smoke"],
    ["bench", "real", "--real", "twenty.h5", "--init", "none", "--folds", "2"],
    ["bench", "real", "--real", "fifty.h5", "--init", "none", "--folds", "999"],
    ["bench", "real", "--real", "fifty.h5", "--folds", "999"],  # default --init: the shipped
    ["bench", "real", "--real", "fifty.h5", "--init", "none", "--folds", "2", "--labels", "40"],
    ["bench", "accuracy", "--real", "/nonexistent"],
    ["bench", "inference"],
    ["classify", "photo.png.txt", "--out", "newcat"],  # no known kind: before the bundle note
    ["suggest", "photo.png", "--out", "next.csv", "--n", "5"],  # 1 candidate: before classify
    ["predict", "folder"],
    ["predict", "photo.png", "--model", "seed.json"],
    ["import", "folder", "--out", "fifo.h5"],
    ["synth", "--n", "2", "--out", "fifo.h5"],
    ["info", "declared.h5"],
    ["repack", "declared.h5", "--out", "copy.h5"],
    ["audit", "declared.h5"],
]

SCRIPT = """
import json, sys
from galaxy10.cli import main
rows = []
for argv in json.loads(sys.argv[1]):
    status = main(argv)
    rows.append([status, "tensorflow" in sys.modules])
print(json.dumps(rows))
"""


def test_late_refusals_come_before_tensorflow_and_any_work(tmp_path):
    write_h5(tmp_path / "fifty.h5", n=50, size=8)
    write_h5(tmp_path / "twenty.h5", n=20, size=8)
    (tmp_path / "folder").mkdir()
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / "photo.png.txt").write_text("not a picture")
    os.mkfifo(tmp_path / "fifo.h5")
    with h5py.File(tmp_path / "declared.h5", "w") as f:
        f.create_dataset("images", shape=(100_000, 256, 256, 3), dtype=np.uint8,
                         chunks=(1, 256, 256, 3))
        f.create_dataset("ans", shape=(100_000,), dtype=np.uint8)
    (tmp_path / "seed.keras").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (tmp_path / "seed.json").write_text(json.dumps({
        "bundle_version": 1, "kind": "seed", "image": {"size": 64, "color": "seed-grey"}}))
    env = {**os.environ, "GALAXY10_DATA": str(tmp_path / "data"),
           "GALAXY10_MODELS": str(tmp_path / "models"),
           "GALAXY10_REPORTS": str(tmp_path / "reports"),
           "GALAXY10_REAL_SAMPLE": str(tmp_path / "no-sample"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                          os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(LATE_REFUSALS)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout.strip().splitlines()[-1])
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(LATE_REFUSALS), out.stderr
    assert "Traceback" not in out.stderr
    # a refused command says only why: not which bundle it would have used
    assert "no model of your own" not in out.stdout + out.stderr
    for argv, (status, tensorflow), error in zip(LATE_REFUSALS, rows, errors, strict=True):
        assert status == 2, (argv, error)
        assert not tensorflow, (argv, error)
    assert not (tmp_path / "data" / "synthetic").exists()  # no synthetic set was made
    assert not any((tmp_path / "models").glob("*.keras"))
    assert not (tmp_path / "copy.h5").exists()
