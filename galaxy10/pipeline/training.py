"""The one training workflow: train or fine-tune the modern CNN, save its bundle, calibrate it,
score it.

Every door that makes a modern-CNN bundle calls :func:`train_bundle`: the ``train`` and
``pretrain`` commands, ``bench accuracy``, ``bench real``, notebook 04 and its fine-tuning
step. So the same data, profile, seed and rows give the same weights and the same bundle JSON
whichever door a user takes, and every bundle records its lineage. The splits it trains on
come from :func:`leak_free_splits`, the same as notebook 01 saves.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.datasets.resample import Splits, drop_leaks, make_splits

logger = logging.getLogger(__name__)

STAGES = ("train", "pre-train", "fine-tune")
"""The lineage stages a bundle's training step can have."""


@dataclass
class TrainedBundle:
    """What :func:`train_bundle` made: the saved bundle, loaded, and how training went."""

    path: Path
    predictor: Any  #: :class:`~galaxy10.modeling.predict.Predictor` of the saved bundle
    history: dict[str, Any]
    calibration: dict[str, Any]
    test: dict[str, Any] | None  #: test-set scores (None unless asked for)


def leak_free_splits(galaxies, progress: bool = False) -> tuple[Splits, np.ndarray]:
    """The seed-faithful splits of ``galaxies``, with duplicates of test images out of training.

    The seed-faithful rows stay exactly as the original drew them. The all-data training
    rows of the modern pipeline leave out every image that has an exact or near duplicate in
    the test set (:func:`galaxy10.datasets.audit.duplicate_groups`), so no test image is seen
    in training.

    Parameters
    ----------
    galaxies : Galaxy10File
    progress : bool, default False
        Show a progress bar over the duplicate scan (one pass over the images).

    Returns
    -------
    splits : Splits
    groups : ndarray of int, shape (n,)
        Duplicate group per row (rows sharing an id are duplicates).
    """
    from galaxy10.datasets.audit import duplicate_groups

    splits = make_splits(galaxies.labels)
    groups = duplicate_groups(galaxies.path, progress=progress)
    return Splits(seed_train=splits.seed_train, test=splits.test,
                  all_train=drop_leaks(splits.all_train, splits.test, groups)), groups


def calibrate_bundle(bundle_path: str | os.PathLike[str], x_val: np.ndarray, y_val: np.ndarray,
                     *, preprocessed: bool = False, batch_size: int = 256) -> dict[str, Any]:
    """Fit the bundle's temperature, top-label map and threshold on validation images.

    The record (:func:`galaxy10.modeling.calibrate.fit_calibration`) is stored in the bundle's
    JSON by :func:`galaxy10.modeling.bundle.write_calibration`.

    Parameters
    ----------
    bundle_path : path-like
        The ``.keras`` file of a saved bundle.
    x_val : ndarray of uint8
        Validation images the model did not train on: 256 px cut-outs, or model inputs
        with ``preprocessed=True`` (e.g. rows of the training cache).
    y_val : ndarray of int, shape (n,)

    Returns
    -------
    dict
        The ``calibration`` record written.
    """
    from galaxy10.modeling.bundle import write_calibration
    from galaxy10.modeling.predict import Predictor

    record = _calibration_of(Predictor(bundle_path), x_val, y_val, preprocessed=preprocessed,
                             batch_size=batch_size)
    write_calibration(bundle_path, record)
    logger.info("calibrated %s: T=%.3f, ECE %.3f -> %.3f, threshold %.3f (coverage %.2f)",
                bundle_path, record["temperature"], record["ece_before"], record["ece_after"],
                record["threshold"], record["coverage"])
    return record


