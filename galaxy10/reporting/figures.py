"""Figures shared by the notebooks and the command line.

Every figure names its data source in the title, so a synthetic-data plot is never mistaken
for a real-data one. Functions return the matplotlib Figure; saving is
:func:`save_figure`'s job (atomic, PNG).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from galaxy10.core.atomic import atomic_path
from galaxy10.core.classes import CLASS_NAMES, N_CLASSES


def _pyplot():
    import matplotlib

    if "MPLBACKEND" not in os.environ and not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ != "TerminalInteractiveShell"


def save_figure(fig, path: str | os.PathLike[str], dpi: int = 110, colors: int | None = None
                ) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically and return the path.

    ``colors`` quantises the PNG to a palette of that many colours (Pillow), which keeps image
    grids small enough to commit beside the docs that show them.
    """
    # the Software chunk tells galaxy10.outputs that this PNG may be replaced by a later run
    software = "galaxy10 (matplotlib)"
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png",
                    metadata={"Software": software})
        if colors:
            from PIL import Image, PngImagePlugin

            with Image.open(tmp) as img:
                small = img.convert("RGB").quantize(colors=colors, method=Image.Quantize.FASTOCTREE)
            info = PngImagePlugin.PngInfo()
            info.add_text("Software", software)
            small.save(tmp, format="PNG", optimize=True, pnginfo=info)
    return Path(path)


def class_gallery(columns: Sequence[tuple[str, Mapping[int, np.ndarray]]], per_class: int = 5,
                  title: str | None = None):
    """Grid of example images: one row per class, one block of columns per source.

    Parameters
    ----------
    columns : sequence of (heading, {label: images})
        For instance ``[("real", real_by_class), ("synthetic", synth_by_class)]``; each
        ``images`` is a uint8 array (k, H, W, 3) with ``k >= per_class`` (fewer are allowed
        and leave blanks).
    per_class : int, default 5
        Images per class and block.
    title : str, optional
        Figure title.
    """
    plt = _pyplot()
    n_blocks = len(columns)
    n_cols = n_blocks * per_class
    fig, axes = plt.subplots(N_CLASSES, n_cols, figsize=(1.25 * n_cols + 1.8, 1.3 * N_CLASSES),
                             squeeze=False, gridspec_kw={"wspace": 0.04, "hspace": 0.08},
                             layout="constrained")
    for b, (heading, by_class) in enumerate(columns):
        for label in range(N_CLASSES):
            images = by_class.get(label, np.empty((0,)))
            for j in range(per_class):
                ax = axes[label, b * per_class + j]
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_visible(False)
                if j < len(images):
                    ax.imshow(images[j])
                if label == 0 and j == per_class // 2:
                    ax.set_title(heading, fontsize=12, fontweight="bold")
                if b == 0 and j == 0:
                    ax.set_ylabel(f"{label} {CLASS_NAMES[label]}", rotation=0, ha="right",
                                  va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=13)
    return fig


def examples_by_class(labels: np.ndarray, read, per_class: int = 5,
                      seed: int = 0) -> dict[int, np.ndarray]:
    """Read ``per_class`` random rows of each class with ``read(indices)``, grouped by class.

    The rows are :func:`galaxy10.datasets.resample.sample_per_class`'s, so a gallery shows
    the images that the realism comparison measures for the same seed.
    """
    from galaxy10.datasets.resample import sample_per_class

    labels = np.asarray(labels)
    rows = sample_per_class(labels, per_class, seed)
    return {label: read(rows[labels[rows] == label]) for label in range(N_CLASSES)
            if np.any(labels == label)}


