"""``bench select``: choose a fine-tuning recipe without looking at the images it is scored on.

A recipe picked on the benchmark's own test images is rewarded for fitting them: on the
1,000-image real sample, which is mostly one patch of sky, a choice made on its folds can
fit that patch rather than the survey. Nested cross-validation (Varma & Simon 2006, *BMC
Bioinformatics* 7:91; Cawley & Talbot 2010, *JMLR* 11:2079) keeps the two apart: each outer
fold of the benchmark (:func:`galaxy10.bench.real.cv_folds`, region-held-out by default)
chooses among the candidate recipes by an inner cross-validation of its *training* images
alone, grouped the same way (whole sky cells held out), then trains the chosen recipe on
all its training images and scores it on its test images, which no choice has seen. The
outer scores estimate what the *selection procedure* achieves across the sky; how often
each candidate is chosen says how stable the choice is.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.profiles import (
    Profile,
    model_settings,
    plain_settings,
    recorded_settings,
    same_settings,
)
from galaxy10.modeling.augment import FINETUNE_JITTER
from galaxy10.modeling.shifts import SURVEY_SHIFT


class OtherFoldsError(Galaxy10Error):
    """An earlier selection's record (``reuse_inner``) was measured on other outer folds."""


@dataclass(frozen=True)
class Candidate:
    """A fine-tuning recipe: a named augmentation (:data:`galaxy10.modeling.augment.JITTERS`)
    and profile settings that differ from the profile's (``Profile.with_overrides``);
    ``pretrained`` False trains the network from scratch instead, as ``train`` without
    ``--init`` does."""

    jitter: str
    about: str
    overrides: dict[str, Any] = field(default_factory=dict)
    pretrained: bool = True


CANDIDATES: dict[str, Candidate] = {
    "shipped": Candidate(FINETUNE_JITTER, "the shipped recipe: train --init's fine-tuning"),
    "robust": Candidate("robust", "the shipped recipe before issue #38: the robust "
                                  "augmentation, without the survey's flux-scale variation"),
    "no_label_smoothing": Candidate(FINETUNE_JITTER, "hard targets instead of smoothed ones",
                                    {"finetune_label_smoothing": 0.0}),
    "80_epochs": Candidate(FINETUNE_JITTER, "half the epochs (the last quarter still averaged)",
                           {"finetune_epochs": 80}),
    "no_weight_averaging": Candidate(FINETUNE_JITTER, "the best epoch on the validation split "
                                                      "(early stopping) instead of the weight "
                                                      "average",
                                     {"finetune_average_fraction": 0.0}),
    "no_refreshed_statistics": Candidate(FINETUNE_JITTER, "the batch-normalisation "
                                                          "statistics kept as averaged with "
                                                          "the weights, from augmented "
                                                          "batches, instead of recomputed on "
                                                          "the training images",
                                         {"finetune_refresh_batch_norm": False}),
    "no_augmentation": Candidate("none", "no augmentation while fine-tuning beyond the "
                                         "flips and 90-degree rotations"),
    "no_pretraining": Candidate("default", "no synthetic pre-training: the network trained "
                                           "from scratch on the labels, as train without "
                                           "--init does (its default augmentation)",
                                pretrained=False),
}
"""The recipes ``bench select --candidates`` can compare, by name; ``shipped`` is the one
``train --init`` runs (augmentation :data:`~galaxy10.modeling.augment.FINETUNE_JITTER`). The
others each change one adopted choice back (``no_pretraining`` the synthetic pre-training
itself). The reference run of issue #38 compared
``shipped`` (then the robust augmentation) with ``survey`` (now shipped); its record keeps each
candidate's settings."""


