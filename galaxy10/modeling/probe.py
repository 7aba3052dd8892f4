"""A linear probe: logistic regression on a frozen network's embedding.

How much does a pre-trained network already know about real galaxies, before any of its
weights are fine-tuned? A linear classifier on its embedding (the penultimate layer,
averaged over the test-time views, :meth:`galaxy10.modeling.predict.Predictor.predict_and_embed`)
answers it, and costs seconds where fine-tuning costs minutes: the cheapest model a user
with a few labels can train. ``bench real`` scores it beside the CNNs.
"""

from __future__ import annotations

import numpy as np


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
