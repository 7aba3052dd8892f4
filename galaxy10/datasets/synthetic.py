"""Synthetic Galaxy10 DECaLS: a stand-in data set with the real schema and class balance.

The real ``Galaxy10_DECals.h5`` (17,736 colour cut-outs, 2.7 GB) cannot always be
downloaded, so the project's default data is generated here. Every image is rendered from
simple, physically motivated light profiles so that the classes differ the way the real
ones do, and not by some artefact a classifier could latch on to:

* smooth galaxies are Sérsic (de Vaucouleurs-like) spheroids, separated only by their axis
  ratio (round, in-between, cigar);
* spirals are exponential discs at a random inclination and position angle with
  logarithmic spiral arms (tight or loose pitch angle), an optional bar, a red bulge and
  blue star-forming clumps;
* edge-on discs are thin exponential discs, with or without a central bulge;
* mergers are two nuclei with tidal tails; disturbed galaxies are lopsided and clumpy.

Classes that Galaxy Zoo volunteers confuse overlap in these parameters on purpose (see
:data:`_NEIGHBOURS` and the per-class renderers of :mod:`galaxy10.datasets.morphology`), and
about 7 % of the images are rendered with the parameters of a neighbouring class while keeping
their own label, so that the original pipeline is far from perfect, as it is on real data.

Each image is then made to look like a DECaLS cut-out: PSF blur, foreground stars and
neighbouring galaxies, correlated sky noise, and an asinh stretch onto a dark sky of a few
tens of counts, as uint8 256 x 256 x 3.

Reproducibility: image ``row`` of a set generated with ``seed`` is rendered from its own
generator, ``np.random.SeedSequence(seed, spawn_key=(row,))`` (the same stream as
``SeedSequence(seed).spawn(row + 1)[row]``), so the bytes do not depend on the chunk size or
on the number of worker processes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from galaxy10.core.classes import IMAGE_SHAPE, N_CLASSES, REAL_CLASS_COUNTS
from galaxy10.datasets.morphology import Stamp, paste, render_morphology, small_galaxy
from galaxy10.datasets.writer import Galaxy10Writer

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "class_counts",
    "generate",
    "make_labels",
    "render_galaxy",
    "render_rows",
    "row_rng",
]

PRESETS: dict[str, int] = {"full": 17736, "medium": 4434, "small": 1774, "tiny": 200}
"""Named set sizes: ``full`` has exactly the real class counts; the others are 1/4, 1/10 and
a 200-image set for smoke tests."""

GENERATOR_VERSION: str = "1.2"
"""Bumped whenever the pixels for a given (seed, row, label) change, and recorded in every
file, so that results computed on an older synthetic file can be told apart."""

PIXEL_SCALE: float = 0.262
"""DECaLS pixel scale in arcsec per pixel, recorded as ``pxscale``."""

BOUNDARY_FRACTION: float = 0.07
"""Share of images rendered from a neighbouring class's parameters (label unchanged)."""

_SIZE = IMAGE_SHAPE[0]
_CENTRE = _SIZE / 2.0

# Classes whose parameter ranges touch; a "boundary" image of class k is drawn from one of
# these. Mirrors the confusions of Galaxy Zoo volunteers and of the original classifier.
_NEIGHBOURS: dict[int, tuple[int, ...]] = {
    0: (1, 7),        # disturbed <-> merging, loose spiral
    1: (0,),          # merging <-> disturbed
    2: (3,),          # round <-> in-between
    3: (2, 4),        # in-between <-> round, cigar
    4: (3, 9),        # cigar <-> in-between, edge-on with bulge
    5: (6, 7),        # barred <-> unbarred spirals
    6: (7, 5),        # tight <-> loose, barred
    7: (6, 0),        # loose <-> tight, disturbed
    8: (9,),          # edge-on without <-> with bulge
    9: (8, 4),        # edge-on with bulge <-> without, cigar
}

# Colours of foreground stars, from red dwarfs to blue stars (the galaxies': datasets.morphology).
_STAR_RED = np.array([1.3, 0.55, 0.28], dtype=np.float32)
_STAR_BLUE = np.array([0.62, 0.86, 1.2], dtype=np.float32)