def class_counts_bar(counts: Sequence[int], title: str, highlight: int | None = None):
    """Horizontal bar chart of images per class, with names and counts written on the bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    counts = np.asarray(counts)
    colors = ["#c44e52" if k == highlight else "#4c72b0" for k in range(N_CLASSES)]
    ax.barh([f"{k} {name}" for k, name in enumerate(CLASS_NAMES)], counts, color=colors)
    ax.invert_yaxis()
    for k, c in enumerate(counts):
        ax.text(c, k, f" {c:,}", va="center", fontsize=8)
    ax.set_xlabel("images")
    ax.set_title(title)
    ax.set_xlim(0, counts.max() * 1.15)
    fig.tight_layout()
    return fig


def class_boxplots(values: np.ndarray, labels: np.ndarray, ylabel: str, title: str):
    """Box plot of a per-image statistic by class (e.g. brightness or colour)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    data = [np.asarray(values)[np.asarray(labels) == k] for k in range(N_CLASSES)]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, N_CLASSES + 1), [f"{k} {n}" for k, n in enumerate(CLASS_NAMES)],
                  rotation=35, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def sky_and_redshift(ra: np.ndarray, dec: np.ndarray, redshift: np.ndarray | None, title: str):
    """Sky positions (RA/Dec) and, when present, the redshift distribution."""
    plt = _pyplot()
    n = 2 if redshift is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.scatter(ra, dec, s=1, alpha=0.3)
    ax.set_xlabel("RA (deg)")
    ax.set_ylabel("Dec (deg)")
    ax.set_title("sky positions")
    if redshift is not None:
        ax = axes[0, 1]
        z = np.asarray(redshift)
        ax.hist(z[np.isfinite(z) & (z > 0)], bins=50)
        ax.set_xlabel("redshift z")
        ax.set_ylabel("images")
        ax.set_title("redshift")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def sky_footprint(ra: np.ndarray, dec: np.ndarray, title: str, *,
                  survey_ra: np.ndarray | None = None, survey_dec: np.ndarray | None = None,
                  label: str = "this data set", survey_label: str = "the whole data set"):
    """Where a set of galaxies lies on the sky, over the whole data set's positions.

    RA runs right to left, as on the sky; the dashed lines at RA 90 and 270 degrees bound the
    north galactic cap of the survey's footprint (the south cap lies outside them). The legend
    gives each set's share in the south cap and at Dec < 5 degrees
    (:func:`galaxy10.datasets.sky.footprint`), the figures a reader compares.
    """
    from galaxy10.datasets.sky import SOUTH_CAP_RA, footprint

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9.0, 4.6))

    def legend(name: str, fp: dict) -> str:
        return (f"{name} ({fp['n']:,}: {fp['south_cap_share']:.0%} south cap, "
                f"{fp['dec_below_5_share']:.0%} at Dec < 5°)")

    if survey_ra is not None and survey_dec is not None:
        ax.scatter(survey_ra, survey_dec, s=1, c="0.75", alpha=0.5, rasterized=True,
                   label=legend(survey_label, footprint(survey_ra, survey_dec)))
    ax.scatter(ra, dec, s=4, c="tab:red", alpha=0.7, label=legend(label, footprint(ra, dec)))
    for edge in SOUTH_CAP_RA:
        ax.axvline(edge, color="0.4", lw=0.8, ls="--")
    ax.set_xlim(360, 0)
    ax.set_xlabel("RA (deg)")
    ax.set_ylabel("Dec (deg)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, markerscale=4,
              frameon=False)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def score_bars(scores: Mapping[str, Sequence[float]], title: str, reference: Mapping[str, float]
               | None = None, ylabel: str = "accuracy"):
    """Mean +/- std of fold scores per model, with the original's numbers as markers."""
    plt = _pyplot()
    names = list(scores)
    means = [float(np.mean(scores[n])) for n in names]
    stds = [float(np.std(scores[n])) for n in names]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(names)), 4))
    ax.bar(names, means, yerr=stds, capsize=4, color="#4c72b0", label="this run (mean ± sd)")
    for i, (m, sd) in enumerate(zip(means, stds, strict=True)):
        ax.text(i + 0.28, m + sd + 0.01, f"{m:.3f}", ha="center", va="bottom", fontsize=8)
    if reference:
        xs = [i for i, n in enumerate(names) if n in reference]
        ax.scatter(xs, [reference[names[i]] for i in xs], marker="D", color="#dd8452", zorder=3,
                   label="original, real data")
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance (10 classes)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    fig.tight_layout()
    return fig


