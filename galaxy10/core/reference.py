"""The original analysis' published numbers (real data), for side-by-side tables.

These are facts about the earlier single-notebook analysis (see the project's seed-procedure
reference), not results of this package: every number this package reports comes from a
run's ``metrics.json``.
"""

from __future__ import annotations

ORIGINAL_CV = {
    "Constant (majority)": 0.10,
    "RandomForest": 0.390,
    "KNN": 0.289,
    "DecisionTree": 0.237,
    "LogisticRegression": 0.222,
}
"""3-fold stratified CV accuracy of the classical baselines on the training set."""

ORIGINAL_FFN_FOLDS = (0.348, 0.383, 0.346, 0.337, 0.390)
ORIGINAL_FFN_MEAN = 0.361
ORIGINAL_CNN_CV_MEAN = 0.406
ORIGINAL_CNN_TEST = 0.407
"""Test accuracy of the original's kept model (last fold of the best search combination)."""
