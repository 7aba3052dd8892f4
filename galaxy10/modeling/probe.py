"""A linear probe: logistic regression on a frozen network's embedding.

How much does a pre-trained network already know about real galaxies, before any of its
weights are fine-tuned? A linear classifier on its embedding (the penultimate layer,
averaged over the test-time views, :meth:`galaxy10.modeling.predict.Predictor.predict_and_embed`)
answers it, and costs seconds where fine-tuning costs minutes: the cheapest model a user
with a few labels can train. ``bench real`` scores it beside the CNNs.

A labelling panel refits one on the labels given so far, estimates its accuracy by a
stratified cross-validation of those labels (:func:`estimate_accuracy`), and lets its guesses
replace the model's only once that estimate beats the model on the same labels
(:func:`probe_is_better`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from galaxy10.core.classes import CLASS_NAMES


def fit_linear_probe(vectors: np.ndarray, labels: np.ndarray, seed: int = 0):
    """Standardised features and a class-balanced logistic regression, fitted on ``vectors``.

    Parameters
    ----------
    vectors : ndarray of float, shape (n, D)
        Embeddings of the training images (from the frozen network).
    labels : ndarray of int, shape (n,)
    seed : int
        The regression's ``random_state``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``StandardScaler`` then ``LogisticRegression(class_weight="balanced")`` with the
        default strength ``C = 1``: nothing is tuned, so no benchmark fold steers it. Its
        ``predict_proba`` has a column per class seen in ``labels`` (``classes_``); use
        :func:`probe_proba` for all ten.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(),
                          LogisticRegression(class_weight="balanced", max_iter=5000,
                                             random_state=seed))
    return probe.fit(np.asarray(vectors, dtype=np.float64), np.asarray(labels, dtype=np.int64))


def probe_proba(probe, vectors: np.ndarray, n_classes: int = 10) -> np.ndarray:
    """Probabilities of all ``n_classes`` classes (0 for a class the probe never saw).

    Returns
    -------
    ndarray of float64, shape (n, n_classes)
    """
    seen = probe.predict_proba(np.asarray(vectors, dtype=np.float64))
    out = np.zeros((len(seen), n_classes), dtype=np.float64)
    out[:, probe.classes_.astype(np.int64)] = seen
    return out


MAX_FOLDS = 5
"""Most folds of :func:`estimate_accuracy`'s cross-validation."""


@dataclass(frozen=True)
class Estimate:
    """The probe's cross-validated accuracy on the labels so far, or why there is none."""

    mean: float | None
    sd: float | None
    folds: int
    labels: int
    reason: str = ""

    def line(self) -> str:
        """What the panel shows."""
        if self.mean is None:
            return f"Estimated accuracy: not yet ({self.reason})"
        return (f"Estimated accuracy: {self.mean:.2f} ± {self.sd:.2f} ({self.folds}-fold "
                f"stratified CV of the linear probe on {self.labels} labels)")


def estimate_accuracy(vectors: np.ndarray, labels: np.ndarray, seed: int = 0) -> Estimate:
    """Stratified cross-validated accuracy of the linear probe, mean ± sd over the folds.

    Only once at least two classes are labelled and every class labelled has two labels or
    more (a class with one label cannot be both trained on and tested); the folds are as
    many as the rarest class allows, at most :data:`MAX_FOLDS`.
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels, dtype=np.int64)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        return Estimate(None, None, 0, len(labels), "it needs labels of two classes or more")
    if counts.min() < 2:
        rare = ", ".join(CLASS_NAMES[c] for c in classes[counts < 2])
        return Estimate(None, None, 0, len(labels), "it needs two labels or more of every "
                                                    f"class labelled; one of: {rare}")
    folds = int(min(MAX_FOLDS, counts.min()))
    scores = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(
            vectors, labels):
        probe = fit_linear_probe(vectors[train], labels[train], seed=seed)
        scores.append(float(np.mean(probe.predict(vectors[test]) == labels[test])))
    return Estimate(float(np.mean(scores)), float(np.std(scores)), folds, len(labels))


def probe_is_better(estimate: Estimate, model_probs: np.ndarray, labels: np.ndarray) -> bool:
    """Whether the probe's cross-validated accuracy (``estimate``) beats the model's accuracy
    on the same labelled galaxies (``model_probs``, its probabilities of them); False while
    the probe has no estimate (too few labels of some class to test it on)."""
    if estimate.mean is None or not len(labels):
        return False
    hits = np.asarray(model_probs).argmax(axis=1) == np.asarray(labels)
    return bool(estimate.mean > float(np.mean(hits)))