def calibrate_from_training(bundle_path: str | os.PathLike[str], galaxies, train_rows: np.ndarray,
                            config, history: dict[str, Any],
                            cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """:func:`calibrate_bundle` on the validation split that training carved out.

    ``history["val_rows"]`` (from :func:`galaxy10.modeling.train.fit_galaxy_cnn`) indexes
    ``train_rows``, which must be the file rows in the order training got them; their
    preprocessed images come from the same cache training used, so nothing is read twice.
    """
    x_val, y_val = _validation_images(galaxies, train_rows, config, history, cache_dir)
    return calibrate_bundle(bundle_path, x_val, y_val, preprocessed=True)


def _validation_images(galaxies, train_rows: np.ndarray, config, history: dict[str, Any],
                       cache_dir: str | os.PathLike[str] | None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The preprocessed images and labels of the validation split a training run carved out
    (``history["val_rows"]``, positions in ``train_rows``), from training's own cache."""
    from galaxy10.modeling.cache import cached_images

    rows = np.asarray(train_rows, dtype=np.int64)
    x = cached_images(galaxies, config, rows, cache_dir=cache_dir)
    val = np.asarray(history["val_rows"], dtype=np.int64)
    return np.asarray(x[val]), galaxies.labels[rows[val]]


def _calibration_of(predictor, x_val: np.ndarray, y_val: np.ndarray, *,
                    preprocessed: bool = False, batch_size: int = 256) -> dict[str, Any]:
    """:func:`~galaxy10.modeling.calibrate.fit_calibration` of ``predictor``'s uncalibrated
    probabilities (its own views) on validation images."""
    from galaxy10.modeling.calibrate import fit_calibration

    raw = predictor.predict_proba(x_val, batch_size=batch_size, calibrated=False,
                                  preprocessed=preprocessed)
    return fit_calibration(raw, y_val)


def _held_out_calibration(model, config, galaxies, train_rows: np.ndarray,
                          history: dict[str, Any],
                          cache_dir: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The calibration record of a just fine-tuned ``model`` (8 views, as its bundle will
    predict), fitted on its validation split, for the refit on every image to keep."""
    from galaxy10.modeling.predict import Predictor

    x_val, y_val = _validation_images(galaxies, train_rows, config, history, cache_dir)
    record = _calibration_of(Predictor.in_memory(model, kind="galaxy", config=config, tta=True),
                             x_val, y_val, preprocessed=True)
    record["fitted_on"] += ("; by the run without them, from the same start and seed: this "
                            "model then trained on every image, these included")
    return record


def _finetune(init: str | os.PathLike[str], galaxies, rows: np.ndarray, profile, seed: int,
              cache_dir: str | os.PathLike[str] | None, jitter: dict[str, Any], progress: bool):
    """Fine-tune ``init`` by the profile's recipe (:meth:`~galaxy10.core.profiles.Profile.
    finetune_recipe`); with its ``refit_all``, run it again on every image and return the
    first run's calibration as ``held_out`` (else None).

    Returns
    -------
    model, config, history, pre, held_out : as :func:`~galaxy10.modeling.train.
        finetune_from_bundle`'s, then the calibration the bundle must keep (or None)
    """
    from galaxy10.modeling.train import finetune_from_bundle

    model, config, history, pre = finetune_from_bundle(
        init, galaxies, rows, profile, seed=seed, cache_dir=cache_dir, jitter=jitter,
        progress=progress)
    if not profile.finetune_recipe().refit_all:
        return model, config, history, pre, None
    # again, on every image: the first run calibrates
    held_out = _held_out_calibration(model, config, galaxies, rows, history, cache_dir)
    if progress:
        print("fine-tuning again from the same start, on the validation split too "
              "(finetune_refit_all)", file=sys.stderr, flush=True)
    first = history
    model, config, history, pre = finetune_from_bundle(
        init, galaxies, rows, profile, seed=seed, cache_dir=cache_dir, jitter=jitter,
        train_on_validation=True, progress=progress)
    history["held_out_run"] = {k: first[k] for k in ("loss", "val_loss", "seconds")
                               if k in first}
    history["seconds"] += first["seconds"]
    return model, config, history, pre, held_out


def train_bundle(galaxies, train_rows: np.ndarray, out: str | os.PathLike[str], profile, *,
                 seed: int = 0, init: str | os.PathLike[str] | None = None, model=None,
                 stage: str | None = None, jitter: dict[str, Any] | None = None,
                 test_rows: np.ndarray | None = None, score: bool = False,
                 progress: bool = False, cache_dir: str | os.PathLike[str] | None = None
                 ) -> TrainedBundle:
    """Train (or fine-tune) the modern CNN, save it as a bundle, calibrate it and score it.

    Parameters
    ----------
    galaxies : Galaxy10File
        The open data file.
    train_rows : ndarray of int
        File rows to train on (sorted here); a validation split for early stopping and
        calibration is carved from them. With ``init`` and the profile's
        ``finetune_refit_all``, fine-tuning then runs again from the same start and seed on
        all of them, and the bundle keeps the first run's calibration (twice the time).
    out : path-like
        The bundle's ``.keras`` file; its JSON goes beside it (:mod:`galaxy10.modeling.bundle`).
    profile : Profile
        The budget: :meth:`~galaxy10.core.profiles.Profile.galaxy_budget` for training, the
        ``finetune_*`` settings for fine-tuning.
    seed : int
    init : path-like, optional
        A pre-trained modern-CNN bundle to fine-tune (its preprocessing is kept and its
        lineage continued); None trains from scratch.
    model : keras.Model, optional
        A model built by the caller for the profile's input (notebook 04's editable cell);
        None builds the profile's network. Not with ``init``.
    stage : {"train", "pre-train", "fine-tune"}, optional
        The lineage step's name; default ``"fine-tune"`` with ``init``, else ``"train"``.
    jitter : dict, optional
        Augmentation beyond flips and rotations (:data:`galaxy10.modeling.augment.JITTERS`);
        default :data:`~galaxy10.modeling.augment.FINETUNE_JITTER`'s set for fine-tuning, the
        default set otherwise. Recorded in the
        lineage.
    test_rows : ndarray of int, optional
        The held-out rows, recorded in the bundle; scored only with ``score``.
    score : bool
        Score the saved bundle on ``test_rows`` (notebook 04 leaves the test set to 05).
    progress : bool
        A line per epoch and a bar for the cache, on stderr.

    Returns
    -------
    TrainedBundle
    """
    from galaxy10.modeling.augment import DEFAULT_JITTER, FINETUNE_JITTER, JITTERS
    from galaxy10.modeling.bundle import data_facts, lineage_step, save_bundle
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.train import train_galaxy

    if init is not None and model is not None:
        raise ValueError("give a pre-trained bundle (init) or a built model, not both")
    stage = stage or ("fine-tune" if init is not None else "train")
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if jitter is None:
        jitter = JITTERS[FINETUNE_JITTER] if init is not None else DEFAULT_JITTER
    rows = np.sort(np.asarray(train_rows, dtype=np.int64))
    step = lineage_step(galaxies, stage, jitter=jitter, profile=profile.name)
    held_out = None
    if init is not None:
        model, config, history, pre, held_out = _finetune(init, galaxies, rows, profile, seed,
                                                          cache_dir, jitter, progress)
        lineage = [*pre.lineage, step]
    else:
        model, config, history = train_galaxy(galaxies, rows, profile, seed=seed,
                                              cache_dir=cache_dir, jitter=jitter,
                                              progress=progress, model=model)
        lineage = [step]
    extra: dict[str, Any] = {"data": data_facts(galaxies), "lineage": lineage,
                             "profile": profile.name, "seed": int(seed), "history": history,
                             "epochs_run": len(history.get("loss", [])),
                             "best_epoch": history.get("best_epoch", 0)}
    if test_rows is not None:
        extra["test_rows"] = np.asarray(test_rows, dtype=np.int64).tolist()
    path = save_bundle(model, out, kind="galaxy", config=config, tta=True, **extra)
    if held_out is not None:
        from galaxy10.modeling.bundle import write_calibration

        write_calibration(path, held_out)
        calibration = held_out
    else:
        calibration = calibrate_from_training(path, galaxies, rows, config, history, cache_dir)
    predictor = Predictor(path)
    test = None
    if score:
        if test_rows is None:
            raise ValueError("score=True needs test_rows")
        from galaxy10.evaluation.evaluate import evaluate_predictions

        test_rows = np.asarray(test_rows, dtype=np.int64)
        test = evaluate_predictions(galaxies.labels[test_rows],
                                    predictor.predict_proba(galaxies.read(test_rows)),
                                    profile.bootstrap, seed)
    return TrainedBundle(path=Path(path), predictor=predictor, history=history,
                         calibration=calibration, test=test)


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of an :func:`~galaxy10.evaluation.evaluate.evaluate_predictions` result
    that a bundle keeps: balanced accuracy with its 95% interval, accuracy, macro-F1, size."""
    keys = ("balanced_accuracy", "balanced_accuracy_ci95", "accuracy", "macro_f1", "n_test")
    return {k: result[k] for k in keys if k in result}


def pretrain_bundle(data: str | os.PathLike[str], out: str | os.PathLike[str], profile, *,
                    seed: int = 0, jitter: dict[str, Any] | None = None,
                    real: str | os.PathLike[str] | None = None, progress: bool = False,
                    say=print) -> dict[str, Any]:
    """Pre-train the modern CNN on a (synthetic) file, then score it on held-out and real images.

    The workflow of ``pretrain`` (and of ``bench shipped``, which remakes the bundle shipped
    with galaxy10): :func:`train_bundle` on the file's leak-free training rows with the
    ``"pre-train"`` stage, scored on the held-out rows and, given ``real`` labelled images
    (a Galaxy10 file or a folder, see :func:`galaxy10.datasets.importer.labelled_images_h5`),
    on every real image ("sim-to-real"). Both figures and the provenance (commit, machine,
    wall time) are written into the bundle's JSON (:func:`galaxy10.modeling.bundle.write_scores`),
    so the bundle says what it is worth wherever it travels.

    Parameters
    ----------
    data : path-like
        The training file (an existing Galaxy10 file).
    out : path-like
        The bundle's ``.keras`` file.
    profile : Profile
    seed : int
    jitter : dict, optional
        Augmentation beyond flips and rotations (default: :func:`train_bundle`'s).
    real : path-like, optional
        Labelled real images for the sim-to-real score; None skips it.
    progress : bool
        A line per epoch.
    say : callable
        Prints the progress lines (``print``; a no-op to silence).

    Returns
    -------
    dict
        The ``pretrain`` section of metrics.json: profile, jitter, bundle, data, seconds,
        ``test`` and (with ``real``) ``sim_to_real``, and ``provenance``.
    """
    import tempfile
    import time

    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.evaluation.evaluate import evaluate_on_file
    from galaxy10.modeling.bundle import data_facts, write_scores
    from galaxy10.reporting.metrics import provenance

    started = time.time()
    out = Path(out)
    report: dict[str, Any] = {"profile": profile.name, "jitter": jitter, "bundle": os.fspath(out)}
    with Galaxy10File(data) as f:
        splits, _ = leak_free_splits(f)
        say(f"pre-training the modern CNN on {len(splits.all_train):,} images of {f.path} "
            f"({f.source}); {len(splits.test):,} held out for testing")
        trained = train_bundle(f, splits.all_train, out, profile, seed=seed, stage="pre-train",
                               jitter=jitter, test_rows=splits.test, score=True,
                               progress=progress)
        report.update(data=data_facts(f), seconds=trained.history["seconds"], test=trained.test)
        say(f"saved {out}; {f.source} test balanced accuracy "
            f"{trained.test['balanced_accuracy']:.3f} ({trained.history['seconds']:.0f} s "
            "training)")
    scores = {"test": _headline(trained.test)}
    if real is not None:
        with tempfile.TemporaryDirectory() as tmp, \
                Galaxy10File(labelled_images_h5(real, tmp)) as g:
            s2r = evaluate_on_file(trained.predictor, g, profile.bootstrap, seed)
        report["sim_to_real"] = s2r
        scores["sim_to_real"] = _headline(s2r)
        say(f"sim-to-real: balanced accuracy {s2r['balanced_accuracy']:.3f} on "
            f"{s2r['n_test']:,} real images (chance 0.100)")
    report["provenance"] = provenance(started)
    write_scores(out, scores, report["provenance"])
    return report
