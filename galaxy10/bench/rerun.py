"""A model of ``bench real`` run again later, merged beside the older rows of its section.

A change to one model's recipe (the fine-tuned network's, most often) needs only that
model trained again on the same folds, not every model: ``bench real --models finetuned``
runs it alone, and :func:`merge_rerun` puts its rows into the reference section in place of
the old ones. Each merged row keeps its own run's ``provenance`` and ``profile_settings``, so
the results page says where it came from and judges it by the settings it was measured with
(:func:`galaxy10.core.profiles.model_settings`), while the rows left alone keep the
section's.
"""

from __future__ import annotations

import copy
from typing import Any

from galaxy10.core.errors import Galaxy10Error

SAME_FOLDS: tuple[str, ...] = ("cv", "n_images", "folds", "duplicate_rows", "regions",
                               "profile")
"""What a rerun must share with the section it is merged into: the same images, the same
fold assignment (and, for the region split, the same sky cells), the same profile."""


def differing_folds(section: dict[str, Any], rerun: dict[str, Any]) -> list[str]:
    """The keys of :data:`SAME_FOLDS` in which ``rerun`` (a section, or what a run about to
    start will record) differs from ``section``; empty when its scores compare fold for
    fold."""
    return [key for key in SAME_FOLDS if section.get(key) != rerun.get(key)]


def merge_rerun(section: dict[str, Any], rerun: dict[str, Any], note: str = ""
                ) -> dict[str, Any]:
    """``section`` with every model of ``rerun`` in place of (or beside) its rows.

    Parameters
    ----------
    section : dict
        A ``bench real`` section (``real_cv``, ``real_cv_region``, ...), as recorded.
    rerun : dict
        A later ``bench real`` section of the same folds (:data:`SAME_FOLDS`).
    note : str
        How the rerun was made (the command, the machine's load), kept in each merged row's
        ``provenance``.

    Returns
    -------
    dict
        A new section; ``section`` itself is not changed. Its ``gap_to_random`` (a region
        section's, which compares it with the random one) is dropped: it described the rows
        of before.

    Raises
    ------
    Galaxy10Error
        When the two differ in any of :data:`SAME_FOLDS`: their scores would not compare
        fold for fold.
    """
    differ = differing_folds(section, rerun)
    if differ:
        raise Galaxy10Error("the rerun is not of the same folds as the section it would join "
                            f"(they differ in {', '.join(differ)}); record it on its own")
    merged = copy.deepcopy(section)
    merged.pop("gap_to_random", None)  # an older run's: the caller recomputes it
    provenance = {**rerun["provenance"], **({"note": note} if note else {})}
    order = merged.setdefault("model_order", list(merged.get("models", {})))
    for name in rerun["model_order"]:
        merged.setdefault("models", {})[name] = {
            **copy.deepcopy(rerun["models"][name]), "provenance": provenance,
            "profile_settings": copy.deepcopy(rerun.get("profile_settings"))}
        if name not in order:
            order.append(name)
        if name in (rerun.get("finetune_jitters") or {}):
            merged.setdefault("finetune_jitters", {})[name] = copy.deepcopy(
                rerun["finetune_jitters"][name])
    return merged
