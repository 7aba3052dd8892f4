"""The models notebook 04 makes, each made by one function that any notebook can call.

Colab gives every notebook its own runtime, so notebook 05 (or the button) may run where
notebook 04 never did. Notebook 04 calls :func:`search_seed_cnn` and :func:`train_modern_cnn`
to tell its story; :func:`ensure_models` calls the same two when a later notebook finds a
model missing, says so in one line, and makes it: the same data, profile and seed give the
same bundles whichever notebook made them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from galaxy10.core.errors import MissingStepError

SEED_MODELS = ("seed_cnn_lastfold", "seed_cnn")
"""The seed CNN's bundles: the last fold's model of the best combination, as the original kept
it, and that combination refitted on all seed-faithful training rows."""
MODERN_MODEL = "galaxy_cnn"
"""The modern CNN's bundle."""
EVALUATED = (*SEED_MODELS, MODERN_MODEL)
"""The bundles notebook 05 always evaluates."""


@dataclass
class SeedSearch:
    """What :func:`search_seed_cnn` found and saved."""

    results: list[Any]  #: one :class:`~galaxy10.modeling.train.CVResult` per combination
    best: Any  #: the best of them by mean CV accuracy
    refit_history: dict[str, list[float]]
    paths: dict[str, Path]  #: the saved bundles, by name


def search_seed_cnn(run, arrays=None, progress: bool = False) -> SeedSearch:
    """The original's random search over the seed CNN, then both seed bundles saved.

    Each combination of :func:`~galaxy10.modeling.train.seed_search_params` is scored by
    stratified k-fold CV; the best one's last-fold model (what the original kept) and its
    refit on all seed-faithful training rows are saved with the MinMax scaler as numbers.

    Parameters
    ----------
    run : Run
        The notebook's run (:func:`galaxy10.pipeline.session.open_run`).
    arrays : SeedArrays, optional
        ``run.seed_arrays()``, when the caller has them already.
    progress : bool
        A bar over the combinations.
    """
    from tqdm.auto import tqdm

    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_seed_cnn
    from galaxy10.modeling.preprocess import SEED_CONFIG
    from galaxy10.modeling.train import (
        as_seed_images,
        cross_validate_keras,
        seed_search_params,
        set_seed,
    )

    arrays = arrays if arrays is not None else run.seed_arrays(progress=progress)
    p = run.profile
    x, y = as_seed_images(arrays.x_train), arrays.y_train
    results = [cross_validate_keras(build_seed_cnn, x, y, n_splits=p.search_folds,
                                    epochs=p.search_epochs, batch_size=p.batch_size,
                                    seed=run.seed, params=params)
               for params in tqdm(seed_search_params(p.search_iter, random_state=101),
                                  disable=not progress, desc="seed CNN search", unit="fit")]
    best = max(results, key=lambda r: r.mean)
    provenance = {"data": run.data_facts(), "params": best.params}
    paths = {"seed_cnn_lastfold": save_bundle(
        best.last_model, run.model_path("seed_cnn_lastfold"), kind="seed", config=SEED_CONFIG,
        scaler=arrays.scaler, note="last fold's model of the best combination, as the original "
                                   "kept", **provenance)}
    set_seed(run.seed)
    refit = build_seed_cnn(**best.params, seed=run.seed)
    history = refit.fit(x, y, epochs=p.search_epochs, batch_size=p.batch_size, verbose=0).history
    paths["seed_cnn"] = save_bundle(refit, run.model_path("seed_cnn"), kind="seed",
                                    config=SEED_CONFIG, scaler=arrays.scaler,
                                    note="best combination refitted on all seed-faithful "
                                         "training rows", **provenance)
    return SeedSearch(results=results, best=best, paths=paths,
                      refit_history={k: [float(v) for v in vals] for k, vals in history.items()})


def train_modern_cnn(run, model=None, progress: bool = False):
    """The modern CNN trained on the run's leak-free rows and saved as ``galaxy_cnn``.

    :func:`galaxy10.pipeline.training.train_bundle` on ``run.splits().all_train``, with the
    test rows recorded and left unscored (notebook 05 scores them).

    Parameters
    ----------
    run : Run
    model : keras.Model, optional
        Notebook 04's editable network; None builds the profile's.
    progress : bool
        A line per epoch.

    Returns
    -------
    TrainedBundle
    """
    from galaxy10.pipeline.training import train_bundle

    splits = run.splits()
    return train_bundle(run.galaxies, splits.all_train, run.model_path(MODERN_MODEL),
                        run.profile, seed=run.seed, model=model, test_rows=splits.test,
                        progress=progress)


def trained_on_this_data(run, path: Path) -> bool:
    """Whether the bundle at ``path`` records this run's data file as what it learnt from."""
    from galaxy10.modeling.bundle import read_bundle

    data = read_bundle(path).data
    return (data is not None and data.path is not None
            and os.path.realpath(data.path) == os.path.realpath(run.data_path)
            and data.n_images == len(run.galaxies))


def ensure_models(run, names: Sequence[str] = EVALUATED, progress: bool = True
                  ) -> dict[str, Path]:
    """The bundles ``names`` of this run: loaded when saved, else made now as notebook 04 does.

    A missing bundle is announced in one line and made by :func:`search_seed_cnn` or
    :func:`train_modern_cnn`. A saved bundle that was trained on another data file is not
    replaced: that is the user's model.

    Raises
    ------
    MissingStepError
        When a bundle in the models folder was trained on another data file (the message
        says how to go on).
    """
    unknown = sorted(set(names) - set(EVALUATED))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {', '.join(EVALUATED)}")
    paths: dict[str, Path] = {}
    missing = []
    for name in names:
        path = run.model_path(name)
        if not (path.is_file() and path.with_suffix(".json").is_file()):
            missing.append(name)
        elif not trained_on_this_data(run, path):
            raise MissingStepError(
                f"{path} was trained on another data file than {run.data_path}: run "
                "notebooks/04_cnn.ipynb with this data, or give this run another models_dir")
        else:
            paths[name] = path
    if set(missing) & set(SEED_MODELS):
        print(f"[galaxy10] {', '.join(SEED_MODELS)}: not in {run.models_dir}; making them as "
              "notebook 04 does (the seed CNN's random search)", flush=True)
        paths.update(search_seed_cnn(run, progress=progress).paths)
    if MODERN_MODEL in missing:
        print(f"[galaxy10] {MODERN_MODEL}: not in {run.models_dir}; training it as notebook 04 "
              "does", flush=True)
        paths[MODERN_MODEL] = train_modern_cnn(run, progress=progress).path
    return {name: paths[name] for name in names}
