"""``bench real``: every model cross-validated on real images, and scored under other
sources' shifts (:data:`galaxy10.modeling.shifts.SHIFTS`); with ``--labels``, each model's
label-efficiency curve on the same folds."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.profiles import Profile


def _summary(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over folds (sd 0 for one fold)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}


LINEAR_PROBE = "linear_probe"
"""The model name of the logistic regression on the frozen pre-trained network's embedding."""


CV_SPLITS: tuple[str, ...] = ("random", "region")
"""How ``bench real`` assigns its folds: ``random`` (stratified, duplicates kept together) or
``region`` (stratified, whole sky cells held out, :func:`galaxy10.datasets.sky.region_groups`)."""

REAL_CV_SECTIONS: dict[str, str] = {"random": "real_cv", "region": "real_cv_region"}
"""The ``metrics.json`` section each split of ``bench real`` is recorded as (for seed 0)."""


def real_cv_section(split: str, seed: int = 0) -> str:
    """The ``metrics.json`` section of a ``bench real`` CV: :data:`REAL_CV_SECTIONS` for the
    fold assignment of seed 0, ``<that>_assignment<seed>`` for another seed's, so that
    another fold assignment is recorded beside the first, not over it."""
    return REAL_CV_SECTIONS[split] + (f"_assignment{seed}" if seed else "")

MODEL_KINDS: tuple[str, ...] = ("seed_cnn", "galaxy_cnn_scratch", "finetuned", LINEAR_PROBE)
"""The models ``bench real`` can train; ``finetuned`` is one model per fine-tuning augmentation,
and it and the probe need a pre-trained bundle (``init``)."""


