"""``bench adapt``: what re-estimating the batch-normalisation statistics on the galaxies to
classify (``adapt``, AdaBN) changes, on real images, as they are and as other pipelines
would have made them.

On each outer fold of :func:`galaxy10.bench.real.cv_folds`, the fold's test images are the
galaxies a user brings: as they are, and under every change of
:data:`galaxy10.modeling.shifts.SHIFTS` (more noise, another stretch, JPEG, scale, blur, an
offset, another export). Each model classifies them twice: as it is, and after
:func:`galaxy10.modeling.adapt.adapt_batch_norm` on those same test images (their labels are
never read, so this is what ``adapt`` then ``classify`` does on a user's own catalogue). The
models are the frozen pre-trained bundle (the guesses a labelling panel starts from) and,
when asked, the shipped recipe fine-tuned on the fold's training images (what ``train
--init`` makes).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from galaxy10.core.profiles import Profile

AS_THEY_ARE = "none"
"""The condition name of the test images unchanged."""

Say = Callable[[str], None]


def _summary(values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "runs": [float(v) for v in arr]}


def plain_and_adapted(predictor, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Balanced accuracy of ``predictor`` on ``images`` as it is, then adapted to them; its
    batch-normalisation statistics are put back afterwards."""
    from sklearn.metrics import balanced_accuracy_score

    from galaxy10.modeling.adapt import adapt_batch_norm, batch_norm_layers

    x = predictor.preprocess(images)
    plain = balanced_accuracy_score(labels, predictor.predict_proba(x, preprocessed=True)
                                    .argmax(axis=1))
    saved = [layer.get_weights() for layer in batch_norm_layers(predictor.model)]
    try:
        adapt_batch_norm(predictor.model, x)
        adapted = balanced_accuracy_score(labels, predictor.predict_proba(x, preprocessed=True)
                                          .argmax(axis=1))
    finally:
        for layer, weights in zip(batch_norm_layers(predictor.model), saved, strict=True):
            layer.set_weights(weights)
    return float(plain), float(adapted)


def score_conditions(predictor, images: np.ndarray, labels: np.ndarray,
                     conditions: Sequence[str], seed: int) -> dict[str, tuple[float, float]]:
    """:func:`plain_and_adapted` under each condition (:data:`AS_THEY_ARE` or a shift)."""
    from galaxy10.modeling.shifts import apply_shift

    return {name: plain_and_adapted(predictor, images if name == AS_THEY_ARE
                                    else apply_shift(images, name, seed=seed), labels)
            for name in conditions}


def _section(scores: list[dict[str, tuple[float, float]]]) -> dict[str, Any]:
    """Per condition, the plain and adapted scores and their difference over the folds."""
    out: dict[str, Any] = {}
    for name in scores[0]:
        plain = [fold[name][0] for fold in scores]
        adapted = [fold[name][1] for fold in scores]
        out[name] = {"plain": _summary(plain), "adapted": _summary(adapted),
                     "gain": _summary([a - p for p, a in zip(plain, adapted, strict=True)])}
    return out


def bench_adapt(real_h5: str | os.PathLike[str], init: str | os.PathLike[str], *,
                splits: Sequence[str] = ("random",), n_folds: int = 5, seed: int = 0,
                shifts: Sequence[str] | None = None, finetune: bool = False,
                profile: Profile | None = None, say: Say = print) -> dict[str, Any]:
    """The adaptation benchmark on a Galaxy10 ``.h5`` of labelled real images.

    Parameters
    ----------
    real_h5 : path-like
    init : path-like
        The pre-trained modern-CNN bundle (frozen, and the start of the fine-tunes).
    splits : sequence of {"random", "region"}
        Fold assignments of :func:`galaxy10.bench.real.cv_folds`, one section each.
    n_folds, seed : int
        Outer folds; seed of the folds, the shifts' noise and the fine-tunes.
    shifts : sequence of str, optional
        Conditions besides the images as they are (default: every shift of
        :data:`~galaxy10.modeling.shifts.SHIFTS`).
    finetune : bool
        Also fine-tune the shipped recipe on each fold's training images (minutes each).
    profile : Profile, optional
        The fine-tunes' budget (default :data:`galaxy10.core.profiles.RECIPE_PROFILE`'s).

    Returns
    -------
    dict
        ``splits[split][model][condition]``: ``plain``, ``adapted`` and ``gain`` (mean, sd
        and runs of the balanced accuracy over the folds), for ``model`` ``frozen`` (and
        ``fine-tuned``); the settings and provenance.
    """
    from galaxy10.bench.active import run_seed
    from galaxy10.bench.real import cv_folds
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.shifts import SHIFTS
    from galaxy10.reporting.metrics import provenance

    started = time.time()
    conditions = [AS_THEY_ARE, *(SHIFTS if shifts is None else shifts)]
    out: dict[str, Any] = {"init": os.fspath(init), "folds": n_folds, "seed": seed,
                           "conditions": conditions, "adapted_on": "each fold's test images "
                           "(labels unread), as the shift left them", "splits": {}}
    frozen = Predictor(init)
    with Galaxy10File(real_h5) as galaxies, tempfile.TemporaryDirectory() as tmp:
        y = galaxies.labels.astype(np.int64)
        out["n_images"] = int(len(y))
        for split in splits:
            folds, about = cv_folds(real_h5, n_folds, seed, split)
            models: dict[str, list[dict[str, tuple[float, float]]]] = {"frozen": []}
            for k, (train, test) in enumerate(folds):
                fold_seed = run_seed(seed, 0, k)
                images = galaxies.read(np.sort(test))
                labels = y[np.sort(test)]
                models["frozen"].append(score_conditions(frozen, images, labels, conditions,
                                                         fold_seed))
                if finetune:
                    tuned = _finetuned(galaxies, train, init, profile, fold_seed, Path(tmp))
                    models.setdefault("fine-tuned", []).append(
                        score_conditions(tuned, images, labels, conditions, fold_seed))
                say(f"{split} CV fold {k + 1}/{n_folds}: " + ", ".join(
                    f"{name} {runs[-1][AS_THEY_ARE][0]:.3f} -> {runs[-1][AS_THEY_ARE][1]:.3f}"
                    for name, runs in models.items()) + " (as they are, plain -> adapted)")
            out["splits"][split] = {"cv": about["cv"],
                                    **{name: _section(runs) for name, runs in models.items()}}
    if finetune:
        from galaxy10.bench.selection import CANDIDATES
        from galaxy10.core.profiles import RECIPE_PROFILE, get_profile

        out["finetune"] = {"recipe": CANDIDATES["shipped"].about,
                           "profile": (profile or get_profile(RECIPE_PROFILE)).name}
    out["provenance"] = provenance(started)
    return out


