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

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from galaxy10.core.profiles import Profile

AS_THEY_ARE = "none"
"""The condition name of the test images unchanged."""

Say = Callable[[str], None]


WAYS = ("plain", "adapted", "survey_mix")
"""The three scores of each condition: the network as it is; adapted to the test images (a
fold's test images keep the sample's equal classes); adapted to a survey's mix of them."""


def survey_mix(labels: np.ndarray, seed: int) -> np.ndarray:
    """Rows of ``labels`` drawn (as many as there are, with replacement, seeded) so that each
    class's share is its share of the whole Galaxy10 DECaLS (1.9 % Cigar Shaped Smooth to
    14.9 % Round Smooth): what a survey's catalogue holds, where a fold holds equal classes.
    Only the benchmark reads the labels to draw it; the adaptation reads none."""
    from galaxy10.core.classes import REAL_CLASS_COUNTS

    labels = np.asarray(labels, dtype=np.int64)
    shares = np.asarray(REAL_CLASS_COUNTS, dtype=np.float64) / sum(REAL_CLASS_COUNTS)
    counts = np.bincount(labels, minlength=len(shares))
    weights = shares[labels] / counts[labels]
    rng = np.random.default_rng(seed)
    return rng.choice(len(labels), size=len(labels), replace=True, p=weights / weights.sum())


def plain_and_adapted(predictor, images: np.ndarray, labels: np.ndarray, seed: int = 0
                      ) -> dict[str, float]:
    """Balanced accuracy of ``predictor`` on ``images`` (:data:`WAYS`): as it is, adapted to
    them, and adapted to a survey's class mix of them (:func:`survey_mix`); its
    batch-normalisation statistics are put back afterwards."""
    from sklearn.metrics import balanced_accuracy_score

    from galaxy10.modeling.adapt import adapt_batch_norm, batch_norm_layers

    x = predictor.preprocess(images)

    def score() -> float:
        guess = predictor.predict_proba(x, preprocessed=True).argmax(axis=1)
        return float(balanced_accuracy_score(labels, guess))

    out = {"plain": score()}
    layers = batch_norm_layers(predictor.model)
    saved = [layer.get_weights() for layer in layers]
    for way, rows in (("adapted", slice(None)), ("survey_mix", survey_mix(labels, seed))):
        try:
            adapt_batch_norm(predictor.model, x[rows])
            out[way] = score()
        finally:  # each way starts from the network as it was
            for layer, weights in zip(layers, saved, strict=True):
                layer.set_weights(weights)
    return out


def score_conditions(predictor, images: np.ndarray, labels: np.ndarray,
                     conditions: Sequence[str], seed: int) -> dict[str, dict[str, float]]:
    """:func:`plain_and_adapted` under each condition (:data:`AS_THEY_ARE` or a shift)."""
    from galaxy10.modeling.shifts import apply_shift

    return {name: plain_and_adapted(predictor, images if name == AS_THEY_ARE
                                    else apply_shift(images, name, seed=seed), labels, seed)
            for name in conditions}


