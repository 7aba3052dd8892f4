"""How realistic is the synthetic generator? Per-class statistics of real and synthetic cut-outs.

A classifier trained on synthetic images transfers to real ones only as far as the two look
alike where it matters. Looking at galleries does not say *how far* apart they are, nor
which knob of the generator to turn, so this module measures a handful of simple, physically
meaningful numbers on every 256 x 256 x 3 uint8 cut-out (size, brightness, colour, shape of
the central galaxy; noise, sky level and crowding of the field) and compares their
distributions class by class with the two-sample Kolmogorov-Smirnov distance (0: same
distribution, 1: no overlap at all). The median distance over all class x statistic cells
is one number that tracks the generator's realism from version to version.

Every statistic is a pure function of the pixels (arrays in, arrays out); reading real
folders and rendering synthetic images happens only in :func:`load_real` and
:func:`synthetic_sample`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.core.errors import GalaxyDataError
from galaxy10.datasets.resample import sample_per_class

logger = logging.getLogger(__name__)

__all__ = [
    "STATISTICS",
    "compare_samples",
    "image_statistics",
    "ks_table",
    "load_real",
    "realism_figure",
    "sample_statistics",
    "summarise",
    "synthetic_sample",
]

STATISTICS: tuple[str, ...] = (
    "radius_moment", "radius_half_light", "central_brightness", "total_flux", "color_rg",
    "color_bg", "ellipticity", "noise_sigma", "sky_level", "n_sources")
"""Names of the per-image statistics, in the order of :func:`image_statistics`' output."""

BORDER = 16
"""Width (px) of the frame whose pixels estimate the sky: far from the central galaxy."""

DETECT_SIGMA = 3.0
"""Detection threshold in units of the (smoothed) sky noise, for segments and sources."""

MIN_SOURCE_AREA = 6
"""Smallest connected area (px) counted as another source: fewer is a noise spike."""

SOURCE_PEAK_SIGMA = 5.0
"""Another source must also peak above this many sigma: over 65,000 pixels, 3-sigma noise
excursions happen by chance; 5-sigma ones practically never."""

CENTRAL_BOX = 8
"""Side (px) of the central box whose mean is the central brightness."""

_MAD_TO_SIGMA = 1.4826


# -- per-image statistics -------------------------------------------------------------------
def sky_and_noise(image: np.ndarray, border: int = BORDER) -> tuple[np.ndarray, float]:
    """Sky level per channel and robust noise sigma, from the pixels of the image's border.

    The border of a cut-out is mostly empty sky, so its median is the sky pedestal and its
    median absolute deviation (MAD x 1.4826) is the noise, both insensitive to the few stars
    that fall there. The noise is the mean of the three channels' sigmas (a mean, not a
    median, so that integer pixel values do not quantise it to steps of 1.48).

    Parameters
    ----------
    image : ndarray, shape (H, W, 3)
        One cut-out (uint8 or float).
    border : int
        Width of the frame used.

    Returns
    -------
    sky : ndarray of float64, shape (3,)
    sigma : float
    """
    img = np.asarray(image, dtype=np.float64)
    frame = np.concatenate([img[:border].reshape(-1, 3), img[-border:].reshape(-1, 3),
                            img[border:-border, :border].reshape(-1, 3),
                            img[border:-border, -border:].reshape(-1, 3)])
    sky = np.median(frame, axis=0)
    mad = np.median(np.abs(frame - sky), axis=0) * _MAD_TO_SIGMA
    return sky, float(np.mean(mad))


