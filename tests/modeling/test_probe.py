"""The linear probe: logistic regression on a frozen network's embedding."""

from __future__ import annotations

import numpy as np

from galaxy10.modeling.probe import fit_linear_probe, probe_proba


def _clusters(n_per: int, classes, seed: int = 0, scale: float = 100.0):
    """Separable clusters in 16-d, one per class, at a large offset (standardising matters)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(10, 16)) * 3
    y = np.repeat(np.asarray(classes), n_per)
    return scale + rng.normal(size=(len(y), 16)) + centres[y], y


def test_the_probe_separates_clusters_and_is_seeded():
    x, y = _clusters(20, range(10))
    xt, yt = _clusters(10, range(10), seed=1)
    probe = fit_linear_probe(x, y, seed=0)
    proba = probe_proba(probe, xt)
    assert proba.shape == (100, 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (proba.argmax(axis=1) == yt).mean() > 0.95
    np.testing.assert_array_equal(proba, probe_proba(fit_linear_probe(x, y, seed=0), xt))


def test_a_class_missing_from_training_gets_probability_zero():
    x, y = _clusters(10, [0, 1, 2, 5])
    proba = probe_proba(fit_linear_probe(x, y), x)
    assert proba.shape == (40, 10)
    assert (proba[:, [3, 4, 6, 7, 8, 9]] == 0).all()
    assert (proba.argmax(axis=1) == y).mean() > 0.95


def test_class_balance_keeps_a_rare_class():
    x, y = _clusters(5, [0, 1])
    big, yb = _clusters(200, [2], seed=3)
    probe = fit_linear_probe(np.concatenate([x, big]), np.concatenate([y, yb]))
    lr = probe[-1]
    assert lr.class_weight == "balanced"
    xt, yt = _clusters(10, [0, 1], seed=4)
    assert (probe_proba(probe, xt).argmax(axis=1) == yt).mean() > 0.9
