"""Temperature scaling, ECE, the "not sure" threshold, and calibrated bundles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.modeling.calibrate import (
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
    from galaxy10.modeling.calibrate import MIN_TEMPERATURE_IMAGES

    probs, y = _overconfident(MIN_TEMPERATURE_IMAGES - 1)
    small = fit_calibration(probs, y)
    assert small["temperature"] == 1.0 and "temperature kept at 1" in small["fitted_on"]
    assert small["ece_after"] == pytest.approx(small["ece_before"])
    probs, y = _overconfident(MIN_TEMPERATURE_IMAGES)
    assert fit_calibration(probs, y)["temperature"] > 1.2  # over-confident: softened


def test_calibrated_bundle_changes_probabilities_and_old_bundles_still_load(model_bundle,
                                                                            tmp_path):
    import shutil

    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.predict import Predictor
    from galaxy10.pipeline.training import calibrate_bundle

    for suffix in (".keras", ".json"):
        shutil.copy(model_bundle["model"].with_suffix(suffix), tmp_path / f"m{suffix}")
    path = tmp_path / "m.keras"
    with Galaxy10File(model_bundle["data"]) as f:
        images, labels = f.read(np.arange(240)), f.labels[:240].astype(np.int64)
    old = Predictor(path)
    assert old.temperature == 1.0 and old.threshold is None
    assert old.confidence_map is None and not old.calibrated
    raw = old.predict_proba(images)
    record = calibrate_bundle(path, images, labels)
    params = json.loads(path.with_suffix(".json").read_text())
    assert params["calibration"]["temperature"] == pytest.approx(record["temperature"])
    assert set(record) >= {"temperature", "ece_before", "ece_after", "threshold", "fitted_on"}
    new = Predictor(path)
    assert new.temperature == pytest.approx(record["temperature"]) and new.temperature != 1.0
    assert new.confidence_map == record["confidence_map"] and new.calibrated
    from galaxy10.modeling.calibrate import calibrated_probs

    assert new.bundle.calibration.method == record["method"] in ("temperature", "smooth",
                                                                 "isotonic")
    np.testing.assert_allclose(new.predict_proba(images), calibrated_probs(
        raw, record["temperature"], record["confidence_map"]), atol=1e-5)
    np.testing.assert_allclose(new.predict_proba(images, calibrated=False), raw, atol=1e-6)


# -- exact values on hand-made cases (what mutation testing showed was unchecked) ------------

def _two_class(tops, correct):
    """Probabilities [t, 1 - t] (t > 0.5, so class 0 is the answer) and labels right or wrong."""
    tops = np.asarray(tops, dtype=np.float64)
    probs = np.stack([tops, 1.0 - tops], axis=1)
    return probs, np.where(np.asarray(correct, dtype=bool), 0, 1)


def test_log_probs_floors_zeros_and_caps_at_one():
    got = log_probs([[0.0, 0.5, 1.0, 1.5]])
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, [[np.log(1e-12), np.log(0.5), 0.0, 0.0]])
    # float32 model output is worked on in float64, the precision the NLL and the T fit need
    assert log_probs(np.array([[0.0, 1.0]], np.float32)).dtype == np.float64


def test_labels_may_be_whole_floats():
    from galaxy10.modeling.calibrate import nll

    probs, y = _overconfident(300, seed=6)
    assert nll(probs, y.astype(float)) == nll(probs, y)
    log_p = log_probs(probs)
    assert fit_temperature(log_p, y.astype(float)) == fit_temperature(log_p, y)


def test_apply_temperature_matches_a_hand_computation():
    probs = np.array([[0.5, 0.25, 0.25], [0.8, 0.1, 0.1]])
    got = apply_temperature(probs, 2.0)
    expected = np.sqrt(probs) / np.sqrt(probs).sum(axis=1, keepdims=True)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    # a tiny T sharpens to one-hot without 0/0 (the row maximum is subtracted before exp)
    sharp = apply_temperature(np.array([[0.5, 0.5], [0.6, 0.4]]), 1e-4)
    np.testing.assert_allclose(sharp, [[0.5, 0.5], [1.0, 0.0]], atol=1e-6)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=f"temperature must be > 0, got {bad}"):
            apply_temperature(probs, bad)


def test_nll_is_the_mean_negative_log_probability_of_the_truth():
    from galaxy10.modeling.calibrate import nll

    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    assert nll(probs, [0, 1, 1]) == pytest.approx(-(np.log(0.5) + np.log(0.1) + np.log(0.8)) / 3)


def _reference_temperature(log_p, y):
    """The NLL minimiser found by a much tighter search than fit_temperature's."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def loss(log_t):
        return -log_softmax(log_p / np.exp(log_t), axis=1)[np.arange(y.size), y].mean()

    return float(np.exp(minimize_scalar(loss, bounds=(-3, 3), method="bounded",
                                        options={"xatol": 1e-10}).x))


