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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from galaxy10.core.profiles import FinetuneRecipe
from galaxy10.datasets.resample import class_weights, stratified_folds

logger = logging.getLogger(__name__)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's ops deterministic."""
    from galaxy10.core.quiet import load_keras

    keras = load_keras()

    keras.utils.set_random_seed(int(seed))
    try:
        from galaxy10.core.quiet import load_tensorflow

        tf = load_tensorflow()

        tf.config.experimental.enable_op_determinism()
    except (ImportError, AttributeError):  # other Keras backends
        pass


def seed_random_layers(model, seed: int) -> None:
    """Set the random state of ``model``'s random layers (dropout) from ``seed``.

    A Keras layer draws its mask seed (its ``SeedGenerator``'s state) when it is built or
    loaded, from Python's global random state at that moment, and a ``.keras`` file does not
    fix it. A loaded model therefore trains differently from one process to the next, and in
    one process it depends on whatever ran before the load: seeding before training
    (:func:`set_seed`) does not reach it. Every generator gets a state drawn from ``seed``
    instead, in the model's variable order.
    """
    states = [v for v in model.variables if v.name == "seed_generator_state"]
    draws = np.random.default_rng([int(seed), 0x5EED]).integers(1, 10**9, size=len(states))
    for state, draw in zip(states, draws, strict=True):
        state.assign([int(draw), 0])