def label_curve(curve: Mapping, title: str):
    """Balanced accuracy against training labels, a line per model, sd over folds as bars.

    ``curve`` is ``bench real --labels``'s ``label_curve`` section: ``points[size][model]``
    with ``n_train`` (the x position: the mean over folds, so the ``"all"`` point sits at the
    folds' full training size) and ``balanced_accuracy`` (mean and sd). The x axis is
    logarithmic: each requested size is usually twice the last.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = list(curve["sizes"])
    for name in curve["model_order"]:
        points = [curve["points"][size][name] for size in sizes]
        xs = [p["n_train"] for p in points]
        ax.errorbar(xs, [p["balanced_accuracy"]["mean"] for p in points],
                    yerr=[p["balanced_accuracy"]["sd"] for p in points], marker="o",
                    capsize=3, label=name)
    ax.axhline(1 / N_CLASSES, color="grey", ls=":", lw=1, label=f"chance ({N_CLASSES} classes)")
    ax.set_xscale("log")
    ticks = [curve["points"][size][curve["model_order"][0]]["n_train"] for size in sizes]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:.0f}" + (" (all)" if size == "all" else "")
                        for t, size in zip(ticks, sizes, strict=True)])
    ax.minorticks_off()
    ax.set_xlabel("labelled training images per fold")
    ax.set_ylabel("balanced accuracy (mean ± sd over folds)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def active_curve(result: Mapping, title: str):
    """Balanced accuracy against labels revealed, a line per labelling strategy with its sd
    band, one panel per CV (``bench active``'s result).

    ``result["splits"][split]["curves"][strategy][size]`` holds the mean and sd over runs;
    random selection's accuracy at the largest size (``target``), which the other
    strategies are compared with, is a dotted line, and the frozen network's own guesses (a
    split's ``network``, where recorded) a dash-dotted one; the full fine-tune's points (a
    split's ``finetune``), where measured, are dashed in the strategy's colour. The x axis is
    logarithmic.
    """
    plt = _pyplot()
    splits = list(result["splits"])
    fig, axes = plt.subplots(1, len(splits), figsize=(6.5 * len(splits), 4.5), squeeze=False,
                             sharey=True)
    sizes = list(result["sizes"])
    for ax, split in zip(axes[0], splits, strict=True):
        section = result["splits"][split]
        for strategy, curve in section["curves"].items():
            mean = np.asarray([curve[str(n)]["mean"] for n in sizes])
            sd = np.asarray([curve[str(n)]["sd"] for n in sizes])
            (line,) = ax.plot(sizes, mean, marker="o", label=strategy)
            ax.fill_between(sizes, mean - sd, mean + sd, color=line.get_color(), alpha=0.15)
            tuned = (section.get("finetune") or {}).get("curves", {}).get(strategy)
            if tuned:
                at = sorted(int(n) for n in tuned)
                ax.errorbar(at, [tuned[str(n)]["mean"] for n in at],
                            yerr=[tuned[str(n)]["sd"] for n in at], color=line.get_color(),
                            ls="--", marker="s", capsize=3, label=f"{strategy}, fine-tuned")
        if "target" in section:
            ax.axhline(section["target"], color="black", ls=":", lw=1,
                       label=f"random at {sizes[-1]} labels")
        if "network" in section:
            ax.axhline(section["network"]["mean"], color="black", ls="-.", lw=1,
                       label="the frozen network, no label")
        ax.axhline(1 / N_CLASSES, color="grey", ls=":", lw=1, label=f"chance ({N_CLASSES} classes)")
        ax.set_xscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([str(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("labels revealed per fold")
        ax.set_title(f"{split} CV")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_ylabel("balanced accuracy (mean ± sd over runs)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def per_class_recall(recalls: Mapping[str, Sequence[float]], title: str):
    """Grouped bars: the recall of each class for each model (e.g. seed CNN vs modern CNN).

    A single accuracy hides which classes a model has learnt; recall per class shows where
    the gain of a new recipe comes from (and which classes stay hard for every model).
    """
    plt = _pyplot()
    names = list(recalls)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(10, 4))
    xs = np.arange(N_CLASSES)
    for k, name in enumerate(names):
        ax.bar(xs + (k - (len(names) - 1) / 2) * width, recalls[name], width=width,
               color=f"C{k}", label=name)
    ax.axhline(0.1, color="grey", ls=":", lw=1, label="chance (10 classes)")
    ax.set_xticks(xs, [f"{k} {CLASS_NAMES[k]}" for k in range(N_CLASSES)], rotation=30,
                  ha="right", fontsize=8)
    ax.set_ylabel("recall (test set)")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def learning_curves(histories: Sequence[Mapping[str, Sequence[float]]], title: str):
    """Training and validation accuracy per epoch for every fold."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for k, hist in enumerate(histories):
        for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
            epochs = np.arange(1, len(hist[metric]) + 1)
            ax.plot(epochs, hist[metric], color=f"C{k}", ls="--", lw=1)
            ax.plot(epochs, hist[f"val_{metric}"], color=f"C{k}", lw=1.5, label=f"fold {k + 1}")
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} (dashed: training, solid: validation)", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def confusion_matrices(cm: np.ndarray, title: str):
    """Counts and row-normalised (recall) confusion matrices side by side, with class names."""
    import seaborn as sns

    plt = _pyplot()
    cm = np.asarray(cm)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = [f"{k} {n}" for k, n in enumerate(CLASS_NAMES)]
    fig, axes = plt.subplots(1, 2, figsize=(16, 6.5))
    sns.heatmap(cm, annot=True, fmt="d", cmap="Blues", cbar=False, ax=axes[0],
                xticklabels=names, yticklabels=names)
    sns.heatmap(norm, annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, cbar=False,
                ax=axes[1], xticklabels=names, yticklabels=names)
    for ax, sub in zip(axes, ("counts", "normalised by true class (recall)"), strict=True):
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(sub)
        plt.setp(ax.get_xticklabels(), rotation=40, ha="right", fontsize=8)
        plt.setp(ax.get_yticklabels(), fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def prediction_gallery(images: np.ndarray, y_true: Sequence[int], y_pred: Sequence[int],
                       confidence: Sequence[float], title: str, cols: int = 6):
    """Images with their true and predicted class names (e.g. the model's mistakes)."""
    plt = _pyplot()
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        ax = axes.ravel()[i]
        ax.imshow(images[i])
        ax.set_title(f"true: {CLASS_NAMES[y_true[i]]}\npred: {CLASS_NAMES[y_pred[i]]} "
                     f"({confidence[i]:.0%})", fontsize=7.5,
                     color="#2a7a2a" if y_true[i] == y_pred[i] else "#b22222")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def catalogue_overview(classes: Sequence[int], confidence: Sequence[float],
                       not_sure: Sequence[bool], title: str, threshold: float | None = None):
    """A classified catalogue at a glance: class fractions and the confidence histogram.

    Left, the share of each predicted class, the part answered "not sure" hatched; right,
    the calibrated confidence of every classified image, with the "not sure" threshold.
    """
    plt = _pyplot()
    classes = np.asarray(classes, dtype=np.int64)
    confidence = np.asarray(confidence, dtype=np.float64)
    unsure = np.asarray(not_sure, dtype=bool)
    n = max(len(classes), 1)
    share = np.bincount(classes, minlength=N_CLASSES) / n
    unsure_share = np.bincount(classes[unsure], minlength=N_CLASSES) / n
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2),
                                      gridspec_kw={"width_ratios": [1.3, 1]})
    names = [f"{k} {name}" for k, name in enumerate(CLASS_NAMES)]
    left.barh(names, share, color="#4c72b0", label="answered")
    left.barh(names, unsure_share, color="none", edgecolor="#c44e52", hatch="///",
              label='"not sure"')
    left.invert_yaxis()
    for k, f in enumerate(share):
        left.text(f, k, f" {f:.1%}", va="center", fontsize=8)
    left.set_xlim(0, max(share.max(), 0.01) * 1.2)
    left.set_xlabel("share of the classified images")
    left.legend(loc="best", fontsize=8)
    right.hist(confidence, bins=np.linspace(0, 1, 41), color="#55a868")
    if threshold is not None:
        right.axvline(threshold, color="#c44e52", ls="--",
                      label=f'"not sure" below {threshold:.2f}')
        right.legend(fontsize=8)
    right.set_xlabel("calibrated confidence (top probability)")
    right.set_ylabel("images")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def catalogue_extremes(images: np.ndarray, classes: Sequence[int], confidence: Sequence[float],
                       which: Sequence[str], title: str):
    """The most and least confident images of each predicted class, one row per class.

    ``which`` says ``"most"`` or ``"least"`` for each image (as
    :func:`galaxy10.pipeline.catalogue.confidence_extremes` marks them); the most confident
    fill the left of a row, the least confident the right.
    """
    plt = _pyplot()
    classes = np.asarray(classes, dtype=np.int64)
    which = np.asarray(which)
    present = sorted(set(classes.tolist()))
    most = max([np.sum((classes == k) & (which == "most")) for k in present] or [1])
    least = max([np.sum((classes == k) & (which == "least")) for k in present] or [0])
    cols = max(most + least, 1)
    fig, axes = plt.subplots(max(len(present), 1), cols, figsize=(1.7 * cols, 1.9 *
                                                                 max(len(present), 1)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, k in enumerate(present):
        for side, offset in (("most", 0), ("least", most)):
            picked = np.flatnonzero((classes == k) & (which == side))
            for j, i in enumerate(picked):
                ax = axes[r, offset + j]
                ax.imshow(images[i])
                ax.set_title(f"{CLASS_NAMES[k][:18]}\n{side}: {confidence[i]:.0%}",
                             fontsize=7, color="#2a7a2a" if side == "most" else "#b22222")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def reliability_diagram(y_true: np.ndarray, curves: Mapping[str, np.ndarray], title: str,
                        n_bins: int = 15):
    """Accuracy against stated confidence per bin, one curve per set of probabilities.

    ``curves`` maps a label (e.g. ``"before"``, ``"after (T=1.8)"``) to probabilities
    (n, 10); the legend quotes each curve's ECE. Points on the diagonal mean "90% stated,
    90% right"; below it, over-confident. Bars show how many images fall in each bin.
    """
    from galaxy10.modeling.calibrate import expected_calibration_error, reliability_bins

    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.2, 6), sharex=True,
                                   gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="perfect calibration")
    width = 1.0 / n_bins
    for k, (label, probs) in enumerate(curves.items()):
        bins = reliability_bins(probs, y_true, n_bins)
        conf, acc = np.asarray(bins["confidence"]), np.asarray(bins["accuracy"])
        keep = np.asarray(bins["count"]) > 0
        ece = expected_calibration_error(probs, y_true, n_bins)
        ax.plot(conf[keep], acc[keep], "o-", color=f"C{k}", lw=1.5, ms=4,
                label=f"{label}: ECE {ece:.3f}")
        centres = np.asarray(bins["edges"][:-1]) + width / 2
        hist.bar(centres + (k - 0.5) * width / 2, bins["count"], width=width / 2,
                 color=f"C{k}", alpha=0.7)
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    hist.set_xlabel("stated probability of the top class")
    hist.set_ylabel("images")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def saliency_grid(images: np.ndarray, overlays: np.ndarray, captions: Sequence[str], title: str,
                  colours: Sequence[str] | None = None, cols: int = 4):
    """Pairs of (cut-out, Grad-CAM overlay) with a caption each."""
    plt = _pyplot()
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, 2 * cols, figsize=(2.0 * 2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, cols)
        axes[r, 2 * c].imshow(images[i])
        axes[r, 2 * c + 1].imshow(overlays[i])
        axes[r, 2 * c].set_title(captions[i], fontsize=7, loc="left",
                                 color=(colours[i] if colours else "black"))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def class_mean_maps(maps: np.ndarray, labels: np.ndarray, title: str):
    """The mean Grad-CAM map of each true class (maps in [0, 1], same shape)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, 5, figsize=(12, 5.2))
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        pick = np.asarray(labels) == k
        if pick.any():
            ax.imshow(np.asarray(maps)[pick].mean(axis=0), cmap="jet", vmin=0, vmax=1)
        ax.set_title(f"{k} {CLASS_NAMES[k]} (n={int(pick.sum())})", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# -- real vs synthetic ----------------------------------------------------------------------
def _real_examples(real: Path, per_class: int, seed: int) -> dict[int, np.ndarray]:
    """Example images from a class-folder tree, a CSV manifest or a Galaxy10 .h5 file."""
    from galaxy10.datasets.labelled import open_labelled

    with open_labelled(real) as images:
        return examples_by_class(images.labels, images.read, per_class, seed)


def real_vs_synthetic_gallery(real: str | os.PathLike[str], synthetic: str | os.PathLike[str],
                              out: str | os.PathLike[str], per_class: int = 5,
                              seed: int = 0) -> Path:
    """Save a side-by-side grid of real and synthetic examples of every class (PNG).

    Parameters
    ----------
    real : path-like
        Real images: a class-folder tree, a CSV manifest or a Galaxy10 ``.h5`` file.
    synthetic : path-like
        A synthetic Galaxy10 ``.h5`` file (the caller resolves the default set, so drawing
        a figure never generates data).
    out : path-like
        PNG to write (atomically).
    """
    from galaxy10.core.classes import source_label
    from galaxy10.datasets.reader import Galaxy10File

    real_by_class = _real_examples(Path(real), per_class, seed)
    synth_path = Path(synthetic)
    with Galaxy10File(synth_path) as f:
        synth_by_class = examples_by_class(f.labels, f.read, per_class, seed)
        synth_source = source_label(f.source)
    fig = class_gallery([("real (Galaxy10 DECaLS sample)", real_by_class),
                         (f"synthetic ({Path(synth_path).name})", synth_by_class)],
                        per_class=per_class,
                        title=f"Real vs synthetic cut-outs, {per_class} per class — right: {synth_source}")
    return save_figure(fig, out, dpi=80, colors=256)