def cv_groups(real_h5: str | os.PathLike[str], split: str = "random"
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """The labels, the groups that a ``split`` keeps together, the duplicate groups, and the
    sky positions.

    ``random``: the (near) duplicate groups (:func:`galaxy10.datasets.audit.duplicate_groups`);
    ``region``: sky cells joined with them (:func:`galaxy10.datasets.sky.region_groups`).
    The positions are None for ``random``.

    Raises
    ------
    Galaxy10Error
        With ``split="region"``, when the file has no sky positions.
    """
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.datasets.audit import duplicate_groups
    from galaxy10.datasets.labelled import source_positions
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.sky import region_groups

    if split not in CV_SPLITS:
        raise ValueError(f"split must be one of {CV_SPLITS}, not {split!r}")
    with Galaxy10File(real_h5) as f:
        y = f.labels.astype(np.int64)
    duplicates = duplicate_groups(real_h5)
    if split == "random":
        return y, duplicates, duplicates, None
    positions = source_positions(real_h5)
    if positions is None:
        raise Galaxy10Error(f"{real_h5}: no sky positions (ra/dec), which a region-held-out "
                            "CV needs; import a manifest with ra/dec or h5_row columns "
                            "(`python -m galaxy10 import manifest.csv --coords ...`)")
    return y, region_groups(positions.ra, positions.dec, duplicates), duplicates, positions


def cv_folds(real_h5: str | os.PathLike[str], n_folds: int, seed: int, split: str = "random",
             grouping: tuple[np.ndarray, np.ndarray, np.ndarray, Any] | None = None
             ) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """The folds of ``bench real``: ``(train rows, test rows)`` per fold, and what they are.

    Both kinds are :class:`sklearn.model_selection.StratifiedGroupKFold` (shuffled with
    ``seed``), so every fold keeps the classes' shares. With ``split="random"`` the groups are
    the (near) duplicate groups, so no test image has a copy in training. With
    ``split="region"`` they are sky cells joined with the duplicate groups
    (:func:`cv_groups`): each fold's test galaxies come from cells its training never saw,
    which measures how well a model holds across the survey rather than inside the patch of
    sky it was trained on.

    ``grouping`` is :func:`cv_groups`' answer for ``split`` when the caller already has it
    (the duplicate search reads every image); None computes it.

    Returns
    -------
    folds : list of (ndarray, ndarray)
    about : dict
        ``cv`` (a sentence), ``split``, ``duplicate_rows``; for ``region`` also ``regions``:
        the cell size, the number of groups, and each fold's test groups and footprint
        (:func:`galaxy10.datasets.sky.footprint`).

    Raises
    ------
    Galaxy10Error
        With ``split="region"``, when the file has no sky positions.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    from galaxy10.datasets.sky import SKY_CELL_DEG, footprint

    y, groups, duplicates, positions = grouping or cv_groups(real_h5, split)
    about: dict[str, Any] = {"split": split,
                             "duplicate_rows": int(len(duplicates) - len(np.unique(duplicates)))}
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = list(splitter.split(np.zeros(len(y)), y, groups))
    if split == "random":
        about["cv"] = (f"StratifiedGroupKFold({n_folds}, shuffle=True, random_state={seed}), "
                       "duplicate groups kept together")
    else:
        width, height = SKY_CELL_DEG
        about["cv"] = (f"StratifiedGroupKFold({n_folds}, shuffle=True, random_state={seed}) "
                       f"over sky cells of {width:g} x {height:g} deg joined with duplicate "
                       "groups: every test galaxy's region unseen in training")
        about["regions"] = {
            "cell_deg": list(SKY_CELL_DEG), "groups": int(len(np.unique(groups))),
            "test_groups": [int(len(np.unique(groups[test]))) for _, test in folds],
            "test_footprints": [footprint(positions.ra[test], positions.dec[test])
                                for _, test in folds]}
    return folds, about


def bench_real(real_h5: str | os.PathLike[str], profile: Profile, *,
               init: str | os.PathLike[str] | None = None, seed: int = 0,
               folds: int | None = None, split: str = "random", shifts: bool = True,
               finetune_jitters: dict[str, dict[str, Any]] | None = None,
               scratch_jitter: dict[str, Any] | None = None,
               labels: Sequence[int] | None = None, models: Sequence[str] | None = None,
               out_figure: str | os.PathLike[str] | None = None,
               say=print) -> dict[str, Any]:
    """Stratified k-fold CV of every model on a file of real images, and their robustness;
    with ``labels``, also each model's label-efficiency curve on the same folds.

    The folds are :func:`cv_folds`': ``split="random"`` keeps each group of (near) duplicate
    images together, so no test image has a copy in training; ``split="region"`` holds out
    whole sky cells, so every test galaxy comes from a region its training never saw.

    On each fold, trained on the fold's training images under the profile's budget rules:
    the seed CNN, the modern CNN from scratch, and (with ``init``, a synthetic-pre-trained
    bundle) the modern CNN fine-tuned from it, once per augmentation in ``finetune_jitters``
    (default ``train --init``'s, :data:`~galaxy10.modeling.augment.FINETUNE_JITTER`; called
    ``galaxy_cnn_finetuned`` for "none", else ``galaxy_cnn_finetuned_<name>``), and a linear
    probe (:data:`LINEAR_PROBE`) on the frozen ``init`` network's embedding, computed once.
    Each is scored on the fold's test images as they are and after each change in
    :data:`galaxy10.modeling.shifts.SHIFTS`, and its embedding by the precision at 1 and 10
    of cosine nearest neighbours among them.

    The label-efficiency curve is one workflow with the CV: for each size ``N`` in
    ``labels`` every model is trained again on ``N`` of the fold's training images (stratified,
    nested subsets, :func:`galaxy10.datasets.resample.nested_stratified_order`, from the
    training side only) and scored on the fold's full test images; the shifts only at full
    size. The CV itself is the curve's largest point, ``"all"``.

    Parameters
    ----------
    split : {"random", "region"}, default "random"
        How the folds are assigned (:data:`CV_SPLITS`).
    labels : sequence of int, optional
        The curve's sizes (each at most every fold's training size, checked before any
        training; the command line checks the rest, :func:`galaxy10.cli.checks.label_sizes`).
    models : sequence of str, optional
        Which of :data:`MODEL_KINDS` to train (default: all; those that need ``init`` only
        with it).
    out_figure : path-like, optional
        With ``labels``, the curve's PNG (:func:`galaxy10.reporting.figures.label_curve`),
        written atomically.

    Returns
    -------
    dict
        The ``real_cv`` section (``real_cv_region`` for the region split): per model the
        mean and sd over folds of balanced accuracy and macro-F1, per-class recall, training
        seconds, neighbour precision at 1 and 10 (``neighbours``, with chance), and per shift
        the balanced accuracy; plus the folds' raw figures and :func:`cv_folds`' description.
        With ``labels``, its ``label_curve`` entry holds the curve
        (:func:`label_curve_section`), which the command line records as a section of its own.

    Raises
    ------
    Galaxy10Error
        When a size in ``labels`` exceeds a fold's training images, or the region split
        finds no sky positions.
    """
    started = time.time()
    n_folds = int(folds or profile.cv_folds)
    sizes = sorted({int(n) for n in labels}) if labels else []
    tuned, names = _model_names(init, finetune_jitters, models)
    splits, about = cv_folds(real_h5, n_folds, seed, split)
    per_fold, curve_rows, embed_seconds, y = _run_folds(
        real_h5, splits, names, sizes, profile, init=init, seed=seed, shifts=shifts,
        tuned=tuned, scratch_jitter=scratch_jitter, say=say)
    out: dict[str, Any] = {"n_images": int(len(y)), "folds": n_folds, **about,
                           "profile": profile.name, "profile_settings": profile.to_dict(),
                           "init": os.fspath(init) if init else None,
                           "finetune_jitters": tuned, "scratch_jitter": scratch_jitter,
                           "model_order": names,
                           "models": {name: _model_summary(rows)
                                      for name, rows in per_fold.items()}}
    if embed_seconds is not None:
        out["probe_embed_seconds"] = embed_seconds
    from galaxy10.reporting.metrics import provenance

    out["provenance"] = provenance(started)
    if sizes:
        points = {str(n): curve_rows[n] for n in sizes}
        out["label_curve"] = _curve(out, {**points, "all": per_fold}, seed, out_figure)
    return out


def _model_names(init, finetune_jitters: dict[str, dict[str, Any]] | None,
                 models: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    """The fine-tuned models' augmentations by model name, and every model's name in order."""
    from galaxy10.core.classes import finetuned_name

    if finetune_jitters is None:
        from galaxy10.modeling.augment import FINETUNE_JITTER, JITTERS

        finetune_jitters = {FINETUNE_JITTER: JITTERS[FINETUNE_JITTER]}
    kinds = list(models or MODEL_KINDS)
    tuned = ({finetuned_name(key): jit for key, jit in finetune_jitters.items()}
             if init is not None else {})
    names = [*(k for k in ("seed_cnn", "galaxy_cnn_scratch") if k in kinds),
             *(tuned if "finetuned" in kinds else {}),
             *([LINEAR_PROBE] if init is not None and LINEAR_PROBE in kinds else [])]
    return tuned, names


def _run_folds(real_h5: str | os.PathLike[str], splits: list[tuple[np.ndarray, np.ndarray]],
               names: list[str], sizes: list[int], profile: Profile, *, init, seed: int,
               shifts: bool, tuned: dict[str, Any], scratch_jitter: dict[str, Any] | None,
               say) -> tuple[dict[str, list], dict[int, dict[str, list]], float | None,
                             np.ndarray]:
    """Train and score every model on every fold (and each curve size): the rows per model,
    the curve's rows per size, the probe's embedding seconds and the labels."""
    import tempfile

    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import nested_stratified_order
    from galaxy10.modeling.predict import Predictor

    per_fold: dict[str, list[dict[str, Any]]] = {m: [] for m in names}
    curve_rows: dict[int, dict[str, list[dict[str, Any]]]] = {
        n: {m: [] for m in names} for n in sizes}
    embed_seconds = None
    with Galaxy10File(real_h5) as f, tempfile.TemporaryDirectory() as cache_dir, \
            tempfile.TemporaryDirectory() as bundle_dir:
        y = f.labels.astype(np.int64)
        images = f.read(np.arange(len(f)))
        _check_fold_sizes(sizes, [len(train) for train, _ in splits], len(y))
        frozen = embedded = None
        if init is not None and LINEAR_PROBE in names:  # one embedding of every image serves all
            start = time.perf_counter()
            frozen = Predictor(init)
            _, embedded = frozen.predict_and_embed(images)
            embed_seconds = time.perf_counter() - start
        trainer = _Trainer(f, y, profile, init, tuned, scratch_jitter, embedded,
                           Path(cache_dir), Path(bundle_dir))
        for k, (train, test) in enumerate(splits):
            fold = _FoldViews(images[test], shifts, seed + k, frozen,
                              None if embedded is None else embedded[test])
            # the curve's subsets: prefixes of one stratified order, so each holds the smaller
            order = train[nested_stratified_order(y[train], seed + k)]
            for name in names:
                for n in [*sizes, None]:
                    rows = train if n is None else np.sort(order[:n])
                    row = trainer.score(name, rows, test, fold, k, seed,
                                        "all" if n is None else str(n), full=n is None)
                    (per_fold[name] if n is None else curve_rows[n][name]).append(row)
                    say(_fold_line(k, len(splits), name, n, row), flush=True)
    return per_fold, curve_rows, embed_seconds, y


def _curve(cv: dict[str, Any], points: dict[str, dict[str, list[dict[str, Any]]]], seed: int,
           out_figure: str | os.PathLike[str] | None) -> dict[str, Any]:
    """The ``label_curve`` section of a CV (``cv``, :func:`bench_real`'s result) from its
    per-fold rows by size, with the figure drawn when ``out_figure`` is given."""
    curve = label_curve_section(points, cv["model_order"])
    curve.update({key: cv[key] for key in ("n_images", "folds", "cv", "profile", "init",
                                           "provenance")})
    curve["subsets"] = ("nested stratified subsets of each fold's training images "
                        f"(nested_stratified_order, seed {seed} + fold); 'all' is the CV")
    if out_figure is not None:
        from galaxy10.reporting.figures import label_curve, save_figure

        curve["figure"] = os.fspath(save_figure(label_curve(curve, title=(
            f"Label efficiency on real images: {cv['folds']}-fold CV of {cv['n_images']:,}, "
            f"profile {cv['profile']}")), out_figure))
    return curve


def _fold_line(k: int, n_folds: int, name: str, n: int | None, row: dict[str, Any]) -> str:
    """The progress line of one trained model of one fold."""
    head = f"fold {k + 1}/{n_folds} {name:<22}"
    seconds = row["train_seconds"]
    if n is not None:
        return (f"{head} {n:>6} labels: balanced accuracy {row['balanced_accuracy']:.3f} "
                f"({seconds:.0f} s)")
    shifted = (f", under shifts {np.mean(list(row['shifts'].values())):.3f}"
               if row["shifts"] else "")
    return (f"{head} balanced accuracy {row['balanced_accuracy']:.3f}, neighbours p@10 "
            f"{row['neighbours']['p@10']:.3f}{shifted} ({seconds:.0f} s)")


def _model_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One model's CV summary from its per-fold rows (means and sds over the folds)."""
    from galaxy10.core.classes import CLASS_NAMES

    summary: dict[str, Any] = {
        key: _summary([r[key] for r in rows])
        for key in ("balanced_accuracy", "macro_f1", "train_seconds")}
    summary["recall"] = dict(zip(CLASS_NAMES, np.mean([r["recall"] for r in rows],
                                                      axis=0).tolist(), strict=True))
    summary["neighbours"] = {key: _summary([r["neighbours"][key] for r in rows])
                             for key in ("p@1", "p@10", "chance")}
    # every image is tested once over the folds: their sum is the CV's confusion matrix
    summary["confusion"] = np.sum([r["confusion"] for r in rows], axis=0).tolist()
    if rows[0]["shifts"]:
        by_shift = {s: _summary([r["shifts"][s] for r in rows]) for s in rows[0]["shifts"]}
        mean_shifted = float(np.mean([v["mean"] for v in by_shift.values()]))
        worst = min(by_shift, key=lambda s: by_shift[s]["mean"])
        summary["shift"] = {"by_shift": by_shift, "mean": mean_shifted,
                            "relative": mean_shifted / max(
                                summary["balanced_accuracy"]["mean"], 1e-9),
                            "worst": worst, "worst_mean": by_shift[worst]["mean"]}
    summary["folds"] = rows
    return summary


class _Trainer:
    """Trains one of ``bench real``'s models on given rows and scores it on a fold."""

    def __init__(self, galaxies, y: np.ndarray, profile: Profile, init, tuned: dict[str, Any],
                 scratch_jitter: dict[str, Any] | None, embedded: np.ndarray | None,
                 cache_dir: Path, bundle_dir: Path) -> None:
        self.galaxies, self.y, self.profile, self.init = galaxies, y, profile, init
        self.tuned, self.scratch_jitter, self.embedded = tuned, scratch_jitter, embedded
        self.cache_dir, self.bundle_dir = cache_dir, bundle_dir

    def fit(self, name: str, rows: np.ndarray, fold: _FoldViews, seed: int, tag: str
            ) -> _Trained:
        """``name`` trained on ``rows`` of the file with ``seed``, ready to score ``fold``."""
        if name == LINEAR_PROBE:
            from galaxy10.modeling.probe import fit_linear_probe

            return _Trained(fold, probe=fit_linear_probe(self.embedded[rows], self.y[rows],
                                                         seed=seed))
        from galaxy10.modeling.predict import Predictor

        if name == "seed_cnn":
            from galaxy10.modeling.preprocess import SEED_CONFIG
            from galaxy10.modeling.train import train_seed_cnn

            model, scaler, _ = train_seed_cnn(self.galaxies, rows, self.profile, seed)
            return _Trained(fold, Predictor.in_memory(model, kind="seed", config=SEED_CONFIG,
                                                      scaler=scaler))
        from galaxy10.pipeline.training import train_bundle

        scratch = name == "galaxy_cnn_scratch"  # the train command's workflow
        trained = train_bundle(
            self.galaxies, rows, self.bundle_dir / f"{name}_{tag}.keras", self.profile,
            seed=seed, init=None if scratch else self.init,
            jitter=self.scratch_jitter if scratch else self.tuned[name],
            cache_dir=self.cache_dir)
        return _Trained(fold, trained.predictor, bundle=trained.path)

    def score(self, name: str, rows: np.ndarray, test: np.ndarray, fold: _FoldViews, k: int,
              seed: int, tag: str, full: bool) -> dict[str, Any]:
        """Train ``name`` on ``rows`` (fold ``k``, seed ``seed + k``) and score it on ``test``.

        A ``full``-size row (the CV's) also holds per-class recall, the confusion matrix and
        the score under each shift; a label-curve row does not.
        """
        from galaxy10.core.classes import CLASS_NAMES
        from galaxy10.evaluation.evaluate import evaluate_predictions
        from galaxy10.evaluation.similarity import precision_at_k

        y_test = self.y[test]
        start = time.perf_counter()
        trained = self.fit(name, rows, fold, seed + k, f"fold{k}_{tag}")
        seconds = time.perf_counter() - start
        proba, vectors = trained.predict("unshifted")
        # the spread over folds is the uncertainty here: no bootstrap per fold
        scores = evaluate_predictions(y_test, proba, n_boot=1, seed=seed)
        row: dict[str, Any] = {
            "n_train": int(len(rows)), "balanced_accuracy": scores["balanced_accuracy"],
            "macro_f1": scores["macro_f1"], "train_seconds": seconds,
            # similarity search in the model's embedding: the fold's test galaxies, each a
            # query among the others (leave-one-out)
            "neighbours": precision_at_k(vectors, y_test, (1, 10))}
        if full:
            row["recall"] = [scores["per_class"][c]["recall"] for c in CLASS_NAMES]
            # which class each class is mistaken for (rows true, columns predicted)
            row["confusion"] = scores["confusion_matrix"]
            row["shifts"] = {
                shift: evaluate_predictions(y_test, trained.predict(shift)[0].argmax(axis=1),
                                            n_boot=1, seed=seed)["balanced_accuracy"]
                for shift in fold.images if shift != "unshifted"}
        trained.discard()
        return row


class _FoldViews:
    """A fold's test images, as they are (``"unshifted"``) and after each shift, by name;
    with the frozen pre-trained network, their embeddings (each computed once)."""

    def __init__(self, test_images: np.ndarray, shifts: bool, seed: int, frozen=None,
                 embedded: np.ndarray | None = None) -> None:
        from galaxy10.modeling.shifts import SHIFTS, apply_shift

        self.images = {"unshifted": test_images}
        if shifts:
            self.images.update({name: apply_shift(test_images, name, seed=seed)
                                for name in SHIFTS})
        self._frozen = frozen
        self._embedded = {} if embedded is None else {"unshifted": embedded}

    def frozen_embedding(self, view: str) -> np.ndarray:
        """The frozen network's embedding of ``view`` (computed on first use)."""
        if view not in self._embedded:
            self._embedded[view] = self._frozen.predict_and_embed(self.images[view])[1]
        return self._embedded[view]


class _Trained:
    """One trained model of one fold: a predictor, or a linear probe on the frozen embedding."""

    def __init__(self, fold: _FoldViews, predictor=None, *, probe=None,
                 bundle: Path | None = None) -> None:
        self.fold, self.predictor, self.probe, self.bundle = fold, predictor, probe, bundle

    def predict(self, view: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities of the fold's ``view``; for ``"unshifted"`` also the embedding."""
        if self.probe is not None:
            from galaxy10.modeling.probe import probe_proba

            vectors = self.fold.frozen_embedding(view)
            return probe_proba(self.probe, vectors), vectors
        images = self.fold.images[view]
        if view == "unshifted":  # probabilities and embedding from one pass
            return self.predictor.predict_and_embed(images)
        return self.predictor.predict_proba(images), None

    def discard(self) -> None:
        """Free the model, and the disk of its bundle (each is scored once)."""
        if self.bundle is not None:
            self.bundle.unlink(missing_ok=True)
            self.bundle.with_suffix(".json").unlink(missing_ok=True)
        self.predictor = self.probe = None


def _check_fold_sizes(sizes: list[int], train_sizes: list[int], n_images: int) -> None:
    """Refuse (before any training) a curve size larger than some fold's training images."""
    from galaxy10.core.errors import Galaxy10Error

    if not sizes:
        return
    most = min(train_sizes)
    over = [n for n in sizes if n > most]
    if over:
        raise Galaxy10Error(
            f"--labels {' '.join(map(str, over))}: the smallest fold trains on {most} of the "
            f"{n_images} images ({len(train_sizes)}-fold CV, duplicate groups kept together); "
            f"give sizes of at most {most} (the full size is the curve's 'all' point anyway)")


def label_curve_section(points: dict[str, dict[str, list[dict[str, Any]]]],
                        models: list[str]) -> dict[str, Any]:
    """The ``label_curve`` section from per-fold rows: ``points[size][model]`` -> summary.

    Each summary holds the mean and sd over folds of balanced accuracy, macro-F1, training
    seconds and neighbour precision, the mean number of training images, and the folds' rows.
    """
    out: dict[str, Any] = {"sizes": list(points), "model_order": models, "points": {}}
    for size, by_model in points.items():
        out["points"][size] = {}
        for name in models:
            rows = by_model[name]
            summary: dict[str, Any] = {
                key: _summary([r[key] for r in rows])
                for key in ("balanced_accuracy", "macro_f1", "train_seconds")}
            summary["n_train"] = float(np.mean([r["n_train"] for r in rows]))
            summary["neighbours"] = {key: _summary([r["neighbours"][key] for r in rows])
                                     for key in ("p@1", "p@10")}
            summary["folds"] = [{key: r[key] for key in ("n_train", "balanced_accuracy",
                                                         "macro_f1", "train_seconds",
                                                         "neighbours")} for r in rows]
            out["points"][size][name] = summary
    return out


def format_label_curve(curve: dict[str, Any]) -> str:
    """``bench real --labels``'s table: balanced accuracy mean +- sd, a column per size."""
    sizes = curve["sizes"]
    heads = [size if size != "all" else
             f"all ({curve['points']['all'][curve['model_order'][0]]['n_train']:.0f})"
             for size in sizes]
    lines = [f"== label efficiency: balanced accuracy (mean +- sd over {curve['folds']} "
             f"folds) by training labels, profile {curve['profile']} ==",
             f"{'model':<28} " + " ".join(f"{h:>15}" for h in heads)]
    for name in curve["model_order"]:
        cells = []
        for size in sizes:
            ba = curve["points"][size][name]["balanced_accuracy"]
            cells.append(f"{ba['mean']:>7.3f} +- {ba['sd']:.3f}")
        lines.append(f"{name:<28} " + " ".join(cells))
    seconds = {name: curve["points"][sizes[-1]][name]["train_seconds"]["mean"]
               for name in curve["model_order"]}
    lines.append("train s at the largest size: " + ", ".join(
        f"{name} {sec:.0f}" for name, sec in seconds.items()))
    return "\n".join(lines)


def format_real_cv(result: dict[str, Any]) -> str:
    """``bench real``'s table: mean +- sd over folds, and the mean under shifts."""
    lines = [f"== real images, {result['n_images']} in {result['folds']}-fold CV "
             f"({result['cv']}), profile {result['profile']} ==",
             f"{'model':<22} {'bal.acc':>15} {'macro F1':>15} {'train s':>9} "
             f"{'p@10 nn':>8} {'shifted':>8} {'worst shift':>22}"]
    for name in result.get("model_order", result["models"]):
        r = result["models"][name]
        ba, f1, sec = r["balanced_accuracy"], r["macro_f1"], r["train_seconds"]
        shift = r.get("shift")
        tail = (f"{shift['mean']:>8.3f} {shift['worst']:>14} {shift['worst_mean']:.3f}"
                if shift else "")
        nn = r.get("neighbours", {}).get("p@10")
        nn_text = f"{nn['mean']:>8.3f}" if nn else f"{'':>8}"
        lines.append(f"{name:<22} {ba['mean']:>7.3f} +- {ba['sd']:.3f} {f1['mean']:>7.3f} +- "
                     f"{f1['sd']:.3f} {sec['mean']:>9.0f} {nn_text} {tail}")
    regions = result.get("regions")
    if regions:
        lines.append(f"held-out regions: {regions['groups']} groups of sky cells "
                     f"({regions['cell_deg'][0]:g} x {regions['cell_deg'][1]:g} deg), "
                     f"{'/'.join(map(str, regions['test_groups']))} tested per fold")
    chance = [r["neighbours"]["chance"]["mean"] for r in result["models"].values()
              if "neighbours" in r]
    if chance:
        lines.append(f"p@10 nn: how often the 10 nearest test galaxies in the model's embedding "
                     f"share the class (chance {chance[0]:.3f})")
    return "\n".join(lines)


def region_gap(random_cv: dict[str, Any], region_cv: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per model in both sections: the random CV's balanced accuracy, the region-held-out
    one, and their difference (how much of the figure holds only inside regions the training
    saw); each section keeps its own per-class recall."""
    out = {}
    for name, region in region_cv["models"].items():
        random = random_cv["models"].get(name)
        if random is not None:
            both = random["balanced_accuracy"]["mean"], region["balanced_accuracy"]["mean"]
            out[name] = {"random": both[0], "region": both[1], "gap": both[0] - both[1]}
    return out


def format_region_gap(gap: dict[str, dict[str, Any]]) -> str:
    """The comparison table: random CV, region-held-out CV and their gap, per model."""
    lines = ["== random CV against region-held-out CV (balanced accuracy, mean over folds) ==",
             f"{'model':<28} {'random':>8} {'region':>8} {'gap':>8}"]
    for name, g in gap.items():
        lines.append(f"{name:<28} {g['random']:>8.3f} {g['region']:>8.3f} {g['gap']:>+8.3f}")
    return "\n".join(lines)
