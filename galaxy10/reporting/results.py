"""The generated results block of ``docs/results.md``, built from the committed reference reports.

Every number in that block comes from a run's JSON files: each function below renders one
section (the original's procedure, the ablation, ``bench accuracy``, speed and memory, the
quick run) from them, and :func:`results_block` joins the sections into the block between
the page's markers. A test checks that the committed page still matches the committed
reports, so a figure cannot drift from the run that produced it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from galaxy10.core.classes import CLASS_NAMES, FINETUNED_MODEL, MODEL_LABELS
from galaxy10.reporting.markdown import fmt as _fmt
from galaxy10.reporting.markdown import mean_sd as _mean_sd
from galaxy10.reporting.recipe_checks import recipe_checks_markdown


def same_procedure_markdown(metrics: dict[str, Any]) -> list[str]:
    """The original's procedure side by side with this repository's, and the test-set table."""
    from galaxy10.core.reference import (
        ORIGINAL_CNN_CV_MEAN,
        ORIGINAL_CNN_TEST,
        ORIGINAL_CV,
        ORIGINAL_FFN_MEAN,
    )

    ev = metrics.get("evaluation")
    if not ev:
        return []
    data = ev["data"]
    version = (data.get("synthetic") or {}).get("generator_version")
    src = (f"{data['source']}{f' (generator v{version})' if version else ''}, "
           f"{data['n_images']:,} images, profile {data['profile']}")
    cv = metrics.get("cnn", {})
    rows = [
        ("RandomForest, 3-fold CV accuracy", ORIGINAL_CV["RandomForest"],
         metrics.get("baselines", {}).get("models", {}).get("RandomForest", {}).get("mean")),
        ("Feed-forward net, CV accuracy", ORIGINAL_FFN_MEAN, metrics.get("ffn", {}).get("mean")),
        ("Seed CNN, CV accuracy", ORIGINAL_CNN_CV_MEAN, cv.get("seed_cnn_cv", {}).get("mean")),
        ("Seed CNN (last fold of best search), test accuracy", ORIGINAL_CNN_TEST,
         ev["models"]["seed_cnn_lastfold"]["accuracy"]),
    ]
    out = [f"### The original analysis, same procedure ({src})", "",
           f"| same procedure | original (real data) | this repo ({src}) |", "|---|---|---|"]
    out += [f"| {name} | {_fmt(a)} | {_fmt(b)} |" for name, a, b in rows]
    run = metrics.get("run")
    if run and run.get("profile") == data["profile"]:
        parts = ", ".join(f"{name[:2]} {sec / 60:.1f}"
                          for name, sec in run["notebook_seconds"].items())
        out += ["", f"Wall time of this run: {run['total_seconds'] / 60:.1f} min on "
                    f"{run['cpu_count']} CPU cores (minutes per notebook: {parts}; commit "
                    f"{run['commit']}, finished {run['finished_utc']})."]
    out += ["", f"Test set ({ev['n_test']} images), {src}:", "",
            "| model | accuracy | balanced accuracy [95% CI] | macro F1 |", "|---|---|---|---|"]
    for key, label in MODEL_LABELS.items():
        r = ev["models"].get(key)
        if r:
            lo, hi = r["balanced_accuracy_ci95"]
            out.append(f"| {label} | {_fmt(r['accuracy'])} | {_fmt(r['balanced_accuracy'])} "
                       f"[{_fmt(lo)}, {_fmt(hi)}] | {_fmt(r['macro_f1'])} |")
    return out


def calibration_markdown(metrics: dict[str, Any]) -> list[str]:
    """Notebook 05's calibration figures: ECE before and after, and "not sure" coverage."""
    cal = (metrics.get("evaluation") or {}).get("calibration")
    if not cal:
        return []
    out = ["### Calibrated probabilities and \"not sure\" (test set of the same run)", "",
           "ECE after: the temperature, then the bundle's top-label map (both fitted on "
           "validation images); the temperature alone in brackets.", "",
           "| model | temperature | ECE before | ECE after | \"not sure\" below | answered "
           "(coverage) | accuracy of the answered |", "|---|---|---|---|---|---|---|"]
    for key, label in MODEL_LABELS.items():
        c = cal.get(key)
        if not c:
            continue
        threshold = "–" if c.get("threshold") is None else _fmt(c["threshold"], 2)
        after = _fmt(c["ece_after"])
        if c.get("confidence_map") and c.get("ece_after_temperature") is not None:
            after += f" ({_fmt(c['ece_after_temperature'])})"
        out.append(f"| {label} | {_fmt(c['temperature'], 2)} | {_fmt(c['ece_before'])} | "
                   f"{after} | {threshold} | {c['coverage']:.0%} | "
                   f"{_fmt(c.get('confident_accuracy'))} |")
    return out