def test_fit_temperature_is_precise_and_stays_within_its_bounds():
    probs, y = _overconfident(1000, true_t=1.7, seed=3)
    log_p = log_probs(probs)
    assert fit_temperature(log_p, y) == pytest.approx(_reference_temperature(log_p, y), rel=1e-3)
    assert fit_temperature(np.zeros((0, 10)), np.zeros(0, int)) == 1.0
    # the optimum (about 1.7) lies above the upper bound: the search stops at the bound
    assert fit_temperature(log_p, y, bounds=(0.5, 1.2)) == pytest.approx(1.2, rel=1e-3)
    assert fit_temperature(log_p, y, bounds=(2.0, 5.0)) == pytest.approx(2.0, rel=1e-3)
    # always right: sharpen as far as allowed; always wrong: soften as far as allowed
    right = np.log([[0.6, 0.4]] * 20)
    assert fit_temperature(right, np.zeros(20, int)) == pytest.approx(0.05, rel=1e-3)
    assert fit_temperature(right, np.ones(20, int)) == pytest.approx(20.0, rel=1e-3)


HAND_PROBS = np.array([[0.0, 0.0, 0.0, 0.0],     # confidence 0: first bin (clipped)
                       [0.25, 0.25, 0.25, 0.25],  # exactly on an edge: the lower bin
                       [0.3, 0.7, 0.0, 0.0],
                       [0.75, 0.25, 0.0, 0.0],    # on the edge 0.75: bin (0.5, 0.75]
                       [1.0, 0.0, 0.0, 0.0]])
HAND_Y = np.array([0, 1, 1, 0, 0])  # right, wrong, right, right, right


