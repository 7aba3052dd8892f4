"""Scores with honest uncertainty: accuracy, balanced accuracy with a bootstrap interval,
per-class precision/recall/F1 and the confusion matrix.

The held-out test set of the original has 668 images; with so few, a single accuracy hides
an uncertainty of several points, so every headline number comes with a 95% percentile
bootstrap interval (seeded, hence reproducible).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES


def bootstrap_interval(y_true: np.ndarray, y_pred: np.ndarray, metric, n_boot: int = 1000,
                       confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(y_true, y_pred)`` over resampled test rows."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    stats = np.empty(n_boot)
    for b in range(n_boot):
        rows = rng.integers(0, y_true.size, y_true.size)
        stats[b] = metric(y_true[rows], y_pred[rows])
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(low), float(high)


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (scikit-learn's definition)."""
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # resamples may miss a predicted class
        return float(balanced_accuracy_score(y_true, y_pred))


def evaluate_predictions(y_true: np.ndarray, proba_or_pred: np.ndarray, n_boot: int = 1000,
                         seed: int = 0) -> dict[str, Any]:
    """All the test-set figures of one model, as plain JSON-able values.

    Parameters
    ----------
    y_true : ndarray of int, shape (n,)
    proba_or_pred : ndarray, shape (n, 10) probabilities or (n,) predicted labels
    n_boot : int, default 1000
        Bootstrap resamples for the intervals.
    seed : int, default 0

    Returns
    -------
    dict
        ``accuracy``, ``accuracy_ci95``, ``balanced_accuracy``, ``balanced_accuracy_ci95``,
        ``macro_f1``, ``per_class`` (name -> precision, recall, f1, support),
        ``confusion_matrix`` (rows true, columns predicted), ``n_test``.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    from sklearn.metrics import precision_recall_fscore_support as prfs

    y_true = np.asarray(y_true)
    pred = np.asarray(proba_or_pred)
    if pred.ndim == 2:
        pred = pred.argmax(axis=1)
    labels = np.arange(N_CLASSES)
    precision, recall, f1, support = prfs(y_true, pred, labels=labels, zero_division=0)
    return {
        "n_test": int(y_true.size),
        "accuracy": float(accuracy_score(y_true, pred)),
        "accuracy_ci95": bootstrap_interval(y_true, pred, accuracy_score, n_boot, seed=seed),
        "balanced_accuracy": balanced_accuracy(y_true, pred),
        "balanced_accuracy_ci95": bootstrap_interval(y_true, pred, balanced_accuracy, n_boot,
                                                     seed=seed),
        "macro_f1": float(f1_score(y_true, pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {name: {"precision": float(p), "recall": float(r), "f1": float(f),
                             "support": int(s)}
                      for name, p, r, f, s in zip(CLASS_NAMES, precision, recall, f1, support,
                                                  strict=True)},
        "confusion_matrix": confusion_matrix(y_true, pred, labels=labels).tolist(),
    }


def evaluate_on_file(predictor, galaxies, n_boot: int = 1000, seed: int = 0,
                     batch_size: int = 128) -> dict[str, Any]:
    """:func:`evaluate_predictions` of ``predictor`` on every image of an open Galaxy10 file.

    Reads the file in batches, so a large file never sits in memory; used for sim-to-real
    (a synthetic-trained model on every real image).
    """
    probs = np.concatenate([predictor.predict_proba(images)
                            for _, images in galaxies.iter_batches(batch_size=batch_size)])
    return evaluate_predictions(galaxies.labels.astype(np.int64), probs, n_boot, seed)
