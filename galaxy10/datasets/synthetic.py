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
:data:`_NEIGHBOURS` and the per-class renderers), and about 7 % of the images are rendered
with the parameters of a neighbouring class while keeping their own label, so that the
original pipeline is far from perfect, as it is on real data.

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

# Colours (relative flux in R, G, B = z, r, g bands): old stars red, young stars blue.
_RED = np.array([1.00, 0.88, 0.70], dtype=np.float32)
_DISC = np.array([0.90, 0.93, 0.93], dtype=np.float32)
_BLUE = np.array([0.76, 0.90, 1.04], dtype=np.float32)
_DUST = np.array([1.06, 1.0, 0.92], dtype=np.float32)
_TILT = np.array([1.0, 0.0, -1.0], dtype=np.float32)
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


# -- light profiles ------------------------------------------------------------------------
def _sersic_b(n: float) -> float:
    """Ciotti & Bertin approximation of b_n, so that R_e encloses half the light."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


class _Stamp:
    """Pixel grid of a square stamp around the galaxy centre, with rotation helpers."""

    def __init__(self, half: int, cx: float, cy: float) -> None:
        self.half = half
        self.x0 = int(round(cx)) - half
        self.y0 = int(round(cy)) - half
        ax = np.arange(2 * half + 1, dtype=np.float32)
        self.x = (ax + self.x0 - cx)[None, :]
        self.y = (ax + self.y0 - cy)[:, None]
        self.shape = (2 * half + 1, 2 * half + 1)
        self.flux = np.zeros((*self.shape, 3), dtype=np.float32)

    def rotated(self, pa: float, dx: float = 0.0, dy: float = 0.0
                ) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates along (u) and across (v) the major axis at angle ``pa``."""
        c, s = math.cos(pa), math.sin(pa)
        x = self.x - dx
        y = self.y - dy
        return x * c + y * s, -x * s + y * c

    def add(self, image: np.ndarray, flux: float, colour: np.ndarray) -> None:
        """Add a profile scaled to total ``flux`` (summed over the stamp) in ``colour``."""
        total = float(image.sum())
        if total > 0 and flux > 0:
            self.flux += (image * (flux / total))[..., None] * colour

    def deposit(self, u: np.ndarray, v: np.ndarray, flux: np.ndarray,
                colour: np.ndarray) -> None:
        """Add point sources at stamp-centred positions (bilinear), e.g. clumps, tails."""
        px = u + self.half
        py = v + self.half
        i = np.floor(px).astype(np.int64)
        j = np.floor(py).astype(np.int64)
        fx = (px - i).astype(np.float32)
        fy = (py - j).astype(np.float32)
        size = self.shape[0]
        for di, dj, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                          (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            ii, jj = i + di, j + dj
            ok = (ii >= 0) & (ii < size) & (jj >= 0) & (jj < size)
            for c in range(3):
                np.add.at(self.flux[..., c], (jj[ok], ii[ok]), (flux * w * colour[c])[ok])


def _sersic(st: _Stamp, re: float, n: float, q: float, pa: float,
            dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    u, v = st.rotated(pa, dx, dy)
    r = np.sqrt(u * u + (v / q) ** 2) / re
    return np.exp(-_sersic_b(n) * (np.power(r + 1e-3, 1.0 / n) - 1.0))


def _jitter(rng: np.random.Generator, colour: np.ndarray, amount: float = 0.08) -> np.ndarray:
    """Vary a colour mostly along the red-blue axis, as stellar populations do."""
    tilt = rng.normal(0.0, amount) * _TILT + rng.normal(0.0, 0.25 * amount, 3)
    return (colour * np.exp(tilt)).astype(np.float32)


def _disc_geometry(rng: np.random.Generator, inc_deg: tuple[float, float]
                   ) -> tuple[float, float]:
    """Random position angle and cosine of an inclination drawn uniformly in cos(i)."""
    lo, hi = (math.cos(math.radians(a)) for a in (inc_deg[1], inc_deg[0]))
    return rng.uniform(0, math.pi), rng.uniform(lo, hi)


def _smooth(st: _Stamp, rng: np.random.Generator, scale: float, flux: float,
            q_range: tuple[float, float], red: float = 1.0) -> None:
    """Elliptical: one Sérsic spheroid; classes 2-4 differ by axis ratio, and (as measured
    on the real sample, :mod:`galaxy10.evaluation.realism`) the flatter ones are smaller and bluer."""
    re = scale * rng.uniform(4.0, 10.0)
    n = rng.uniform(2.0, 5.0)
    q = rng.uniform(*q_range)
    pa = rng.uniform(0, math.pi)
    colour = _jitter(rng, red * _RED + (1.0 - red) * _DISC)
    st.add(_sersic(st, re, n, q, pa), flux, colour)
    if q < 0.55 and rng.random() < 0.35:  # lenticular-like faint disc along a cigar
        st.add(_sersic(st, 2.2 * re, 1.0, q * 0.7, pa), 0.25 * flux, _jitter(rng, _DISC))


def _spiral(st: _Stamp, rng: np.random.Generator, scale: float, flux: float, *,
            pitch_deg: tuple[float, float], bar: float, inc_max: float = 68.0,
            red: float = 0.0) -> None:
    """Disc galaxy: bulge + exponential disc with log-spiral arms, optional bar, clumps.

    ``red`` tints the disc towards the bulge colour (barred spirals are redder on the real
    sample); ``inc_max`` caps the inclination (they are also seen more face-on).
    """
    pa, cosi = _disc_geometry(rng, (0.0, inc_max))
    h = scale * rng.uniform(7.0, 16.0)
    bt = rng.uniform(0.08, 0.45)
    u, v = st.rotated(pa)
    vd = v / max(cosi, 0.2)  # deprojected disc-plane coordinates
    r = np.sqrt(u * u + vd * vd)
    theta = np.arctan2(vd, u)
    disc = np.exp(-r / h)
    m = int(rng.choice((2, 2, 2, 3, 4)))
    pitch = math.radians(rng.uniform(*pitch_deg))
    phase = rng.uniform(0, 2 * math.pi)
    wind = np.log(np.maximum(r, 0.5) / h) / math.tan(pitch)
    crest = 0.5 * (1.0 + np.cos(m * (theta - wind) + phase))
    sharp = rng.uniform(1.5, 4.0)
    amp = rng.uniform(0.5, 1.0)
    taper = (1.0 - np.exp(-(r / (0.8 * h)) ** 2)).astype(np.float32)
    arms = disc * crest ** sharp * taper
    base = disc * (1.0 - 0.6 * amp * taper)
    dflux = flux * (1 - bt)
    st.add(base.astype(np.float32), dflux * 0.55, _jitter(rng, red * _RED + (1 - red) * _DISC))
    st.add(arms.astype(np.float32), dflux * 0.45 * amp, _jitter(rng, _BLUE))
    # bulge
    re_b = max(1.2, h * rng.uniform(0.2, 0.5))
    st.add(_sersic(st, re_b, rng.uniform(1.5, 4.0), rng.uniform(0.75, 1.0), pa),
           flux * bt, _jitter(rng, _RED))
    # bar, in the disc plane, projected
    if bar > 0:
        bar_len = h * rng.uniform(0.8, 1.8)
        bar_pa = rng.uniform(0, math.pi)
        bu = r * np.cos(theta - bar_pa)
        bv = r * np.sin(theta - bar_pa)
        shape = np.exp(-((bu / bar_len) ** 4 + (bv / (0.25 * bar_len)) ** 2))
        st.add(shape.astype(np.float32), flux * 0.3 * bar, _jitter(rng, _RED * 0.6 + 0.4))
    # star-forming clumps on the arms: blue knots
    k = rng.poisson(10 * amp)
    if k:
        rr = h * rng.uniform(0.8, 3.0, k)
        arm = rng.integers(0, m, k)
        th = np.log(rr / h) / math.tan(pitch) + (2 * math.pi * arm - phase) / m
        cu, cv = rr * np.cos(th), rr * np.sin(th) * cosi
        c, s = math.cos(pa), math.sin(pa)
        st.deposit(cu * c - cv * s, cu * s + cv * c,
                   (dflux * 0.012 * rng.exponential(1.0, k)).astype(np.float32),
                   _jitter(rng, _BLUE))


def _edge_on(st: _Stamp, rng: np.random.Generator, scale: float, flux: float, *,
             bt_range: tuple[float, float]) -> None:
    """Edge-on disc: thin exponential disc, a dust lane, and a bulge of variable weight."""
    pa = rng.uniform(0, math.pi)
    h = scale * rng.uniform(8.0, 16.0)
    q = rng.uniform(0.1, 0.26)
    bt = rng.uniform(*bt_range)
    u, v = st.rotated(pa)
    disc = np.exp(-np.abs(u) / h - np.abs(v) / (q * h))
    if rng.random() < 0.5:
        disc = disc * (1 - rng.uniform(0.3, 0.7) * np.exp(-(v / (0.3 * q * h + 0.5)) ** 2))
    # bulge-rich edge-ons are reddened by their dust lane (redder than ellipticals, as on the
    # real sample); bulgeless ones are young, blue discs
    colour = _jitter(rng, 0.6 * _DISC + 0.4 * _BLUE if bt < 0.2 else _RED * _DUST)
    st.add(disc.astype(np.float32), flux * (1 - bt), colour)
    if bt > 0:
        re_b = max(1.5, h * rng.uniform(0.25, 0.55))
        st.add(_sersic(st, re_b, rng.uniform(1.5, 4.0), rng.uniform(0.55, 0.9), pa),
               flux * bt, _jitter(rng, _RED * _DUST if bt >= 0.2 else _RED))


def _tail(st: _Stamp, rng: np.random.Generator, x0: float, y0: float, length: float,
          flux: float, colour: np.ndarray) -> None:
    """A curved tidal tail: points along a bending arc, later smoothed by the PSF."""
    k = 100
    t = np.linspace(0.0, 1.0, k, dtype=np.float32)
    ang = rng.uniform(0, 2 * math.pi)
    bend = rng.uniform(-2.5, 2.5)
    heading = ang + bend * t
    step = length / k
    xs = x0 + np.cumsum(step * np.cos(heading))
    ys = y0 + np.cumsum(step * np.sin(heading))
    width = rng.uniform(1.0, 3.0)
    xs = xs + rng.normal(0, width, k)
    ys = ys + rng.normal(0, width, k)
    w = (np.exp(-2.0 * t) * flux / k * 2).astype(np.float32)
    st.deposit(xs.astype(np.float32), ys.astype(np.float32), w, colour)


def _merging(st: _Stamp, rng: np.random.Generator, scale: float, flux: float, *,
             tails: float, sep_range: tuple[float, float]) -> None:
    """Two (rarely three) nuclei, close together, with tidal tails and bridges."""
    n_gal = 3 if rng.random() < 0.12 else 2
    re1 = scale * rng.uniform(3.0, 7.0)
    sep = re1 * rng.uniform(*sep_range)
    ang = rng.uniform(0, 2 * math.pi)
    # the cut-out is centred on the primary nucleus, as the real ones are
    centres = [(-0.15 * sep * math.cos(ang), -0.15 * sep * math.sin(ang)),
               (0.85 * sep * math.cos(ang), 0.85 * sep * math.sin(ang))]
    if n_gal == 3:
        a2 = ang + rng.uniform(1.0, 2.0)
        centres.append((sep * math.cos(a2), sep * math.sin(a2)))
    for idx, (dx, dy) in enumerate(centres):
        frac = 1.0 if idx == 0 else rng.uniform(0.25, 1.0)
        re = re1 * (1.0 if idx == 0 else rng.uniform(0.5, 1.1))
        colour = _jitter(rng, _RED if rng.random() < 0.9 else 0.5 * (_RED + _DISC))
        st.add(_sersic(st, re, rng.uniform(2.0, 5.0), rng.uniform(0.5, 1.0),
                       rng.uniform(0, math.pi), dx, dy), flux * 0.5 * frac, colour)
        # a distorted envelope around each nucleus
        st.add(_sersic(st, 2.5 * re, 1.0, rng.uniform(0.4, 0.9), rng.uniform(0, math.pi),
                       dx + rng.normal(0, re), dy + rng.normal(0, re)),
               flux * 0.2 * frac, _jitter(rng, 0.8 * _RED + 0.2 * _DISC))
    for _ in range(rng.poisson(tails)):
        dx, dy = centres[int(rng.integers(0, len(centres)))]
        _tail(st, rng, dx, dy, scale * rng.uniform(15, 45), flux * rng.uniform(0.1, 0.3),
              _jitter(rng, 0.5 * (_DISC + _BLUE)))


def _disturbed(st: _Stamp, rng: np.random.Generator, scale: float, flux: float, *,
               tails: float) -> None:
    """Lopsided, clumpy galaxy: off-centre discs, scattered blue knots, perhaps a plume."""
    h = scale * rng.uniform(4.0, 10.0)
    pa, cosi = _disc_geometry(rng, (35.0, 80.0))
    q = max(cosi, 0.3)
    st.add(_sersic(st, max(1.2, 0.3 * h), rng.uniform(1.0, 3.0), rng.uniform(0.6, 1.0), pa),
           flux * rng.uniform(0.1, 0.35), _jitter(rng, _RED))
    for _ in range(int(rng.integers(2, 4))):  # overlapping, shifted components: m=1 asymmetry
        st.add(_sersic(st, h * rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.2),
                       q * rng.uniform(0.6, 1.0), pa + rng.normal(0, 0.6),
                       rng.normal(0, 0.8 * h), rng.normal(0, 0.8 * h)),
               flux * rng.uniform(0.15, 0.35), _jitter(rng, _DISC, 0.15))
    k = int(rng.integers(4, 16))
    rr = h * rng.uniform(0.2, 2.5, k)
    th = rng.uniform(0, 2 * math.pi, k)
    st.deposit((rr * np.cos(th)).astype(np.float32), (rr * np.sin(th) * q).astype(np.float32),
               (flux * 0.03 * rng.exponential(1.0, k)).astype(np.float32), _jitter(rng, _BLUE))
    for _ in range(rng.poisson(tails)):
        _tail(st, rng, rng.normal(0, h), rng.normal(0, h), scale * rng.uniform(10, 30),
              flux * rng.uniform(0.05, 0.2), _jitter(rng, _DISC))


def _render_morphology(morph: int, st: _Stamp, rng: np.random.Generator, scale: float,
                       flux: float) -> None:
    """Draw the galaxy of class ``morph`` into the stamp; parameter ranges overlap."""
    # size and flux factors per class follow the real sample's medians (galaxy10.evaluation.realism)
    if morph == 0:
        _disturbed(st, rng, scale * 1.4, flux, tails=0.5)
    elif morph == 1:
        _merging(st, rng, scale, flux * 1.3, tails=1.5, sep_range=(2.0, 6.0))
    elif morph == 2:
        _smooth(st, rng, scale * 0.95, flux * 0.8, (0.72, 1.0))
    elif morph == 3:
        _smooth(st, rng, scale * 0.62, flux * 0.5, (0.42, 0.82), red=0.35)
    elif morph == 4:
        _smooth(st, rng, scale * 0.62, flux * 0.6, (0.18, 0.5), red=0.35)
    elif morph == 5:
        _spiral(st, rng, scale, flux * 1.3, pitch_deg=(9.0, 30.0), bar=rng.uniform(0.25, 1.0),
                inc_max=55.0, red=0.9)
    elif morph == 6:
        bar = rng.uniform(0.0, 0.25) if rng.random() < 0.2 else 0.0
        _spiral(st, rng, scale * 1.1, flux * 1.3, pitch_deg=(6.0, 17.0), bar=bar)
    elif morph == 7:
        bar = rng.uniform(0.0, 0.25) if rng.random() < 0.2 else 0.0
        _spiral(st, rng, scale * 0.78, flux * 0.75, pitch_deg=(15.0, 35.0), bar=bar)
    elif morph == 8:
        _edge_on(st, rng, scale * 1.6, flux, bt_range=(0.0, 0.22))
    else:
        _edge_on(st, rng, scale * 0.95, flux, bt_range=(0.25, 0.7))


# -- the scene: stars, neighbours, PSF, noise, stretch ------------------------------------
def _small_galaxy(frame: np.ndarray, rng: np.random.Generator, x: float, y: float,
                  flux: float) -> None:
    re = rng.uniform(1.0, 3.5)
    st = _Stamp(int(6 + 4 * re), x, y)  # profile < 1e-4 of its peak at the stamp edge
    red = rng.random()
    colour = _jitter(rng, red * _RED + (1 - red) * _DISC, 0.06)
    st.add(_sersic(st, re, rng.uniform(1.0, 3.0), rng.uniform(0.3, 1.0),
                   rng.uniform(0, math.pi)), flux, colour)
    _paste(frame, st)


def _paste(frame: np.ndarray, st: _Stamp) -> None:
    """Add a stamp into the frame, clipping at the edges."""
    h, w = frame.shape[:2]
    y0, x0 = st.y0, st.x0
    y1, x1 = y0 + st.shape[0], x0 + st.shape[1]
    fy0, fx0, fy1, fx1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
    if fy0 >= fy1 or fx0 >= fx1:
        return
    frame[fy0:fy1, fx0:fx1] += st.flux[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]


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
    st = _Stamp(half, cx, cy)
    _render_morphology(morph, st, rng, scale, flux)
    _paste(frame, st)

    # neighbouring galaxies and foreground stars
    for _ in range(rng.poisson(3.0)):
        x, y = rng.uniform(0, _SIZE, 2)
        if abs(x - _CENTRE) + abs(y - _CENTRE) < 30 and rng.random() < 0.7:
            continue
        _small_galaxy(frame, rng, x, y, float(min(600 * rng.pareto(1.0) + 150, 6000)))
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
