"""``bench shipped``: remake the bundle shipped with galaxy10 and check it scores the same.

The shipped bundle (:mod:`galaxy10.modeling.shipped`) records the profile, seed, augmentation
and synthetic data it was pre-trained on, and its scores. This benchmark pre-trains a new
bundle from the code as it is now with those same settings
(:func:`galaxy10.pipeline.training.pretrain_bundle`, what ``pretrain`` runs), scores it the same
way, and compares: a difference is "within noise" when it is smaller than the two scores'
95% bootstrap intervals combined (the root of the sum of the squared half-widths).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

from galaxy10.core.errors import Galaxy10Error


def shipped_recipe(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """Profile, seed, augmentation, data and scores recorded in a pre-trained bundle's JSON.

    Raises
    ------
    Galaxy10Error
        When the bundle records no pre-training on galaxy10's synthetic set, or no scores.
    """
    from galaxy10.modeling.bundle import read_bundle

    params = read_bundle(bundle)
    steps = [s for s in params.lineage if s["stage"] == "pre-train"]
    synthetic = params.data.synthetic if params.data else None
    if not steps or not synthetic or params.scores is None or params.profile is None \
            or params.seed is None:
        raise Galaxy10Error(f"{bundle}: not a bundle made by `pretrain` on galaxy10's synthetic "
                            "set with its scores recorded; nothing to remake")
    return {"profile": params.profile, "seed": params.seed, "size": params.image.size,
            "jitter": steps[-1].get("jitter"), "synthetic": synthetic,
            "scores": params.scores, "provenance": params.provenance or {}}


def _half_width(score: dict[str, Any]) -> float:
    lo, hi = score["balanced_accuracy_ci95"]
    return (hi - lo) / 2


def compare_scores(shipped: dict[str, Any], remade: dict[str, Any]) -> dict[str, Any]:
    """Per figure (``test``, ``sim_to_real``): both balanced accuracies, their difference, the
    noise allowed, and whether the difference is within it."""
    rows = {}
    for name in shipped:
        if name not in remade:
            continue
        a, b = shipped[name], remade[name]
        noise = math.hypot(_half_width(a), _half_width(b))
        diff = b["balanced_accuracy"] - a["balanced_accuracy"]
        rows[name] = {"shipped": a["balanced_accuracy"], "remade": b["balanced_accuracy"],
                      "difference": diff, "noise": noise, "within_noise": abs(diff) <= noise}
    return rows


def bench_shipped(bundle: str | os.PathLike[str] | None = None, *,
                  real: str | os.PathLike[str] | None = None, epochs: int | None = None,
                  say=print) -> dict[str, Any]:
    """Remake ``bundle`` (default: the shipped one) with its recorded recipe and compare scores.

    Parameters
    ----------
    bundle : path-like, optional
        A bundle made by ``pretrain``; default :func:`galaxy10.modeling.shipped.shipped_bundle`.
    real : path-like, optional
        Labelled real images for the sim-to-real score (default: the real sample, as
        ``pretrain`` uses); the comparison leaves sim-to-real out when there are none.
    epochs : int, optional
        Fewer epochs than the recipe's, for a quick try: the comparison then says so, and
        "within noise" is not expected.
    say : callable
        Progress lines.

    Returns
    -------
    dict
        The ``shipped`` benchmark section: the recipe, the comparison, the remade bundle's
        training seconds and provenance.
    """
    from galaxy10.core.paths import default_real_sample
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.fetch import ensure_synthetic
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.shipped import shipped_bundle
    from galaxy10.pipeline.training import pretrain_bundle

    bundle = Path(bundle) if bundle else shipped_bundle()
    recipe = shipped_recipe(bundle)
    synthetic = recipe["synthetic"]
    data = ensure_synthetic(synthetic["preset"], synthetic["seed"])
    with Galaxy10File(data) as f:
        version = f.attrs.get("generator_version")
    if version != synthetic.get("generator_version"):
        raise Galaxy10Error(f"{data}: synthetic generator version {version}, but {bundle} was "
                            f"pre-trained on version {synthetic.get('generator_version')}: a "
                            "remade bundle would learn from other images")
    if real is None and "sim_to_real" in recipe["scores"]:
        sample = default_real_sample()
        real = sample if sample.exists() else None
    profile = get_profile(recipe["profile"]).with_overrides(galaxy_size=recipe["size"]
                                                            ).with_epochs(epochs)
    say(f"remaking {bundle.name}: profile {profile.name}, seed {recipe['seed']}, "
        f"{synthetic['preset']} synthetic set (seed {synthetic['seed']})")
    with tempfile.TemporaryDirectory() as tmp:
        report = pretrain_bundle(data, Path(tmp) / bundle.name, profile, seed=recipe["seed"],
                                 jitter=recipe["jitter"], real=real, say=say)
    remade = {"test": report["test"]}
    if "sim_to_real" in report:
        remade["sim_to_real"] = report["sim_to_real"]
    return {"bundle": os.fspath(bundle), "recipe": {k: recipe[k] for k in
                                                    ("profile", "seed", "size", "jitter",
                                                     "synthetic")},
            "shipped_commit": recipe["provenance"].get("commit"),
            "epochs": epochs, "comparison": compare_scores(recipe["scores"], remade),
            "seconds": report["seconds"], "provenance": report["provenance"]}


def format_shipped(result: dict[str, Any]) -> str:
    """The comparison as a table."""
    lines = [f"remade {Path(result['bundle']).name} (shipped from commit "
             f"{result['shipped_commit']}) in {result['seconds']:.0f} s of training"
             + (f", {result['epochs']} epochs only" if result["epochs"] else ""),
             f"{'balanced accuracy':<20}{'shipped':>9}{'remade':>9}{'diff':>8}{'noise':>8}  within",
             ]
    for name, row in result["comparison"].items():
        lines.append(f"{name:<20}{row['shipped']:>9.3f}{row['remade']:>9.3f}"
                     f"{row['difference']:>+8.3f}{row['noise']:>8.3f}  "
                     f"{'yes' if row['within_noise'] else 'NO'}")
    return "\n".join(lines)