def select_recipe(real_h5: str | os.PathLike[str], profile: Profile, candidates: Sequence[str],
                  *, init: str | os.PathLike[str], seed: int = 0, outer_folds: int = 5,
                  inner_folds: int = 2, split: str = "region",
                  reuse: dict[str, Any] | None = None,
                  reuse_inner: dict[str, Any] | None = None, on_fold=None,
                  say=print) -> dict[str, Any]:
    """Nested selection of a fine-tuning recipe among ``candidates`` (names of
    :data:`CANDIDATES`), scored on the outer folds that no choice looked at.

    Parameters
    ----------
    real_h5 : path-like
        Labelled real images (with sky positions for ``split="region"``).
    profile : Profile
        The budget; each candidate's ``overrides`` apply on top of it.
    candidates : sequence of str
        At least two; on equal inner scores the earlier one wins, so list the current recipe
        first.
    init : path-like
        The pre-trained bundle every candidate fine-tunes.
    seed : int
        The outer folds are ``bench real``'s for this seed (so the outer scores compare with
        its table); fold ``k``'s inner folds are shuffled with ``seed + 1 + k`` and every
        model of fold ``k`` trains with ``seed + k``, as ``bench real``'s do.
    outer_folds, inner_folds : int
        The outer (scoring) and inner (choosing) cross-validations' folds.
    split : {"region", "random"}
        How both levels group their folds (:func:`galaxy10.bench.real.cv_groups`).
    reuse : dict, optional
        A ``bench real`` section of the same folds (``real_cv_region`` for ``region``); where
        the first candidate is chosen and it is that section's fine-tuned recipe, its fold
        score is taken from there instead of training the same model again (the same rows,
        seed and settings give the same model).
    reuse_inner : dict, optional
        An earlier ``bench select`` record (:func:`inner_reuse`); the inner scores of each of
        ``candidates`` that it measured with the same settings, folds, profile and init are
        taken from it instead of fine-tuning them again, so a new candidate costs only its
        own fine-tunes. Where none matches, a line says so before any training.
    on_fold : callable, optional
        Called with the result so far (``complete`` False) after each outer fold but the
        last, so a run of hours that is stopped keeps the folds it finished.

    Returns
    -------
    dict
        ``candidates`` (their settings), ``folds`` (per outer fold: each candidate's inner
        scores, the choice, its outer score), ``nested`` (mean and sd of the outer balanced
        accuracy, per-class recall, the score under :data:`SURVEY_SHIFT` where measured),
        ``chosen`` (how often each candidate was chosen), the folds' description and
        provenance.
    """
    from galaxy10.bench.real import cv_folds, cv_groups
    from galaxy10.core.identity import file_sha256

    started = time.time()
    grouping = cv_groups(real_h5, split)  # the duplicate search reads every image: once
    folds, about = cv_folds(real_h5, outer_folds, seed, split, grouping=grouping)
    groups = grouping[1]
    reused = _reusable(reuse, about, profile, candidates[0])
    earlier = {} if reuse_inner is None else inner_reuse(reuse_inner, candidates, profile,
                                                         init, inner_folds)
    if earlier and reuse_inner.get("cv") != about["cv"]:
        raise OtherFoldsError("--reuse-inner: its record was measured on other outer folds "
                              f"({reuse_inner.get('cv')}) than these ({about['cv']})")
    if reuse_inner is not None and not earlier:  # asked for, but nothing matched: say so
        say("--reuse-inner: no candidate's inner scores in it were measured with these "
            "settings, profile, bundle and inner folds; every candidate fine-tunes afresh")
    runner = FinetuneRunner(real_h5, profile, init)
    init_sha256 = file_sha256(init)  # once, not at every fold's record
    rows: list[dict[str, Any]] = []

    def result(complete: bool) -> dict[str, Any]:
        return _result(rows, about, profile, init, init_sha256, candidates, inner_folds,
                       split, seed, started, complete)

    try:
        for k, (train, test) in enumerate(folds):
            rows.append(_outer_fold(runner, k, train, test, groups, candidates, seed,
                                    inner_folds, reused, _fold_of(earlier, k), say))
            if on_fold is not None and k + 1 < len(folds):
                on_fold(result(False))
    finally:
        runner.close()
    return result(True)


def _result(rows: list[dict[str, Any]], about: dict[str, Any], profile: Profile, init,
            init_sha256: str, candidates: Sequence[str], inner_folds: int, split: str, seed: int,
            started: float, complete: bool) -> dict[str, Any]:
    """The ``recipe_selection_<split>`` record of the outer folds in ``rows``."""
    from galaxy10.reporting.metrics import provenance

    return {"what": "nested selection of the fine-tuning recipe: each outer fold chooses by "
                    f"an inner {inner_folds}-fold CV of its training images alone ({split} "
                    "grouping), then trains the choice on them and scores its test images",
            **about, "seed": seed, "profile": profile.name,
            "profile_settings": profile.to_dict(), "init": os.fspath(init),
            "init_sha256": init_sha256,
            "inner_folds": inner_folds, "selection_score": "inner mean balanced accuracy",
            "candidates": {name: _settings(name) | {"about": CANDIDATES[name].about}
                           for name in candidates},
            "order": list(candidates),  # the first wins ties; JSON files sort the keys
            "folds": rows, "nested": _nested_summary(rows),
            "chosen": {name: sum(r["chosen"] == name for r in rows) for name in candidates},
            "complete": complete, "provenance": provenance(started)}


