"""Seed-faithful resampling and split, on indices."""

from __future__ import annotations

import numpy as np
import pytest
from imblearn.under_sampling import RandomUnderSampler
from sklearn.model_selection import train_test_split

from galaxy10.core.classes import REAL_CLASS_COUNTS
from galaxy10.datasets.resample import (
    class_weights,
    make_splits,
    sample_per_class,
    split_indices,
    stratified_folds,
    undersample_indices,
)

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


def test_too_few_images_names_the_short_classes():
    from galaxy10.core.errors import NotEnoughDataError

    counts = [6, 5, 6, 4, 6, 6, 6, 1, 6, 0]  # class 1 has exactly enough, 3, 7 and 9 too few
    labels = np.repeat(np.arange(10), counts)
    with pytest.raises(NotEnoughDataError) as info:
        make_splits(labels)
    assert str(info.value) == (
        "46 image(s) in 9 class(es); the seed-faithful undersampling and 80/20 split need at "
        "least 5 images of every class 0-9 (short: class 3, 7, 9)")
    ok = make_splits(np.repeat(np.arange(10), 5))  # five each is enough
    assert len(ok.test) == 10


def test_undersampling_keeps_every_row_of_the_smallest_class():
    labels = np.repeat(np.arange(10), [9, 7, 8, 6, 9, 9, 9, 9, 9, 9])
    rows = undersample_indices(labels, random_state=3)
    assert rows.dtype == np.int64 and rows.shape == (60,)
    assert set(np.flatnonzero(labels == 3)) <= set(rows)  # the minority class is not touched


def test_split_indices_are_int64_rows_of_the_file_and_follow_their_seed():
    labels = np.repeat(np.arange(10), 10)
    kept = np.arange(0, 100, 2, dtype=np.int32)  # rows of a file, not positions
    train, test = split_indices(kept, labels, 0.2, random_state=4)
    assert train.dtype == np.int64 and test.dtype == np.int64
    assert set(train) | set(test) == set(kept.tolist()) and len(test) == 10
    again = split_indices(kept, labels, 0.2, random_state=5)
    assert not np.array_equal(test, again[1])
    splits = make_splits(labels, split_state=5)
    np.testing.assert_array_equal(splits.test, split_indices(undersample_indices(labels), labels,
                                                             0.2, 5)[1])
    assert not np.array_equal(splits.test, make_splits(labels).test)


def test_folds_match_scikit_learn_and_follow_their_seed():
    from sklearn.model_selection import StratifiedKFold

    y = np.repeat(np.arange(10), 6)
    folds = stratified_folds(y, n_splits=3, random_state=9)
    want = StratifiedKFold(n_splits=3, shuffle=True, random_state=9).split(np.zeros(60), y)
    assert len(folds) == 3
    for (tr, va), (wtr, wva) in zip(folds, want, strict=True):
        np.testing.assert_array_equal(tr, wtr)
        np.testing.assert_array_equal(va, wva)
    default = stratified_folds(y)
    assert len(default) == 5
    np.testing.assert_array_equal(default[0][1], stratified_folds(y, 5, 101)[0][1])
    assert not np.array_equal(default[0][1], stratified_folds(y, 5, 102)[0][1])


def test_leaks_and_drop_leaks_count_and_remove_duplicates_of_test_images():
    from galaxy10.datasets.resample import drop_leaks, leaks

    groups = np.array([0, 1, 1, 2, 3, 3, 4, 5])  # rows 1-2 and 4-5 are copies of each other
    train, test = np.array([0, 2, 3, 4, 7]), np.array([1, 5, 6])
    assert leaks(train, test, groups) == 2  # rows 1 and 5 have a copy in training
    np.testing.assert_array_equal(drop_leaks(train, test, groups), [0, 3, 7])
    assert drop_leaks(train, test, groups).dtype == np.int64
    assert leaks(drop_leaks(train, test, groups), test, groups) == 0
    assert leaks([0, 1], [1], np.arange(8)) == 1  # a row in both lists is its own duplicate
    assert leaks(train, test, np.arange(8)) == 0


def test_group_aware_split_keeps_groups_together():
    from galaxy10.datasets.resample import group_aware_test_split, leaks

    labels = np.repeat(np.arange(10), 12)
    groups = np.arange(120) // 2  # pairs of copies
    train, test = group_aware_test_split(np.arange(120), labels, groups, random_state=3)
    assert leaks(train, test, groups) == 0 and train.dtype == np.int64
    assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)  # sorted
    assert len(set(train) | set(test)) == 120 and len(test) == 24  # a fifth: 5 folds
    assert np.bincount(labels[test], minlength=10).min() >= 1  # every class in the test set
    other = group_aware_test_split(np.arange(120), labels, groups, random_state=4)[1]
    assert not np.array_equal(test, other)
    np.testing.assert_array_equal(test, group_aware_test_split(np.arange(120), labels, groups,
                                                               random_state=3)[1])
    _, third = group_aware_test_split(np.arange(120), labels, groups, test_size=1 / 3,
                                      random_state=3)
    assert len(third) == 40
    with pytest.raises(ValueError, match=r"^test_size must be in \(0, 0.5\], got 0.6$"):
        group_aware_test_split(np.arange(120), labels, groups, test_size=0.6)
    with pytest.raises(ValueError, match=r"got 0.0$"):
        group_aware_test_split(np.arange(120), labels, groups, test_size=0.0)
    _, half = group_aware_test_split(np.arange(120), labels, groups, test_size=0.5)
    assert len(half) == 60  # two folds


