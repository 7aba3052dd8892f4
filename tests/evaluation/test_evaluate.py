"""Test-set scores: checked against scikit-learn and an independent bootstrap."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from galaxy10.core.classes import CLASS_NAMES
from galaxy10.evaluation.evaluate import balanced_accuracy, bootstrap_interval, evaluate_predictions

# resamples often lack a predicted class; scikit-learn says so each time
pytestmark = pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")


def reference_interval(y_true, y_pred, metric, n_boot, confidence, seed):
    """The textbook percentile bootstrap, written out independently with the same draws."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    stats = [metric(y_true[rows], y_pred[rows])
             for rows in (rng.integers(0, n, n) for _ in range(n_boot))]
    tail = 100 * (1 - confidence) / 2
    return np.percentile(stats, tail), np.percentile(stats, 100 - tail)


def test_nine_right_of_ten_has_the_expected_interval():
    y_true = np.arange(10)
    y_pred = y_true.copy()
    y_pred[-1] = 0  # the last row is the one mistake: a resampler that skips it says (1, 1)
    low, high = bootstrap_interval(y_true, y_pred, accuracy_score, n_boot=1000, seed=0)
    assert (low, high) == pytest.approx((0.7, 1.0))


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_bootstrap_matches_an_independent_reimplementation(confidence):
    rng = np.random.default_rng(5)
    y_true = rng.integers(0, 10, 57)
    y_pred = np.where(rng.random(57) < 0.6, y_true, rng.integers(0, 10, 57))
    for metric in (accuracy_score, balanced_accuracy):
        got = bootstrap_interval(y_true, y_pred, metric, n_boot=300, confidence=confidence,
                                 seed=11)
        want = reference_interval(y_true, y_pred, metric, 300, confidence, 11)
        assert got == pytest.approx(want, abs=1e-12)
        assert got[0] < metric(y_true, y_pred) < got[1]
    other = bootstrap_interval(y_true, y_pred, accuracy_score, n_boot=300, seed=12)
    assert other != bootstrap_interval(y_true, y_pred, accuracy_score, n_boot=300, seed=11)


def test_evaluate_predictions_agrees_with_scikit_learn():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 9, 80)  # class 9 absent from the truth: support 0
    proba = rng.random((80, 10))
    proba[np.arange(80), y_true] += rng.random(80) * 1.5
    pred = proba.argmax(axis=1)
    got = evaluate_predictions(y_true, proba, n_boot=200, seed=4)
    assert got == evaluate_predictions(y_true, pred, n_boot=200, seed=4)  # labels or probabilities
    assert got["n_test"] == 80
    assert got["accuracy"] == pytest.approx(accuracy_score(y_true, pred))
    assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y_true, pred))
    assert got["macro_f1"] == pytest.approx(f1_score(y_true, pred, labels=range(10), average="macro",
                                                     zero_division=0))
    assert got["accuracy_ci95"] == pytest.approx(
        reference_interval(y_true, pred, accuracy_score, 200, 0.95, 4))
    assert got["balanced_accuracy_ci95"] == pytest.approx(
        reference_interval(y_true, pred, balanced_accuracy_score, 200, 0.95, 4))
    assert got["confusion_matrix"] == confusion_matrix(y_true, pred, labels=range(10)).tolist()
    p, r, f, s = precision_recall_fscore_support(y_true, pred, labels=range(10), zero_division=0)
    assert list(got["per_class"]) == list(CLASS_NAMES)
    for k, name in enumerate(CLASS_NAMES):
        assert got["per_class"][name] == pytest.approx(
            {"precision": p[k], "recall": r[k], "f1": f[k], "support": s[k]})
    assert got["per_class"][CLASS_NAMES[9]]["support"] == 0
    assert all(isinstance(v, float) for v in got["accuracy_ci95"])


def test_classes_never_seen_still_get_a_row_and_count_in_the_macro_average():
    # classes 8 and 9 neither occur nor are predicted: they score 0 and stay in every table
    y_true = np.array([0, 1, 2, 3, 4, 5, 6, 7] * 3)
    pred = y_true.copy()
    pred[:4] = (pred[:4] + 1) % 8
    got = evaluate_predictions(y_true, pred, n_boot=50)
    assert np.array(got["confusion_matrix"]).shape == (10, 10)
    assert got["per_class"][CLASS_NAMES[9]] == {"precision": 0.0, "recall": 0.0, "f1": 0.0,
                                                "support": 0}
    f1_seen = f1_score(y_true, pred, average="macro")
    assert got["macro_f1"] == pytest.approx(f1_seen * 8 / 10)


def test_defaults_are_the_reported_ones():
    # README intervals come from 1,000 resamples with seed 0: the defaults must stay those
    rng = np.random.default_rng(8)
    values, zeros = rng.normal(size=50), np.zeros(50)

    def mean_gap(t, p):  # a continuous statistic: any other draw moves the interval
        return float(np.mean(p - t))

    want = reference_interval(zeros, values, mean_gap, 1000, 0.95, 0)
    assert bootstrap_interval(zeros, values, mean_gap) == pytest.approx(want, abs=1e-12)
    assert want != pytest.approx(reference_interval(zeros, values, mean_gap, 1001, 0.95, 0))
    y_true = rng.integers(0, 10, 997)
    y_pred = np.where(rng.random(997) < 0.5, y_true, rng.integers(0, 10, 997))
    got = evaluate_predictions(y_true, y_pred)["balanced_accuracy_ci95"]
    assert got == pytest.approx(
        reference_interval(y_true, y_pred, balanced_accuracy_score, 1000, 0.95, 0), abs=1e-12)
    assert got != pytest.approx(
        reference_interval(y_true, y_pred, balanced_accuracy_score, 1000, 0.95, 1), abs=1e-12)