def ablation_markdown(metrics: dict[str, Any]) -> list[str]:
    """The ablation table of notebook 04 (one row per variant)."""
    ablation = metrics.get("cnn", {}).get("ablation", {})
    if not ablation.get("variants"):
        return []
    out = ["### Which ingredient helps: ablation", "",
           f"Ablation of the modern CNN ({ablation['epochs']} epochs per variant, balanced "
           "accuracy on a validation split of the training rows):", "",
           "| variant | input | training images | balanced accuracy | change |",
           "|---|---|---|---|---|"]
    for r in ablation["variants"]:
        out.append(f"| {r['name']} | {'x'.join(str(n) for n in r['input'])} | "
                   f"{r['n_train']:,} | {_fmt(r['balanced_accuracy'])} | "
                   f"{r['delta_vs_full']:+.3f} |")
    return out


def bench_accuracy_markdown(bench: dict[str, Any]) -> list[str]:
    """One ``bench accuracy`` section: both models on the synthetic and real test sets."""
    out = [f"### Seed CNN vs modern CNN: `bench accuracy --profile {bench['profile']}`", "",
           "| data | model | accuracy | balanced accuracy [95% CI] | macro F1 | training s "
           "| inference images/s | new/seed |", "|---|---|---|---|---|---|---|---|"]
    for part, label in (("main", None), ("real_sample", "real sample (1,000)")):
        res = bench.get(part)
        if not res:
            continue
        where = label or f"{res.get('source', '?')} ({Path(res['data']).name})"
        for model, r in res["models"].items():
            lo, hi = r["balanced_accuracy_ci95"]
            ratio = (_fmt(res["ratio_balanced_accuracy_new_over_seed"], 2) + "x"
                     if model == "galaxy_cnn" else "")
            out.append(f"| {where} | {model} | {_fmt(r['accuracy'])} | "
                       f"{_fmt(r['balanced_accuracy'])} [{_fmt(lo)}, {_fmt(hi)}] | "
                       f"{_fmt(r['macro_f1'])} | {r['train_seconds']:.0f} | "
                       f"{r['inference_images_per_s']:.0f} | {ratio} |")
    real = bench.get("real_sample")
    if real and real.get("split"):
        out += ["", f"Real sample: {real['split']}, {real['n_test']} test images."]
    s2r = bench.get("sim_to_real")
    if s2r:
        lo, hi = s2r["accuracy_ci95"]
        out += ["", f"Sim-to-real (modern CNN trained on synthetic data only, tested on "
                    f"{s2r['n_test']:,} real images): accuracy {_fmt(s2r['accuracy'])} "
                    f"[95% CI {_fmt(lo)}, {_fmt(hi)}], balanced accuracy "
                    f"{_fmt(s2r['balanced_accuracy'])} (chance 0.100)."]
    return out


