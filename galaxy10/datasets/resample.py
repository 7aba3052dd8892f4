"""Resampling and splitting on row indices, never on pixels.

Working on indices lets the seed-faithful undersampling and split be reproduced exactly on a
file that is never loaded whole: the pixels of the chosen rows are read afterwards.

The original analysis:

1. ``RandomUnderSampler(random_state=888, sampling_strategy='not minority')`` on the row
   indices and ``ans`` -> 334 rows per class, 3,340 rows on the real counts;
2. ``train_test_split(test_size=0.2, random_state=101, stratify=y)`` -> 2,672 / 668.

:func:`make_splits` adds the split that uses all data: every row not in the seed-faithful test
set trains the modern model, so both pipelines are scored on the same held-out images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galaxy10.core.classes import N_CLASSES
from galaxy10.core.errors import NotEnoughDataError

SEED_UNDERSAMPLE_STATE = 888
SEED_SPLIT_STATE = 101
SEED_TEST_SIZE = 0.2
MIN_PER_CLASS = 5
"""Fewest images of a class the seed-faithful undersampling and 80/20 split can use: the
stratified split puts one of every five in the test set, so each class needs five."""


def undersample_indices(labels: np.ndarray,
                        random_state: int = SEED_UNDERSAMPLE_STATE) -> np.ndarray:
    """Row indices kept by the original's random undersampling to the smallest class.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
        The ``ans`` labels of the whole file, in file order.
    random_state : int, default 888
        The original's seed.

    Returns
    -------
    ndarray of int64, shape (10 * min_count,)
        Kept rows in imbalanced-learn's output order (grouped by class), exactly as the
        original's ``fit_resample(index_column, ans)`` returned them.
    """
    from imblearn.under_sampling import RandomUnderSampler

    labels = np.asarray(labels)
    sampler = RandomUnderSampler(random_state=random_state, sampling_strategy="not minority")
    rows, _ = sampler.fit_resample(np.arange(labels.size).reshape(-1, 1), labels)
    return rows.ravel().astype(np.int64)


def split_indices(indices: np.ndarray, labels: np.ndarray, test_size: float = SEED_TEST_SIZE,
                  random_state: int = SEED_SPLIT_STATE) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split of ``indices`` (rows of a file) by ``labels[indices]``.

    Returns
    -------
    train, test : ndarray of int64
        Row indices, in scikit-learn's shuffled order, as the original received them.
    """
    from sklearn.model_selection import train_test_split

    indices = np.asarray(indices, dtype=np.int64)
    y = np.asarray(labels)[indices]
    train, test = train_test_split(indices, test_size=test_size, random_state=random_state,
                                   stratify=y)
    return np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)


@dataclass(frozen=True)
class Splits:
    """Row indices of one file for both pipelines.

    Attributes
    ----------
    seed_train : ndarray of int64
        The original's undersampled training rows (2,672 on the real counts).
    test : ndarray of int64
        The held-out test rows (668 on the real counts, balanced); touched only by the final
        evaluation, by every model.
    all_train : ndarray of int64
        Every row not in ``test``, sorted: the training data of models that use all data.
    """

    seed_train: np.ndarray
    test: np.ndarray
    all_train: np.ndarray

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The three index arrays by name, for saving with :func:`galaxy10.core.atomic.write_npz`."""
        return {"seed_train": self.seed_train, "test": self.test, "all_train": self.all_train}


def check_splittable(labels: np.ndarray) -> None:
    """Raise :class:`NotEnoughDataError` unless :func:`make_splits` can split ``labels``.

    Counting only (no scikit-learn), so that a command can refuse a file before any work:
    every class 0-9 needs :data:`MIN_PER_CLASS` images.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=N_CLASSES)
    if int(counts.min()) < MIN_PER_CLASS:
        short = [str(k) for k in range(N_CLASSES) if counts[k] < MIN_PER_CLASS]
        raise NotEnoughDataError(
            f"{labels.size} image(s) in {int((counts > 0).sum())} class(es); the seed-faithful "
            f"undersampling and 80/20 split need at least {MIN_PER_CLASS} images of every class 0-9 "
            f"(short: class {', '.join(short)})")


