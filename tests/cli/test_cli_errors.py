"""Every command, misused: one ``error:`` line, a known exit status, no traceback, no lost file.

The table below is the hostile-user audit of issue #13 turned into a regression test: each row
runs the command line in-process on a small world of files (a 40-image synthetic set, tiny
PNGs, manifests, fake model bundles, a user's notes) and checks that the run fails the way the
README promises, and that every file that was there is byte-for-byte unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import write_h5
from PIL import Image

from galaxy10.cli import data as cli_data
from galaxy10.cli import main


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


def _png(path: Path, value: int = 40, size: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    Image.fromarray(rng.integers(0, value + 1, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def _fake_bundle(folder: Path, name: str, image, kind: str = "galaxy", **fields) -> Path:
    """An empty .keras archive and a JSON with ``fields`` (a seed bundle gets a scaler)."""
    (folder / f"{name}.keras").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # an empty zip
    params = {"bundle_version": 1, "kind": kind, "image": image, **fields}
    if kind == "seed":
        ones = [1.0] * 4096
        params.setdefault("scaler", {"min_": ones, "scale_": ones, "data_min_": ones,
                                     "data_max_": ones, "data_range_": ones,
                                     "feature_range": [0, 1], "n_samples_seen_": 10})
    (folder / f"{name}.json").write_text(json.dumps(params))
    return folder / f"{name}.keras"


GOOD_IMAGE = {"size": 64, "color": "rgb", "crop": 0.5, "interpolation": "area"}
BAD_BUNDLE_FIELDS = {  # a bundle JSON's field, damaged by hand or by a careless script
    "temp0": {"calibration": {"temperature": 0}},
    "nanthreshold": {"calibration": {"temperature": 1.0, "threshold": float("nan")}},
    "bigthreshold": {"calibration": {"threshold": 1.5}},
    "nineclasses": {"class_names": [f"class {i}" for i in range(9)]},
    "ttayes": {"tta": "yes"},
    "sizetext": {"image": {**GOOD_IMAGE, "size": "64"}},
    "cropnan": {"image": {**GOOD_IMAGE, "crop": float("nan")}},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """The files a user has: data sets, images, manifests, bundles, notes, earlier figures."""
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.writer import Galaxy10Writer

    root = tmp_path_factory.mktemp("world")
    synthetic.generate(root / "data.h5", n=40, seed=0, progress=False)
    synthetic.generate(root / "three.h5", n=3, seed=0, progress=False)
    write_h5(root / "fifty.h5", n=50, size=8)  # 5 labels of each class: enough to split
    write_h5(root / "twenty.h5", n=20, size=8)  # 2 of each class
    os.mkfifo(root / "fifo.h5")  # a named pipe: opening it would block
    with h5py.File(root / "declared.h5", "w") as f:  # 1.6 kB declaring 19.7 GB of blank images
        f.create_dataset("images", shape=(100_000, 256, 256, 3), dtype=np.uint8,
                         chunks=(1, 256, 256, 3))
        f.create_dataset("ans", shape=(100_000,), dtype=np.uint8)
    (root / "notes.md").write_text("# my notes\n")
    (root / "text.h5").write_text("a text file named .h5\n")
    with Galaxy10Writer(root / "oneclass.h5", 12, source="imported") as w:
        w.write(0, np.zeros((12, 256, 256, 3), np.uint8), np.zeros(12, np.uint8))
    (root / "notes.txt").write_text("my notes, not galaxy10's\n")
    (root / "selection.json").write_text(json.dumps(  # a selection of no candidate of ours
        {"recipe_selection_random": {"profile": "faithful", "inner_folds": 2,
                                     "candidates": {"mine": {"jitter": "x"}}, "folds": []}}))
    (root / "README.md").write_text("# my project\n")
    (root / "outdir").mkdir()
    for label in (0, 1):
        _png(root / "imgs" / str(label) / f"{label}.png", value=30 + label)
    (root / "imgs" / "manifest.csv").write_text("file,label\n0/0.png,0\n1/1.png,1\n")
    _png(root / "mixed" / "0" / "a.png")
    _png(root / "mixed" / "01" / "b.png")
    _png(root / "mixed" / "spiral" / "c.png")
    (root / "onlybomb" / "3").mkdir(parents=True)
    _png_header_only(root / "onlybomb" / "3" / "bomb.png", 20000, 20000)
    (root / "empty").mkdir()
    (root / "one_field.csv").write_text("file,label\nimgs/0/0.png\n")
    (root / "huge.csv").write_text("file,label\n" + "x" * 200_000 + ",1\n")
    (root / "badlabel.csv").write_text("file,label\nimgs/0/0.png,12\n")
    (root / "digitlabel.csv").write_text("file,label\nimgs/0/0.png,\u0663\n", encoding="utf-8")
    (root / "models").mkdir()
    _fake_bundle(root / "models", "list", [64, "rgb"])
    _fake_bundle(root / "models", "null", None)
    (root / "models" / "user.json").write_text('{"mine": true}\n')
    _fake_bundle(root / "models", "seedkind", {"size": 64, "color": "seed-grey", "crop": 1.0},
                 kind="seed")
    (root / "nomodels").mkdir()
    (root / "usermodels" / "bench_smoke").mkdir(parents=True)  # a user's file where bench writes
    (root / "usermodels" / "bench_smoke" / "galaxy_cnn.keras").write_text("my model\n")
    (root / "seedmodels").mkdir()
    _fake_bundle(root / "seedmodels", "pretrained_synthetic",
                 {"size": 64, "color": "seed-grey", "crop": 1.0}, kind="seed")
    _fake_bundle(root / "models", "pipejson", {"size": 64, "color": "rgb"})
    (root / "models" / "pipejson.json").unlink()
    os.mkfifo(root / "models" / "pipejson.json")
    for name, fields in BAD_BUNDLE_FIELDS.items():
        fields = dict(fields)
        _fake_bundle(root / "models", name, fields.pop("image", GOOD_IMAGE), **fields)
    _fake_bundle(root / "models", "cut", GOOD_IMAGE)
    text = (root / "models" / "cut.json").read_text()
    (root / "models" / "cut.json").write_text(text[:len(text) // 2])  # a copy cut short
    _fake_bundle(root / "models", "nojson", GOOD_IMAGE)
    (root / "models" / "nojson.json").unlink()
    (root / "brokenhome").mkdir()  # the user's own bundle, broken: never the shipped one instead
    _fake_bundle(root / "brokenhome", "galaxy_cnn", GOOD_IMAGE, calibration={"temperature": 0})
    (root / "halfhome").mkdir()  # the user's pre-trained bundle without its JSON
    _fake_bundle(root / "halfhome", "pretrained_synthetic", GOOD_IMAGE)
    (root / "halfhome" / "pretrained_synthetic.json").unlink()
    (root / "reports").mkdir()
    (root / "reports" / "benchmarks.json").write_text('{"memory": {"paths": {"a": 1}}}\n')
    _png(root / "photo.png")
    (root / "labels_twice.csv").write_text("id,label\na,1\na,2\n")
    (root / "labels_digit.csv").write_text("path,label\nimgs/0/0.png,\u0663\n", encoding="utf-8")
    (root / "labels_noid.csv").write_text("name,label\na,1\n")
    _catalogue_without_embeddings(root / "oldcat")
    return root


def _catalogue_without_embeddings(folder: Path) -> None:
    """A catalogue folder (the marker and one part) written without ``--embeddings``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from galaxy10.pipeline.catalogue import MARKER

    folder.mkdir()
    (folder / MARKER).write_text("")
    pq.write_table(pa.table({"id": ["a", "b"], "file": ["", ""], "class": [1, 2],
                             "top3_classes": [[1, 2, 3], [2, 1, 3]],
                             "top3_probs": [[0.5, 0.3, 0.1], [0.6, 0.2, 0.1]]}),
                   folder / "part.parquet")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# (id, argv, environment, exit status, text the error line must contain)
