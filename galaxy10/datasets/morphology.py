"""The synthetic galaxies' shapes: light profiles, per-class morphologies, and the stamp
they are drawn on.

Part of the synthetic data set's generator (:mod:`galaxy10.datasets.synthetic`, which draws
the scene around them): smooth Sérsic spheroids, spiral discs with arms, bars and clumps,
edge-on discs, mergers with tidal tails and disturbed galaxies, each drawn into a
:class:`Stamp` with every random choice taken from the generator it is given, in a fixed
order, so that a (seed, row) always gives the same bytes. Changing anything here changes the
pixels: bump :data:`galaxy10.datasets.synthetic.GENERATOR_VERSION`.
"""

from __future__ import annotations

import math

import numpy as np

# Colours (relative flux in R, G, B = z, r, g bands): old stars red, young stars blue.
_RED = np.array([1.00, 0.88, 0.70], dtype=np.float32)
_DISC = np.array([0.90, 0.93, 0.93], dtype=np.float32)
_BLUE = np.array([0.76, 0.90, 1.04], dtype=np.float32)
_DUST = np.array([1.06, 1.0, 0.92], dtype=np.float32)
_TILT = np.array([1.0, 0.0, -1.0], dtype=np.float32)


# -- light profiles ------------------------------------------------------------------------
def _sersic_b(n: float) -> float:
    """Ciotti & Bertin approximation of b_n, so that R_e encloses half the light."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


class Stamp:
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


def _sersic(st: Stamp, re: float, n: float, q: float, pa: float,
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


def _smooth(st: Stamp, rng: np.random.Generator, scale: float, flux: float,
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


def _spiral(st: Stamp, rng: np.random.Generator, scale: float, flux: float, *,
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


def _edge_on(st: Stamp, rng: np.random.Generator, scale: float, flux: float, *,
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


def _tail(st: Stamp, rng: np.random.Generator, x0: float, y0: float, length: float,
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


def _merging(st: Stamp, rng: np.random.Generator, scale: float, flux: float, *,
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


def _disturbed(st: Stamp, rng: np.random.Generator, scale: float, flux: float, *,
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


def render_morphology(morph: int, st: Stamp, rng: np.random.Generator, scale: float,
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
def small_galaxy(frame: np.ndarray, rng: np.random.Generator, x: float, y: float,
                  flux: float) -> None:
    re = rng.uniform(1.0, 3.5)
    st = Stamp(int(6 + 4 * re), x, y)  # profile < 1e-4 of its peak at the stamp edge
    red = rng.random()
    colour = _jitter(rng, red * _RED + (1 - red) * _DISC, 0.06)
    st.add(_sersic(st, re, rng.uniform(1.0, 3.0), rng.uniform(0.3, 1.0),
                   rng.uniform(0, math.pi)), flux, colour)
    paste(frame, st)


def paste(frame: np.ndarray, st: Stamp) -> None:
    """Add a stamp into the frame, clipping at the edges."""
    h, w = frame.shape[:2]
    y0, x0 = st.y0, st.x0
    y1, x1 = y0 + st.shape[0], x0 + st.shape[1]
    fy0, fx0, fy1, fx1 = max(y0, 0), max(x0, 0), min(y1, h), min(x1, w)
    if fy0 >= fy1 or fx0 >= fx1:
        return
    frame[fy0:fy1, fx0:fx1] += st.flux[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