def _outer_fold(runner: FinetuneRunner, k: int, train: np.ndarray, test: np.ndarray,
                groups: np.ndarray, candidates: Sequence[str], seed: int, inner_folds: int,
                reused: list[dict[str, Any]] | None, earlier: dict[str, dict[str, Any]],
                say) -> dict[str, Any]:
    """One outer fold: every candidate's inner CV (taken from ``earlier``, a name's recorded
    inner scores of this fold, where its inner folds are the same sizes), the choice, and its
    outer score."""
    from sklearn.model_selection import StratifiedGroupKFold

    y = runner.y
    inner = list(StratifiedGroupKFold(n_splits=inner_folds, shuffle=True,
                                      random_state=seed + 1 + k)
                 .split(np.zeros(len(train)), y[train], groups[train]))
    sizes = [[int(len(a)), int(len(b))] for a, b in inner]
    scores: dict[str, Any] = {}
    for name in candidates:
        recorded = earlier.get(name)
        if recorded is not None and recorded["sizes"] == sizes:
            scores[name] = {**recorded["scores"], "reused": True}
        else:
            per = [runner.fit_and_score(name, train[a], train[b], seed + k) for a, b in inner]
            scores[name] = {"balanced_accuracy": [p["balanced_accuracy"] for p in per],
                            "mean": float(np.mean([p["balanced_accuracy"] for p in per])),
                            SURVEY_SHIFT: float(np.mean([p[SURVEY_SHIFT] for p in per])),
                            "train_seconds": float(np.mean([p["train_seconds"] for p in per])),
                            "reused": False}
        each = " / ".join(f"{v:.3f}" for v in scores[name]["balanced_accuracy"])
        say(f"outer fold {k + 1}: {name:<20} inner balanced accuracy "
            f"{scores[name]['mean']:.3f} ({each}), {SURVEY_SHIFT} "
            f"{scores[name][SURVEY_SHIFT]:.3f}{' (reused)' if scores[name]['reused'] else ''}")
    chosen = max(candidates, key=lambda name: scores[name]["mean"])  # first of equals
    if reused is not None and chosen == candidates[0]:
        outer = {**reused[k], "reused": True}
    else:
        outer = {**runner.fit_and_score(chosen, train, test, seed + k, full=True),
                 "reused": False}
    say(f"outer fold {k + 1}: chose {chosen}, outer balanced accuracy "
        f"{outer['balanced_accuracy']:.3f}{' (reused)' if outer['reused'] else ''}")
    return {"fold": k, "n_train": int(len(train)), "n_test": int(len(test)),
            "inner_sizes": sizes, "inner": scores, "chosen": chosen, "outer": outer}


def _nested_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sd over the outer folds of the chosen recipes' scores."""
    from galaxy10.core.classes import CLASS_NAMES

    scores = np.array([r["outer"]["balanced_accuracy"] for r in rows], dtype=np.float64)
    out: dict[str, Any] = {"balanced_accuracy": {
        "mean": float(scores.mean()), "sd": float(scores.std(ddof=1)) if len(scores) > 1 else 0.0,
        "folds": scores.tolist()}}
    recalls = [r["outer"]["recall"] for r in rows if "recall" in r["outer"]]
    if len(recalls) == len(rows):
        out["recall"] = dict(zip(CLASS_NAMES, np.mean(recalls, axis=0).tolist(), strict=True))
    shifted = [r["outer"].get(SURVEY_SHIFT) for r in rows]
    if all(v is not None for v in shifted):
        out[SURVEY_SHIFT] = float(np.mean(shifted))
    return out


def _reusable(section: dict[str, Any] | None, about: dict[str, Any], profile: Profile,
              first: str) -> list[dict[str, Any]] | None:
    """The outer fold scores of ``section`` for candidate ``first``, where they are the same
    models (same folds, profile and its settings, and fine-tuning recipe); else None."""
    if section is None or CANDIDATES[first].overrides or not CANDIDATES[first].pretrained:
        return None
    from galaxy10.core.classes import finetuned_name
    from galaxy10.modeling.augment import JITTERS

    jitter = CANDIDATES[first].jitter
    name = finetuned_name(jitter)
    recorded = (section.get("finetune_jitters") or {}).get(name)
    same = (section.get("cv") == about["cv"] and section.get("profile") == profile.name
            and same_settings(model_settings(section, name), profile)
            and recorded is not None
            and json.loads(json.dumps(recorded)) == json.loads(json.dumps(JITTERS[jitter]))
            and name in section.get("models", {}))
    if not same:
        return None
    return [{"balanced_accuracy": r["balanced_accuracy"], "recall": r["recall"],
             "train_seconds": r["train_seconds"],
             **({SURVEY_SHIFT: r["shifts"][SURVEY_SHIFT]}
                if SURVEY_SHIFT in r.get("shifts", {}) else {})}
            for r in section["models"][name]["folds"]]


