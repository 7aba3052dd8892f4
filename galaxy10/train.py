"""Training: the original's cross-validation and random search, and the modern CNN's loop.

Every function takes a seed; :func:`set_seed` seeds Python, NumPy and TensorFlow and turns on
TensorFlow's deterministic ops, so the same parameters give the same numbers on the same
machine.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after the log-level setting)
import numpy as np  # noqa: E402

from galaxy10.classes import N_CLASSES  # noqa: E402
from galaxy10.resample import class_weights, stratified_folds  # noqa: E402

logger = logging.getLogger(__name__)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    keras.utils.set_random_seed(int(seed))
    try:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    except (ImportError, AttributeError):  # other Keras backends
        pass


def as_seed_images(features: np.ndarray) -> np.ndarray:
    """Scaled seed features (n, 4096) as the seed CNN's input (n, 64, 64, 1), float32."""
    return np.asarray(features, dtype=np.float32).reshape(-1, 64, 64, 1)


# -- classical baselines -------------------------------------------------------------------
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


# -- Keras cross-validation ----------------------------------------------------------------
@dataclass
class CVResult:
    """Fold scores of one Keras configuration."""

    params: dict[str, Any]
    fold_scores: list[float] = field(default_factory=list)
    histories: list[dict[str, list[float]]] = field(default_factory=list)
    seconds: float = 0.0
    last_model: Any = None

    @property
    def mean(self) -> float:
        """Mean validation accuracy over the folds."""
        return float(np.mean(self.fold_scores))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (without the model)."""
        return {"params": self.params, "fold_scores": self.fold_scores, "mean": self.mean,
                "histories": self.histories, "seconds": self.seconds}


def cross_validate_keras(build: Callable[..., Any], x: np.ndarray, y: np.ndarray, *,
                         n_splits: int = 5, epochs: int = 20, batch_size: int = 32,
                         seed: int = 0, random_state: int = 101,
                         params: dict[str, Any] | None = None, verbose: int = 0) -> CVResult:
    """Stratified k-fold CV of ``build(**params)``: a fresh model per fold, validation accuracy.

    Fold ``k`` is seeded with ``seed + k``, so folds differ but the run is reproducible.
    The last fold's model is kept, because the original kept it as its "best model".
    """
    params = dict(params or {})
    result = CVResult(params=params)
    start = time.perf_counter()
    for k, (tr, va) in enumerate(stratified_folds(y, n_splits, random_state)):
        set_seed(seed + k)
        model = build(**params)
        hist = model.fit(x[tr], y[tr], epochs=epochs, batch_size=batch_size,
                         validation_data=(x[va], y[va]), verbose=verbose, shuffle=True)
        _, acc = model.evaluate(x[va], y[va], batch_size=256, verbose=0)
        result.fold_scores.append(float(acc))
        result.histories.append({k2: [float(v) for v in vals] for k2, vals in hist.history.items()})
        result.last_model = model
        logger.info("fold %d/%d %s: %.3f", k + 1, n_splits, params, acc)
    result.seconds = time.perf_counter() - start
    return result


SEED_SEARCH_SPACE = {"filter01": [16, 32, 48, 64], "filter02": [16, 32, 48, 64],
                     "activation01": ["relu", "tanh"]}
"""The original's random-search space over the seed CNN."""


def seed_search_params(n_iter: int = 6, random_state: int = 101) -> list[dict[str, Any]]:
    """The combinations a seeded ``ParameterSampler`` draws (the original had no seed)."""
    from sklearn.model_selection import ParameterSampler

    return list(ParameterSampler(SEED_SEARCH_SPACE, n_iter=n_iter, random_state=random_state))


# -- the modern CNN ------------------------------------------------------------------------
def dihedral(images: np.ndarray, view: int) -> np.ndarray:
    """One of the 8 flip/90-degree-rotation views of a batch (n, H, W, C); view 0 is identity.

    Galaxies have no up or down, so all eight views show the same object.
    """
    out = np.rot90(images, k=view % 4, axes=(1, 2))
    return out[:, :, ::-1] if view >= 4 else out