CASES = [
    # arguments rejected at parse time
    ("no-command", [], {}, 2, "required: COMMAND"),
    ("unknown-command", ["frobnicate"], {}, 2, "invalid choice"),
    ("synth-n-0", ["synth", "--n", "0"], {}, 2, "argument --n: must be at least 1"),
    ("synth-n-negative", ["synth", "--n", "-5"], {}, 2, "argument --n"),
    ("synth-n-text", ["synth", "--n", "many"], {}, 2, "'many' is not a whole number"),
    ("synth-workers-0", ["synth", "--n", "4", "--workers", "0"], {}, 2, "argument --workers"),
    ("synth-seed-negative", ["synth", "--seed", "-1"], {}, 2, "argument --seed"),
    ("train-epochs-0", ["train", "--data", "data.h5", "--out", "m.keras", "--epochs", "0"], {},
     2, "argument --epochs"),
    ("gallery-per-class-0", ["gallery", "--per-class", "0"], {}, 2, "argument --per-class"),
    ("run-only-99", ["run", "--only", "99"], {}, 2, "unknown notebook(s) ['99']"),
    ("run-only-text", ["run", "--only", "eda,x"], {}, 2, "argument --only"),
    ("app-port-0", ["app", "--port", "0"], {}, 2, "argument --port"),
    ("app-port-huge", ["app", "--port", "70000"], {}, 2, "at most 65535"),
    # --out that would destroy something
    ("synth-out-readme", ["synth", "--n", "2", "--out", "README.md", "-q"], {}, 2,
     "README.md: already exists and is not a Galaxy10 HDF5 file"),
    ("synth-out-folder", ["synth", "--n", "2", "--out", "outdir", "-q"], {}, 2, "is a folder"),
    ("synth-out-under-file", ["synth", "--n", "2", "--out", "notes.txt/sub/o.h5", "-q"], {}, 2,
     "notes.txt is a file, not a folder"),
    ("synth-out-proc", ["synth", "--n", "2", "--out", "/proc/galaxy10/o.h5", "-q"], {}, 2,
     "/proc/galaxy10/o.h5"),
    ("import-out-notes", ["import", "imgs", "--out", "notes.txt", "-q"], {}, 2,
     "notes.txt: already exists"),
    ("import-out-manifest", ["import", "imgs/manifest.csv", "--out", "imgs/manifest.csv", "-q"],
     {}, 2, "is also an input"),
    ("import-out-source", ["import", "imgs", "--out", "imgs", "-q"], {}, 2, "is also an input"),
    ("import-out-folder", ["import", "imgs", "--out", "outdir", "-q"], {}, 2, "is a folder"),
    ("import-out-under-file", ["import", "imgs", "--out", "notes.txt/x.h5", "-q"], {}, 2,
     "is a file, not a folder"),
    ("import-out-proc", ["import", "imgs", "--out", "/proc/x.h5", "-q"], {}, 2, "/proc/x.h5"),
    ("pretrain-out-proc", ["pretrain", "--data", "fifty.h5", "--out", "/proc/x.keras", "-q"], {}, 2,
     "/proc/x.keras: cannot write in /proc"),
    ("pretrain-size-too-small", ["pretrain", "--data", "data.h5", "--size", "8", "-q"], {}, 2,
     "--size 8: the faithful profile's network halves its input 4 times; give at least 16 px"),
    ("pretrain-size-too-large", ["pretrain", "--data", "data.h5", "--size", "4096", "-q"], {}, 2,
     "--size 4096: larger than the 256 px cut-outs it is cropped from; give at most 256"),
    ("import-force-over-input", ["import", "imgs/manifest.csv", "--out", "imgs/manifest.csv",
                                 "--force", "-q"], {}, 2, "is also an input"),
    ("train-out-notes", ["train", "--data", "fifty.h5", "--out", "notes.txt"], {}, 2,
     "notes.txt: already exists and is not a model bundle"),
    ("train-out-data", ["train", "--data", "fifty.h5", "--out", "fifty.h5"], {}, 2,
     "is also an input"),
    ("train-json-beside", ["train", "--data", "fifty.h5", "--out", "models/user.keras"], {}, 2,
     "models/user.json: already exists"),
    ("gallery-out-notes", ["gallery", "--real", "imgs", "--synthetic", "data.h5", "--out",
                           "notes.txt"], {}, 2, "notes.txt: already exists and is not a figure"),
    ("gallery-out-input", ["gallery", "--real", "imgs", "--synthetic", "data.h5", "--out",
                           "data.h5"], {}, 2, "is also an input"),
    # bad input files
    ("info-missing", ["info", "missing.h5"], {}, 2, "missing.h5: file not found"),
    ("info-text", ["info", "notes.txt"], {}, 2, "notes.txt: not an HDF5 file"),
    ("import-missing", ["import", "nowhere", "--out", "new.h5", "-q"], {}, 2, "nowhere: not found"),
    ("import-empty", ["import", "empty", "--out", "new.h5", "-q"], {}, 2, "holds no images"),
    ("import-one-field", ["import", "one_field.csv", "--out", "new.h5", "-q"], {}, 2,
     "one_field.csv: line 2: 1 field(s), expected 2"),
    ("import-huge-field", ["import", "huge.csv", "--out", "new.h5", "-q"], {}, 2,
     "huge.csv: line 2: not valid CSV"),
    ("import-bad-label", ["import", "badlabel.csv", "--out", "new.h5", "-q"], {}, 2,
     "badlabel.csv: line 2: label 12 is outside 0-9"),
    ("import-strict", ["import", "mixed", "--out", "new.h5", "--strict", "-q"], {}, 2,
     "2 entries would be left out"),
    ("import-only-bomb", ["import", "onlybomb", "--out", "new.h5", "-q"], {}, 2,
     "decompression bomb"),
    ("predict-model-missing", ["predict", "photo.png", "--model", "models/none.keras"], {}, 2,
     "none.keras: model file not found"),
    ("predict-image-list", ["predict", "photo.png", "--model", "models/list.keras"], {}, 2,
     "list.json: not a usable model parameter file: field 'image' must be a JSON object, got "
     "[64, \"rgb\"]"),
    ("predict-image-null", ["predict", "photo.png", "--model", "models/null.keras"], {}, 2,
     "null.json: not a usable model parameter file: field 'image' must be a JSON object, got "
     "null"),
    # the bundle schema (issue #39): every field of the JSON checked, the file and field named
    ("predict-temperature-0", ["predict", "photo.png", "--model", "models/temp0.keras"], {}, 2,
     "temp0.json: not a usable model parameter file: field 'calibration.temperature' must be "
     "a finite number above 0, got 0"),
    ("predict-threshold-nan", ["predict", "photo.png", "--model", "models/nanthreshold.keras"],
     {}, 2, "nanthreshold.json: not a usable model parameter file: field "
            "'calibration.threshold' must be a finite number in [0, 1], got NaN"),
    ("predict-threshold-1.5", ["predict", "photo.png", "--model", "models/bigthreshold.keras"],
     {}, 2, "bigthreshold.json: not a usable model parameter file: field "
            "'calibration.threshold' must be a finite number in [0, 1], got 1.5"),
    ("predict-nine-classes", ["predict", "photo.png", "--model", "models/nineclasses.keras"],
     {}, 2, "nineclasses.json: not a usable model parameter file: field 'class_names' must "
            "list the 10 Galaxy10 classes, got 9 names"),
    ("predict-tta-text", ["predict", "photo.png", "--model", "models/ttayes.keras"], {}, 2,
     "ttayes.json: not a usable model parameter file: field 'tta' must be true or false, "
     "got \"yes\""),
    ("predict-size-text", ["predict", "photo.png", "--model", "models/sizetext.keras"], {}, 2,
     "sizetext.json: not a usable model parameter file: field 'image.size' must be a whole "
     "number in [8, 256], got \"64\""),
    ("predict-crop-nan", ["predict", "photo.png", "--model", "models/cropnan.keras"], {}, 2,
     "cropnan.json: not a usable model parameter file: field 'image.crop' must be a finite "
     "number above 0 and at most 1, got NaN"),
    ("predict-json-cut-short", ["predict", "photo.png", "--model", "models/cut.keras"], {}, 2,
     "cut.json: not a galaxy10 model parameter file (not valid JSON: "),
    ("predict-json-missing", ["predict", "photo.png", "--model", "models/nojson.keras"], {}, 2,
     "nojson.json: the model's parameter file is missing"),
    ("classify-temperature-0", ["classify", "imgs", "--out", "newcat", "--model",
                                "models/temp0.keras", "-q"], {}, 2,
     "temp0.json: not a usable model parameter file: field 'calibration.temperature'"),
    ("train-init-threshold-nan", ["train", "--data", "fifty.h5", "--out", "m.keras", "--init",
                                  "models/nanthreshold.keras"], {}, 2,
     "nanthreshold.json: not a usable model parameter file: field 'calibration.threshold'"),
    # a broken bundle of the user's is an error, not swapped for the shipped one
    ("predict-default-broken-own", ["predict", "photo.png"], {"GALAXY10_MODELS": "brokenhome"},
     2, "galaxy_cnn.json: not a usable model parameter file: field 'calibration.temperature'"),
    ("train-init-pretrained-half", ["train", "--data", "fifty.h5", "--out", "m.keras", "--init",
                                    "pretrained"], {"GALAXY10_MODELS": "halfhome"}, 2,
     "pretrained_synthetic.json: the model's parameter file is missing"),
    ("train-three-images", ["train", "--data", "three.h5", "--out", "m.keras"], {}, 2,
     "three.h5: too little to train on: 3 image(s) in 3 class(es)"),
    ("train-one-class", ["train", "--data", "oneclass.h5", "--out", "m.keras"], {}, 2,
     "need at least 5 images of every class 0-9"),
    ("bench-memory-missing", ["bench", "memory", "--data", "missing.h5"],
     {"GALAXY10_REPORTS": "reports"}, 2, "missing.h5: file not found"),
    ("train-data-real-missing", ["train", "--data", "real", "--out", "m.keras", "-q"],
     {"GALAXY10_DATA": "datahome"}, 2, "real data file not found"),
    ("results-reports-file", ["results", "--reports-dir", "notes.txt"], {}, 2,
     "notes.txt: names a file, not a folder"),
    # environment variables naming unusable places
    ("env-data-file", ["synth", "-q"], {"GALAXY10_DATA": "notes.txt"}, 2,
     "GALAXY10_DATA=notes.txt: names a file, not a folder"),
    ("env-data-proc", ["synth", "-q"], {"GALAXY10_DATA": "/proc/galaxy10"}, 2,
     "GALAXY10_DATA=/proc/galaxy10: cannot create this folder"),
    ("env-models-file", ["bench", "inference"], {"GALAXY10_MODELS": "README.md"}, 2,
     "GALAXY10_MODELS=README.md: names a file"),
    ("env-models-under-file", ["bench", "inference"], {"GALAXY10_MODELS": "notes.txt/models"}, 2,
     "GALAXY10_MODELS=notes.txt/models: cannot be a folder: notes.txt is a file"),
    ("env-reports-file", ["realism"], {"GALAXY10_REPORTS": "notes.txt"}, 2,
     "GALAXY10_REPORTS=notes.txt: names a file"),
    # issue #26: refusals that used to come late, hang, lose a file or say the wrong thing
    ("realism-out-figure-notes", ["realism", "--real", "imgs", "--synthetic", "tiny",
                                  "--out-figure", "notes.md"], {}, 2,
     "notes.md: already exists and is not a figure that galaxy10 wrote"),
    ("realism-out-figure-suffix", ["realism", "--real", "imgs", "--synthetic", "tiny",
                                   "--out-figure", "new.md"], {}, 2,
     "new.md: a figure is a PNG image: give a name ending in .png"),
    ("gallery-out-suffix", ["gallery", "--real", "imgs", "--synthetic", "data.h5", "--out",
                            "grid.jpg"], {}, 2, "give a name ending in .png"),
    ("import-out-fifo", ["import", "imgs", "--out", "fifo.h5", "-q"], {}, 2,
     "fifo.h5: is a named pipe (FIFO), not a regular file"),
    ("synth-out-fifo", ["synth", "--n", "2", "--out", "fifo.h5", "-q"], {}, 2,
     "fifo.h5: is a named pipe (FIFO), not a regular file"),
    ("repack-out-fifo", ["repack", "data.h5", "--out", "fifo.h5"], {}, 2,
     "fifo.h5: is a named pipe (FIFO), not a regular file"),
    ("pretrain-out-proc-no-data", ["pretrain", "--out", "/proc/x.keras", "-q"], {}, 2,
     "/proc/x.keras: cannot write in /proc"),
    ("train-out-h5", ["train", "--data", "fifty.h5", "--out", "model.h5", "-q"], {}, 2,
     "model.h5: a model bundle is a Keras file: give a name ending in .keras"),
    ("pretrain-size-7", ["pretrain", "--data", "fifty.h5", "--size", "7", "-q"], {}, 2,
     "--size 7: the faithful profile's network halves its input 4 times; give at least 16 px"),
    ("pretrain-size-3-smoke", ["pretrain", "--data", "fifty.h5", "--profile", "smoke",
                               "--size", "3", "-q"], {}, 2,
     "--size 3: the smoke profile's network halves its input 2 times; give at least 4 px"),
    ("pretrain-size-7-smoke", ["pretrain", "--data", "fifty.h5", "--profile", "smoke",
                               "--size", "7", "-q"], {}, 2,
     "--size 7: the preprocessing takes at least 8 px"),
    ("pretrain-too-few", ["pretrain", "--data", "data.h5", "-q"], {}, 2,
     "data.h5: too little to train on"),
    ("pretrain-real-missing", ["pretrain", "--data", "fifty.h5", "--real", "nowhere", "-q"], {},
     2, "nowhere: --real: no labelled images there (not found)"),
    ("bench-real-init-seed", ["bench", "real", "--real", "fifty.h5", "--init",
                              "models/seedkind.keras", "--profile", "smoke"], {}, 2,
     "seedkind.keras: a 'seed' bundle (--init); only a modern-CNN bundle"),
    ("bench-real-init-text", ["bench", "real", "--real", "fifty.h5", "--init", "notes.txt",
                              "--profile", "smoke"], {}, 2, "notes.txt: not a Keras model bundle"),
    ("bench-real-three", ["bench", "real", "--real", "three.h5", "--init", "none", "--profile",
                          "smoke"], {}, 2,
     "three.h5: 2 folds (the smoke profile's): 2-fold cross-validation needs at least 4 images "
     "of every class"),
    ("bench-real-twenty-2-folds", ["bench", "real", "--real", "twenty.h5", "--init", "none",
                                   "--folds", "2"], {}, 2,
     "twenty.h5: --folds 2: 2-fold cross-validation needs at least 4 images of every class"),
    ("bench-real-refit-without-init", ["bench", "real", "--real", "fifty.h5", "--init",
                                      "none", "--refit-all"], {}, 2,
     "--refit-all: it repeats the fine-tuning, which --init none leaves out"),
    # nested recipe selection (issue #38), refused before any training
    ("bench-select-one-candidate", ["bench", "select", "--real", "fifty.h5", "--candidates",
                                    "shipped"], {}, 2,
     "--candidates shipped: give at least two different recipes"),
    ("bench-select-region-without-positions", ["bench", "select", "--real", "fifty.h5"], {}, 2,
     "--cv region: no sky positions"),
    ("bench-select-reuse-notes", ["bench", "select", "--real", "fifty.h5", "--cv", "random",
                                  "--reuse", "notes.txt"], {}, 2,
     "notes.txt: --reuse: not a JSON file"),
    ("bench-select-reuse-inner-notes", ["bench", "select", "--real", "fifty.h5", "--cv",
                                        "random", "--reuse-inner", "notes.txt"], {}, 2,
     "notes.txt: --reuse-inner: not a JSON file"),
    ("bench-select-reuse-inner-no-record", ["bench", "select", "--real", "fifty.h5", "--cv",
                                            "random", "--reuse-inner",
                                            "reports/benchmarks.json"], {}, 2,
     "benchmarks.json: --reuse-inner: no 'recipe_selection_random' record of bench select"),
    ("bench-select-reuse-inner-no-match", ["bench", "select", "--real", "fifty.h5", "--cv",
                                           "random", "--reuse-inner", "selection.json"], {}, 2,
     "selection.json: --reuse-inner: none of its candidates was measured with the settings"),
    ("train-refit-without-init", ["train", "--data", "data.h5", "--out", "m.keras",
                                  "--refit-all"], {}, 2,
     "--refit-all: it repeats a fine-tuning, so it needs --init"),
    ("bench-real-folds-999", ["bench", "real", "--real", "fifty.h5", "--init", "none", "--folds",
                              "999"], {}, 2, "--folds 999: 999-fold cross-validation needs"),
    # the default --init is --models-dir's pre-trained bundle (the shipped one only without it)
    ("bench-real-default-init-models-dir", ["bench", "real", "--real", "fifty.h5",
                                            "--models-dir", "seedmodels"], {}, 2,
     "seedmodels/pretrained_synthetic.keras: a 'seed' bundle (--init)"),
    # the label-efficiency curve's sizes (issue #25), refused before any training
    ("bench-real-labels-twice", ["bench", "real", "--real", "fifty.h5", "--init", "none",
                                 "--labels", "20", "30", "20"], {}, 2,
     "--labels 20 30 20: give each size once (20 given more than once)"),
    ("bench-real-labels-below-two-per-class", ["bench", "real", "--real", "fifty.h5", "--init",
                                               "none", "--labels", "10", "20"], {}, 2,
     "--labels 10 20: each size must be at least 20 (two images of each class"),
    ("bench-real-labels-above-a-fold", ["bench", "real", "--real", "fifty.h5", "--init", "none",
                                        "--folds", "2", "--labels", "20", "30"], {}, 2,
     "fifty.h5: --labels 20 30: 2-fold cross-validation of 50 images trains on at most 25 per "
     "fold; 30 is more"),
    ("bench-real-labels-zero", ["bench", "real", "--real", "fifty.h5", "--init", "none",
                                "--labels", "0"], {}, 2, "argument --labels: "),
    ("bench-real-figure-without-labels", ["bench", "real", "--real", "fifty.h5", "--init",
                                          "none", "--out-figure", "curve.png"], {}, 2,
     "--out-figure curve.png: the figure is the label curve's; give --labels too"),
    ("bench-real-figure-notes", ["bench", "real", "--real", "fifty.h5", "--init", "none",
                                 "--labels", "20", "--out-figure", "notes.md"], {}, 2,
     "notes.md: already exists and is not a figure that galaxy10 wrote"),
    ("bench-real-real-text", ["bench", "real", "--real", "text.h5", "--init", "none"], {}, 2,
     "text.h5: not an HDF5 file"),
    ("bench-accuracy-real-missing", ["bench", "accuracy", "--data", "fifty.h5", "--real",
                                     "no-such-sample"], {}, 2,
     "no-such-sample: --real: no labelled images there (not found)"),
    ("bench-accuracy-real-too-few", ["bench", "accuracy", "--data", "fifty.h5", "--real",
                                     "twenty.h5"], {}, 2, "twenty.h5: --real: too little to train on"),
    # bench accuracy writes under --models-dir and has no --out or --force to suggest
    ("bench-accuracy-foreign-bundle", ["bench", "accuracy", "--data", "fifty.h5", "--real",
                                       "none", "--profile", "smoke", "--models-dir",
                                       "usermodels"], {}, 2,
     "galaxy_cnn.keras: already exists and is not a model bundle that galaxy10 wrote; galaxy10 "
     "does not overwrite files it did not make (choose another --models-dir)"),
    ("bench-inference-none", ["bench", "inference", "--models-dir", "nomodels"], {}, 2,
     "nomodels/seed_cnn.keras: model file not found"),
    ("bench-layout-n-huge", ["bench", "layout", "--n", "10000000"], {}, 2,
     "argument --n: must be at most 20,000"),
    ("predict-folder", ["predict", "outdir", "--model", "models/list.keras"], {}, 2,
     "outdir: is a folder, not an image file"),
    ("predict-fifo", ["predict", "fifo.h5", "photo.png", "--model", "models/list.keras"], {}, 2,
     "fifo.h5: is a named pipe (FIFO), not a regular file"),
    ("predict-json-fifo", ["predict", "photo.png", "--model", "models/pipejson.keras"], {}, 2,
     "pipejson.json: the model's parameter file is a named pipe (FIFO), not a regular file"),
    ("info-fifo", ["info", "fifo.h5"], {}, 2,
     "fifo.h5: is a named pipe (FIFO), not a regular file; give an HDF5 file"),
    ("info-dev-zero", ["info", "/dev/zero"], {}, 2,
     "/dev/zero: is a character device, not a regular file"),
    ("info-folder", ["info", "outdir"], {}, 2, "outdir: is a folder, not an HDF5 file"),
    ("classify-imageless-folder", ["classify", "empty", "--out", "newcat", "-q"], {}, 2,
     "empty: is a folder that holds no images"),
    ("classify-no-known-kind", ["classify", "notes.txt", "--out", "newcat"], {}, 2,
     "notes.txt: not a catalogue input"),
    ("bench-classify-workdir-file", ["bench", "classify", "--workdir", "notes.txt"], {}, 2,
     "notes.txt: --workdir must be an existing folder"),
    ("import-bad-manifest-says-no-replacing", ["import", "badlabel.csv", "--out", "data.h5",
                                               "-q"], {}, 2, "badlabel.csv"),
    ("info-declared", ["info", "declared.h5"], {}, 2,
     "declared.h5: 'images' declares 100,000 images of 256 x 256 x 3 (19.7 GB) but stores "
     "0 bytes"),
    ("repack-declared", ["repack", "declared.h5", "--out", "copy.h5"], {}, 2,
     "declared.h5: 'images' declares 100,000 images"),
    ("audit-declared", ["audit", "declared.h5"], {}, 2,
     "declared.h5: 'images' declares 100,000 images"),
    ("audit-threshold-nan", ["audit", "data.h5", "--threshold", "nan"], {}, 2,
     "argument --threshold: must be at least 0 and below 2"),
    ("audit-batch-size-0", ["audit", "data.h5", "--batch-size", "0"], {}, 2,
     "argument --batch-size: must be at least 1"),
    ("audit-fifo", ["audit", "fifo.h5"], {}, 2, "fifo.h5: is a named pipe (FIFO)"),
    ("seed-huge", ["synth", "--n", "2", "--seed", str(2**40)], {}, 2, "a seed is at most"),
    ("results-readme-fifo", ["results", "--update-readme", "fifo.h5"], {}, 2,
     "fifo.h5: --update-readme: is a named pipe (FIFO)"),
    # issue #39: inputs checked like everything else, flags before or after the command
    ("predict-dash-file", ["predict", "-rf"], {}, 2,
     "required: images; `-rf` looks like an option: if it is a file, write `-- -rf` or `./-rf`"),
    ("predict-dash-file-after-one", ["predict", "photo.png", "-rf"], {}, 2,
     "unrecognized arguments: -rf; `-rf` looks like an option"),
    ("import-unicode-digit-label", ["import", "digitlabel.csv", "--out", "new.h5", "-q"], {}, 2,
     "digitlabel.csv: line 2: label '\u0663' is not a whole number"),
    ("classify-out-inside-input", ["classify", "imgs", "--out", "imgs/catalogue", "-q"], {}, 2,
     "imgs/catalogue: is inside the input folder imgs; choose another --out"),
    ("import-out-inside-source", ["import", "imgs", "--out", "imgs/new.h5", "-q"], {}, 2,
     "imgs/new.h5: is inside the input folder imgs; writing there would change what this "
     "command reads"),
    ("gallery-out-inside-real", ["gallery", "--real", "imgs", "--synthetic", "data.h5", "--out",
                                 "imgs/grid.png"], {}, 2, "is inside the input folder imgs"),
    ("keras-backend-jax", ["predict", "photo.png", "--model", "models/list.keras"],
     {"KERAS_BACKEND": "jax"}, 2, "KERAS_BACKEND=jax: galaxy10 runs Keras on TensorFlow only; "
     "unset KERAS_BACKEND or set it to tensorflow"),
    ("keras-backend-nonsense", ["classify", "imgs", "--out", "newcat", "-q"],
     {"KERAS_BACKEND": "nonsense"}, 2, "KERAS_BACKEND=nonsense: galaxy10 runs Keras on"),
    ("q-before-a-command-without-q", ["-q", "info", "data.h5"], {}, 2,
     "argument -q: `info` has no -q"),
    # a Dask address that cannot be one: refused when parsed, before anything connects
    ("classify-scheduler-one-slash", ["classify", "data.h5", "--out", "newcat", "--scheduler",
                                      "tcp:/x"], {}, 2,
     "argument --scheduler: 'tcp:/x' is not a Dask scheduler address (give tcp://HOST:PORT"),
    ("classify-scheduler-unknown-scheme", ["classify", "data.h5", "--out", "newcat",
                                           "--scheduler", "foo://1.2.3.4:1"], {}, 2,
     "'foo://1.2.3.4:1' is not a Dask scheduler address: unknown scheme 'foo://'"),
    ("classify-scheduler-port-not-a-number", ["classify", "data.h5", "--out", "newcat",
                                              "--scheduler", "tcp://host:notaport"], {}, 2,
     "'tcp://host:notaport' is not a Dask scheduler address: 'notaport' is not a port number"),
    ("classify-scheduler-no-port", ["classify", "data.h5", "--out", "newcat", "--scheduler",
                                    "tcp://head"], {}, 2, "'tcp://head' is not a Dask scheduler "
                                                          "address: no HOST:PORT"),
    ("classify-timeout-nan", ["classify", "data.h5", "--out", "newcat", "--timeout", "nan"], {},
     2, "argument --timeout: must be more than 0 seconds, got 'nan'"),
    ("classify-timeout-too-long", ["classify", "data.h5", "--out", "newcat", "--timeout",
                                   "1e9"], {}, 2, "argument --timeout: must be at most 86,400"),
    # issue 41: which galaxies to label next
    ("suggest-n-0", ["suggest", "imgs", "--out", "next.csv", "--n", "0"], {}, 2,
     "argument --n: must be at least 1, got 0"),
    ("suggest-n-more-than-candidates", ["suggest", "imgs", "--out", "next.csv", "--n", "3",
                                        "-q"], {}, 2,
     "--n 3: there are only 2 candidate galaxies (unlabelled rows of the inputs)"),
    ("suggest-random-share-nan", ["suggest", "imgs", "--out", "next.csv", "--random-share",
                                  "nan"], {}, 2, "argument --random-share: must be from 0 to 1"),
    ("suggest-random-share-above-1", ["suggest", "imgs", "--out", "next.csv",
                                      "--random-share", "1.5"], {}, 2,
     "argument --random-share: must be from 0 to 1, got 1.5"),
    ("suggest-missing-input", ["suggest", "absent", "--out", "next.csv", "-q"], {}, 2,
     "absent: file not found"),
    ("suggest-labelled-id-twice", ["suggest", "imgs", "--out", "next.csv", "--labelled",
                                   "labels_twice.csv", "-q"], {}, 2,
     "labels_twice.csv: line 3: id 'a' appears twice"),
    ("suggest-labelled-unicode-digit", ["suggest", "imgs", "--out", "next.csv", "--labelled",
                                        "labels_digit.csv", "-q"], {}, 2,
     "labels_digit.csv: line 2: label '\u0663' is not a class 0-9"),
    ("suggest-labelled-no-id-column", ["suggest", "imgs", "--out", "next.csv", "--labelled",
                                       "labels_noid.csv", "-q"], {}, 2,
     "labels_noid.csv: labels manifest needs a 'label' column and an 'id' or 'path' column"),
    ("suggest-catalogue-without-embeddings", ["suggest", "oldcat", "--out", "next.csv"], {}, 2,
     "oldcat: the catalogue holds no embeddings (classify it with --embeddings, or add "
     "--no-diversity)"),
    ("suggest-catalogue-and-inputs", ["suggest", "oldcat", "imgs", "--out", "next.csv"], {}, 2,
     "oldcat: a catalogue folder cannot be mixed with inputs to classify"),
    ("suggest-out-not-ours", ["suggest", "oldcat", "--no-diversity", "--n", "1", "--out",
                              "one_field.csv"], {}, 2,
     "one_field.csv: already exists and is not a suggestions CSV that galaxy10 wrote"),
    # adapt (issue #38): a bundle fitted to a user's images, refused before any image is read
    ("adapt-missing-input", ["adapt", "absent", "--out", "mine.keras", "-q"], {}, 2,
     "absent: file not found"),
    ("adapt-seed-bundle", ["adapt", "imgs", "--out", "mine.keras", "--model",
                           "models/seedkind.keras", "-q"], {}, 2,
     "seedkind.keras: a 'seed' bundle has no batch-normalisation layer to adapt (--model)"),
    ("adapt-images-0", ["adapt", "imgs", "--out", "mine.keras", "--images", "0"], {}, 2,
     "argument --images: must be at least 1, got 0"),
    ("adapt-out-notes", ["adapt", "imgs", "--out", "notes.md", "-q"], {}, 2,
     "notes.md: already exists and is not a model bundle that galaxy10 wrote"),
    ("adapt-out-input", ["adapt", "photo.png", "--out", "photo.png", "-q"], {}, 2,
     "photo.png: is also an input of this command"),
    ("adapt-out-suffix", ["adapt", "imgs", "--out", "new.txt", "-q"], {}, 2,
     "new.txt: a model bundle is a Keras file: give a name ending in .keras"),
    ("adapt-empty-folder", ["adapt", "empty", "--out", "mine.keras", "-q"], {}, 2,
     "empty: is a folder that holds no images"),
    # bench active (issue #41): the curve's sizes, folds, CV and outputs, before any embedding
    ("bench-active-sizes-below-start", ["bench", "active", "--real", "fifty.h5", "--folds", "2",
                                        "--sizes", "5", "20"], {}, 2,
     "--sizes 5 20: each size must be at least --start 10 (the cold start), got 5"),
    ("bench-active-sizes-twice", ["bench", "active", "--real", "fifty.h5", "--sizes", "20",
                                  "20"], {}, 2,
     "--sizes 20 20: give each size once (20 given more than once)"),
    ("bench-active-default-sizes-small-file", ["bench", "active", "--real", "fifty.h5"], {}, 2,
     "fifty.h5: --sizes 20 50 100 200 400: 5-fold cross-validation of 50 images leaves at most "
     "40 in each fold's pool; 50, 100, 200, 400 is more"),
    ("bench-active-folds-999", ["bench", "active", "--real", "fifty.h5", "--folds", "999"], {},
     2, "fifty.h5: --folds 999: 999-fold cross-validation needs"),
    ("bench-active-region-without-positions", ["bench", "active", "--real", "fifty.h5",
                                               "--folds", "2", "--sizes", "20", "--cv",
                                               "region"], {}, 2,
     "fifty.h5: --cv region: no sky positions, which the region-held-out CV needs"),
    ("bench-active-seeds-zero", ["bench", "active", "--real", "fifty.h5", "--seeds", "0"], {}, 2,
     "argument --seeds: must be at least 1, got 0"),
    ("bench-active-clicks-past-images", ["bench", "active", "--real", "fifty.h5", "--folds",
                                         "2", "--sizes", "20", "--clicks", "51"], {}, 2,
     "fifty.h5: --clicks 51: it holds 50 labelled images, each answered once"),
    ("bench-active-browser-clicks-negative", ["bench", "active", "--real", "fifty.h5",
                                              "--browser-clicks", "-1"], {}, 2,
     "argument --browser-clicks: must be at least 0, got -1"),
    ("bench-active-browser-clicks-every-image", ["bench", "active", "--real", "fifty.h5",
                                                 "--folds", "2", "--sizes", "20",
                                                 "--browser-clicks", "50"], {}, 2,
     "fifty.h5: --browser-clicks 50: it holds 50 labelled images, each answered once, and each "
     "timed answer shows a next one; give at most 49"),
    ("bench-active-finetune-size-past-sizes", ["bench", "active", "--real", "fifty.h5",
                                               "--folds", "2", "--sizes", "20",
                                               "--finetune-sizes", "30"], {}, 2,
     "--finetune-sizes 30: each must lie from --start 10 to the largest of --sizes (20)"),
    ("bench-active-finetune-seeds-past-seeds", ["bench", "active", "--real", "fifty.h5",
                                                "--folds", "2", "--sizes", "20", "--seeds", "1",
                                                "--finetune-sizes", "20", "--finetune-seeds",
                                                "2"], {}, 2,
     "--finetune-seeds 2: at most --seeds (1)"),
    ("bench-active-init-text", ["bench", "active", "--real", "fifty.h5", "--init", "notes.txt"],
     {}, 2, "notes.txt: not a Keras model bundle"),
    ("bench-active-out-notes", ["bench", "active", "--real", "fifty.h5", "--folds", "2",
                                "--sizes", "20", "--out", "notes.md"], {}, 2,
     "notes.md: metrics are JSON: give a name ending in .json"),
    ("bench-active-figure-notes", ["bench", "active", "--real", "fifty.h5", "--folds", "2",
                                   "--sizes", "20", "--out-figure", "notes.md"], {}, 2,
     "notes.md: already exists and is not a figure that galaxy10 wrote"),
    ("bench-active-out-reference", ["bench", "active", "--real", "fifty.h5", "--folds", "2",
                                    "--sizes", "20", "--out",
                                    str(Path(__file__).resolve().parents[2] / "reports"
                                        / "reference" / "active.json")], {}, 2,
     "reports/reference holds the committed records the docs quote"),
]