# -- class balance and row order --------------------------------------------------------------
def class_counts(n: int) -> np.ndarray:
    """Split ``n`` images over the 10 classes in the real proportions.

    Largest-remainder rounding makes the counts sum exactly to ``n`` (and reproduce the
    real counts for ``n = 17736``). Small sets get a floor per class, taken from the largest
    classes: when ``n >= 50`` every class gets at least
    :data:`~galaxy10.datasets.resample.MIN_PER_CLASS` (5) images, the minimum of the seed-faithful
    undersampling and split, so a set as small as the ``tiny`` preset runs the pipeline; when
    ``10 <= n < 50`` every class gets at least one image, so it can still be stratified.

    Parameters
    ----------
    n : int
        Total number of images, at least 1.

    Returns
    -------
    ndarray of int64, shape (10,)
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    real = np.asarray(REAL_CLASS_COUNTS, dtype=np.int64)
    exact = real * n / real.sum()
    counts = np.floor(exact).astype(np.int64)
    # ties broken towards the larger real class, then the lower label: deterministic
    order = np.lexsort((np.arange(N_CLASSES), -real, -(exact - counts)))
    counts[order[: n - counts.sum()]] += 1
    from galaxy10.datasets.resample import MIN_PER_CLASS

    floor = MIN_PER_CLASS if n >= N_CLASSES * MIN_PER_CLASS else int(n >= N_CLASSES)
    while (counts < floor).any():
        counts[int(np.argmax(counts))] -= 1
        counts[int(np.flatnonzero(counts < floor)[0])] += 1
    return counts


def make_labels(n: int, seed: int) -> np.ndarray:
    """Return the labels of a synthetic set of ``n`` images, in a seeded random order.

    The order is stratified: the j-th image of class c gets the key ``(j + u) / count_c``
    with ``u`` uniform, and rows are sorted by key. Any prefix of the set therefore holds
    the classes in (almost exactly) the real proportions, so a quick run on the first rows
    sees every class, while the order is still shuffled.

    Parameters
    ----------
    n : int
        Number of images.
    seed : int
        Seed of the set; the same ``(n, seed)`` always gives the same labels.

    Returns
    -------
    ndarray of uint8, shape (n,)
    """
    counts = class_counts(n)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(n), 0x1AB3]))
    labels = np.repeat(np.arange(N_CLASSES, dtype=np.uint8), counts)
    within = np.concatenate([np.arange(c) for c in counts]).astype(np.float64)
    keys = (within + rng.random(n)) / np.repeat(counts, counts)
    return labels[np.argsort(keys, kind="stable")]


def row_rng(seed: int, row: int) -> np.random.Generator:
    """The generator that renders image ``row`` of the set with ``seed``.

    It equals ``default_rng(SeedSequence(seed).spawn(row + 1)[row])`` but is built
    directly, so any row can be (re)rendered alone, in any process, in any order.
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(row),)))


_MEAN_RGB = np.full((1, 3), 1.0 / 3.0, dtype=np.float32)