def test_reliability_bins_of_a_hand_made_case():
    bins = reliability_bins(HAND_PROBS, HAND_Y, n_bins=4)
    assert bins["edges"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert bins["count"] == [2, 0, 2, 1] and all(type(c) is int for c in bins["count"])
    np.testing.assert_allclose(bins["confidence"], [0.125, np.nan, 0.725, 1.0])
    np.testing.assert_allclose(bins["accuracy"], [0.5, np.nan, 1.0, 1.0])
    assert len(reliability_bins(HAND_PROBS, HAND_Y)["edges"]) == 16  # 15 bins by default
    # float32 rounding can put a top probability a hair above 1: it still counts, in the top bin
    assert reliability_bins(np.array([[1.0000001, 0.0]]), [0], n_bins=4)["count"] == [0, 0, 0, 1]
    import warnings

    with warnings.catch_warnings():  # empty bins give NaN quietly, without 0/0 warnings
        warnings.simplefilter("error")
        reliability_bins(HAND_PROBS, HAND_Y, n_bins=4)
    json.dumps(bins)  # JSON-able as documented


def test_ece_of_a_hand_made_case_and_of_nothing():
    # gaps 0.375 (2 images), empty, 0.275 (2 images), 0 (1 image)
    assert expected_calibration_error(HAND_PROBS, HAND_Y, n_bins=4) == pytest.approx(
        (0.375 * 2 + 0.275 * 2) / 5)
    assert expected_calibration_error(np.zeros((0, 10)), np.zeros(0, int)) == 0.0
    assert expected_calibration_error(np.array([[0.7, 0.3]]), [1]) == pytest.approx(0.7)
    probs, y = _overconfident(300, seed=2)
    default = expected_calibration_error(probs, y)
    assert default == expected_calibration_error(probs, y, n_bins=15)
    assert default != expected_calibration_error(probs, y, n_bins=16)


def test_coverage_accuracy_counts_answers_at_the_threshold():
    probs, y = _two_class([0.9, 0.6, 0.6, 0.55], [True, False, True, False])
    assert coverage_accuracy(probs, y, 0.6) == (0.75, pytest.approx(2 / 3))
    assert coverage_accuracy(probs, y, 0.61) == (0.25, 1.0)
    coverage, acc = coverage_accuracy(probs, y, 0.95)
    assert coverage == 0.0 and np.isnan(acc)


TOPS = [0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.91, 0.90, 0.89, 0.88]


def test_threshold_at_exactly_the_target_with_ten_answers():
    # 9 of the first 10 right (exactly 90 %), then wrong answers: the 10th top probability
    correct = [True] * 4 + [False] + [True] * 5 + [False, False]
    assert choose_threshold(*_two_class(TOPS, correct)) == (0.90, True)
    # all right: every image is answered, the threshold is the lowest top probability
    assert choose_threshold(*_two_class(TOPS, [True] * 12)) == (0.88, True)


def test_threshold_never_cuts_between_tied_probabilities():
    # 10 right answers, then three tied at 0.6 (one right): answering one of the tied images
    # means answering all three, which falls below 90 %
    probs, y = _two_class(TOPS[:10] + [0.6, 0.6, 0.6], [True] * 11 + [False, False])
    assert choose_threshold(probs, y, 0.9) == (0.90, True)


def test_threshold_needs_ten_answers_unless_there_are_fewer_images():
    # only the first three are right: 100 % on three answers is not enough to trust
    probs, y = _two_class(TOPS, [True] * 3 + [False] * 9)
    threshold, met = choose_threshold(probs, y, 0.9)
    assert not met and threshold == pytest.approx(np.quantile(TOPS, 0.5))
    small = _two_class([0.9, 0.8, 0.7, 0.6, 0.55], [True] * 5)
    assert choose_threshold(*small, 0.9) == (0.55, True)
    assert choose_threshold(np.zeros((0, 10)), np.zeros(0, int)) == (0.0, False)


def test_fallback_threshold_answers_the_requested_share():
    probs, y = _two_class([0.9, 0.8, 0.7, 0.6], [False] * 4)
    assert choose_threshold(probs, y) == (pytest.approx(0.75), False)
    assert choose_threshold(probs, y, 0.9, fallback_coverage=0.25) == (pytest.approx(0.825), False)


def _expected_record(probs, y, temperature, n_bins, target, method=None):
    from galaxy10.modeling.calibrate import (
        apply_confidence_map,
        distinct_confidences,
        fit_confidence_map,
        fit_smooth_map,
        nll,
    )

    scaled = apply_temperature(probs, temperature)
    fitter = {"smooth": fit_smooth_map, "isotonic": fit_confidence_map}.get(method)
    confidence_map = fitter(scaled, y) if fitter else None
    calibrated = apply_confidence_map(scaled, confidence_map) if fitter else scaled
    threshold, met = choose_threshold(calibrated, y, target)
    coverage, accuracy = coverage_accuracy(calibrated, y, threshold)

    return {"temperature": temperature, "method": method, "confidence_map": confidence_map,
            "ece_tolerance": 0.01, "distinct_before": distinct_confidences(probs),
            "distinct_after": distinct_confidences(calibrated),
            "ece_before": expected_calibration_error(probs, y, n_bins),
            "ece_after_temperature": expected_calibration_error(scaled, y, n_bins),
            "ece_after": expected_calibration_error(calibrated, y, n_bins),
            "nll_before": nll(probs, y), "nll_after": nll(calibrated, y),
            "threshold": threshold, "target_accuracy": target, "target_met": met,
            "coverage": coverage, "confident_accuracy": accuracy, "n_val": y.size}


def test_fit_calibration_record_fields():
    from galaxy10.modeling.calibrate import MIN_TEMPERATURE_IMAGES

    probs, y = _overconfident(MIN_TEMPERATURE_IMAGES + 50, seed=4)
    record = fit_calibration(probs, y, n_bins=5, target_accuracy=0.6)
    t = fit_temperature(log_probs(probs), y)
    assert t > 1.5
    # a temperature fixes this model: alone, it is within 0.01 of the best cross-fitted ECE
    assert record["method"] == "temperature" and record["confidence_map"] is None
    expected = _expected_record(probs, y, t, 5, 0.6, "temperature")
    drop = {"fitted_on", "confidence_map", "candidates"}
    assert {k: v for k, v in record.items() if k not in drop} == pytest.approx(
        {k: v for k, v in expected.items() if k not in drop})
    assert type(record["n_val"]) is int and record["target_met"] is expected["target_met"]
    assert record["fitted_on"] == f"validation split, {MIN_TEMPERATURE_IMAGES + 50} images"
    # the arguments matter: 15 bins and a 90 % target (not met here) give other figures
    default = fit_calibration(probs, y)
    assert default["ece_before"] != record["ece_before"]
    p2, y2 = _overconfident(300, seed=2)  # data where 15 and 16 bins give different ECEs
    assert fit_calibration(p2, y2)["ece_before"] == expected_calibration_error(p2, y2, 15)
    assert expected_calibration_error(p2, y2, 15) != expected_calibration_error(p2, y2, 16)
    assert default["target_accuracy"] == 0.9 and default["threshold"] != record["threshold"]
    assert record["target_met"] and not default["target_met"]
    # below the minimum, T stays 1 and the record says why
    n = MIN_TEMPERATURE_IMAGES - 1
    small = fit_calibration(probs[:n], y[:n], n_bins=5, target_accuracy=0.6)
    assert {k: v for k, v in small.items() if k != "fitted_on"} == pytest.approx(
        {**_expected_record(probs[:n], y[:n], 1.0, 5, 0.6), "candidates": None})
    assert small["confidence_map"] is None and small["method"] is None
    assert small["fitted_on"] == (f"validation split, {n} images (fewer than "
                                  f"{MIN_TEMPERATURE_IMAGES}: temperature kept at 1, no "
                                  "top-label map)")


# -- the top-label map -------------------------------------------------------------------

def _bent(n: int, seed: int):
    """A model no temperature can fix: right 60% of the time at every stated confidence
    between 0.3 and 0.9, so low answers are under-confident and high ones over-confident."""
    rng = np.random.default_rng(seed)
    top = rng.uniform(0.3, 0.9, n)
    rest = rng.dirichlet(np.ones(9), n) * (1 - top)[:, None]
    rest = np.minimum(rest, top[:, None] * 0.99)
    rest *= ((1 - top) / rest.sum(1))[:, None]
    answer = rng.integers(0, 10, n)
    probs = np.empty((n, 10))
    for i in range(n):
        others = [c for c in range(10) if c != answer[i]]
        probs[i, answer[i]] = top[i]
        probs[i, others] = rest[i]
    wrong = (answer + rng.integers(1, 10, n)) % 10
    y = np.where(rng.random(n) < 0.6, answer, wrong)
    return probs, y


def test_the_map_fixes_what_a_temperature_cannot_on_held_out_images():
    from galaxy10.modeling.calibrate import apply_confidence_map, fit_confidence_map

    p_fit, y_fit = _bent(3000, seed=0)
    p_new, y_new = _bent(3000, seed=1)
    t = fit_temperature(log_probs(p_fit), y_fit)
    scaled_new = apply_temperature(p_new, t)
    mapped = apply_confidence_map(scaled_new,
                                  fit_confidence_map(apply_temperature(p_fit, t), y_fit))
    assert expected_calibration_error(scaled_new, y_new) > 0.08
    assert expected_calibration_error(mapped, y_new) < 0.04  # 3,000 images: noise ~0.03
    assert np.mean(mapped.max(1)) == pytest.approx(0.6, abs=0.03)  # flat, as the truth is


def test_the_map_keeps_the_answer_and_sums_to_one():
    from galaxy10.modeling.calibrate import apply_confidence_map

    probs, _ = _overconfident(500, seed=3)
    # a map that claims far less than the top: the runner-up must still not overtake it
    lowered = apply_confidence_map(probs, {"x": [0.0, 1.0], "y": [0.1, 0.1]})
    np.testing.assert_array_equal(lowered.argmax(1), probs.argmax(1))
    np.testing.assert_allclose(lowered.sum(1), 1, atol=1e-5)
    order = np.argsort(-probs, axis=1)
    # the others keep their proportions
    rows = np.arange(len(probs))
    ratio_before = probs[rows, order[:, 2]] / probs[rows, order[:, 1]]
    ratio_after = lowered[rows, order[:, 2]] / lowered[rows, order[:, 1]]
    np.testing.assert_allclose(ratio_after, ratio_before, rtol=1e-4)
    # an identity map changes nothing; a map to 0.95 sets the top exactly there
    np.testing.assert_allclose(apply_confidence_map(probs, {"x": [0, 1], "y": [0, 1]}), probs,
                               atol=1e-6)
    raised = apply_confidence_map(probs, {"x": [0, 1], "y": [0.95, 0.95]})
    np.testing.assert_allclose(raised.max(1), 0.95, atol=1e-6)
    assert apply_confidence_map(probs[:0], {"x": [0, 1], "y": [0, 1]}).shape == (0, 10)
    # a saturated answer (top exactly 1) still sums to one after the map lowers it
    sure = np.eye(10)[[3]]
    lowered = apply_confidence_map(sure, {"x": [0, 1], "y": [0.5, 0.9]})
    assert lowered.argmax() == 3 and lowered[0, 3] == pytest.approx(0.9)
    np.testing.assert_allclose(lowered.sum(), 1, atol=1e-6)
    np.testing.assert_allclose(np.delete(lowered[0], 3), 0.1 / 9, atol=1e-6)


def test_the_fitted_map_is_monotone_json_and_within_chance_and_one():
    from galaxy10.modeling.calibrate import fit_confidence_map

    probs, y = _overconfident(1000, seed=5)
    m = fit_confidence_map(probs, y)
    json.dumps(m)
    assert len(m["x"]) == len(m["y"]) >= 2
    assert np.all(np.diff(m["x"]) >= 0) and np.all(np.diff(m["y"]) >= 0)
    assert min(m["y"]) >= 0.1 - 1e-12 and max(m["y"]) <= 1.0


def test_calibration_stages_follow_the_steps_the_bundle_has():
    from types import SimpleNamespace

    from galaxy10.modeling.calibrate import apply_confidence_map, calibration_stages

    probs, _ = _overconfident(100, seed=7)
    cmap = {"x": [0.0, 1.0], "y": [0.2, 0.8]}
    assert list(calibration_stages(SimpleNamespace(temperature=1.0, confidence_map=None),
                                   probs)) == ["before"]
    both = calibration_stages(SimpleNamespace(temperature=2.0, confidence_map=cmap), probs)
    assert list(both) == ["before", "temperature (T = 2.00)", "temperature + top-label map"]
    np.testing.assert_allclose(both["temperature (T = 2.00)"], apply_temperature(probs, 2.0))
    np.testing.assert_allclose(both["temperature + top-label map"],
                               apply_confidence_map(apply_temperature(probs, 2.0), cmap))
    only_map = calibration_stages(SimpleNamespace(temperature=1.0, confidence_map=cmap), probs)
    assert list(only_map) == ["before", "top-label map"]
    np.testing.assert_allclose(only_map["top-label map"], apply_confidence_map(probs, cmap))


# -- the smooth map, and the choice between the temperature alone, it and the isotonic map ----

def test_the_smooth_map_is_strictly_increasing_and_keeps_every_confidence_distinct():
    from galaxy10.modeling.calibrate import (
        apply_confidence_map,
        distinct_confidences,
        fit_confidence_map,
        fit_smooth_map,
    )

    p_fit, y_fit = _bent(3000, seed=0)
    smooth, isotonic = fit_smooth_map(p_fit, y_fit), fit_confidence_map(p_fit, y_fit)
    json.dumps(smooth)
    assert np.all(np.diff(smooth["x"]) > 0) and np.all(np.diff(smooth["y"]) > 0)
    assert smooth["x"][0] == pytest.approx(0.1) and smooth["x"][-1] == 1.0  # chance to certain
    assert min(smooth["y"]) >= 0.1 - 1e-12 and max(smooth["y"]) <= 1.0
    # new images, their top probabilities all distinct: the smooth map keeps them distinct and
    # in the same order; the isotonic one gives them a handful of values
    p_new, _ = _bent(3000, seed=1)
    top = p_new.max(1)
    order = np.argsort(top)
    assert np.unique(top).size == top.size
    assert np.all(np.diff(np.interp(top[order], smooth["x"], smooth["y"])) > 0)
    assert np.unique(np.interp(top, isotonic["x"], isotonic["y"])).size < 30
    mapped = apply_confidence_map(p_new, smooth)
    np.testing.assert_array_equal(mapped.argmax(1), p_new.argmax(1))
    assert np.all(np.diff(mapped.max(1)[order]) >= 0)
    # shown as float32, tops about a millionth apart where the map is nearly flat round together
    assert distinct_confidences(mapped) >= 0.98 * top.size
    assert distinct_confidences(apply_confidence_map(p_new, isotonic)) < 30
    # it follows the isotonic fit (flat at 60 % here)
    assert np.mean(mapped.max(1)) == pytest.approx(0.6, abs=0.03)


def test_the_smooth_map_passes_through_the_block_centres_and_tilts_each_block():
    from galaxy10.modeling.calibrate import SMOOTH_TILT, fit_smooth_map

    assert SMOOTH_TILT == 0.5
    # two blocks: tops 0.6 and 0.7 are right half the time (level 0.5, on chance), 0.8 and
    # 0.9 always (level 1.0, on the upper bound); the outer ends stretch to 0.5 and 1
    probs, y = _two_class([0.6, 0.6, 0.7, 0.7, 0.8, 0.9], [True, False, True, False, True, True])
    m = fit_smooth_map(probs, y)
    np.testing.assert_allclose(m["x"], [0.5, 0.65, 0.7, 0.8, 0.85, 1.0])
    # each block rises by a quarter of the gap (0.5) on its open side; a level on a bound
    # gives its centre the middle of its range
    np.testing.assert_allclose(m["y"], [0.5, 0.5625, 0.625, 0.875, 0.9375, 1.0])
    # levels 0.5 (0.6), 0.8 (0.62 to 0.76, centre 0.708) and 1.0 (0.9, 0.92): the middle
    # block rises from 0.8 - 0.3 / 4 to 0.8 + 0.2 / 4, through its level at its centre
    probs, y = _two_class([0.6, 0.62, 0.7, 0.72, 0.74, 0.76, 0.9, 0.92],
                          [False, True, True, True, True, False, True, True])
    mid = fit_smooth_map(probs, y)
    assert np.all(np.diff(mid["x"]) > 0) and np.all(np.diff(mid["y"]) > 0)
    np.testing.assert_allclose(np.interp([0.62, 0.708, 0.76], mid["x"], mid["y"]),
                               [0.725, 0.8, 0.85])
    # every top at 1.0 (float32 saturation): one block, its knots at chance and at 1
    sure = fit_smooth_map(np.eye(10)[[2, 3, 4]], np.array([2, 3, 0]))
    assert sure["x"] == [0.1, 1.0]
    np.testing.assert_allclose(sure["y"], [2 / 3 - 0.25 * (2 / 3 - 0.1), 2 / 3])


def test_the_choice_takes_the_simplest_candidate_within_the_tolerance():
    from galaxy10.modeling.calibrate import ECE_TOLERANCE, choose_candidate

    assert ECE_TOLERANCE == 0.01
    ece = {"temperature": 0.5, "smooth": 0.375, "isotonic": 0.25}
    assert choose_candidate(ece, tolerance=0.25) == "temperature"  # exactly at the tolerance
    assert choose_candidate(ece, tolerance=0.125) == "smooth"
    assert choose_candidate(ece, tolerance=0.0) == "isotonic"
    assert choose_candidate({**ece, "smooth": 0.125}, tolerance=0.0) == "smooth"
    assert choose_candidate({"temperature": 0.05, "smooth": 0.045, "isotonic": 0.042}) == (
        "temperature")
    assert choose_candidate({"temperature": 0.08, "smooth": 0.045, "isotonic": 0.04}) == "smooth"
    assert choose_candidate({"temperature": 0.08, "smooth": 0.06, "isotonic": 0.04}) == (
        "isotonic")


def test_cross_fitted_ece_is_seeded_and_not_fooled_by_the_fit():
    from galaxy10.modeling.calibrate import (
        calibrated_probs,
        cross_fitted_ece,
        fit_confidence_map,
    )

    probs, y = _bent(600, seed=2)
    ece = cross_fitted_ece(probs, y, seed=1)
    assert set(ece) == {"temperature", "smooth", "isotonic"}
    assert ece == cross_fitted_ece(probs, y, seed=1)
    assert ece != cross_fitted_ece(probs, y, seed=2)
    # on the images it was fitted to, the isotonic map looks better than it is
    t = fit_temperature(log_probs(probs), y)
    scaled = apply_temperature(probs, t)
    in_sample = expected_calibration_error(
        calibrated_probs(scaled, 1.0, fit_confidence_map(scaled, y)), y)
    assert in_sample < ece["isotonic"] - 0.01


def test_fit_calibration_records_the_choice_and_the_ties():
    from galaxy10.modeling.calibrate import (
        calibrated_probs,
        choose_candidate,
        cross_fitted_ece,
        fit_confidence_map,
        fit_smooth_map,
    )

    cases = {"smooth": _bent(3000, seed=0), "isotonic": _bent(250, seed=4),
             "temperature": _overconfident(2000, seed=1)}
    for method, (probs, y) in cases.items():
        record = fit_calibration(probs, y)
        assert record["method"] == method, record["candidates"]
        ece = cross_fitted_ece(probs, y)
        assert {k: c["ece_cross_fitted"] for k, c in record["candidates"].items()} == ece
        assert choose_candidate(ece) == method and record["ece_tolerance"] == 0.01
        scaled = apply_temperature(probs, record["temperature"])
        fitted = {"temperature": None, "smooth": fit_smooth_map(scaled, y),
                  "isotonic": fit_confidence_map(scaled, y)}[method]
        assert record["confidence_map"] == fitted
        calibrated = calibrated_probs(scaled, 1.0, fitted)
        assert record["ece_after"] == expected_calibration_error(calibrated, y)
        assert record["distinct_before"] == np.unique(probs.astype(np.float32).max(1)).size
        json.dumps(record)


def test_ties_are_measured_and_the_smooth_choice_leaves_none():
    # the isotonic map (the only one before) gives 3,000 validation images a dozen values
    probs, y = _bent(3000, seed=0)
    record = fit_calibration(probs, y)
    assert record["distinct_before"] == 3000
    assert record["distinct_after"] >= 2940  # float32 may merge a few neighbours
    assert record["candidates"]["isotonic"]["distinct"] < 30
    assert record["candidates"]["smooth"]["distinct"] == record["distinct_after"]
    assert all(type(c["distinct"]) is int for c in record["candidates"].values())


def test_the_test_set_record_names_the_method_and_counts_the_ties():
    from types import SimpleNamespace

    from galaxy10.modeling.bundle import Calibration
    from galaxy10.modeling.calibrate import calibrated_probs, calibration_on_test_set

    probs, y = _bent(500, seed=3)
    cmap = {"x": [0.1, 0.5, 0.6, 1.0], "y": [0.3, 0.5, 0.5, 0.7]}  # flat between 0.5 and 0.6
    calibration = Calibration(temperature=1.0, confidence_map=cmap, method="isotonic")
    predictor = SimpleNamespace(temperature=1.0, confidence_map=cmap, threshold=None,
                                bundle=SimpleNamespace(calibration=calibration))
    calibrated = calibrated_probs(probs, 1.0, cmap)
    record = calibration_on_test_set(predictor, probs, calibrated, y)
    assert record["method"] == "isotonic"
    flat = np.sum((probs.max(1) >= 0.5) & (probs.max(1) <= 0.6))
    assert flat > 50 and record["distinct_confidences"] == 500 - flat + 1
    old = SimpleNamespace(**{**vars(predictor), "bundle": SimpleNamespace(
        calibration=Calibration(temperature=1.0, confidence_map=cmap))})
    assert calibration_on_test_set(old, probs, calibrated, y)["method"] is None
