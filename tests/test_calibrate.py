"""Temperature scaling, ECE, the "not sure" threshold, and calibrated bundles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.calibrate import (
    apply_temperature,
    choose_threshold,
    coverage_accuracy,
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    log_probs,
    reliability_bins,
)


def _overconfident(n: int = 4000, true_t: float = 2.5, seed: int = 0):
    """Labels drawn from softmax(z); the 'model' reports softmax(true_t * z): over-confident."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.5, (n, 10))
    p_true = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(10, p=row) for row in p_true])
    shown = np.exp(true_t * z)
    return shown / shown.sum(axis=1, keepdims=True), y


def test_fit_temperature_recovers_the_overconfidence_and_lowers_ece():
    probs, y = _overconfident()
    t = fit_temperature(log_probs(probs), y)
    assert t == pytest.approx(2.5, rel=0.1)
    calibrated = apply_temperature(probs, t)
    np.testing.assert_array_equal(calibrated.argmax(1), probs.argmax(1))  # accuracy unchanged
    np.testing.assert_allclose(calibrated.sum(1), 1, atol=1e-5)
    before, after = (expected_calibration_error(p, y) for p in (probs, calibrated))
    assert before > 0.15 and after < 0.05


def test_temperature_one_is_identity_and_bad_temperature_rejected():
    probs, _ = _overconfident(50)
    np.testing.assert_allclose(apply_temperature(probs, 1.0), probs, atol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(probs, 0.0)


def test_reliability_bins_count_everything_and_perfect_calibration_has_zero_ece():
    probs = np.full((100, 10), 0.0)
    probs[:, 0] = 0.7
    probs[:, 1:] = 0.3 / 9
    y = np.where(np.arange(100) < 70, 0, 1)  # 70% right at 70% confidence
    bins = reliability_bins(probs, y, n_bins=10)
    assert sum(bins["count"]) == 100 and len(bins["edges"]) == 11
    assert expected_calibration_error(probs, y, n_bins=10) == pytest.approx(0.0, abs=1e-9)


def test_threshold_is_the_smallest_reaching_the_target_accuracy():
    top = np.linspace(0.2, 0.99, 100)
    probs = np.zeros((100, 10))
    probs[:, 0] = top
    probs[:, 1:] = ((1 - top) / 9)[:, None]
    y = np.where(top > 0.6, 0, 1)  # right exactly when confident above 0.6
    threshold, met = choose_threshold(probs, y, 0.9)
    assert met
    coverage, acc = coverage_accuracy(probs, y, threshold)
    assert acc >= 0.9
    # one step lower falls below the target
    lower = top[top < threshold].max()
    assert coverage_accuracy(probs, y, lower)[1] < 0.9 or lower <= 0.6
    assert threshold < 0.62  # a few wrong answers are allowed within the 90%


def test_unreachable_target_falls_back_to_half_coverage():
    probs, _ = _overconfident(200)
    y = (probs.argmax(1) + 1) % 10  # always wrong
    threshold, met = choose_threshold(probs, y, 0.9)
    assert not met
    assert coverage_accuracy(probs, y, threshold)[0] == pytest.approx(0.5, abs=0.02)
    record = fit_calibration(probs, y)
    assert record["target_met"] is False and record["fitted_on"] == "validation split, 200 images"


def test_a_small_validation_split_keeps_the_temperature_at_one():
    from galaxy10.calibrate import MIN_TEMPERATURE_IMAGES

    probs, y = _overconfident(MIN_TEMPERATURE_IMAGES - 1)
    small = fit_calibration(probs, y)
    assert small["temperature"] == 1.0 and "temperature kept at 1" in small["fitted_on"]
    assert small["ece_after"] == pytest.approx(small["ece_before"])
    probs, y = _overconfident(MIN_TEMPERATURE_IMAGES)
    assert fit_calibration(probs, y)["temperature"] > 1.2  # over-confident: softened


def test_calibrated_bundle_changes_probabilities_and_old_bundles_still_load(model_bundle,
                                                                            tmp_path):
    import shutil

    from galaxy10.calibrate import calibrate_bundle
    from galaxy10.predict import Predictor
    from galaxy10.reader import Galaxy10File

    for suffix in (".keras", ".json"):
        shutil.copy(model_bundle["model"].with_suffix(suffix), tmp_path / f"m{suffix}")
    path = tmp_path / "m.keras"
    with Galaxy10File(model_bundle["data"]) as f:
        images, labels = f.read(np.arange(240)), f.labels[:240].astype(np.int64)
    old = Predictor(path)
    assert old.temperature == 1.0 and old.threshold is None
    raw = old.predict_proba(images)
    record = calibrate_bundle(path, images, labels)
    params = json.loads(path.with_suffix(".json").read_text())
    assert params["calibration"]["temperature"] == pytest.approx(record["temperature"])
    assert set(record) >= {"temperature", "ece_before", "ece_after", "threshold", "fitted_on"}
    new = Predictor(path)
    assert new.temperature == pytest.approx(record["temperature"]) and new.temperature != 1.0
    np.testing.assert_allclose(new.predict_proba(images),
                               apply_temperature(raw, record["temperature"]), atol=1e-5)
    np.testing.assert_allclose(new.predict_proba(images, calibrated=False), raw, atol=1e-6)