def image_statistics(image: np.ndarray) -> np.ndarray:
    """The :data:`STATISTICS` of one cut-out.

    The central galaxy is the connected region of the (1 px Gaussian-smoothed,
    sky-subtracted) mean-of-channels image above ``DETECT_SIGMA`` times its noise that
    contains the centre (or, if none does, lies nearest to it). On that segment:

    * ``radius_moment``: sqrt of the mean of the flux-weighted second moments' eigenvalues
      (equals sigma for a round Gaussian): the apparent size, which sets how many pixels a
      classifier sees of the galaxy's structure;
    * ``radius_half_light``: radius of the circle about the light centroid holding half the
      segment's flux (1.177 sigma for a Gaussian): the size, less sensitive to faint wings;
    * ``central_brightness``: mean sky-subtracted value of the central 8 x 8 px: how bright
      (how stretched) the core is;
    * ``total_flux``: sky-subtracted sum over the segment: brightness and size together;
    * ``color_rg``, ``color_bg``: R/G and B/G flux ratios of the segment: the colour that
      separates red spheroids from blue discs;
    * ``ellipticity``: 1 - b/a from the second moments' eigenvalues (b/a is the axis
      ratio, 0 for a round galaxy): the shape that separates the smooth classes and edge-ons.

    On the field:

    * ``noise_sigma``: robust sky noise (:func:`sky_and_noise`): how hard faint structure is
      to see;
    * ``sky_level``: sky pedestal, mean of the channels: the stretch's zero point;
    * ``n_sources``: other connected regions above threshold of at least
      ``MIN_SOURCE_AREA`` px peaking above ``SOURCE_PEAK_SIGMA``: stars and neighbours that
      crowd the field.

    Parameters
    ----------
    image : ndarray, shape (H, W, 3), uint8 or float
        A cut-out with the galaxy near the centre.

    Returns
    -------
    ndarray of float64, shape (len(STATISTICS),)
    """
    img = np.asarray(image, dtype=np.float32)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {img.shape}")
    h, w = img.shape[:2]
    sky, sigma = sky_and_noise(img)
    sub = img - sky.astype(np.float32)
    lum = sub.mean(axis=2)
    smooth = cv2.GaussianBlur(lum, (0, 0), 1.0)
    # noise of the smoothed mean image, measured the same way as the raw noise
    _, smooth_sigma = sky_and_noise(np.repeat(smooth[..., None], 3, axis=2))
    threshold = DETECT_SIGMA * max(smooth_sigma, 0.3)
    mask = (smooth > threshold).astype(np.uint8)
    n, comp, stats, centroids = cv2.connectedComponentsWithStats(mask, connectivity=8)
    cy, cx = h // 2, w // 2
    central = int(comp[cy, cx])
    if central == 0 and n > 1:  # no segment on the centre: the nearest large-enough one
        d = np.hypot(centroids[1:, 0] - cx, centroids[1:, 1] - cy)
        d[stats[1:, cv2.CC_STAT_AREA] < MIN_SOURCE_AREA] = np.inf
        if np.isfinite(d).any() and d.min() < 0.25 * min(h, w):
            central = 1 + int(np.argmin(d))
    areas = stats[1:, cv2.CC_STAT_AREA]
    peaks = np.full(n, -np.inf)
    np.maximum.at(peaks, comp.ravel(), smooth.ravel())
    others = peaks[1:] > SOURCE_PEAK_SIGMA * max(smooth_sigma, 0.3)
    if central:
        others[central - 1] = False
    n_sources = float(np.count_nonzero(others & (areas >= MIN_SOURCE_AREA)))

    b = CENTRAL_BOX // 2
    central_brightness = float(lum[cy - b:cy + b, cx - b:cx + b].mean())
    if central:
        seg = comp == central
    else:  # nothing detected: a small aperture, so the numbers stay defined
        yy, xx = np.ogrid[:h, :w]
        seg = (yy - cy) ** 2 + (xx - cx) ** 2 <= 16
    ys, xs = np.nonzero(seg)
    wts = np.clip(lum[ys, xs], 0, None).astype(np.float64)
    total = float(lum[ys, xs].sum())
    if wts.sum() <= 0:
        wts = np.ones_like(wts)
    wsum = wts.sum()
    mx, my = (wts * xs).sum() / wsum, (wts * ys).sum() / wsum
    dx, dy = xs - mx, ys - my
    ixx, iyy, ixy = ((wts * dx * dx).sum() / wsum, (wts * dy * dy).sum() / wsum,
                     (wts * dx * dy).sum() / wsum)
    half_tr, diff = 0.5 * (ixx + iyy), np.hypot(0.5 * (ixx - iyy), ixy)
    lam1, lam2 = half_tr + diff, max(half_tr - diff, 0.0)
    radius_moment = float(np.sqrt(half_tr))
    ellipticity = float(1.0 - np.sqrt(lam2 / lam1)) if lam1 > 0 else 0.0
    r = np.hypot(dx, dy)
    order = np.argsort(r)
    cum = np.cumsum(wts[order])
    radius_half = float(r[order][np.searchsorted(cum, 0.5 * cum[-1])])
    flux = sub[ys, xs].sum(axis=0).astype(np.float64)
    g = max(flux[1], 1e-6)
    return np.array([radius_moment, radius_half, central_brightness, total,
                     flux[0] / g, flux[2] / g, ellipticity, sigma, float(sky.mean()),
                     n_sources], dtype=np.float64)