def min_per_class_for_folds(folds: int) -> int:
    """Fewest images of each class that a ``folds``-fold cross-validation can train on.

    Every test fold holds one image of each class (``folds``), and every training fold keeps
    two of each (``ceil(2 * folds / (folds - 1))``), so that training can still set one
    aside for validation and calibration.
    """
    folds = int(folds)
    return max(folds, -(-2 * folds // (folds - 1)))


def check_folds(labels: np.ndarray, folds: int) -> None:
    """Raise :class:`NotEnoughDataError` unless ``labels`` can be cross-validated in ``folds``.

    Counting only: every class 0-9 needs :func:`min_per_class_for_folds` images.
    """
    counts = np.bincount(np.asarray(labels), minlength=N_CLASSES)
    need = min_per_class_for_folds(folds)
    if int(counts.min()) < need:
        short = [f"class {k} has {counts[k]}" for k in range(N_CLASSES) if counts[k] < need]
        most = max((f for f in range(2, int(counts.min()) + 1)
                    if min_per_class_for_folds(f) <= counts.min()), default=None)
        hint = (f"; with these images give --folds {most} or fewer" if most else
                "; no number of folds fits: add images of the short classes")
        raise NotEnoughDataError(
            f"{folds}-fold cross-validation needs at least {need} images of every class 0-9, "
            f"and {len(short)} class(es) have fewer ({', '.join(short[:4])}"
            f"{', ...' if len(short) > 4 else ''}){hint}")


def make_splits(labels: np.ndarray, undersample_state: int = SEED_UNDERSAMPLE_STATE,
                split_state: int = SEED_SPLIT_STATE,
                test_size: float = SEED_TEST_SIZE) -> Splits:
    """Seed-faithful undersampling and split, plus the all-data training rows.

    Raises
    ------
    NotEnoughDataError
        As :func:`check_splittable`.
    """
    labels = np.asarray(labels)
    check_splittable(labels)
    kept = undersample_indices(labels, undersample_state)
    seed_train, test = split_indices(kept, labels, test_size, split_state)
    all_train = np.setdiff1d(np.arange(labels.size), test)
    return Splits(seed_train=seed_train, test=test, all_train=all_train)


def stratified_folds(labels: np.ndarray, n_splits: int = 5,
                     random_state: int = SEED_SPLIT_STATE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Positions of ``StratifiedKFold(n_splits, shuffle=True, random_state)`` folds.

    Returns a list of ``(train_positions, validation_positions)`` into ``labels``.
    """
    from sklearn.model_selection import StratifiedKFold

    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    labels = np.asarray(labels)
    return [(tr, va) for tr, va in folds.split(np.zeros(labels.size), labels)]


def sample_per_class(labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Up to ``per_class`` random rows of each class, sorted: the one per-class sample.

    Galleries, the realism comparison and the exploratory statistics all look at a few
    images of every class; drawing them one way means the same seed shows the same images
    everywhere. Classes are visited in label order 0-9 with one generator, and every present
    class draws (a class with at most ``per_class`` rows keeps all of them, in a drawn order
    that the final sort undoes), as the exploratory notebook and the gallery always drew, so
    their reference figures keep their images.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
        Class of every row, 0-9.
    per_class : int or None
        Rows to keep per class; None keeps every row.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ndarray of int64
        Row indices in ascending order (the fast order to read from a file).
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(N_CLASSES):
        idx = np.flatnonzero(labels == k)
        if per_class is not None and idx.size:
            idx = rng.choice(idx, size=min(per_class, idx.size), replace=False)
        rows.append(idx)
    return np.sort(np.concatenate(rows)).astype(np.int64)


MIN_LABELS = 2 * N_CLASSES
"""Fewest training images a point of ``bench real --labels`` may take: two of each class, one
to train on and one for the validation split that early stopping and calibration need."""


def nested_stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded order of positions whose every prefix is a stratified subset of ``labels``.

    The first ``n`` positions hold each class in its share of ``labels`` to within one image,
    for every ``n``; so the subsets of a label-efficiency curve are nested (the 100 inside
    the 200, ...), and a larger point only adds images to a smaller one's.

    Each class is shuffled, its ``j``-th image (of ``n_c``) placed at ``(j + u_c) / n_c``
    with one random offset ``u_c`` per class, and all are ordered by that place.

    Returns
    -------
    ndarray of int64, shape (len(labels),)
        A permutation of ``arange(len(labels))``.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    place = np.empty(len(labels), dtype=np.float64)
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        place[rows] = (np.arange(len(rows)) + rng.random()) / len(rows)
    # ties (equal places of two classes) are broken by a random key, not by the class number
    return np.lexsort((rng.random(len(labels)), place)).astype(np.int64)


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """'Balanced' class weights ``n / (n_classes * count)`` for training on all data.

    scikit-learn's ``compute_class_weight('balanced')``; classes absent from ``labels`` get
    weight 0, so the dictionary always has the ten keys Keras expects.
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    out = {k: 0.0 for k in range(N_CLASSES)}
    out.update({int(k): float(w) for k, w in zip(present, weights, strict=True)})
    return out


# -- duplicate-aware splitting (groups from galaxy10.datasets.audit.duplicate_groups) -----------------
def leaks(train_rows: np.ndarray, test_rows: np.ndarray, groups: np.ndarray) -> int:
    """How many test images have a duplicate (a row of the same group) in training.

    Parameters
    ----------
    train_rows, test_rows : ndarray of int
        Row indices of a file.
    groups : ndarray of int, shape (N,)
        Group id per row of the file, e.g. :func:`galaxy10.datasets.audit.duplicate_groups`.

    Returns
    -------
    int
        Test rows whose group also has a member among ``train_rows``. A row present in both
        lists counts too: it is its own duplicate.
    """
    groups = np.asarray(groups)
    train_groups = groups[np.asarray(train_rows, dtype=np.int64)]
    return int(np.isin(groups[np.asarray(test_rows, dtype=np.int64)], train_groups).sum())


def drop_leaks(train_rows: np.ndarray, test_rows: np.ndarray, groups: np.ndarray
               ) -> np.ndarray:
    """``train_rows`` without the rows whose group has a member in ``test_rows``.

    The test set stays exactly as it is (the seed-faithful test rows remain comparable with
    the original analysis); training loses only the copies of test images.

    Returns
    -------
    ndarray of int64
        The kept training rows, in their given order.
    """
    groups = np.asarray(groups)
    train_rows = np.asarray(train_rows, dtype=np.int64)
    test_groups = groups[np.asarray(test_rows, dtype=np.int64)]
    return train_rows[~np.isin(groups[train_rows], test_groups)]


def group_aware_test_split(indices: np.ndarray, labels: np.ndarray, groups: np.ndarray,
                           test_size: float = SEED_TEST_SIZE,
                           random_state: int = SEED_SPLIT_STATE
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split of ``indices`` that keeps every group on one side.

    scikit-learn's ``StratifiedGroupKFold`` with ``round(1 / test_size)`` folds, shuffled
    with ``random_state``; its first fold is the test set. Class shares follow the labels as
    closely as whole groups allow, and the test share is about ``test_size``.

    Parameters
    ----------
    indices : ndarray of int
        Rows of a file to split.
    labels, groups : ndarray, shape (N,)
        Label and duplicate-group id of every row of the file.
    test_size : float, default 0.2
        In (0, 0.5].
    random_state : int, default 101

    Returns
    -------
    train, test : ndarray of int64
        Sorted row indices; ``leaks(train, test, groups) == 0``.

    Raises
    ------
    ValueError
        If there are fewer groups than folds, or every class has fewer rows than folds.
    """
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    if not 0.0 < test_size <= 0.5:
        raise ValueError(f"test_size must be in (0, 0.5], got {test_size}")
    indices = np.asarray(indices, dtype=np.int64)
    n_splits = max(2, round(1 / test_size))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # a class smaller than n_splits is spread as well as it can be; that is expected
        warnings.filterwarnings("ignore", message="The least populated class",
                                category=UserWarning)
        train_pos, test_pos = next(folds.split(indices, np.asarray(labels)[indices],
                                               np.asarray(groups)[indices]))
    return np.sort(indices[train_pos]), np.sort(indices[test_pos])