def as_seed_images(features: np.ndarray) -> np.ndarray:
    """Scaled seed features (n, 4096) as the seed CNN's input (n, 64, 64, 1), float32."""
    return np.asarray(features, dtype=np.float32).reshape(-1, 64, 64, 1)


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
def validation_split(y: np.ndarray, val_fraction: float = 0.1, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, validation) positions of ``y``, stratified when every class can be split.

    At least one validation image per class, so early stopping and calibration see them all.
    """
    from sklearn.model_selection import train_test_split

    y = np.asarray(y)
    n_val = max(int(round(val_fraction * len(y))), len(np.unique(y)))
    counts = np.bincount(y)
    stratify = y if counts[counts > 0].min() >= 2 else None
    tr, va = train_test_split(np.arange(len(y)), test_size=n_val, random_state=seed,
                              stratify=stratify)
    return np.sort(tr), np.sort(va)


def weight_average(first_epoch: int):
    """A Keras callback that ends training with the mean of the weights of the last epochs.

    The floating-point weights (batch-normalisation statistics included) are summed after
    each epoch from ``first_epoch`` (0-based) on and set to their mean when training ends;
    other variables (a dropout layer's seed state) keep their last value. The callback's
    ``count`` says how many epochs were averaged. :func:`fit_galaxy_cnn`'s ``average_last``.
    """
    from galaxy10.core.quiet import load_keras

    keras = load_keras()

    class _WeightAverage(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.first_epoch, self.count = first_epoch, 0
            self.total: list[np.ndarray] | None = None

        def on_epoch_end(self, epoch: int, logs=None) -> None:
            if epoch < self.first_epoch:
                return
            weights = [np.asarray(w, dtype=np.float64) for w in self.model.get_weights()]
            self.total = weights if self.total is None else [
                t + w for t, w in zip(self.total, weights, strict=True)]
            self.count += 1

        def on_train_end(self, logs=None) -> None:
            if self.total is not None:
                self.model.set_weights([
                    (t / self.count).astype(w.dtype) if np.issubdtype(w.dtype, np.floating)
                    else w for t, w in zip(self.total, self.model.get_weights(), strict=True)])

    return _WeightAverage()


def _targets_and_loss(keras, model, y: np.ndarray, label_smoothing: float):
    """:func:`fit_galaxy_cnn`'s targets and loss: sparse labels, or one-hot ones when smoothed
    (Keras smooths only categorical targets)."""
    if label_smoothing > 0:
        targets = np.eye(int(model.output_shape[-1]), dtype=np.float32)[y]
        return targets, keras.losses.CategoricalCrossentropy(label_smoothing=float(label_smoothing))
    return y, "sparse_categorical_crossentropy"


def _training_batches(x: np.ndarray, y: np.ndarray, targets: np.ndarray, tr: np.ndarray,
                      batch_size: int, seed: int, augment: bool, weighted: bool,
                      jitter: dict[str, Any] | None, on_device: bool):
    """:func:`fit_galaxy_cnn`'s augmented training batches of rows ``tr`` (NumPy, or
    ``tf.data`` ``on_device``) and how many there are per epoch."""
    from galaxy10.modeling.augment import DEFAULT_JITTER
    from galaxy10.modeling.batches import AugmentedBatches, RowView

    weights = None
    if weighted:
        cw = class_weights(y[tr])
        weights = np.array([cw[int(label)] for label in y[tr]], dtype=np.float32)
    jitter = DEFAULT_JITTER if jitter is None else jitter
    if on_device:
        from galaxy10.modeling.device_batches import device_dataset

        train_data = device_dataset(RowView(x, tr), targets[tr], batch_size, seed=seed,
                                    augment=augment, sample_weight=weights, **jitter)
        return train_data, -(-len(tr) // batch_size)
    train_data = AugmentedBatches(RowView(x, tr), targets[tr], batch_size, seed=seed,
                                  augment=augment, sample_weight=weights, **jitter)
    return train_data, len(train_data)


def fit_galaxy_cnn(model, x: np.ndarray, y: np.ndarray, *, epochs: int = 15,
                   batch_size: int = 32, val_fraction: float = 0.1, patience: int = 4,
                   seed: int = 0, augment: bool = True, weighted: bool = True,
                   learning_rate: float = 1e-3, jitter: dict[str, Any] | None = None,
                   verbose: int = 0, callbacks: list | None = None,
                   on_device: bool = False, average_last: int = 0,
                   label_smoothing: float = 0.0,
                   train_on_validation: bool = False) -> dict[str, Any]:
    """Train ``model`` (any Keras classifier of uint8 images) on ``x`` (array or memmap).

    The model is built by the caller (notebook 04 shows it before training; fine-tuning passes
    a pre-trained one) and compiled here with Adam and a cosine-decayed learning rate.
    A stratified validation split is carved from ``x`` (training data only), early stopping
    watches its loss and restores the best weights; ``weighted`` applies balanced class
    weights so that using all (imbalanced) data does not favour the big classes.
    The learning rate decays from ``learning_rate`` along a cosine to 5% of it over the
    ``epochs`` budget: with a constant rate the validation loss of a short CPU budget stays
    noisy and early stopping ends training on a lucky epoch, while the decayed last epochs
    settle on a better, steadier model. ``jitter`` holds the extra augmentation settings of
    :class:`~galaxy10.modeling.batches.AugmentedBatches` (None:
    :data:`~galaxy10.modeling.augment.DEFAULT_JITTER`;
    ``{}``: flips and rotations only). ``on_device`` feeds the batches through the ``tf.data``
    pipeline of :mod:`galaxy10.modeling.device_batches` (parallel and prefetched, for a GPU)
    instead of :class:`~galaxy10.modeling.batches.AugmentedBatches`; both augment with
    :func:`~galaxy10.modeling.augment.augment_batch` and give the same images for a seed.

    ``average_last`` > 0 replaces early stopping by stochastic weight averaging (Izmailov
    et al. 2018): every epoch of the budget runs, and the model ends with the mean of its
    weights (batch-normalisation statistics included) after each of the last
    ``average_last`` epochs, where the cosine schedule has brought the learning rate low.
    On a few hundred images the validation split is a few dozen: the epoch it calls best is
    partly luck, while the average of the schedule's tail is steadier and does not look at
    the validation images at all (they are left to calibration).

    ``label_smoothing`` > 0 trains on one-hot targets mixed with the uniform distribution by
    that weight (Szegedy et al. 2016; Keras' ``CategoricalCrossentropy``): the network is not
    pushed to certainty on labels that are themselves uncertain, and the images of one class
    gather more tightly in its penultimate layer (Müller et al. 2019). The validation loss is
    then the smoothed one too.

    ``train_on_validation`` also trains on the validation split (every image of ``x``), for
    a run whose calibration comes from an earlier run without it (:func:`finetune_from_bundle`
    with ``refit_all``). Its ``val_loss`` is then measured on images it trained on, so it
    needs ``average_last`` > 0 (no early stopping on them).

    Returns
    -------
    history : dict
        Per-epoch ``loss``, ``val_loss``, ... and ``seconds``, ``best_epoch`` (with
        ``average_last``, the last epoch, and ``averaged_epochs``), ``label_smoothing``,
        ``val_rows``
        (positions in ``x`` of the validation images, for calibration), and
        ``trained_on_validation``.

    Raises
    ------
    ValueError
        If ``train_on_validation`` without ``average_last``.
    """
    from galaxy10.core.quiet import load_keras

    keras = load_keras()

    if train_on_validation and average_last <= 0:
        raise ValueError("train_on_validation needs average_last > 0: early stopping would "
                         "watch images the model trains on")
    set_seed(seed)
    y = np.asarray(y)
    tr, va = validation_split(y, val_fraction, seed)
    if train_on_validation:
        tr = np.arange(len(y))
    targets, loss = _targets_and_loss(keras, model, y, label_smoothing)
    train_data, n_batches = _training_batches(x, y, targets, tr, batch_size, seed, augment,
                                              weighted, jitter, on_device)
    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, epochs * n_batches), alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, metrics=["accuracy"])
    x_val = np.asarray(x[va])
    if average_last > 0:
        stop = weight_average(first_epoch=max(0, epochs - int(average_last)))
    else:
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                             restore_best_weights=True)
    start = time.perf_counter()
    hist = model.fit(train_data, validation_data=(x_val, targets[va]), epochs=epochs,
                     callbacks=[stop, *(callbacks or [])], verbose=verbose,
                     **({"shuffle": False} if on_device else {}))  # the dataset shuffles
    history: dict[str, Any] = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history["seconds"] = time.perf_counter() - start
    if average_last > 0:
        history["best_epoch"] = len(history.get("loss", []))
        history["averaged_epochs"] = stop.count
    else:
        history["best_epoch"] = (int(np.argmin(history["val_loss"])) + 1
                                 if history.get("val_loss") else 0)  # 0: no epoch was run
    history["val_rows"] = va.tolist()
    history["label_smoothing"] = float(label_smoothing)
    history["trained_on_validation"] = bool(train_on_validation)
    return history


def train_galaxy_cnn(x: np.ndarray, y: np.ndarray, *, build_kwargs: dict[str, Any] | None = None,
                     seed: int = 0, **fit_kwargs: Any):
    """Build :func:`~galaxy10.modeling.models.build_galaxy_cnn` for ``x``'s shape and fit it.

    ``fit_kwargs`` go to :func:`fit_galaxy_cnn` (epochs, patience, augment, jitter...).

    Returns
    -------
    model, history : keras.Model, dict
    """
    from galaxy10.modeling.models import build_galaxy_cnn

    set_seed(seed)
    model = build_galaxy_cnn(input_shape=tuple(x.shape[1:]), seed=seed, **(build_kwargs or {}))
    return model, fit_galaxy_cnn(model, x, y, seed=seed, **fit_kwargs)


# -- training on a Galaxy10 file (the train command and the benchmarks) --------------------
def galaxy_config(profile):
    """The modern CNN's preprocessing under ``profile``: its crop and size, in colour."""
    from galaxy10.modeling.preprocess import ImageConfig

    return ImageConfig(size=profile.galaxy_size, color="rgb", crop=profile.galaxy_crop)


def train_seed_cnn(galaxies, train_rows: np.ndarray, profile, seed: int = 0):
    """Seed-faithful features + MinMax + the original CNN (default filters), trained once.

    Returns
    -------
    model, scaler, seconds
    """
    from galaxy10.modeling.models import build_seed_cnn
    from galaxy10.modeling.preprocess import fit_minmax, seed_features_from_file

    raw = seed_features_from_file(galaxies, train_rows)
    scaler = fit_minmax(raw)
    x = as_seed_images(scaler.transform(raw.astype(np.float64)))
    y = galaxies.labels[train_rows].astype(np.int64)
    set_seed(seed)
    model = build_seed_cnn(seed=seed)
    start = time.perf_counter()
    model.fit(x, y, epochs=profile.search_epochs, batch_size=profile.batch_size, verbose=0)
    return model, scaler, time.perf_counter() - start


def train_galaxy(galaxies, train_rows: np.ndarray, profile, seed: int = 0,
                 cache_dir=None, *, augment: bool = True, jitter: dict[str, Any] | None = None,
                 progress: bool = False, model=None):
    """The modern CNN on the cached, preprocessed ``train_rows`` of ``galaxies``.

    ``model`` is a Keras classifier of the profile's input built by the caller (notebook 04
    builds and shows it in a cell the user may edit); None builds
    :func:`~galaxy10.modeling.models.build_galaxy_cnn` with the profile's filters.
    The epoch budget follows the number of images (:meth:`Profile.galaxy_budget`);
    ``progress`` prints a line per epoch (:func:`epoch_progress`). A profile with
    ``augment_on_device`` trains through the ``tf.data`` pipeline, and one with
    ``mixed_precision`` builds the model in ``mixed_float16`` when a GPU is present
    (:func:`galaxy10.modeling.device.use_mixed_precision`); the global policy is reset to
    float32 afterwards.

    Returns
    -------
    model, config, history
    """
    from galaxy10.modeling.cache import cached_images

    rows = np.sort(train_rows)
    config = galaxy_config(profile)
    x = cached_images(galaxies, config, rows, cache_dir=cache_dir, progress=progress)
    y = galaxies.labels[rows].astype(np.int64)
    epochs, patience = profile.galaxy_budget(len(y))
    from galaxy10.modeling.device import use_mixed_precision

    on_device = profile.augment_on_device
    fit_kwargs = {"epochs": epochs, "patience": patience, "seed": seed,
                  "batch_size": profile.batch_size, "augment": augment, "jitter": jitter,
                  "on_device": on_device,
                  "callbacks": [epoch_progress(epochs)] if progress else None}
    try:
        if model is None:
            use_mixed_precision(profile.mixed_precision)
            model, history = train_galaxy_cnn(
                x, y, build_kwargs={"filters": profile.galaxy_filters}, **fit_kwargs)
        else:
            history = fit_galaxy_cnn(model, x, y, **fit_kwargs)
    finally:
        if profile.mixed_precision:
            use_mixed_precision(False)
    history["input_pipeline"] = "tf.data (device)" if on_device else "numpy"
    return model, config, history


# -- pre-training and fine-tuning ----------------------------------------------------------
def finetune_galaxy_cnn(model, x: np.ndarray, y: np.ndarray,
                        recipe: FinetuneRecipe | None = None, *, seed: int = 0,
                        jitter: dict[str, Any] | None = None, train_on_validation: bool = False,
                        progress: bool = False, **settings: Any) -> dict[str, Any]:
    """Fine-tune a pre-trained modern CNN on (few) labelled images ``x`` by ``recipe``.

    The one function that applies a :class:`~galaxy10.core.profiles.FinetuneRecipe` (a
    profile's, :meth:`~galaxy10.core.profiles.Profile.finetune_recipe`). Two phases, as usual
    for transfer learning: first only the classifier head trains (``head_epochs`` at
    ``head_learning_rate``, every other layer frozen, batch normalisation in inference mode),
    so that large early gradients from a head that does not fit the new images yet cannot
    wreck the pre-trained features; then every layer trains at ``learning_rate`` with a cosine
    decay over ``epochs``. The profiles' budgets are long for fine-tuning because this network
    is small: on a few hundred real images it under-fits rather than forgets
    (docs/real-galaxies.md has the figures). ``jitter`` is the augmentation of both phases
    (None: flips and rotations only, ``{}`` the same; pass
    :data:`~galaxy10.modeling.augment.SURVEY_JITTER` for other sources' and other exports' looks).
    ``average_last`` > 0 ends the second phase with the mean weights of its last epochs
    instead of the best epoch on the validation split, and ``label_smoothing`` softens the
    targets of both phases (:func:`fit_galaxy_cnn`). ``train_on_validation`` trains both
    phases on the validation split too (it needs ``average_last``); the head phase then
    ends on its last epoch instead of its best on the validation split.
    ``refresh_batch_norm`` ends with :func:`refresh_batch_norm`.

    Parameters
    ----------
    recipe : FinetuneRecipe, optional
        The numbers; None builds one from ``settings`` alone.
    **settings
        Fields of the recipe to replace (``epochs=2, head_epochs=1``, ...); without
        ``recipe``, ``epochs``, ``head_epochs``, ``patience`` and ``batch_size`` are needed.

    Returns
    -------
    history : dict
        As :func:`fit_galaxy_cnn`'s, for the second phase, plus ``head`` (the first
        phase's history) and ``seconds`` for both.
    """
    r = replace(recipe, **settings) if recipe is not None else FinetuneRecipe(**settings)
    jitter = {} if jitter is None else jitter
    seed_random_layers(model, seed)  # its dropout masks: from the seed, not from its loading
    head_history: dict[str, Any] = {}
    if r.head_epochs > 0:
        head = model.layers[-1]
        for layer in model.layers:
            layer.trainable = layer is head
        head_history = fit_galaxy_cnn(model, x, y, epochs=r.head_epochs, patience=r.head_epochs,
                                      batch_size=r.batch_size, seed=seed,
                                      learning_rate=r.head_learning_rate, jitter=jitter,
                                      label_smoothing=r.label_smoothing,
                                      train_on_validation=train_on_validation,
                                      average_last=1 if train_on_validation else 0,
                                      callbacks=[epoch_progress(r.head_epochs, "head only: ")]
                                      if progress else None)
        for layer in model.layers:
            layer.trainable = True
    history = fit_galaxy_cnn(model, x, y, epochs=r.epochs, patience=r.patience,
                             batch_size=r.batch_size, seed=seed + 1,
                             learning_rate=r.learning_rate, jitter=jitter,
                             average_last=r.average_last, label_smoothing=r.label_smoothing,
                             train_on_validation=train_on_validation,
                             callbacks=[epoch_progress(r.epochs, "all layers: ")] if progress
                             else None)
    history["head"] = {k: v for k, v in head_history.items() if k != "val_rows"}
    history["seconds"] += head_history.get("seconds", 0.0)
    if r.refresh_batch_norm:
        history["batch_norm_refreshed"] = refresh_batch_norm(model, x, history["val_rows"],
                                                             train_on_validation)
    return history


def refresh_batch_norm(model, x: np.ndarray, val_rows: list[int],
                       train_on_validation: bool = False) -> int:
    """Recompute the batch-normalisation statistics of a trained ``model`` on the images it
    trained on, as they are, in place; the number of layers refreshed.

    Training leaves each layer's statistics as a running (or, with weight averaging, an
    averaged) estimate over augmented batches, measured while the weights still moved; the
    SWA paper (Izmailov et al. 2018) recomputes them for the final weights ("bn_update").
    Here they are the exact statistics of the training images and their 8 flips and quarter
    turns (:func:`galaxy10.modeling.adapt.adapt_batch_norm`), without the other
    augmentations, which is what the network meets at inference. The validation rows
    ``val_rows`` are left out, unless the model ``train_on_validation``.
    """
    from galaxy10.modeling.adapt import adapt_batch_norm

    rows = np.arange(len(x))
    if not train_on_validation:
        rows = np.setdiff1d(rows, np.asarray(val_rows, dtype=np.int64))
    return adapt_batch_norm(model, np.asarray(x[rows]))


def finetune_from_bundle(init: str | os.PathLike[str], galaxies, train_rows: np.ndarray,
                         profile, seed: int = 0, cache_dir=None, *,
                         jitter: dict[str, Any] | None = None,
                         train_on_validation: bool = False, progress: bool = False):
    """Load the pre-trained bundle ``init`` and fine-tune it on ``train_rows`` of ``galaxies``.

    The images are preprocessed as the bundle's were (its ``image`` parameters), so a
    fine-tuned model keeps its pre-training's input. Recipe: the profile's
    (:meth:`~galaxy10.core.profiles.Profile.finetune_recipe`);
    ``train_on_validation`` as :func:`finetune_galaxy_cnn`'s.

    Returns
    -------
    model, config, history, bundle : the model, its ImageConfig, the history, and the
        pre-trained bundle's parameters (:class:`~galaxy10.modeling.bundle.BundleParams`,
        for its lineage)
    """
    from galaxy10.core.errors import ModelError
    from galaxy10.modeling.cache import cached_images
    from galaxy10.modeling.predict import Predictor

    pre = Predictor(init)
    if pre.kind != "galaxy":
        raise ModelError(pre.model_path, "only a modern-CNN bundle (kind 'galaxy') can be "
                                         "fine-tuned; make one with `python -m galaxy10 pretrain`")
    rows = np.sort(train_rows)
    x = cached_images(galaxies, pre.config, rows, cache_dir=cache_dir)
    y = galaxies.labels[rows].astype(np.int64)
    history = finetune_galaxy_cnn(pre.model, x, y, profile.finetune_recipe(), seed=seed,
                                  jitter=jitter, train_on_validation=train_on_validation,
                                  progress=progress)
    return pre.model, pre.config, history, pre.bundle


# -- progress ----------------------------------------------------------------------------------
def epoch_progress(epochs: int, label: str = "", stream=None):
    """A Keras callback that prints one line per epoch: losses, validation score, time left.

    Training on 2 CPU cores takes minutes; a command that prints nothing for that long looks
    hung. The line goes to ``stream`` (default stderr, so that a command's answer on stdout
    stays clean).
    """
    import sys

    from galaxy10.core.quiet import load_keras


    keras = load_keras()

    class _EpochLine(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            done = epoch + 1
            elapsed = time.perf_counter() - self.start
            left = elapsed / done * (epochs - done)
            scores = "  ".join(f"{k} {logs[k]:.3f}" for k in ("loss", "val_loss", "val_accuracy")
                               if k in logs)
            print(f"{label}epoch {done}/{epochs}  {scores}  {elapsed:.0f} s, "
                  f"at most {left:.0f} s left", file=stream or sys.stderr, flush=True)

    return _EpochLine()