def sample_statistics(images: np.ndarray) -> np.ndarray:
    """:func:`image_statistics` of each image of a stack.

    Parameters
    ----------
    images : ndarray, shape (n, H, W, 3)

    Returns
    -------
    ndarray of float64, shape (n, len(STATISTICS))
    """
    out = np.empty((len(images), len(STATISTICS)), dtype=np.float64)
    for i, image in enumerate(images):
        out[i] = image_statistics(image)
    return out


# -- comparing the distributions ------------------------------------------------------------
def ks_table(real: np.ndarray, real_labels: np.ndarray, synth: np.ndarray,
             synth_labels: np.ndarray) -> np.ndarray:
    """Two-sample KS distance of every statistic within every class.

    KS is the largest gap between the two empirical CDFs: scale-free, needs no binning, and
    reads the same for a radius as for a count, so cells can be compared and summarised.

    Parameters
    ----------
    real, synth : ndarray, shape (n, n_stats) and (m, n_stats)
        Statistics from :func:`sample_statistics`.
    real_labels, synth_labels : ndarray of int, shape (n,) and (m,)

    Returns
    -------
    ndarray of float64, shape (n_stats, 10)
        NaN where a class is missing from either sample.
    """
    from scipy.stats import ks_2samp

    real_labels = np.asarray(real_labels)
    synth_labels = np.asarray(synth_labels)
    table = np.full((real.shape[1], N_CLASSES), np.nan)
    for k in range(N_CLASSES):
        a, b = real[real_labels == k], synth[synth_labels == k]
        if len(a) and len(b):
            for s in range(real.shape[1]):
                table[s, k] = ks_2samp(a[:, s], b[:, s]).statistic
    return table


def summarise(table: np.ndarray, names: Sequence[str] = STATISTICS) -> dict[str, Any]:
    """Median KS over all cells, per statistic and per class (JSON-ready)."""
    return {
        "median_ks": float(np.nanmedian(table)),
        "per_statistic": {name: float(np.nanmedian(row)) for name, row in
                          zip(names, table, strict=True)},
        "per_class": {str(k): (float(np.nanmedian(col)) if np.isfinite(col).any() else None)
                      for k, col in enumerate(table.T)},
    }


def compare_samples(real_images: np.ndarray, real_labels: np.ndarray, synth_images: np.ndarray,
                    synth_labels: np.ndarray) -> dict[str, Any]:
    """Statistics of both samples, their KS table and its summary, in one call."""
    real = sample_statistics(real_images)
    synth = sample_statistics(synth_images)
    table = ks_table(real, real_labels, synth, synth_labels)
    return {"real": real, "synthetic": synth, "real_labels": np.asarray(real_labels),
            "synthetic_labels": np.asarray(synth_labels), "ks": table, **summarise(table)}


