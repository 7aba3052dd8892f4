"""Seed-faithful resampling and split, on indices."""

from __future__ import annotations

import numpy as np
from imblearn.under_sampling import RandomUnderSampler
from sklearn.model_selection import train_test_split

from galaxy10.classes import REAL_CLASS_COUNTS
from galaxy10.resample import class_weights, make_splits, stratified_folds, undersample_indices

REAL_LABELS = np.repeat(np.arange(10), REAL_CLASS_COUNTS).astype(np.uint8)


def test_seed_faithful_counts_on_the_real_class_counts():
    splits = make_splits(REAL_LABELS)
    assert len(splits.seed_train) == 2672 and len(splits.test) == 668
    kept = np.concatenate([splits.seed_train, splits.test])
    np.testing.assert_array_equal(np.bincount(REAL_LABELS[kept]), [334] * 10)
    assert not set(splits.test) & set(splits.seed_train)
    assert not set(splits.test) & set(splits.all_train)
    assert len(splits.all_train) == 17736 - 668
    assert set(splits.seed_train) <= set(splits.all_train)
    # stratified: test has 66 or 67 of each class
    assert set(np.bincount(REAL_LABELS[splits.test])) <= {66, 67}


def test_matches_the_original_calls_exactly():
    rus = RandomUnderSampler(random_state=888, sampling_strategy="not minority")
    x_res, y_res = rus.fit_resample(np.arange(REAL_LABELS.size).reshape(-1, 1), REAL_LABELS)
    x_train, x_test, _, _ = train_test_split(x_res, y_res, test_size=0.2, random_state=101,
                                             stratify=y_res)
    splits = make_splits(REAL_LABELS)
    np.testing.assert_array_equal(undersample_indices(REAL_LABELS), x_res.ravel())
    np.testing.assert_array_equal(splits.seed_train, x_train.ravel())
    np.testing.assert_array_equal(splits.test, x_test.ravel())


def test_deterministic_and_seed_sensitive():
    a, b = make_splits(REAL_LABELS), make_splits(REAL_LABELS)
    np.testing.assert_array_equal(a.test, b.test)
    c = make_splits(REAL_LABELS, undersample_state=1)
    assert not np.array_equal(a.test, c.test)


def test_folds_are_stratified_and_partition():
    y = REAL_LABELS[make_splits(REAL_LABELS).seed_train]
    folds = stratified_folds(y, n_splits=5)
    val = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(val), np.arange(y.size))
    for tr, va in folds:
        assert set(np.bincount(y[va], minlength=10)) <= {53, 54}
        assert not set(tr) & set(va)


def test_class_weights_balance_the_loss():
    w = class_weights(REAL_LABELS)
    counts = np.bincount(REAL_LABELS)
    totals = np.array([w[k] * counts[k] for k in range(10)])
    np.testing.assert_allclose(totals, totals[0])  # every class carries the same total weight
    assert w[4] > w[2]  # the rare cigar class weighs more than round smooth
    assert class_weights(np.array([0, 0, 1]))[5] == 0.0