def _settings(name: str) -> dict[str, Any]:
    """Candidate ``name``'s settings in plain JSON: its augmentation by name and in full, and
    its profile overrides."""
    from galaxy10.modeling.augment import JITTERS

    candidate = CANDIDATES[name]
    return _plain({"jitter": candidate.jitter, "jitter_settings": JITTERS[candidate.jitter],
                   "overrides": candidate.overrides, "pretrained": candidate.pretrained})


def inner_reuse(record: dict[str, Any], candidates: Sequence[str], profile: Profile,
                init: str | os.PathLike[str], inner_folds: int) -> dict[str, dict[int, Any]]:
    """The inner scores an earlier ``bench select`` ``record`` measured for each of
    ``candidates``: name -> outer fold -> ``{"sizes", "scores"}``.

    A recorded candidate stands for one of ``candidates`` when its augmentation (by name
    and, where the record keeps it, in full) is the same, and its settings, the record's
    profile settings (:func:`~galaxy10.core.profiles.recorded_settings`) with its overrides,
    are ``profile``'s with the candidate's: a recipe that a later default adopted is found
    under the name it had as a candidate. The record must have used the same profile, number
    of inner folds and init (by SHA-256, where kept; else by file name). The outer folds
    are compared by the caller, and each fold's inner fold sizes before a score is taken.
    """
    from galaxy10.core.identity import file_sha256

    if not isinstance(record, dict):
        return {}
    base = recorded_settings(record.get("profile_settings"), profile)
    same_run = (base is not None and record.get("profile") == profile.name
                and record.get("inner_folds") == inner_folds
                and (record.get("init_sha256") == file_sha256(init)
                     if "init_sha256" in record
                     else Path(str(record.get("init", ""))).name == Path(init).name))
    if not same_run:
        return {}
    recorded = record.get("candidates")
    rows = [row for row in record.get("folds") or [] if _inner_row(row)]
    ours_base = plain_settings(profile)
    out: dict[str, dict[int, Any]] = {}
    for name in candidates:
        ours = _settings(name)
        same = [theirs_name for theirs_name, theirs in
                (recorded.items() if isinstance(recorded, dict) else [])
                if isinstance(theirs, dict) and theirs.get("jitter") == ours["jitter"]
                and isinstance(theirs.get("overrides", {}), dict)
                and _plain({**base, **theirs.get("overrides", {})})
                == _plain({**ours_base, **ours["overrides"]})
                and theirs.get("pretrained", True) == ours["pretrained"]
                and theirs.get("jitter_settings", ours["jitter_settings"])
                == ours["jitter_settings"]]
        folds = {row["fold"]: {"sizes": row["inner_sizes"],
                               "scores": _inner_scores(row["inner"][same[0]])}
                 for row in rows if same and _inner_scores(row["inner"].get(same[0]))}
        if folds:
            out[name] = folds
    return out


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists), for comparing with a record."""
    return json.loads(json.dumps(value))


def _inner_row(row: Any) -> bool:
    """Whether ``row`` has the shape of a recorded outer fold's inner CV."""
    return (isinstance(row, dict) and isinstance(row.get("fold"), int)
            and isinstance(row.get("inner_sizes"), list) and isinstance(row.get("inner"), dict))


def _inner_scores(recorded: Any) -> dict[str, Any] | None:
    """The score fields of one recorded candidate's inner CV, or None where they are not
    all there as numbers."""
    keys = ("balanced_accuracy", "mean", SURVEY_SHIFT, "train_seconds")
    if not isinstance(recorded, dict) or not all(k in recorded for k in keys):
        return None
    scores = recorded["balanced_accuracy"]
    numbers = [recorded[k] for k in keys[1:]] + (scores if isinstance(scores, list) else [None])
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        return None
    return {k: recorded[k] for k in keys}


def _fold_of(earlier: dict[str, dict[int, Any]], k: int) -> dict[str, dict[str, Any]]:
    """Outer fold ``k``'s recorded inner scores, by candidate name."""
    return {name: folds[k] for name, folds in earlier.items() if k in folds}