# -- the samples ----------------------------------------------------------------------------
def load_real(source: str | os.PathLike[str], per_class: int | None = None, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Real cut-outs and labels from a class-folder tree, a CSV manifest or a Galaxy10 .h5.

    Parameters
    ----------
    source : path-like
        Folder with sub-folders 0-9 (a ``manifest.csv`` inside is used when present), a CSV
        manifest ``file,label``, or an ``.h5`` made by ``python -m galaxy10 import``: anything
        :func:`galaxy10.datasets.labelled.open_labelled` reads.
    per_class : int, optional
        Take at most this many random images of each class (seeded); default all.
    seed : int
        Seed of that choice.

    Returns
    -------
    images : ndarray of uint8, shape (n, 256, 256, 3)
    labels : ndarray of int64, shape (n,)

    Raises
    ------
    GalaxyDataError
        If ``source`` does not exist (the message says how to make one) or holds no images.
    """
    source = Path(source)
    if not source.exists():
        raise GalaxyDataError(source, "real sample not found; pass --real with a folder of "
                                      "class folders 0-9 (or a CSV manifest file,label), or "
                                      "an .h5 made from one by `python -m galaxy10 import "
                                      "FOLDER --out real.h5`")
    from galaxy10.datasets.labelled import open_labelled

    with open_labelled(source) as images:
        labels = images.labels.astype(np.int64)
        rows = sample_per_class(labels, per_class, seed)
        return images.read(rows), labels[rows]


def synthetic_sample(source: str | os.PathLike[str] = "full", per_class: int = 100,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Synthetic cut-outs of every class: rows of a preset's set, or of a given file.

    A preset name renders ``per_class`` random rows of each class of that set (the very
    images the cached file would hold) directly, with no file written.

    Parameters
    ----------
    source : preset name or path-like
        ``"full"``, ``"medium"``, ``"small"``, ``"tiny"``, or a Galaxy10 ``.h5`` file.
    per_class : int
        Images per class (fewer if the set has fewer).
    seed : int
        Seed of the synthetic set (for a preset) and of the choice of rows.

    Returns
    -------
    images : ndarray of uint8, shape (n, 256, 256, 3)
    labels : ndarray of int64, shape (n,)
    description : str
        What was sampled, for titles and metrics.
    """
    from galaxy10.datasets import synthetic

    name = os.fspath(source)
    if name in synthetic.PRESETS:
        labels = synthetic.make_labels(synthetic.PRESETS[name], seed).astype(np.int64)
        rows = sample_per_class(labels, per_class, seed)
        images, _ = synthetic.render_rows(labels[rows], seed, rows)
        return (images, labels[rows],
                f"generator v{synthetic.GENERATOR_VERSION}, preset {name}, seed {seed}")
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(name) as f:
        labels = f.labels.astype(np.int64)
        rows = sample_per_class(labels, per_class, seed)
        version = f.attrs.get("generator_version")
        return (f.read(rows), labels[rows],
                f"{Path(name).name}" + (f" (generator v{version})" if version else ""))


# -- the figure -----------------------------------------------------------------------------
def realism_figure(result: Mapping[str, Any], title: str = "Realism of the synthetic images"):
    """KS heat map (statistic x class) beside real-vs-synthetic histograms of each statistic.

    The heat map says *where* the generator is off (which class, which statistic); the
    histograms, pooled over classes, say *how* (too small, too faint, too noisy...).
    """
    from galaxy10.reporting.figures import _pyplot

    plt = _pyplot()
    table = np.asarray(result["ks"])
    n_stats = len(STATISTICS)
    fig = plt.figure(figsize=(17, 7.5), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.05, 1.0])
    ax = left.subplots()
    im = ax.imshow(table, cmap="viridis_r", vmin=0, vmax=1, aspect="auto")
    for s in range(n_stats):
        for k in range(N_CLASSES):
            v = table[s, k]
            if np.isfinite(v):
                ax.text(k, s, f"{v:.2f}", ha="center", va="center", fontsize=7.5,
                        color="white" if v > 0.55 else "black")
    ax.set_xticks(range(N_CLASSES), [f"{k} {n}" for k, n in enumerate(CLASS_NAMES)],
                  rotation=40, ha="right", fontsize=8)
    ax.set_yticks(range(n_stats), [f"{name} ({result['per_statistic'][name]:.2f})"
                                   for name in STATISTICS], fontsize=8.5)
    ax.set_title(f"KS distance real vs synthetic (median {result['median_ks']:.3f})",
                 fontsize=10)
    left.colorbar(im, ax=ax, shrink=0.8, label="KS distance (0 = same distribution)")
    axes = right.subplots(4, 3).ravel()
    real, synth = np.asarray(result["real"]), np.asarray(result["synthetic"])
    for s, name in enumerate(STATISTICS):
        a = axes[s]
        both = np.concatenate([real[:, s], synth[:, s]])
        lo, hi = np.nanpercentile(both, [1, 99])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)
        a.hist(np.clip(real[:, s], lo, hi), bins=bins, density=True, alpha=0.55, color="C0",
               label="real")
        a.hist(np.clip(synth[:, s], lo, hi), bins=bins, density=True, histtype="step",
               lw=1.5, color="C3", label="synthetic")
        a.set_title(name, fontsize=8.5)
        a.tick_params(labelsize=7)
        a.set_yticks([])
    for a in axes[n_stats:]:
        a.axis("off")
    axes[0].legend(fontsize=7)
    right.suptitle("all classes pooled (1st-99th percentile)", fontsize=9)
    fig.suptitle(title, fontsize=12)
    return fig