def _render(label: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, float]]:
    """Render one image and its catalogue values (ra, dec, redshift, pxscale)."""
    label = int(label)
    if not 0 <= label < N_CLASSES:
        raise ValueError(f"class label must be in 0-{N_CLASSES - 1}, got {label}")
    # catalogue: sky position in a DECaLS-like band, redshift of a nearby galaxy
    ra = float(rng.uniform(0.0, 360.0))
    dec = float(np.degrees(np.arcsin(rng.uniform(math.sin(math.radians(-20.0)),
                                                 math.sin(math.radians(35.0))))))
    z = float(np.clip(rng.lognormal(math.log(0.05), 0.45), 0.008, 0.2))
    meta = {"ra": ra, "dec": dec, "redshift": z, "pxscale": PIXEL_SCALE}

    morph = label
    if rng.random() < BOUNDARY_FRACTION:
        morph = int(rng.choice(_NEIGHBOURS[label]))
    # apparent size shrinks and flux fades with distance, plus intrinsic scatter
    scale = float(np.clip((0.05 / z) ** 0.5 * rng.lognormal(0.0, 0.18), 0.55, 1.7))
    flux = float(125000.0 * scale ** 2 * rng.lognormal(0.0, 0.4))

    frame = np.zeros(IMAGE_SHAPE, dtype=np.float32)
    half = int(min(_SIZE // 2 - 2, max(24, round(70 * scale))))
    cx = _CENTRE + rng.uniform(-2.0, 2.0)
    cy = _CENTRE + rng.uniform(-2.0, 2.0)
    st = Stamp(half, cx, cy)
    render_morphology(morph, st, rng, scale, flux)
    paste(frame, st)

    # neighbouring galaxies and foreground stars
    for _ in range(rng.poisson(3.0)):
        x, y = rng.uniform(0, _SIZE, 2)
        if abs(x - _CENTRE) + abs(y - _CENTRE) < 30 and rng.random() < 0.7:
            continue
        small_galaxy(frame, rng, x, y, float(min(600 * rng.pareto(1.0) + 150, 6000)))
    n_star = rng.poisson(rng.uniform(15, 48))
    if n_star:
        sx = rng.integers(0, _SIZE, n_star)
        sy = rng.integers(0, _SIZE, n_star)
        sflux = (60.0 * (1 + rng.pareto(0.8, n_star))).astype(np.float32)
        temp = rng.random(n_star).astype(np.float32) ** 0.7  # more red dwarfs than blue stars
        colour = temp[:, None] * _STAR_RED + (1 - temp)[:, None] * _STAR_BLUE
        np.add.at(frame, (sy, sx), sflux[:, None] * colour.astype(np.float32))

    psf = rng.uniform(1.2, 2.0)
    cv2.GaussianBlur(frame, (0, 0), psf, dst=frame, borderType=cv2.BORDER_CONSTANT)

    # sky noise, correlated over ~2 px like resampled survey images: white noise on a
    # half-resolution grid, upsampled bilinearly (uniform variance 0.390625 at scale 2)
    # (one extra sample each side so that the border rows are not replicated)
    noise = rng.standard_normal((_SIZE // 2 + 2, _SIZE // 2 + 2, 3), dtype=np.float32)
    noise = cv2.resize(noise, (_SIZE + 4, _SIZE + 4), interpolation=cv2.INTER_LINEAR)
    noise = noise[2:-2, 2:-2]
    # as on the real cut-outs: a third at the survey's noise floor, the rest spread up to ~2x
    sigma = rng.uniform(0.75, 0.82) if rng.random() < 0.35 else rng.uniform(0.86, 1.6)
    frame += noise * np.float32(sigma / 0.625)

    # Lupton-style asinh stretch of the mean intensity, colours kept as flux ratios (as in
    # the Legacy Survey cut-outs): sky ~30 counts with noise ~7, cores near saturation
    beta = np.float32(5.0)
    gain = (rng.uniform(34.0, 42.0) * np.exp(rng.normal(0, 0.03, 3))).astype(np.float32)
    sky = np.float32(rng.normal(32.7, 0.8))
    frame /= beta
    x = cv2.transform(frame, _MEAN_RGB)  # mean of the channels, fast
    small = np.abs(x) < 1e-3
    x[small] = 1e-3
    factor = np.arcsinh(x) / x
    frame *= factor[..., None]
    frame *= gain
    frame += sky
    np.clip(frame, 0, 255, out=frame)
    return frame.astype(np.uint8), meta


def render_galaxy(label: int, rng: np.random.Generator) -> np.ndarray:
    """Render one synthetic cut-out of class ``label``.

    Parameters
    ----------
    label : int
        Class number 0-9 (see :data:`galaxy10.core.classes.CLASS_NAMES`).
    rng : numpy.random.Generator
        Source of every random choice, so the image is reproducible from the generator's
        state alone; use :func:`row_rng` to get the one of a given row of a set.

    Returns
    -------
    ndarray of uint8, shape (256, 256, 3)
        RGB like the real cut-outs: a galaxy near the centre on dark, noisy sky with stars.
    """
    return _render(label, rng)[0]


def render_rows(labels: np.ndarray, seed: int, rows: np.ndarray
                ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render the images at ``rows`` of the set with ``seed``, whose labels are ``labels``.

    This is the unit of work of :func:`generate` (one chunk), and lets experiments render
    any subset of a set, e.g. a balanced sample, without writing the whole file.

    Parameters
    ----------
    labels : array of int, shape (k,)
        The labels of those rows (from :func:`make_labels`).
    seed : int
        Seed of the set.
    rows : array of int, shape (k,)
        Row numbers; each selects its own generator, :func:`row_rng`.

    Returns
    -------
    images : ndarray of uint8, shape (k, 256, 256, 3)
    metadata : dict of str to ndarray of float64
        ``ra``, ``dec``, ``redshift``, ``pxscale``, each of shape (k,).
    """
    labels = np.asarray(labels).reshape(-1)
    rows = np.asarray(rows).reshape(-1)
    if labels.shape != rows.shape:
        raise ValueError("labels and rows must have the same length")
    images = np.empty((len(rows), *IMAGE_SHAPE), dtype=np.uint8)
    meta = {k: np.empty(len(rows), dtype=np.float64)
            for k in ("ra", "dec", "redshift", "pxscale")}
    for i, (label, row) in enumerate(zip(labels, rows, strict=True)):
        images[i], values = _render(int(label), row_rng(seed, int(row)))
        for key, value in values.items():
            meta[key][i] = value
    return images, meta


def _render_chunk(args: tuple[np.ndarray, int, int]
                  ) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
    labels, seed, start = args
    images, meta = render_rows(labels, seed, np.arange(start, start + len(labels)))
    return start, images, meta


def _chunks(labels: np.ndarray, seed: int, chunk_size: int
            ) -> Iterator[tuple[np.ndarray, int, int]]:
    for start in range(0, len(labels), chunk_size):
        yield labels[start:start + chunk_size], seed, start


def generate(path: str | os.PathLike[str], n: int | None = None, *, preset: str = "small",
             seed: int = 0, chunk_size: int = 256, progress: bool = True,
             workers: int = 1) -> Path:
    """Generate a synthetic Galaxy10 file at ``path``, atomically.

    Images are rendered and written ``chunk_size`` at a time, so memory stays bounded by one
    chunk per worker (256 images = 50 MB) whatever ``n`` is; the file appears at ``path``
    only once complete, and an earlier file there survives any failure.

    Parameters
    ----------
    path : str or Path
        Output HDF5 file (folders are created).
    n : int, optional
        Number of images; defaults to ``PRESETS[preset]``.
    preset : {"full", "medium", "small", "tiny"}, default "small"
        Named size, recorded in the file; ``"custom"`` is recorded when ``n`` differs.
    seed : int, default 0
        Same seed and ``n`` give byte-identical images, labels and metadata.
    chunk_size : int, default 256
        Images per batch; does not change the output.
    progress : bool, default True
        Show a tqdm progress bar.
    workers : int, default 1
        Processes rendering chunks in parallel; does not change the output.

    Returns
    -------
    Path
        ``path``.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    if n is None:
        n = PRESETS[preset]
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    recorded = preset if n == PRESETS[preset] else "custom"
    labels = make_labels(n, seed)
    attrs = {"seed": int(seed), "preset": recorded, "generator_version": GENERATOR_VERSION,
             "boundary_fraction": BOUNDARY_FRACTION}
    from tqdm.auto import tqdm

    path = Path(path)
    jobs = _chunks(labels, int(seed), int(chunk_size))
    with Galaxy10Writer(path, n, IMAGE_SHAPE, source="synthetic", attrs=attrs,
                        with_metadata=True) as writer, \
            tqdm(total=n, disable=not progress, unit="img", desc="synthetic") as bar:
        results = (map(_render_chunk, jobs) if workers == 1 or n <= chunk_size
                   else _parallel(jobs, workers))
        for start, images, meta in results:
            writer.write(start, images, labels[start:start + len(images)], meta)
            bar.update(len(images))
    return path


def _parallel(jobs: Iterator[tuple[np.ndarray, int, int]], workers: int
              ) -> Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]]:
    """Render chunks in ``workers`` processes, in order, with at most 2 chunks per worker
    in flight, so memory stays bounded even when writing is slower than rendering.

    Processes are spawned (not forked: a fork of a process running TensorFlow, OpenCV or
    tqdm threads can deadlock); a worker that cannot start, e.g. because a script without
    an ``if __name__ == "__main__":`` guard re-runs itself, raises an error instead of
    hanging.
    """
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        pending: deque = deque()
        try:
            for job in jobs:
                pending.append(pool.submit(_render_chunk, job))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        except BrokenProcessPool as exc:
            raise RuntimeError(
                "synthetic generation: a worker process died or could not start; when "
                "calling generate(workers > 1) from a script, put the call under "
                "'if __name__ == \"__main__\":', or use workers=1") from exc
        finally:
            for future in pending:
                future.cancel()
