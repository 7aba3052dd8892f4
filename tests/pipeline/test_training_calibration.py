"""calibrate_bundle and calibrate_from_training on a tiny untrained model (16 px, 4 and 8 filters).

The model need not be good: the tests check that the record written into the bundle is the
one fitted on the model's *uncalibrated* validation probabilities, for the right images and
labels, and that the rest of the bundle's parameters survive.
"""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from conftest import write_h5

from galaxy10.modeling.calibrate import fit_calibration
from galaxy10.modeling.preprocess import ImageConfig, transform
from galaxy10.pipeline.training import calibrate_bundle, calibrate_from_training

CONFIG = ImageConfig(size=16, color="rgb", crop=0.5)  # preprocessing twice would differ
N = 260


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 260-image 24 px file, and a bundle of an untrained 16 px CNN (no TTA)."""
    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_galaxy_cnn

    root = tmp_path_factory.mktemp("tiny")
    data = write_h5(root / "data.h5", n=N, size=24)
    model = build_galaxy_cnn(CONFIG.shape, filters=(4, 8), seed=0)
    path = save_bundle(model, root / "m.keras", kind="galaxy", config=CONFIG, note="kept")
    return {"data": data, "model": path, "root": root}


def _copy(bundle, folder):
    for suffix in (".keras", ".json"):
        shutil.copy(bundle.with_suffix(suffix), folder / f"m{suffix}")
    return folder / "m.keras"


def _labels_with_signal(raw: np.ndarray) -> np.ndarray:
    """The model's own answer for 70 % of the images, another class for the rest."""
    y = raw.argmax(axis=1)
    wrong = np.arange(len(y)) % 10 >= 7
    y[wrong] = (y[wrong] + 1) % 10
    return y



def _assert_same_record(record: dict, expected: dict) -> None:
    """Two calibration records agree: every figure, the candidates' and the map's knots."""
    drop = {"fitted_on", "confidence_map", "candidates", "method"}
    assert {k: v for k, v in record.items() if k not in drop} == pytest.approx(
        {k: v for k, v in expected.items() if k not in drop}, rel=1e-4)
    assert record["method"] == expected["method"]
    assert record["candidates"].keys() == expected["candidates"].keys()
    for name, candidate in record["candidates"].items():
        assert candidate == pytest.approx(expected["candidates"][name], rel=1e-4)
    assert (record["confidence_map"] is None) == (expected["confidence_map"] is None)
    for key in ("x", "y") if record["confidence_map"] else ():
        np.testing.assert_allclose(record["confidence_map"][key],
                                   expected["confidence_map"][key], rtol=1e-4)


def test_calibrate_bundle_fits_raw_probabilities_and_keeps_the_parameters(tiny, tmp_path,
                                                                           caplog):
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.predict import Predictor

    path = _copy(tiny["model"], tmp_path)
    before = json.loads(path.with_suffix(".json").read_text())
    with Galaxy10File(tiny["data"]) as f:
        images = f.read(np.arange(210))
    raw = Predictor(path).predict_proba(images)
    y = _labels_with_signal(raw)
    with caplog.at_level(logging.INFO, logger="galaxy10.pipeline.training"):
        record = calibrate_bundle(path, images, y)
    expected = fit_calibration(raw, y)
    assert record["temperature"] != 1.0
    assert record["fitted_on"] == expected["fitted_on"]
    _assert_same_record(record, expected)
    params = json.loads(path.with_suffix(".json").read_text())
    assert params["calibration"] == json.loads(json.dumps(record))
    assert {k: v for k, v in params.items() if k != "calibration"} == before
    message = (f"calibrated {path}: T={record['temperature']:.3f}, ECE "
               f"{record['ece_before']:.3f} -> {record['ece_after']:.3f}, threshold "
               f"{record['threshold']:.3f} (coverage {record['coverage']:.2f})")
    assert message in caplog.messages
    # calibrating again fits the raw probabilities again, not the calibrated ones
    again = calibrate_bundle(path, transform(images, CONFIG), y, preprocessed=True,
                             batch_size=64)
    assert again["temperature"] == pytest.approx(record["temperature"], rel=1e-3)
    assert again["ece_before"] == pytest.approx(record["ece_before"], rel=1e-4)
    assert again["nll_before"] == pytest.approx(record["nll_before"], rel=1e-4)


def test_calibrate_from_training_uses_the_validation_rows_of_the_training_order(tiny,
                                                                                 tmp_path):
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.predict import Predictor

    path = _copy(tiny["model"], tmp_path)
    train_rows = np.random.default_rng(5).permutation(N)[:240]
    val = np.arange(10, 230)  # positions in train_rows, not file rows
    with Galaxy10File(tiny["data"]) as f:
        file_rows = train_rows[val]
        raw = Predictor(path).predict_proba(f.read(file_rows))
        expected = fit_calibration(raw, f.labels[file_rows])
        record = calibrate_from_training(path, f, train_rows, CONFIG,
                                         {"val_rows": val.tolist()},
                                         cache_dir=tmp_path / "cache")
    assert record["n_val"] == val.size
    _assert_same_record(record, expected)
    assert list((tmp_path / "cache").glob("cache_16px_rgb_*.npy"))  # the given cache folder
    assert json.loads(path.with_suffix(".json").read_text())["calibration"]["n_val"] == val.size