def format_table(result: Mapping[str, Any]) -> str:
    """The KS table as text: one row per statistic, one column per class, then the median."""
    table = np.asarray(result["ks"])
    head = f"{'statistic':<20}" + "".join(f"{k:>6}" for k in range(N_CLASSES)) + f"{'median':>8}"
    lines = [head]
    for s, name in enumerate(STATISTICS):
        cells = "".join("     -" if not np.isfinite(v) else f"{v:>6.2f}" for v in table[s])
        lines.append(f"{name:<20}{cells}{result['per_statistic'][name]:>8.3f}")
    per_class = result["per_class"]
    lines.append(f"{'median per class':<20}" + "".join(
        "     -" if per_class[str(k)] is None else f"{per_class[str(k)]:>6.2f}"
        for k in range(N_CLASSES)))
    lines.append(f"median KS over all class x statistic cells: {result['median_ks']:.3f}")
    return "\n".join(lines)


# -- the whole measurement, for the command line ---------------------------------------------
def measure_realism(real: str | os.PathLike[str], synthetic_source: str | os.PathLike[str] = "full",
                    *, per_class: int = 100, seed: int = 0,
                    out_figure: str | os.PathLike[str] | None = None,
                    metrics_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Compare real and synthetic cut-outs class by class; save the figure and metrics.

    Parameters
    ----------
    real : path-like
        Real images (see :func:`load_real`); at most ``per_class`` of each class are used.
    synthetic_source : preset name or path-like
        See :func:`synthetic_sample`.
    per_class : int
        Images per class on each side.
    seed : int
        Seed of the synthetic set and of the choice of images.
    out_figure : path-like, optional
        PNG for :func:`realism_figure` (written atomically).
    metrics_path : path-like, optional
        ``metrics.json`` whose ``realism`` section receives the summary.

    Returns
    -------
    dict
        :func:`compare_samples`' result plus ``real_source``, ``synthetic_source``,
        ``n_real``, ``n_synthetic`` and ``seconds``.
    """
    import time

    if per_class < 1:
        raise GalaxyDataError(Path(os.fspath(real)), f"--per-class must be at least 1, got "
                                                     f"{per_class}")
    start = time.perf_counter()
    real_images, real_labels = load_real(real, per_class, seed)
    synth_images, synth_labels, description = synthetic_sample(synthetic_source, per_class, seed)
    result = compare_samples(real_images, real_labels, synth_images, synth_labels)
    result.update(real_source=os.fspath(real), synthetic_source=description,
                  n_real=len(real_images), n_synthetic=len(synth_images),
                  seconds=time.perf_counter() - start)
    logger.info("realism: median KS %.3f over %d real and %d synthetic images",
                result["median_ks"], len(real_images), len(synth_images))
    if out_figure is not None:
        from galaxy10.reporting.figures import save_figure

        fig = realism_figure(result, title=f"Real ({Path(os.fspath(real)).name}, "
                                           f"{len(real_images)} images) vs synthetic "
                                           f"({description}, {len(synth_images)} images)")
        save_figure(fig, out_figure, dpi=80, colors=128)
        import matplotlib.pyplot as plt

        plt.close(fig)
    if metrics_path is not None:
        from galaxy10.reporting.metrics import update_metrics

        update_metrics(metrics_path, "realism", metrics_section(result))
    return result


def metrics_section(result: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-ready summary of a :func:`measure_realism` result (NaN cells become null)."""
    table = np.asarray(result["ks"])
    return {
        "real": result.get("real_source"), "synthetic": result.get("synthetic_source"),
        "n_real": int(result.get("n_real", len(result["real"]))),
        "n_synthetic": int(result.get("n_synthetic", len(result["synthetic"]))),
        "median_ks": result["median_ks"], "per_statistic": dict(result["per_statistic"]),
        "per_class": dict(result["per_class"]),
        "ks_by_statistic_and_class": {
            name: [None if not np.isfinite(v) else round(float(v), 4) for v in row]
            for name, row in zip(STATISTICS, table, strict=True)},
    }