def _finetuned(galaxies, train: np.ndarray, init, profile: Profile | None, seed: int,
               folder: Path):
    """The shipped recipe fine-tuned from ``init`` on ``train``, as a predictor."""
    from galaxy10.bench.selection import CANDIDATES
    from galaxy10.core.profiles import RECIPE_PROFILE, get_profile
    from galaxy10.modeling.augment import JITTERS
    from galaxy10.pipeline.training import train_bundle

    candidate = CANDIDATES["shipped"]
    profile = (profile or get_profile(RECIPE_PROFILE)).with_overrides(**candidate.overrides)
    cache = folder / "cache"
    cache.mkdir(exist_ok=True)
    return train_bundle(galaxies, np.sort(train), folder / "fine-tuned.keras", profile,
                        seed=seed, init=init, jitter=JITTERS[candidate.jitter],
                        cache_dir=cache).predictor


def format_adapt(result: dict[str, Any]) -> str:
    """``bench adapt``'s tables: per CV and model, balanced accuracy plain and adapted, and
    the gain, mean +- sd over the folds, under each condition."""
    lines = []
    for split, section in result["splits"].items():
        for model, rows in ((m, r) for m, r in section.items() if m != "cv"):
            lines.append(f"== adapt, {split} CV, {model} network: balanced accuracy (mean +- sd "
                         f"over {result['folds']} folds), adapted to the test images ==")
            lines.append(f"{'condition':<30} {'plain':>15} {'adapted':>15} {'gain':>15}")
            for name, row in rows.items():
                lines.append(f"{name:<30} " + " ".join(
                    f"{row[key]['mean']:>7.3f} +- {row[key]['sd']:.3f}"
                    for key in ("plain", "adapted", "gain")))
            gains = [row["gain"]["mean"] for row in rows.values()]
            lines.append(f"mean gain over the {len(gains)} conditions: {np.mean(gains):+.3f}")
    return "\n".join(lines)


def adapt_markdown(result: dict[str, Any]) -> list[str]:
    """The record's tables in Markdown (one per CV: a row per condition; for each model the
    balanced accuracy plain and adapted and the gain, mean ± sd over the folds), for the docs,
    which print them from the committed record."""
    lines: list[str] = []
    for split, section in result["splits"].items():
        models = [m for m in section if m != "cv"]
        lines += [f"**{split} CV** ({result['folds']} folds; mean ± sd over the folds)", "",
                  "| condition | " + " | ".join(f"{m} {what}" for m in models
                                                 for what in ("plain", "adapted", "gain"))
                  + " |",
                  "|---|" + "---|" * (3 * len(models))]
        for name in section[models[0]]:
            cells = []
            for m in models:
                row = section[m][name]
                cells += [f"{row['plain']['mean']:.3f} ± {row['plain']['sd']:.3f}",
                          f"{row['adapted']['mean']:.3f} ± {row['adapted']['sd']:.3f}",
                          f"{row['gain']['mean']:+.3f} ± {row['gain']['sd']:.3f}"]
            label = "as they are" if name == AS_THEY_ARE else name
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        means = [f"{m} {np.mean([r['gain']['mean'] for r in section[m].values()]):+.3f}"
                 for m in models]
        lines += ["", f"Mean gain over the {len(section[models[0]])} conditions: "
                      + ", ".join(means) + ".", ""]
    return lines