def test_group_aware_split_silences_the_small_class_warning():
    import warnings

    from galaxy10.datasets.resample import group_aware_test_split

    labels = np.repeat(np.arange(10), [12] * 9 + [3])  # class 9: fewer rows than folds
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, test = group_aware_test_split(np.arange(111), labels, np.arange(111), random_state=0)
    assert len(test) in (22, 23)


# -- the per-class sample of galleries, realism and the exploratory statistics -------------
UNEVEN = np.array([6, 2, 8, 9, 4, 6, 7, 6, 5, 3, 7, 5, 3, 6, 2, 4, 7, 8, 8, 7, 6, 2, 6, 8, 9,
                   5, 3, 3, 4, 8, 7, 5, 5, 2, 3, 9, 5, 0, 4, 9, 4, 2, 2, 4, 3, 9, 0, 7, 9, 8])
"""Two rows of class 0, none of class 1, six of every other class."""


def _eda_draw_before_the_merge(labels, per_class, seed):
    """eda.sample_rows as it was: every present class draws, small ones too."""
    rng = np.random.default_rng(seed)
    rows = [rng.choice(np.flatnonzero(labels == k), size=min(per_class, int((labels == k).sum())),
                       replace=False) for k in np.unique(labels)]
    return np.sort(np.concatenate(rows))


def _gallery_draw_before_the_merge(labels, per_class, seed):
    """figures.examples_by_class's own draw, as it was: it also drew from small classes."""
    rng = np.random.default_rng(seed)
    rows = [np.sort(rng.choice(np.flatnonzero(labels == k), size=min(per_class, int((labels == k).sum())),
                               replace=False)) for k in range(10) if (labels == k).any()]
    return np.sort(np.concatenate(rows))


def _realism_draw_before_the_merge(labels, per_class, seed):
    """realism._pick_per_class as it was: classes with at most per_class rows drew nothing."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(10):
        idx = np.flatnonzero(labels == k)
        if idx.size > per_class:
            idx = rng.choice(idx, size=per_class, replace=False)
        rows.append(idx)
    return np.sort(np.concatenate(rows))


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_sample_per_class_keeps_every_reference_figure_s_images(seed):
    real = np.repeat(np.arange(10), 100)  # the real sample: 100 per class, manifest order
    medium = np.random.default_rng(seed).permutation(np.repeat(np.arange(10), [30, 400] * 5))
    for labels in (real, REAL_LABELS, medium, UNEVEN):
        for per_class in (3, 5, 150):
            rows = sample_per_class(labels, per_class, seed)
            assert rows.dtype == np.int64
            # the exploratory notebook's and the gallery's draws, small classes included
            np.testing.assert_array_equal(rows, _eda_draw_before_the_merge(labels, per_class, seed))
            np.testing.assert_array_equal(rows, _gallery_draw_before_the_merge(labels, per_class,
                                                                               seed))
    # realism's draws on what its committed table used: the whole real sample at 100 per
    # class, and synthetic sets whose every class has more rows than it draws
    np.testing.assert_array_equal(sample_per_class(real, 100, seed), np.arange(1000))
    np.testing.assert_array_equal(sample_per_class(REAL_LABELS, 100, seed),
                                  _realism_draw_before_the_merge(REAL_LABELS, 100, seed))


def test_sample_per_class_counts_and_none():
    rows = sample_per_class(UNEVEN, 3, seed=7)
    assert np.bincount(UNEVEN[rows], minlength=10).tolist() == [2, 0] + [3] * 8
    np.testing.assert_array_equal(sample_per_class(UNEVEN, None, seed=7), np.arange(50))
    np.testing.assert_array_equal(sample_per_class(UNEVEN, 6, seed=7), np.arange(50))


def test_examples_by_class_reads_the_sampled_rows_grouped_by_class():
    from galaxy10.reporting.figures import examples_by_class

    got = examples_by_class(UNEVEN, lambda rows: rows, per_class=3, seed=7)
    assert sorted(got) == [0, 2, 3, 4, 5, 6, 7, 8, 9]
    np.testing.assert_array_equal(np.concatenate([got[k] for k in sorted(got)]),
                                  sorted(sample_per_class(UNEVEN, 3, 7), key=lambda r: UNEVEN[r]))


def test_nested_stratified_order_gives_nested_stratified_prefixes():
    from galaxy10.datasets.resample import nested_stratified_order

    labels = np.repeat(np.arange(10), [80, 80, 80, 80, 20, 80, 80, 80, 80, 160])
    order = nested_stratified_order(labels, seed=7)
    assert sorted(order.tolist()) == list(range(len(labels)))  # a permutation
    np.testing.assert_array_equal(order, nested_stratified_order(labels, seed=7))
    assert not np.array_equal(order, nested_stratified_order(labels, seed=8))
    share = np.bincount(labels) / len(labels)
    for n in (20, 40, 100, 200, 400, 800):
        counts = np.bincount(labels[order[:n]], minlength=10)
        assert np.abs(counts - n * share).max() <= 1.0 + 1e-9, (n, counts)
    # nested by construction: a larger subset only adds images to the smaller one
    assert set(order[:100]) < set(order[:200]) < set(order[:400])