def speed_memory_markdown(benchmarks: dict[str, Any]) -> list[str]:
    """``bench memory``, ``bench inference``, ``bench button`` and ``bench pipeline`` figures."""
    if not benchmarks:
        return []
    out = ["### Speed and memory"]
    mem = benchmarks.get("memory")
    if mem:
        m = mem["machine"]
        out += ["", f"Memory benchmark on {Path(mem['data']).name} ({m['cpu_cores']} cores, "
                    f"{m['memory_gib']} GiB):", "",
                "| path | images | peak RSS | wall time | images/s |", "|---|---|---|---|---|"]
        for name, r in mem["paths"].items():
            if "peak_rss_mb" in r:
                out.append(f"| {name} | {r['images']:,} | {r['peak_rss_mb']:,.0f} MB | "
                           f"{r['seconds']:.1f} s | {r['images_per_s']:,.0f} |")
    inf = benchmarks.get("inference")
    if inf:
        out += ["", "| model | batch inference images/s (model) | end to end incl. "
                    "preprocessing and TTA |", "|---|---|---|"]
        for name, r in inf.items():
            if isinstance(r, dict) and "model_images_per_s" in r:
                out.append(f"| {name} | {r['model_images_per_s']:,.0f} | "
                           f"{r['end_to_end_images_per_s']:,.0f} |")
    for key, what in (("button", "Button"),
                      ("button_overlay", "Button with the Grad-CAM overlay on")):
        btn = benchmarks.get(key)
        if btn:
            out += ["", f"{what} ({btn['model']}, {btn['tta_views']} views): click-to-result "
                        f"median {btn['click_median_ms']:.0f} ms, p95 {btn['click_p95_ms']:.0f} "
                        f"ms over {btn['clicks']} clicks; one-image prediction "
                        f"{btn['predict_one_median_ms']:.0f} ms."]
    pipe = benchmarks.get("pipeline")
    if pipe:
        m = pipe["machine"]
        out += ["", f"Training input (`bench pipeline`, {pipe['n']:,} images, batch "
                    f"{pipe['batch_size']}, {m['cpu_cores']} cores, measured {pipe['measured']}"
                    + (f"; {pipe['note']}" if pipe.get("note") else "") + "), images/s:", "",
                "| input and path | augmentation alone | one training epoch |", "|---|---|---|"]
        for name, r in pipe.items():
            if isinstance(r, dict) and "epoch_images_per_s" in r:
                size, path = name.split("_", 1)  # "64px_numpy": input side, augmentation path
                path = {"numpy": "NumPy"}.get(path, path)
                out.append(f"| {size.replace('px', ' px')}, {path} | "
                           f"{r['pipeline_images_per_s']:,.0f} | "
                           f"{r['epoch_images_per_s']:,.0f} |")
    return out


def realism_markdown(metrics: dict[str, Any]) -> list[str]:
    """How close the synthetic galaxies are to real ones: KS distances per statistic."""
    now = metrics.get("realism")
    if not now:
        return []
    out = ["### How realistic is the synthetic sky? `python -m galaxy10 realism`", "",
           f"Real sample ({now['n_real']:,} images) against {now['synthetic']} "
           f"({now['n_synthetic']:,} images): two-sample KS distance per class and statistic "
           "(0: same distribution, 1: disjoint).", "", "| statistic | KS distance |", "|---|---|"]
    for name, value in now["per_statistic"].items():
        out.append(f"| {name} | {_fmt(value, 2)} |")
    out.append(f"| **median over class x statistic** | **{_fmt(now['median_ks'], 3)}** |")
    # relative to docs/, where the block lives (docs/results.md)
    out += ["", "![Real vs synthetic statistics by class](../reports/reference/figures/"
                "realism_by_class.png)"]
    return out