DEFAULT_JITTER: dict[str, Any] = {"zoom": (0.75, 1.33), "brightness": (0.6, 1.6), "colour": 0.1}
"""Zoom and brightness/colour jitter of the modern CNN's training batches.

Chosen in a one-off controlled comparison (full-size synthetic set, same split, 15 epochs, only
the jitter changed; run on a GPU with Keras' JAX backend, recorded in the session note of
2026-11-25, not in metrics.json): it cost about 0.02 of synthetic balanced accuracy and raised
the synthetic-trained model's accuracy on the 1,000 real images from 0.25 to 0.33. The
ablation in notebook 04 and ``bench accuracy`` measure its effect with this package's own runs.
"""


def jitter_zoom(images: np.ndarray, rng: np.random.Generator,
                zoom: tuple[float, float]) -> np.ndarray:
    """Rescale each image about its centre by a factor drawn log-uniformly from ``zoom``.

    Galaxies of one class come at many distances, so apparent size is not a class property;
    zooming teaches the model that (and narrows the gap between synthetic and real sizes).
    Borders are filled by reflection, which continues the sky rather than adding black edges.
    """
    import cv2

    out = np.empty_like(images)
    height, width = images.shape[1:3]
    factors = np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]), size=len(images)))
    for k, factor in enumerate(factors):
        matrix = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), 0.0, float(factor))
        warped = cv2.warpAffine(images[k], matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
        out[k] = warped.reshape(images.shape[1:])
    return out


def jitter_photometry(images: np.ndarray, rng: np.random.Generator,
                      brightness: tuple[float, float], colour: float) -> np.ndarray:
    """Scale each image by a random brightness and each colour channel by a random gain.

    Surveys differ in depth and colour calibration, and simulated galaxies never match real
    ones exactly in flux or colour; these jitters make brightness and tint weak cues.
    Returns float32 pixels in [0, 255] (the model's ``Rescaling`` accepts them).
    """
    n, channels = len(images), images.shape[-1]
    gain = np.exp(rng.uniform(np.log(brightness[0]), np.log(brightness[1]), size=(n, 1, 1, 1)))
    if colour and channels > 1:
        gain = gain * rng.uniform(1 - colour, 1 + colour, size=(n, 1, 1, channels))
    return np.clip(images.astype(np.float32) * gain.astype(np.float32), 0, 255)


class AugmentedBatches(keras.utils.PyDataset):
    """Batches of uint8 images (an array or a read-only memmap) with random dihedral views.

    Reads only one batch at a time from ``x``, so a memory-mapped cache never becomes a float
    copy in memory. The shuffle order and the views are drawn from ``seed`` and the epoch.
    Optional ``zoom`` (factor range) and ``brightness``/``colour`` jitters are drawn the same
    way (see :func:`jitter_zoom` and :func:`jitter_photometry`).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int = 32, *, seed: int = 0,
                 augment: bool = True, shuffle: bool = True,
                 sample_weight: np.ndarray | None = None,
                 zoom: tuple[float, float] | None = None,
                 brightness: tuple[float, float] | None = None, colour: float = 0.0) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.y = x, np.asarray(y)
        self.batch_size, self.seed = batch_size, seed
        self.augment, self.shuffle = augment, shuffle
        self.zoom, self.brightness, self.colour = zoom, brightness, colour
        self.sample_weight = sample_weight
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        if not self.shuffle:
            return np.arange(len(self.y))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.y))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, i: int):
        rows = np.sort(self._order[i * self.batch_size:(i + 1) * self.batch_size])
        images = np.asarray(self.x[rows])
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, i])
            views = rng.integers(0, 8, size=len(rows))
            for view in np.unique(views):  # one vectorised flip/rotation per view drawn
                pick = views == view
                images[pick] = dihedral(images[pick], int(view))
            if self.zoom is not None:
                images = jitter_zoom(images, rng, self.zoom)
            if self.brightness is not None:
                images = jitter_photometry(images, rng, self.brightness, self.colour)
        if self.sample_weight is None:
            return images, self.y[rows]
        return images, self.y[rows], self.sample_weight[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._make_order()


def predict_tta(model, x: np.ndarray, batch_size: int = 128, views: int = 8) -> np.ndarray:
    """Class probabilities averaged over the first ``views`` dihedral views of each image."""
    probs = np.zeros((len(x), N_CLASSES), dtype=np.float64)
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start:start + batch_size])
        for view in range(views):
            probs[start:start + len(batch)] += model.predict_on_batch(dihedral(batch, view))
    return (probs / views).astype(np.float32)


def train_galaxy_cnn(x: np.ndarray, y: np.ndarray, *, epochs: int = 30, batch_size: int = 32,
                     val_fraction: float = 0.1, patience: int = 6, seed: int = 0,
                     augment: bool = True, weighted: bool = True, learning_rate: float = 1e-3,
                     jitter: dict[str, Any] | None = None,
                     build_kwargs: dict[str, Any] | None = None, verbose: int = 0):
    """Train :func:`~galaxy10.models.build_galaxy_cnn` on uint8 images ``x`` (array or memmap).

    A stratified validation split is carved from ``x`` (training data only), early stopping
    watches its loss and restores the best weights; ``weighted`` applies balanced class
    weights so that using all (imbalanced) data does not favour the big classes.
    The learning rate decays from ``learning_rate`` along a cosine to 5% of it over the
    ``epochs`` budget: with a constant rate the validation loss of a short CPU budget stays
    noisy and early stopping ends training on a lucky epoch, while the decayed last epochs
    settle on a better, steadier model. ``jitter`` holds the zoom and photometric settings of
    :class:`AugmentedBatches` (None: :data:`DEFAULT_JITTER`; ``{}``: flips and rotations only).

    Returns
    -------
    model, history : keras.Model, dict
    """
    from sklearn.model_selection import train_test_split

    from galaxy10.models import build_galaxy_cnn

    set_seed(seed)
    y = np.asarray(y)
    rows = np.arange(len(y))
    # at least one validation image per class; stratify when every class can be split
    n_val = max(int(round(val_fraction * len(y))), len(np.unique(y)))
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    tr, va = train_test_split(rows, test_size=n_val, random_state=seed, stratify=stratify)
    tr, va = np.sort(tr), np.sort(va)
    weights = None
    if weighted:
        cw = class_weights(y[tr])
        weights = np.array([cw[int(label)] for label in y], dtype=np.float32)
    train_data = AugmentedBatches(_Rows(x, tr), y[tr], batch_size, seed=seed, augment=augment,
                                  sample_weight=None if weights is None else weights[tr],
                                  **(DEFAULT_JITTER if jitter is None else jitter))
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, epochs * len(train_data)), alpha=0.05)
    model = build_galaxy_cnn(input_shape=tuple(x.shape[1:]), seed=seed, learning_rate=schedule,
                             **(build_kwargs or {}))
    x_val = np.asarray(x[va])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                         restore_best_weights=True)
    start = time.perf_counter()
    hist = model.fit(train_data, validation_data=(x_val, y[va]), epochs=epochs,
                     callbacks=[stop], verbose=verbose)
    history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history["seconds"] = time.perf_counter() - start
    history["best_epoch"] = int(np.argmin(history["val_loss"])) + 1
    history["val_rows"] = va.tolist()  # positions in x: calibration fits on these (calibrate.py)
    return model, history


class _Rows:
    """A lazy view of rows ``rows`` of ``x`` (avoids copying a memmap's training rows)."""

    def __init__(self, x: np.ndarray, rows: np.ndarray) -> None:
        self.x, self.rows = x, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.x[self.rows[i]]