def _section(scores: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Per condition, each way's scores and each adapted way's gain over plain, over the
    folds."""
    from galaxy10.bench.active import runs_summary

    out: dict[str, Any] = {}
    for name in scores[0]:
        runs = {way: [fold[name][way] for fold in scores] for way in WAYS}
        out[name] = {way: runs_summary(values) for way, values in runs.items()}
        for way in WAYS[1:]:
            out[name][f"{way}_gain"] = runs_summary(np.subtract(runs[way], runs["plain"]))
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
        ``splits[split][model][condition]``: each of :data:`WAYS` and the adapted ways'
        ``<way>_gain`` over plain (mean, sd and runs of the balanced accuracy over the folds),
        for ``model`` ``frozen`` (and ``fine-tuned``); the settings and provenance.
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
                           "conditions": conditions, "adapted_on": {
                               "adapted": "each fold's test images (labels unread), as the "
                                          "shift left them",
                               "survey_mix": "the same images drawn with replacement in the "
                                             "whole data set's class shares"}, "splits": {}}
    frozen = Predictor(init)
    runner = None
    if finetune:
        from galaxy10.bench.selection import FinetuneRunner
        from galaxy10.core.profiles import RECIPE_PROFILE, get_profile

        runner = FinetuneRunner(real_h5, profile or get_profile(RECIPE_PROFILE), init)
    with Galaxy10File(real_h5) as galaxies, contextlib.ExitStack() as stack:
        if runner is not None:
            stack.callback(runner.close)
        y = galaxies.labels.astype(np.int64)
        out["n_images"] = int(len(y))
        for split in splits:
            folds, about = cv_folds(real_h5, n_folds, seed, split)
            models: dict[str, list[dict[str, dict[str, float]]]] = {"frozen": []}
            for k, (train, test) in enumerate(folds):
                fold_seed = run_seed(seed, 0, k)
                images = galaxies.read(np.sort(test))
                labels = y[np.sort(test)]
                models["frozen"].append(score_conditions(frozen, images, labels, conditions,
                                                         fold_seed))
                if runner is not None:
                    tuned = runner.fit("shipped", train, fold_seed)[0].predictor
                    models.setdefault("fine-tuned", []).append(
                        score_conditions(tuned, images, labels, conditions, fold_seed))
                say(f"{split} CV fold {k + 1}/{n_folds}: " + ", ".join(
                    f"{name} {runs[-1][AS_THEY_ARE]['plain']:.3f} -> "
                    f"{runs[-1][AS_THEY_ARE]['adapted']:.3f} / "
                    f"{runs[-1][AS_THEY_ARE]['survey_mix']:.3f}"
                    for name, runs in models.items())
                    + " (as they are: plain -> adapted / adapted to a survey's mix)")
            out["splits"][split] = {"cv": about["cv"],
                                    **{name: _section(runs) for name, runs in models.items()}}
    if runner is not None:
        from galaxy10.bench.selection import CANDIDATES

        out["finetune"] = {"recipe": CANDIDATES["shipped"].about, "profile": runner.profile.name}
    out["provenance"] = provenance(started)
    return out


def _cell(row: dict[str, Any], way: str) -> str:
    """One way's mean ± sd, with its gain over plain for the adapted ways."""
    text = f"{row[way]['mean']:.3f} ± {row[way]['sd']:.3f}"
    if way != "plain":
        text += f" ({row[way + '_gain']['mean']:+.3f})"
    return text


def _mean_gains(rows: dict[str, Any]) -> str:
    """Each adapted way's gain over plain, averaged over the conditions."""
    means = {way: np.mean([row[f"{way}_gain"]["mean"] for row in rows.values()])
             for way in WAYS[1:]}
    return ", ".join(f"{way.replace('_', ' ')} {mean:+.3f}" for way, mean in means.items())


def format_adapt(result: dict[str, Any]) -> str:
    """``bench adapt``'s tables: per CV and model, balanced accuracy plain, adapted to the
    test images and adapted to a survey's mix of them (mean ± sd over the folds, gain over
    plain in brackets), under each condition."""
    lines = []
    for split, section in result["splits"].items():
        for model, rows in ((m, r) for m, r in section.items() if m != "cv"):
            lines.append(f"== adapt, {split} CV, {model} network: balanced accuracy (mean +- sd "
                         f"over {result['folds']} folds; gain over plain) ==")
            lines.append(f"{'condition':<30} {'plain':>15} {'adapted':>26} {'survey mix':>26}")
            for name, row in rows.items():
                lines.append(f"{name:<30} {_cell(row, 'plain'):>15} "
                             f"{_cell(row, 'adapted'):>26} {_cell(row, 'survey_mix'):>26}")
            lines.append(f"mean gain over the {len(rows)} conditions: {_mean_gains(rows)}")
    return "\n".join(lines)


def adapt_markdown(result: dict[str, Any]) -> list[str]:
    """The record's tables in Markdown, one per CV: a row per condition; for each model the
    balanced accuracy plain, adapted to the test images and adapted to a survey's mix of them
    (mean ± sd over the folds, gain over plain in brackets). The docs print them from the
    committed record."""
    lines: list[str] = []
    heads = {"plain": "plain", "adapted": "adapted", "survey_mix": "adapted, survey's mix"}
    for split, section in result["splits"].items():
        models = [m for m in section if m != "cv"]
        lines += [f"**{split} CV** ({result['folds']} folds; mean ± sd over the folds, gain "
                  "over plain in brackets)", "",
                  "| condition | " + " | ".join(f"{m}: {heads[way]}" for m in models
                                                 for way in WAYS) + " |",
                  "|---|" + "---|" * (len(WAYS) * len(models))]
        for name in section[models[0]]:
            label = "as they are" if name == AS_THEY_ARE else name
            lines.append(f"| {label} | " + " | ".join(
                _cell(section[m][name], way) for m in models for way in WAYS) + " |")
        lines += ["", f"Mean gain over the {len(section[models[0]])} conditions: " + "; ".join(
            f"{m}: {_mean_gains(section[m])}" for m in models) + ".", ""]
    return lines