def pretrain_markdown(metrics: dict[str, Any]) -> list[str]:
    """The synthetic pre-training run and how much of it carries over to real images."""
    pre = metrics.get("pretrain")
    if not pre:
        return []
    data, test = pre["data"], pre["test"]
    text = (f"Pre-training (`python -m galaxy10 pretrain`, profile {pre['profile']}, augmentation "
            f"{', '.join(sorted(pre['jitter'])) or 'flips and rotations only'}): "
            f"{data['n_images']:,} {data['source']} images, {pre['seconds'] / 60:.1f} min on the "
            f"training machine; synthetic test balanced accuracy {_fmt(test['balanced_accuracy'])}.")
    s2r = pre.get("sim_to_real")
    if s2r:
        lo, hi = s2r["balanced_accuracy_ci95"]
        text += (f" **Sim-to-real** (this bundle, never shown a real image, on all "
                 f"{s2r['n_test']:,} real images): balanced accuracy "
                 f"**{_fmt(s2r['balanced_accuracy'])}** [95% CI {_fmt(lo)}, {_fmt(hi)}] "
                 "(chance 0.100).")
    return [text]


def _shift_count(cv: dict[str, Any]) -> str:
    """How many shifts the models of a ``real_cv`` section were scored under, in words: one
    count, or the range where models merged from later runs met more shifts."""
    counts = {len(r["shift"]["by_shift"]) for r in cv["models"].values() if r.get("shift")}
    if len(counts) > 1:
        return f"{_count_word(min(counts))} or {_count_word(max(counts))} (by the run)"
    return _count_word(max(counts, default=0))


def _later_runs(section: dict[str, Any]) -> list[str]:
    """A line per model merged into ``section`` from a later run (its own ``provenance``)."""
    lines = []
    for name, r in section["models"].items():
        run = r.get("provenance")
        if run:
            took = f", {run['wall_minutes']:.0f} min" if run.get("wall_minutes") else ""
            lines.append(f"{name} comes from a later run with the same folds (commit "
                         f"{run['commit']}{took}; {run.get('note', '')}).".replace("; )", ")"))
    return lines


def _settings_then(section: dict[str, Any], where: str = "") -> list[str]:
    """A line per set of fine-tuned rows of a ``bench real`` section measured with profile
    settings that its profile no longer has (a recipe setting adopted since): those rows
    describe the recipe of then, not today's ``train --init``.

    A model merged from a later run (its own ``provenance``) carries its own
    ``profile_settings``; the others were measured with the section's. ``where`` follows the
    rows' names, for a table that shows more than this section (e.g. " (seed 1)").
    """
    from galaxy10.core.errors import ProfileError
    from galaxy10.core.profiles import (
        get_profile,
        model_settings,
        plain_settings,
        recorded_settings,
    )

    try:
        profile = get_profile(section.get("profile", ""))
    except ProfileError:
        return []
    now = plain_settings(profile)
    tuned = [n for n in section.get("model_order", section.get("models", {}))
             if n.startswith(FINETUNED_MODEL)]
    stale: dict[tuple[tuple[str, Any], ...], list[str]] = {}
    for name in tuned:
        then = recorded_settings(model_settings(section, name), profile) or {}
        changed = tuple((k, then[k]) for k in now if k in then and then[k] != now[k])
        if changed:
            stale.setdefault(changed, []).append(name)
    out = []
    for changed, names in stale.items():
        rows = (f"the fine-tuned rows{where} are" if names == tuned else
                ", ".join(names) + where + (" is" if len(names) == 1 else " are"))
        out += ["", f"Measured before profile {profile.name} changed "
                    + ", ".join(f"`{k}` from {was} to {now[k]}" for k, was in changed)
                    + f": {rows} the recipe of then, not today's `train --init`, "
                      "until `bench real` is run again."]
    return out