class FinetuneRunner:
    """Fine-tunes a candidate (a name of :data:`CANDIDATES`) on some rows of a file of real
    images and scores it on others; ``bench select`` and ``bench active``'s fine-tuning curve
    use it. Close it (:meth:`close`) to remove its temporary bundles and cache."""

    def __init__(self, real_h5: str | os.PathLike[str], profile: Profile,
                 init: str | os.PathLike[str]) -> None:
        import tempfile

        from galaxy10.datasets.reader import Galaxy10File

        self.profile, self.init = profile, init
        self.galaxies = Galaxy10File(real_h5)
        self.y = self.galaxies.labels.astype(np.int64)
        self.images = self.galaxies.read(np.arange(len(self.y)))
        self._tmp = tempfile.TemporaryDirectory()
        self.cache_dir = Path(self._tmp.name) / "cache"
        self.cache_dir.mkdir()

    def fit(self, name: str, rows: np.ndarray, seed: int):
        """Candidate ``name`` fine-tuned (or trained) on ``rows`` with ``seed``, and the
        seconds it took; its bundle lives in the runner's folder until the next fit of the
        same candidate.

        Returns
        -------
        galaxy10.pipeline.training.TrainedBundle, float
        """
        from galaxy10.modeling.augment import JITTERS
        from galaxy10.pipeline.training import train_bundle

        candidate = CANDIDATES[name]
        profile = self.profile.with_overrides(**candidate.overrides)
        path = Path(self._tmp.name) / f"{name}.keras"
        start = time.perf_counter()
        trained = train_bundle(self.galaxies, np.sort(rows), path, profile, seed=seed,
                               init=self.init if candidate.pretrained else None,
                               jitter=JITTERS[candidate.jitter],
                               cache_dir=self.cache_dir)
        return trained, time.perf_counter() - start

    def fit_and_score(self, name: str, rows: np.ndarray, test: np.ndarray, seed: int,
                      full: bool = False) -> dict[str, Any]:
        """Balanced accuracy on ``test`` (as it is and under :data:`SURVEY_SHIFT`) of
        candidate ``name`` fine-tuned on ``rows`` with ``seed``; ``full`` adds per-class
        recall."""
        from sklearn.metrics import balanced_accuracy_score, recall_score

        from galaxy10.modeling.shifts import apply_shift

        trained, seconds = self.fit(name, rows, seed)
        path = trained.path
        y = self.y[test]
        images = self.images[test]
        predicted = trained.predictor.predict_proba(images).argmax(axis=1)
        shifted = trained.predictor.predict_proba(
            apply_shift(images, SURVEY_SHIFT, seed=seed)).argmax(axis=1)
        out = {"balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
               SURVEY_SHIFT: float(balanced_accuracy_score(y, shifted)),
               "train_seconds": seconds, "n_train": int(len(rows))}
        if full:
            out["recall"] = recall_score(y, predicted, labels=np.arange(10), average=None,
                                         zero_division=0).tolist()
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)
        return out

    def close(self) -> None:
        """Close the file and remove the temporary bundles and cache."""
        self.galaxies.close()
        self._tmp.cleanup()


def format_selection(result: dict[str, Any]) -> str:
    """``bench select``'s table: each outer fold's inner scores, the choice and its score."""
    names = list(result["candidates"])
    lines = [f"== nested recipe selection: {len(result['folds'])} outer folds ({result['cv']}), "
             f"inner {result['inner_folds']}-fold, profile {result['profile']} ==",
             f"{'outer fold':<11}" + "".join(f"{n:>22}" for n in names)
             + f" {'chosen':>20} {'outer':>7}"]
    for row in result["folds"]:
        cells = "".join(f"{row['inner'][n]['mean']:>22.3f}" for n in names)
        mark = "*" if row["outer"]["reused"] else " "
        lines.append(f"{row['fold'] + 1:<11}{cells} {row['chosen']:>20} "
                     f"{row['outer']['balanced_accuracy']:>6.3f}{mark}")
    nested = result["nested"]["balanced_accuracy"]
    lines.append(f"nested estimate: {nested['mean']:.3f} +- {nested['sd']:.3f} "
                 f"(chosen: {', '.join(f'{n} {c}' for n, c in result['chosen'].items())})")
    if SURVEY_SHIFT in result["nested"]:
        lines.append(f"under '{SURVEY_SHIFT}': {result['nested'][SURVEY_SHIFT]:.3f}")
    if any(row["outer"]["reused"] for row in result["folds"]):
        lines.append("* the same model's score, taken from the bench real record (--reuse)")
    again = sorted({n for row in result["folds"] for n in names
                    if row["inner"][n].get("reused")})
    if again:
        lines.append(f"inner scores of {', '.join(again)} taken from an earlier bench select "
                     "record of the same settings and folds (--reuse-inner)")
    return "\n".join(lines)