@pytest.mark.parametrize(("argv", "env", "status", "expected"),
                         [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_misuse_is_one_line_and_changes_nothing(world, monkeypatch, capsys, argv, env, status,
                                                expected):
    monkeypatch.chdir(world)
    for name in ("GALAXY10_DATA", "GALAXY10_MODELS", "GALAXY10_REPORTS", "KERAS_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = _hashes(world)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert err.strip().splitlines()[-1] == error_lines[0]
    assert expected in error_lines[0]
    assert _hashes(world) == before


def test_browser_clicks_without_playwright_or_chromium_is_one_line(world, monkeypatch, capsys):
    """``bench active --browser-clicks`` names what is missing and how to install it, in its
    check (before the images are embedded)."""
    import importlib.util

    import galaxy10.bench.browser as browser

    monkeypatch.chdir(world)
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "playwright" else find_spec(name, *a))
    monkeypatch.setattr(browser, "CHROMIUM", str(world / "no-chromium"))
    before = _hashes(world)
    argv = ["bench", "active", "--real", "fifty.h5", "--folds", "2", "--sizes", "20",
            "--browser-clicks", "3"]
    assert main(argv) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line == ("error: --browser-clicks 3: timing the page in a browser needs playwright "
                    "(pip install playwright) and chromium at "
                    f"{world / 'no-chromium'} (apt install chromium)")
    assert _hashes(world) == before


def test_a_keras_backend_that_is_not_tensorflow_is_one_line_in_a_notebook_too(tmp_path):
    """In a fresh process (a notebook kernel) load_keras refuses before Keras reads it."""
    code = ("from galaxy10.core.quiet import load_keras\n"
            "try:\n    load_keras()\nexcept Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path, env=env)
    assert out.stdout == ("SettingError KERAS_BACKEND=jax: galaxy10 runs Keras on TensorFlow "
                          "only; unset KERAS_BACKEND or set it to tensorflow\n"), out.stderr


@pytest.mark.parametrize("command", ["info", "predict"])
def test_a_non_ascii_name_prints_under_an_ascii_only_locale(world, tmp_path, command):
    """LC_ALL=C with PYTHONIOENCODING=ascii: printing galaxie_ü was a UnicodeEncodeError (an
    internal error after half the answer); it is written as galaxie_\\xfc instead."""
    import shutil

    name = "galaxie_\u00fc" + (".h5" if command == "info" else ".png")
    shutil.copy(world / ("data.h5" if command == "info" else "photo.png"), tmp_path / name)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONIOENCODING": "ascii",
           "GALAXY10_MODELS": str(tmp_path / "models")}  # predict: the shipped bundle
    env.pop("KERAS_BACKEND", None)
    out = subprocess.run([sys.executable, "-m", "galaxy10", command, name], cwd=tmp_path,
                         capture_output=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr.decode("ascii", "replace")
    assert out.stdout.decode("ascii").startswith("galaxie_\\xfc.")  # pure ASCII, every line
    assert b"internal error" not in out.stderr


def test_no_traceback_reaches_a_real_terminal(world):
    out = subprocess.run([sys.executable, "-m", "galaxy10", "import", "one_field.csv", "--out",
                          "new.h5", "-q"], capture_output=True, text=True, timeout=60, cwd=world)
    assert out.returncode == 2
    assert out.stderr == f"error: {Path('one_field.csv')}: line 2: 1 field(s), expected 2 " \
                         "(file, label)\n"
    assert not (world / "new.h5").exists()


def test_a_bug_is_one_line_unless_debug(world, monkeypatch, capsys):
    def broken(args):
        return None.shape  # an AttributeError: galaxy10's fault, not the user's

    monkeypatch.chdir(world)
    monkeypatch.setattr(cli_data, "_cmd_info", broken)
    assert main(["info", "data.h5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: internal error, a bug in galaxy10 (AttributeError")
    assert "--debug" in err
    for argv in (["--debug", "info", "data.h5"], ["-v", "info", "data.h5"],
                 ["info", "data.h5", "--debug"], ["info", "data.h5", "-v"]):  # where it says
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and "None.shape" in err
    # a user's mistake stays one line under -v; --debug shows where it was raised
    assert main(["-v", "import", "nowhere", "--out", "new.h5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: nowhere: not found (expected")
    assert main(["--debug", "import", "nowhere", "--out", "new.h5"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_import_lists_what_it_skips_and_imports_the_rest(world, tmp_path, capsys):
    from galaxy10.datasets.reader import Galaxy10File

    _png(tmp_path / "src" / "4" / "good.png")
    _png_header_only(tmp_path / "src" / "4" / "bomb.png", 20000, 20000)
    _png(tmp_path / "src" / "spiral" / "x.png")
    (tmp_path / "src" / "4" / "notes.txt").write_text("n")
    out = tmp_path / "out.h5"
    assert main(["import", str(tmp_path / "src"), "--out", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3, err
    assert "spiral: ignored (not a class folder" in err
    assert "notes.txt: ignored (not an image file" in err
    assert "bomb.png: refused" in err and "decompression bomb" in err
    with Galaxy10File(out) as f:
        assert len(f) == 1 and f.labels.tolist() == [4]
    # the file it wrote may be replaced by a later import, and it says so
    assert main(["import", str(tmp_path / "src" / "4"), "--out", str(out), "-q"]) == 2
    capsys.readouterr()
    assert main(["import", str(tmp_path / "src"), "--out", str(out), "-q"]) == 0
    assert f"replacing {out}" in capsys.readouterr().err


def test_force_replaces_a_users_file_and_says_so(tmp_path, capsys):
    mine = tmp_path / "mine.h5"
    mine.write_text("mine")
    assert main(["synth", "--n", "2", "--out", str(mine), "-q"]) == 2
    assert "mine.h5: already exists and is not a Galaxy10 HDF5 file" in capsys.readouterr().err
    assert main(["synth", "--n", "2", "--out", str(mine), "-q", "--force"]) == 0
    assert "(--force)" in capsys.readouterr().err
    assert mine.read_bytes().startswith(b"\x89HDF")
    # --force replaces a file, never turns a data set into a file of another kind
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert main(["synth", "--n", "2", "--out", str(notes), "-q", "--force"]) == 2
    assert "give a name ending in .h5" in capsys.readouterr().err
    assert notes.read_text() == "mine"


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    from galaxy10.datasets.images import decode_image

    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    rgb = decode_image(tmp_path / "deep.png")
    assert rgb.dtype == np.uint8 and rgb.shape == (64, 64, 3)
    assert (rgb == 255).mean() < 0.01  # clipping made 99.6% of this ramp white
    expected = np.round(ramp / 65535 * 255).astype(np.uint8)
    assert np.abs(rgb[..., 0].astype(int) - expected).max() <= 1


def test_oversized_images_are_refused_by_name(tmp_path):
    from galaxy10.core.errors import ImageError
    from galaxy10.datasets.images import decode_image

    wide = _png_header_only(tmp_path / "wide.png", 9000, 16)
    with pytest.raises(ImageError, match=r"wide\.png: image is 9000 x 16 px"):
        decode_image(wide)


def test_predict_answers_the_good_images_and_fails_at_the_end(tmp_path, capsys):
    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.preprocess import ImageConfig

    config = ImageConfig(size=16, color="rgb")
    model = save_bundle(build_galaxy_cnn(config.shape, filters=(2, 4), seed=0),
                        tmp_path / "m.keras", kind="galaxy", config=config)
    from galaxy10.cli.outputs import check_output

    assert "a model bundle that galaxy10 wrote" in check_output(model, kind="bundle")
    bomb = _png_header_only(tmp_path / "bomb.png", 20000, 20000)
    good = _png(tmp_path / "good.png")
    assert main(["predict", str(bomb), str(good), "--model", str(model)]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(f"{good}\t") and len(out.splitlines()) == 1
    assert err.splitlines() == [err.splitlines()[0]] and err.startswith(f"error: {bomb}: refused")


def test_failed_benchmark_keeps_earlier_figures(tmp_path):
    from galaxy10.bench.records import BenchmarkError, record

    path = tmp_path / "benchmarks.json"
    path.write_text('{"memory": {"paths": {"a": {"peak_rss_mb": 900}}}}\n')
    before = path.read_bytes()
    with pytest.raises(BenchmarkError, match="a_original_load_all: boom"):
        record("memory", {"data": "x.h5", "paths": {"a_original_load_all": {"error": "boom"},
                                                    "b": {"peak_rss_mb": 1.0}}}, path)
    assert path.read_bytes() == before
    record("memory", {"data": "x.h5", "paths": {"b": {"peak_rss_mb": 1.0}}}, path)
    assert json.loads(path.read_text())["memory"]["paths"] == {"b": {"peak_rss_mb": 1.0}}


def test_figures_galaxy10_saved_may_be_replaced(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from galaxy10.cli.outputs import OutputError, check_output
    from galaxy10.reporting.figures import save_figure

    fig = plt.figure(figsize=(1, 1))
    for colors in (None, 16):  # the palette-quantised PNG keeps the marker too
        path = save_figure(fig, tmp_path / f"f{colors}.png", colors=colors)
        assert "a figure that galaxy10 wrote" in check_output(path, kind="figure")
    plt.close(fig)
    other = _png(tmp_path / "photo.png")
    with pytest.raises(OutputError, match="not a figure that galaxy10 wrote"):
        check_output(other, kind="figure")
    # the refusal suggests --force only to a command that has one (bench real has none)
    with pytest.raises(OutputError) as refused:
        check_output(other, kind="figure", option="--out-figure")
    assert str(refused.value).endswith("(choose another --out-figure)")
    with pytest.raises(OutputError, match=r"choose another --out, or add --force\)$"):
        check_output(other, kind="figure", force=False)


@pytest.mark.parametrize(("argv", "absent", "extra"), [
    (["run", "--profile", "smoke", "-q"], "papermill", "run"),
    (["run", "--only", "01"], "ipykernel", "run"),
    (["app"], "voila", "app")], ids=["run-papermill", "run-kernel", "app-voila"])
def test_a_command_of_a_missing_extra_names_the_extra_before_any_work(
        world, monkeypatch, capsys, argv, absent, extra):
    """`run` and `app` need an extra; without it: one line with the pip command, no data made."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == absent else find_spec(name, *a))
    monkeypatch.chdir(world)
    monkeypatch.setenv("GALAXY10_DATA", str(world / "empty-data-home"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and absent in err
    assert f'pip install "galaxy10[{extra}]"' in err
    assert not (world / "empty-data-home").exists()  # no synthetic set was made first


def test_a_second_writer_to_the_same_output_is_refused_while_the_first_runs(tmp_path, capsys):
    from galaxy10.core.atomic import target_lock

    out = tmp_path / "same.h5"
    with target_lock(out):  # the first writer, as another process holds it
        assert main(["synth", "--n", "2", "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert err == (f"error: {out}: another process (pid {os.getpid()}) is writing it now; "
                       "wait for it to finish, or choose another output\n")
        assert not out.exists()
    # once the first has finished, the same command writes it; its own lock goes with it
    assert main(["synth", "--n", "2", "--out", str(out), "-q"]) == 0
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["same.h5"]


def test_a_refused_command_never_says_it_would_replace_its_output(world, monkeypatch, capsys):
    """check_out's "replacing ..." note waits until every check has passed."""
    monkeypatch.chdir(world)
    assert main(["import", "badlabel.csv", "--out", "data.h5", "-q"]) == 2
    err = capsys.readouterr().err
    assert "replacing" not in err and err.startswith("error: ")