def _count_word(n: int) -> str:
    """``n`` in words up to twelve (the docs' style), else in digits."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
             "ten", "eleven", "twelve")
    return words[n] if n < len(words) else str(n)


def _same_fold_scores(points: dict[str, Any], models: dict[str, Any]) -> bool:
    """Whether every model of a label curve's 'all' point scored each fold as in ``models``
    (a ``real_cv`` section's): then that column is the CV table's, whichever run made it."""
    return all(name in models and [f["balanced_accuracy"] for f in point["folds"]]
               == [f["balanced_accuracy"] for f in models[name]["folds"]]
               for name, point in points.items())


def label_curve_markdown(metrics: dict[str, Any]) -> list[str]:
    """``bench real --labels``: balanced accuracy by number of training labels, per model."""
    curve = metrics.get("label_curve")
    if not curve:
        return []
    sizes, order = curve["sizes"], curve["model_order"]
    heads = [f"{size} labels" if size != "all" else
             f"all ({curve['points']['all'][order[0]]['n_train']:.0f})" for size in sizes]
    # the curve may be kept from an earlier run than the CV table above (a recipe changed and
    # only the CV was measured again): then its 'all' column is that run's CV, and it says so;
    # a run of the same recipe scores every fold alike (the benchmark is deterministic)
    cv = metrics.get("real_cv") or {}
    commit = (curve.get("provenance") or {}).get("commit")
    same = (commit == (cv.get("provenance") or {}).get("commit")
            or _same_fold_scores(curve["points"]["all"], cv.get("models") or {}))
    all_is = "the CV above" if same else f"that run's own CV (commit {commit}), not the table above"
    recipe = f" Fine-tuned with {curve['recipe']}." if curve.get("recipe") else ""
    out = [f"### Label efficiency: `python -m galaxy10 bench real --labels "
           f"{' '.join(s for s in sizes if s != 'all')}`", "",
           f"The same {curve['folds']} folds; each model trained on stratified, nested subsets "
           "of each fold's training images and scored on the fold's full test images; 'all' is "
           f"{all_is}. Balanced accuracy, mean ± sd over the folds (profile "
           f"{curve['profile']}).{recipe}", "",
           "| model | " + " | ".join(heads) + " |", "|---|" + "---|" * len(sizes)]
    for name in order:
        cells = [curve["points"][size][name]["balanced_accuracy"] for size in sizes]
        out.append(f"| {name} | " + " | ".join(_mean_sd(c) for c in cells) + " |")
    # relative to docs/, where the block lives (docs/results.md)
    out += ["", "![Balanced accuracy by training labels](../reports/reference/figures/"
                "real_label_curve.png)"]
    return out


def real_cv_markdown(metrics: dict[str, Any]) -> list[str]:
    """``bench real``: every model cross-validated on real images, and under other sources."""
    cv = metrics.get("real_cv")
    if not cv:
        return []
    order = cv.get("model_order", list(cv["models"]))
    out = [f"### Real galaxies: `python -m galaxy10 bench real` ({cv['folds']}-fold CV on "
           f"{cv['n_images']:,} real images)", "",
           f"{cv['cv']}; every model trained on each fold's training images under profile "
           f"{cv['profile']}'s budget rules, mean ± sd over the folds. \"region-held-out\" is "
           "the same models' balanced accuracy when each fold's test galaxies come from sky "
           "regions its training never saw (next table; – where not run). \"under shifts\" is "
           f"the mean balanced accuracy over the {_shift_count(cv)} changes other "
           "pipelines make (table below).", "",
           "| model | balanced accuracy | region-held-out | macro F1 | training s per fold "
           "| under shifts | shifted / unshifted | worst shift |",
           "|---|---|---|---|---|---|---|---|"]
    region = (metrics.get("real_cv_region") or {}).get("models", {})
    for name in order:
        r = cv["models"][name]
        ba, f1, sec = r["balanced_accuracy"], r["macro_f1"], r["train_seconds"]
        shift = r.get("shift") or {}
        held = _mean_sd(region[name]["balanced_accuracy"]) if name in region else "–"
        out.append(f"| {name} | {_mean_sd(ba)} | {held} | {_mean_sd(f1)} | {sec['mean']:.0f} | "
                   f"{_fmt(shift.get('mean'))} | "
                   f"{_fmt(shift.get('relative'), 2)} | {shift.get('worst', '–')} "
                   f"({_fmt(shift.get('worst_mean'))}) |")
    took = (cv.get("provenance") or {}).get("wall_minutes")
    if took:
        out += ["", f"Wall time of this run: {took:.0f} min on "
                    f"{cv['provenance']['machine']['cpu_cores']} CPU cores "
                    f"({cv['provenance'].get('note', 'commit ' + cv['provenance']['commit'])})."]
    later = _later_runs(cv)
    if later:
        out += ["", *later]
    out += _settings_then(cv)
    shifted = [n for n in order if cv["models"][n].get("shift")]
    if shifted:
        from galaxy10.modeling.shifts import SHIFTS

        given = {s: None for n in shifted for s in cv["models"][n]["shift"]["by_shift"]}
        names = [s for s in SHIFTS if s in given] + [s for s in given if s not in SHIFTS]
        missing = any(s not in cv["models"][n]["shift"]["by_shift"] for n in shifted
                      for s in names)
        out += ["", "Balanced accuracy under each shift (mean over folds" + (
                    "; – where a model's run did not have that shift yet" if missing else "")
                + "):", "",
                "| shift | " + " | ".join(shifted) + " |", "|---|" + "---|" * len(shifted)]
        for s in names:
            out.append(f"| {s} | " + " | ".join(
                _fmt((cv["models"][n]["shift"]["by_shift"].get(s) or {}).get("mean"))
                for n in shifted) + " |")
    classes = [c for c in CLASS_NAMES if c in cv["models"][order[0]]["recall"]]
    out += ["", "Recall per class (mean over folds):", "",
            "| class | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    for c in classes:
        out.append(f"| {c} | " + " | ".join(_fmt(cv["models"][n]["recall"][c], 2)
                                           for n in order) + " |")
    return out


def real_cv_region_markdown(metrics: dict[str, Any]) -> list[str]:
    """``bench real --cv region``: the region-held-out CV beside the random one, its gap, and
    the recall of the classes that lag, per model."""
    region, random = metrics.get("real_cv_region"), metrics.get("real_cv") or {"models": {}}
    if not region:
        return []
    regions = region["regions"]
    order = region.get("model_order", list(region["models"]))
    lagging = ("Disturbed", "Merging", "Unbarred Loose Spiral")
    width, height = regions["cell_deg"]
    out = [f"### Across the sky: region-held-out CV (`bench real --cv region`, seed "
           f"{_cv_seed(region)})", "",
           f"{region['cv']}. The {region['n_images']:,} images fall in {regions['groups']} "
           f"groups of {width:g}° × {height:g}° sky cells; each fold tests "
           f"{'/'.join(map(str, regions['test_groups']))} of them. The gap is the random CV "
           "(table above) minus this one: how much of its figure holds only inside regions the "
           "training saw. Recall per class is the mean over folds, random → region-held-out.",
           "", "| model | random CV | region-held-out | gap | under shifts | "
           + " | ".join(lagging) + " |", "|---|---|---|---|---|" + "---|" * len(lagging)]
    for name in order:
        r, other = region["models"][name], random["models"].get(name)
        gap = (_fmt(other["balanced_accuracy"]["mean"] - r["balanced_accuracy"]["mean"])
               if other else "–")
        recalls = [(f"{_fmt(other['recall'][c], 2)} → " if other else "")
                   + _fmt(r["recall"][c], 2) for c in lagging]
        out.append(f"| {name} | {_mean_sd(other['balanced_accuracy']) if other else '–'} | "
                   f"{_mean_sd(r['balanced_accuracy'])} | {gap} | "
                   f"{_fmt((r.get('shift') or {}).get('mean'))} | " + " | ".join(recalls) + " |")
    took = (region.get("provenance") or {}).get("wall_minutes")
    if took:
        out += ["", f"Wall time of this run: {took:.0f} min on "
                    f"{region['provenance']['machine']['cpu_cores']} CPU cores (commit "
                    f"{region['provenance']['commit']})."]
    later = _later_runs(region)
    if later:
        out += ["", *later]
    return out + _settings_then(region)


def _cv_seed(cv: dict[str, Any]) -> str:
    """The fold assignment's seed of a ``bench real`` section, from its ``cv`` text."""
    return cv["cv"].split("random_state=")[1].split(")")[0]


def real_cv_assignments_markdown(metrics: dict[str, Any]) -> list[str]:
    """``bench real`` on both fold assignments (``--seed 0`` and ``--seed 1``), side by side.

    A single assignment of 200 test images per fold is noisy; the second
    (``real_cv_assignment1``) shows how much the table above owes to its folds. Neighbour
    precision at 10 (``neighbours``) is the similarity search's score in each model's
    embedding, among each fold's test images.
    """
    cvs = [metrics.get("real_cv"), metrics.get("real_cv_assignment1")]
    if not all(cvs):
        return []
    order = [n for n in cvs[0].get("model_order", cvs[0]["models"]) if n in cvs[1]["models"]]
    lagging = ("Disturbed", "Unbarred Loose Spiral", "Merging")
    merging, disturbed = CLASS_NAMES.index("Merging"), CLASS_NAMES.index("Disturbed")
    out = ["Both fold assignments (`--seed 0`, the table above, and `--seed 1`): balanced "
           "accuracy, the recall of the two classes that lag and of Merging, the share of "
           "mergers called Disturbed (over all folds; runs before the confusion matrix was "
           "recorded show –), and how often the 10 nearest test galaxies in the model's "
           "embedding share the query's class (neighbours p@10; chance about 0.10). Mean ± sd "
           "over the folds.", "",
           "| model | seed | balanced accuracy | " + " | ".join(lagging)
           + " | Merging called Disturbed | neighbours p@10 |",
           "|---|---|---|" + "---|" * len(lagging) + "---|---|"]
    for name in order:
        for cv in cvs:
            r = cv["models"][name]
            seed = _cv_seed(cv)
            ba, nn = r["balanced_accuracy"], (r.get("neighbours") or {}).get("p@10")
            confusion = r.get("confusion")
            mistaken = (confusion[merging][disturbed] / max(sum(confusion[merging]), 1)
                        if confusion else None)
            out.append(f"| {name} | {seed} | {_mean_sd(ba)} | "
                       + " | ".join(_fmt(r["recall"].get(c), 2) for c in lagging)
                       + f" | {_fmt(mistaken, 2)} | {_fmt(nn['mean']) if nn else '–'} |")
    return out + _settings_then(cvs[1], where=" (seed 1)")


def layout_markdown(benchmarks: dict[str, Any]) -> list[str]:
    """``bench layout``: reading speed over four HDF5 layouts."""
    lay = benchmarks.get("layout")
    if not lay:
        return []
    out = [f"HDF5 layout (`bench layout`, {lay['n']} synthetic images per file; bulk = "
           f"{lay['bulk_rows']} random rows):", "",
           "| layout | chunks | one random image | bulk read | bulk, before chunk-aware reading "
           "| full pass |", "|---|---|---|---|---|---|"]
    for name in ("contiguous", "per_image_chunks", "per_image_gzip", "default_gzip"):
        r = lay.get(name)
        if r:
            chunks = "none" if r["chunks"] is None else "x".join(str(c) for c in r["chunks"])
            out.append(f"| {name} | {chunks} | {r['image_ms']:.2f} ms | {r['bulk_150_s']:.3f} s "
                       f"| {r['bulk_150_before_s']:.3f} s | {r['pass_s']:.3f} s |")
    out += ["", f"Bulk read from h5py's default gzip chunks vs per-image gzip chunks: "
                f"{lay['ratio_bulk_default_vs_per_image_gzip']:.1f}x (before: "
                f"{lay['ratio_bulk_before_default_vs_per_image_gzip']:.1f}x)."]
    return out


def results_markdown(metrics: dict[str, Any], benchmarks: dict[str, Any] | None = None,
                     selection: dict[str, Any] | None = None) -> str:
    """Markdown tables of a run's numbers, for the results page (every figure from the JSON
    files: ``metrics.json``, ``benchmarks.json`` and ``recipe_selection.json``)."""
    sections = [real_cv_markdown(metrics), real_cv_region_markdown(metrics),
                real_cv_assignments_markdown(metrics), recipe_checks_markdown(selection or {}),
                label_curve_markdown(metrics),
                pretrain_markdown(metrics),
                same_procedure_markdown(metrics), calibration_markdown(metrics),
                ablation_markdown(metrics)]
    sections += [bench_accuracy_markdown(metrics[key])
                 for key in sorted(k for k in metrics if k.startswith("bench_accuracy_"))]
    sections += [realism_markdown(metrics), speed_memory_markdown(benchmarks or {}),
                 layout_markdown(benchmarks or {})]
    return "\n\n".join("\n".join(lines) for lines in sections if lines)


def quick_run_markdown(quick: dict[str, Any]) -> str:
    """One paragraph on a quick-profile run (``make run``): wall time and the headline result."""
    ev, run = quick.get("evaluation"), quick.get("run")
    if not ev or not run:
        return ""
    data, models = ev["data"], ev["models"]
    text = (f"`make run` (profile {run['profile']}, {data['n_images']:,} {data['source']} images, "
            f"{ev['n_test']} test images): the notebooks took {run['total_seconds'] / 60:.1f} min "
            f"on {run['cpu_count']} CPU cores (commit {run['commit']}).")
    new, old = models.get("galaxy_cnn"), models.get("seed_cnn_lastfold")
    if new and old:
        text += (f" Test balanced accuracy: modern CNN {_fmt(new['balanced_accuracy'])}, "
                 f"seed CNN (last fold) {_fmt(old['balanced_accuracy'])}.")
    return text


RESULTS_START = "<!-- results:start: written by `python -m galaxy10 results --update-readme` -->"
RESULTS_END = "<!-- results:end -->"


def results_block(metrics: dict[str, Any], benchmarks: dict[str, Any] | None = None,
                  quick: dict[str, Any] | None = None,
                  selection: dict[str, Any] | None = None) -> str:
    """The generated results block (tables and the quick run's paragraph)."""
    parts = [results_markdown(metrics, benchmarks, selection)]
    if quick:
        parts.append("### The quick profile\n\n" + quick_run_markdown(quick))
    return "\n\n".join(p for p in parts if p)


def _block_span(text: str, path: str | os.PathLike[str]) -> tuple[int, int]:
    """Where the generated block lies in ``text``: after the start marker, up to the end one."""
    from galaxy10.core.errors import Galaxy10Error

    start, end = text.find(RESULTS_START), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise Galaxy10Error(f"{path}: no results block; add the lines {RESULTS_START!r} and "
                            f"{RESULTS_END!r} where the results belong")
    return start + len(RESULTS_START), end


def block_in(text: str, path: str | os.PathLike[str] = "docs/results.md") -> str:
    """The generated block between the results markers of a markdown page's ``text``."""
    start, end = _block_span(text, path)
    return text[start:end].strip("\n")


def update_results_block(path: str | os.PathLike[str], block: str) -> Path:
    """Replace the results block of the markdown page at ``path`` with ``block`` (atomic rewrite)."""
    from galaxy10.core.atomic import write_text

    path = Path(path)
    text = path.read_text(encoding="utf-8")
    start, end = _block_span(text, path)
    if text[start:end].strip("\n") == block:
        return path
    return write_text(path, text[:start] + "\n" + block + "\n" + text[end:])


# the names ``results --update-readme`` in galaxy10.cli still imports
readme_results = results_block
update_readme = update_results_block
