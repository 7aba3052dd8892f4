"""The original analysis' classical baselines on its 4,096 grey-pixel features.

A constant (majority) model, a random forest, k-nearest neighbours, a decision tree and
logistic regression, with the original's seeds and defaults, scored by the original's 3-fold
stratified cross-validation. They are the floor any network must clear.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def classical_models(random_state: int = 101) -> dict[str, Any]:
    """The original's four baselines (plus the constant one), with its seeds and defaults."""
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    return {
        "Constant (majority)": DummyClassifier(strategy="most_frequent"),
        "RandomForest": RandomForestClassifier(random_state=random_state, n_jobs=-1),
        "KNN": KNeighborsClassifier(),
        "DecisionTree": DecisionTreeClassifier(random_state=random_state),
        "LogisticRegression": LogisticRegression(),  # did not converge in the original either
    }


def classical_baselines(x: np.ndarray, y: np.ndarray, n_splits: int = 3,
                        random_state: int = 101) -> dict[str, dict[str, Any]]:
    """3-fold stratified CV accuracy of each baseline, as in the original.

    Returns ``{name: {"fold_scores": [...], "mean": float, "seconds": float}}``.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    out = {}
    for name, model in classical_models(random_state).items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            scores = cross_val_score(model, x, y, cv=folds, scoring="accuracy")
        out[name] = {"fold_scores": scores.tolist(), "mean": float(scores.mean()),
                     "seconds": time.perf_counter() - start}
    return out
