"""``bench real``: every model cross-validated on real images, and scored under other
sources' shifts (:data:`galaxy10.modeling.shifts.SHIFTS`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.profiles import Profile


def _summary(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over folds (sd 0 for one fold)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}


def bench_real(real_h5: str | os.PathLike[str], profile: Profile, *,
               init: str | os.PathLike[str] | None = None, seed: int = 0,
               folds: int | None = None, shifts: bool = True,
               finetune_jitters: dict[str, dict[str, Any]] | None = None,
               scratch_jitter: dict[str, Any] | None = None,
               say=print) -> dict[str, Any]:
    """Stratified k-fold CV of every model on a file of real images, and their robustness.

    Folds keep each group of (near) duplicate images together
    (:func:`galaxy10.datasets.audit.duplicate_groups`), so no test image has a copy in training.

    Each model's embedding is scored too: precision at 1 and 10 of cosine nearest neighbours
    among the fold's test images (:func:`galaxy10.evaluation.similarity.precision_at_k`).

    On each fold, trained on the fold's training images under the profile's budget rules:
    the seed CNN (seed recipe), the modern CNN from scratch, and (with ``init``, a
    synthetic-pre-trained bundle) the modern CNN fine-tuned from it, once per named
    augmentation in ``finetune_jitters`` (default ``{"robust": ROBUST_JITTER}``, the recipe of
    ``train --init``; the model is called
    ``galaxy_cnn_finetuned`` for "none", else ``galaxy_cnn_finetuned_<name>``). Each is scored
    on the fold's test images as they are and after each change in
    :data:`galaxy10.modeling.shifts.SHIFTS`.

    Returns
    -------
    dict
        The ``real_cv`` section: per model the mean and sd over folds of balanced accuracy
        and macro-F1, per-class recall, training seconds, neighbour precision at 1 and 10
        (``neighbours``, with chance), and per shift the balanced accuracy; plus the folds'
        raw figures.
    """
    import tempfile

    from sklearn.model_selection import StratifiedGroupKFold

    from galaxy10.core.classes import CLASS_NAMES
    from galaxy10.datasets.audit import duplicate_groups
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.evaluation.evaluate import evaluate_predictions
    from galaxy10.evaluation.similarity import precision_at_k
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.preprocess import SEED_CONFIG
    from galaxy10.modeling.shifts import SHIFTS, apply_shift
    from galaxy10.modeling.train import train_seed_cnn
    from galaxy10.pipeline.training import train_bundle

    started = time.time()
    n_folds = int(folds or profile.cv_folds)
    if finetune_jitters is None:
        from galaxy10.modeling.augment import ROBUST_JITTER

        finetune_jitters = {"robust": ROBUST_JITTER}
    tuned = {("galaxy_cnn_finetuned" if key == "none" else f"galaxy_cnn_finetuned_{key}"): jit
             for key, jit in finetune_jitters.items()} if init is not None else {}
    models = ["seed_cnn", "galaxy_cnn_scratch", *tuned]
    per_fold: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    with Galaxy10File(real_h5) as f, tempfile.TemporaryDirectory() as cache_dir, \
            tempfile.TemporaryDirectory() as bundle_dir:
        labels = f.labels.astype(np.int64)
        images = f.read(np.arange(len(f)))
        # (near) duplicates stay on one side of every split: a copy in training would leak
        groups = duplicate_groups(real_h5)
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        for k, (train, test) in enumerate(splitter.split(np.zeros(len(labels)), labels,
                                                         groups)):
            views = {"unshifted": images[test]}
            if shifts:
                views.update({name: apply_shift(images[test], name, seed=seed + k)
                              for name in SHIFTS})
            for name in models:
                start = time.perf_counter()
                if name == "seed_cnn":
                    model, scaler, _ = train_seed_cnn(f, train, profile, seed + k)
                    predictor = Predictor.in_memory(model, kind="seed", config=SEED_CONFIG,
                                                    scaler=scaler)
                else:  # the modern CNN through the train command's workflow
                    scratch = name == "galaxy_cnn_scratch"
                    trained = train_bundle(
                        f, train, Path(bundle_dir) / f"{name}_fold{k}.keras", profile,
                        seed=seed + k, init=None if scratch else init,
                        jitter=scratch_jitter if scratch else tuned[name],
                        cache_dir=cache_dir)
                    model, predictor = trained.predictor.model, trained.predictor
                seconds = time.perf_counter() - start
                # the spread over folds is the uncertainty here: no bootstrap per fold
                scores = evaluate_predictions(labels[test], predictor.predict_proba(
                    views["unshifted"]), n_boot=1, seed=seed)
                row = {"balanced_accuracy": scores["balanced_accuracy"],
                       "macro_f1": scores["macro_f1"], "train_seconds": seconds,
                       "recall": [scores["per_class"][c]["recall"] for c in CLASS_NAMES],
                       "shifts": {}}
                # similarity search in the model's embedding: the fold's test galaxies, each
                # a query among the others (leave-one-out)
                _, vectors = predictor.predict_and_embed(views["unshifted"])
                row["neighbours"] = precision_at_k(vectors, labels[test], (1, 10))
                for shift, shifted in views.items():
                    if shift != "unshifted":
                        pred = predictor.predict_proba(shifted).argmax(axis=1)
                        row["shifts"][shift] = evaluate_predictions(
                            labels[test], pred, n_boot=1, seed=seed)["balanced_accuracy"]
                per_fold[name].append(row)
                say(f"fold {k + 1}/{n_folds} {name:<22} balanced accuracy "
                    f"{row['balanced_accuracy']:.3f}, neighbours p@10 "
                    f"{row['neighbours']['p@10']:.3f}"
                    + (f", under shifts {np.mean(list(row['shifts'].values())):.3f}"
                       if row["shifts"] else "") + f" ({seconds:.0f} s)", flush=True)
                del model, predictor
    out: dict[str, Any] = {"n_images": int(len(labels)), "folds": n_folds,
                           "cv": f"StratifiedGroupKFold({n_folds}, shuffle=True, "
                                 f"random_state={seed}), duplicate groups kept together",
                           "duplicate_rows": int(len(groups) - len(np.unique(groups))),
                           "profile": profile.name, "init": os.fspath(init) if init else None,
                           "finetune_jitters": tuned, "scratch_jitter": scratch_jitter,
                           "model_order": models, "models": {}}
    for name, rows in per_fold.items():
        summary: dict[str, Any] = {
            key: _summary([r[key] for r in rows])
            for key in ("balanced_accuracy", "macro_f1", "train_seconds")}
        summary["recall"] = dict(zip(CLASS_NAMES, np.mean([r["recall"] for r in rows],
                                                          axis=0).tolist(), strict=True))
        summary["neighbours"] = {key: _summary([r["neighbours"][key] for r in rows])
                                 for key in ("p@1", "p@10", "chance")}
        if rows[0]["shifts"]:
            by_shift = {s: _summary([r["shifts"][s] for r in rows]) for s in rows[0]["shifts"]}
            mean_shifted = float(np.mean([v["mean"] for v in by_shift.values()]))
            worst = min(by_shift, key=lambda s: by_shift[s]["mean"])
            summary["shift"] = {"by_shift": by_shift, "mean": mean_shifted,
                                "relative": mean_shifted / max(
                                    summary["balanced_accuracy"]["mean"], 1e-9),
                                "worst": worst, "worst_mean": by_shift[worst]["mean"]}
        summary["folds"] = rows
        out["models"][name] = summary
    from galaxy10.reporting.metrics import provenance

    out["provenance"] = provenance(started)
    return out


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
    chance = [r["neighbours"]["chance"]["mean"] for r in result["models"].values()
              if "neighbours" in r]
    if chance:
        lines.append(f"p@10 nn: how often the 10 nearest test galaxies in the model's embedding "
                     f"share the class (chance {chance[0]:.3f})")
    return "\n".join(lines)
