"""Answer, "not sure", or "not a galaxy cut-out": what ``predict`` and the button say.

A classifier always names one of its 10 classes, even for a landscape photo. Two checks stand
between its output and the user:

1. :func:`cutout_check`, a cheap test of the picture itself. A Galaxy10 cut-out is mostly
   dark sky with a bright source in the centre, and nearly grey (DECaLS g/r/z composites have
   muted colours). Three statistics of the 256 px cut-out, with limits in
   :data:`CUTOUT_LIMITS`, were measured on 2,000 synthetic images (seed 5) and on the 1,000
   real images of the shared sample; every limit lies beyond the extreme value of both sets
   (so no real galaxy of the sample is rejected) and well before the values of a photo,
   a blank frame or uniform noise. They are taken on every :data:`STRIDE`-th pixel of every
   :data:`STRIDE`-th row: sky, source and colour are smooth at that scale, and a catalogue
   checks every picture, so the check should cost little beside the network.
2. The calibrated top probability against the bundle's threshold (fitted on validation data
   by :mod:`galaxy10.modeling.calibrate`): below it the answer is "not sure".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from galaxy10.core.classes import CLASS_NAMES

OK, NOT_SURE, NOT_A_CUTOUT = "ok", "not sure", "not a galaxy cut-out"

BORDER = 24
"""Width (px of the cut-out) of the frame whose median is the sky level."""

STRIDE = 4
"""The check looks at every ``STRIDE``-th pixel of every ``STRIDE``-th row (``image[::4, ::4]``,
a 64 px grid of a 256 px cut-out; its frame is ``BORDER // STRIDE`` grid pixels wide). On the
real sample and 2,000 synthetic images the extremes below move by at most 2 grey levels
against every pixel, far inside the limits' margins."""

CUTOUT_LIMITS: dict[str, float] = {
    # median grey level of the 24 px frame. Real sample: median 32, max 90 (one bright
    # neighbour); synthetic: max 36. Photo (china.jpg) 130, uniform noise 127, grey frame 128.
    "max_sky_level": 110.0,
    # 99th percentile of the central 64 px minus the sky level. Real: min 75; synthetic: min
    # 98. Blank frame 0. (Uniform noise passes this one: 95; the other two catch it.)
    "min_centre_excess": 40.0,
    # median colour saturation max(R,G,B) - min(R,G,B) over the picture. Real: max 24 (99.5%
    # 10); synthetic: max 22. Flower photo 64, uniform noise 129, china.jpg 21.
    "max_saturation": 40.0,
}
"""Limits of :func:`cutout_check`, with the values they were calibrated on."""


_GREY_OF_SUM = np.arange(3 * 255 + 1, dtype=np.float32) / 3
"""Grey level (float32 mean of R, G, B) of every possible sum R + G + B of uint8 pixels."""
_LEVELS = np.arange(256, dtype=np.float32)


def _order_statistics(counts: np.ndarray, values: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The value of order ``rank[j]`` (0-based) in row ``j``'s multiset, ``counts[j, i]``
    copies of ``values[i]`` (sorted): the first value whose cumulative count exceeds it."""
    return values[(np.cumsum(counts, axis=1) <= rank[:, None]).sum(axis=1)]


def _medians_of_counts(counts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.median`` of each row's multiset, ``counts[j, i]`` copies of ``values[i]`` (sorted).

    The middle one or two order statistics are averaged in ``values``' dtype, as
    ``np.median`` averages them, so each result is the same float.
    """
    n = counts.sum(axis=1)
    picked = [_order_statistics(counts, values, rank) for rank in ((n - 1) // 2, n // 2)]
    return np.mean(np.stack(picked, axis=1).astype(values.dtype), axis=1)


def _percentiles_of_counts(counts: np.ndarray, values: np.ndarray, q: float) -> np.ndarray:
    """``np.percentile(..., q)`` (its default, linear method) of each row's multiset.

    Every row holds the same number of values. The two order statistics around the virtual
    index ``(n - 1) q / 100`` are interpolated as NumPy's ``_lerp`` does (difference in
    ``values``' dtype, from the nearer side), so each result is the same
    float; a test holds it to ``np.percentile``.
    """
    n = int(counts[0].sum())
    index = (n - 1) * (q / 100)
    below = int(np.floor(index))
    weight = float(index - below)  # a Python float, as NumPy keeps a scalar q's weight
    rank = np.full(len(counts), below)
    a = _order_statistics(counts, values, rank)
    b = _order_statistics(counts, values, np.minimum(rank + 1, n - 1))
    step = np.subtract(b, a)
    if weight >= 0.5:
        return b - step * (1 - weight)
    return a + step * weight


def _counts(parts: list[np.ndarray], bins: int) -> np.ndarray:
    """How often each value ``0..bins-1`` occurs in ``parts`` together (int64, exact).

    OpenCV's histogram with one bin per value (a scale of exactly 1) counts in vectorised
    code and releases the GIL; its float32 counts are exact below 2**24 pixels.
    """
    import cv2

    counts = np.zeros(bins, dtype=np.int64)
    for part in parts:
        if part.size:
            counts += cv2.calcHist([np.ascontiguousarray(part)], [0], None, [bins],
                                   [0, bins]).ravel().astype(np.int64)
    return counts


def cutout_stats_batch(images) -> list[dict[str, float]]:
    """:func:`cutout_stats` of several uint8 cut-outs of one shape, computed together.

    Each picture's grid (:data:`STRIDE`) is taken by OpenCV's nearest-pixel resize where that
    picks exactly ``image[::STRIDE, ::STRIDE]``; its pixel sums and spreads are counted with
    OpenCV's vectorised integer operations (a catalogue checks every image, and counting
    costs far less than sorting floats); the medians and percentiles are then taken for the
    whole batch at once. Every figure is exactly the float of :func:`_cutout_stats_float`,
    the definition.

    Parameters
    ----------
    images : ndarray (k, H, W, 3) or sequence of (H, W, 3) arrays
        Pictures of one shape. Others than uint8, or of several shapes, are computed one by
        one by the definition.

    Returns
    -------
    list of dict
        The statistics of each picture, in order.
    """
    import cv2

    if len(images) == 0:
        return []
    shapes = {np.shape(img) for img in images}
    dtypes = {np.asarray(img).dtype for img in images}
    shape = next(iter(shapes))
    if (len(shapes) > 1 or dtypes != {np.dtype(np.uint8)} or len(shape) != 3
            or shape[-1] != 3 or 0 in shape):
        return [_cutout_stats_float(img) for img in images]
    h, w = (-(-side // STRIDE) for side in shape[:2])  # the grid's sides
    k = BORDER // STRIDE
    cy, cx = slice(h // 2 - h // 8, h // 2 + h // 8), slice(w // 2 - w // 8, w // 2 + w // 8)
    frames = np.empty((len(images), len(_GREY_OF_SUM)), np.int64)
    spreads = np.empty((len(images), 256), np.int64)
    centres = np.empty((len(images), len(_GREY_OF_SUM)), np.int64)
    for j, img in enumerate(images):
        r, g, b = (plane.reshape(h, w) for plane in cv2.split(_grid(img)))
        sums = np.add(r, g, dtype=np.uint16)
        sums += b
        frames[j] = _counts([sums[:k], sums[-k:], sums[k:-k, :k], sums[k:-k, -k:]],
                            len(_GREY_OF_SUM))
        centres[j] = _counts([sums[cy, cx]], len(_GREY_OF_SUM))
        spreads[j] = _counts([cv2.subtract(cv2.max(cv2.max(r, g), b),
                                           cv2.min(cv2.min(r, g), b))], 256)
    sky = _medians_of_counts(frames, _GREY_OF_SUM)
    top = _percentiles_of_counts(centres, _GREY_OF_SUM, 99)
    saturation = _medians_of_counts(spreads, _LEVELS)
    return [{"sky_level": float(s), "centre_excess": float(t) - float(s),
             "saturation": float(q)} for s, t, q in zip(sky, top, saturation, strict=True)]


def _grid(image: np.ndarray) -> np.ndarray:
    """``image[::STRIDE, ::STRIDE]``, contiguous: by OpenCV's nearest-pixel resize (a fraction
    of the cost of NumPy's strided copy) when the sides are multiples of :data:`STRIDE`, where
    it picks exactly those pixels."""
    import cv2

    h, w = image.shape[:2]
    if h % STRIDE or w % STRIDE:
        return np.ascontiguousarray(image[::STRIDE, ::STRIDE])
    return cv2.resize(image, (w // STRIDE, h // STRIDE), interpolation=cv2.INTER_NEAREST)


def cutout_stats(image: np.ndarray) -> dict[str, float]:
    """The three statistics of :func:`cutout_check` for one (256, 256, 3) uint8 cut-out.

    ``sky_level``: median grey level of the :data:`BORDER` px frame; ``centre_excess``: the
    99th percentile of the central quarter (in each direction) minus it; ``saturation``:
    median of max(R, G, B) - min(R, G, B); each over the grid of every :data:`STRIDE`-th
    pixel. Computed by :func:`cutout_stats_batch`, exactly
    the floats of :func:`_cutout_stats_float`, the definition.
    """
    return cutout_stats_batch([np.asarray(image)])[0]


def _cutout_stats_float(image: np.ndarray) -> dict[str, float]:
    """:func:`cutout_stats` by the definition, in float32: for images that are not uint8."""
    f = np.asarray(image, dtype=np.float32)[::STRIDE, ::STRIDE]
    grey = f.mean(axis=-1)
    b = BORDER // STRIDE
    frame = np.concatenate([grey[:b].ravel(), grey[-b:].ravel(), grey[b:-b, :b].ravel(),
                            grey[b:-b, -b:].ravel()])
    sky = float(np.median(frame))
    h, w = grey.shape
    centre = grey[h // 2 - h // 8:h // 2 + h // 8, w // 2 - w // 8:w // 2 + w // 8]
    return {"sky_level": sky, "centre_excess": float(np.percentile(centre, 99)) - sky,
            "saturation": float(np.median(f.max(axis=-1) - f.min(axis=-1)))}


def cutout_check(image: np.ndarray, limits: dict[str, float] | None = None) -> str | None:
    """Why ``image`` does not look like a galaxy cut-out, or None if it does.

    Returns
    -------
    str or None
        A short reason (e.g. ``"bright border: not dark sky"``) for the first failed limit.
    """
    return _why_not(cutout_stats(image), limits)


def cutout_checks(images, limits: dict[str, float] | None = None) -> list[str | None]:
    """:func:`cutout_check` of every picture of a batch (one shape), computed together
    (:func:`cutout_stats_batch`): the same answers, for less time per picture."""
    return [_why_not(s, limits) for s in cutout_stats_batch(images)]


def _why_not(s: dict[str, float], limits: dict[str, float] | None) -> str | None:
    lim = {**CUTOUT_LIMITS, **(limits or {})}
    if s["sky_level"] > lim["max_sky_level"]:
        return f"bright border ({s['sky_level']:.0f}/255): not dark sky"
    if s["saturation"] > lim["max_saturation"]:
        return f"strong colours (saturation {s['saturation']:.0f}): not a sky image"
    if s["centre_excess"] < lim["min_centre_excess"]:
        return f"no bright source in the centre (excess {s['centre_excess']:.0f})"
    return None


@dataclass
class Verdict:
    """What to tell the user about one picture.

    Attributes
    ----------
    flag : {"ok", "not sure", "not a galaxy cut-out"}
    probs : ndarray (10,)
        Calibrated probabilities (the model's output even when flagged).
    reason : str
        Why it was flagged ("" when ok).
    """

    flag: str
    probs: np.ndarray
    reason: str = ""
    top3: list[tuple[int, float]] = field(default_factory=list)

    @property
    def label(self) -> int:
        """The most probable class."""
        return int(np.argmax(self.probs))

    @property
    def confident(self) -> bool:
        """True when the answer is given without a flag."""
        return self.flag == OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the ``predict --json`` record, less the image and model names)."""
        return {"flag": self.flag, "reason": self.reason,
                "top3": [{"class": k, "name": CLASS_NAMES[k], "probability": round(p, 4)}
                         for k, p in self.top3]}


@dataclass
class Verdicts:
    """The verdicts of a batch of pictures, as columns (what a catalogue stores).

    Attributes
    ----------
    flags, reasons : ndarray (k,) of str
        As :class:`Verdict`'s ``flag`` and ``reason``.
    top3_classes : ndarray (k, 3) int64
        The three most probable classes of each picture, most probable first.
    top3_probs : ndarray (k, 3) float32
        Their probabilities.
    not_sure : ndarray (k,) bool
        The top probability is below the threshold (whatever the flag says).
    """

    flags: np.ndarray
    reasons: np.ndarray
    top3_classes: np.ndarray
    top3_probs: np.ndarray
    not_sure: np.ndarray


def judge_batch(probs: np.ndarray, threshold: float | None = None,
                checked: list[str | None] | None = None) -> Verdicts:
    """Combine the cut-out checks and the confidence threshold for a batch of pictures.

    Computed column by column, so that a catalogue of millions pays for NumPy operations
    rather than a Python object per row; :func:`judge` is its one-picture case.

    Parameters
    ----------
    probs : ndarray (k, 10)
        Calibrated probabilities.
    threshold : float, optional
        The bundle's "not sure" threshold (None: no confidence check, e.g. old bundles).
    checked : list of (str or None), optional
        :func:`cutout_check`'s answer for each picture (None: it passed or was not checked).
    """
    probs = np.asarray(probs, dtype=np.float32).reshape(len(probs), -1)
    order = np.argsort(-probs, axis=1)[:, :3]
    top = np.take_along_axis(probs, order, axis=1)
    k = len(probs)
    why = np.array([c or "" for c in (checked if checked is not None else [None] * k)],
                   dtype=object)
    # compared in float64, as a Python float of the top probability with the threshold
    not_sure = (np.zeros(k, dtype=bool) if threshold is None
                else top[:, 0].astype(np.float64) < float(threshold))
    flags = np.full(k, OK, dtype=object)
    reasons = np.full(k, "", dtype=object)
    for i in np.flatnonzero(not_sure):
        flags[i] = NOT_SURE
        reasons[i] = (f"top probability {float(top[i, 0]):.2f} below the threshold "
                      f"{float(threshold):.2f}")
    cut = why != ""
    flags[cut] = NOT_A_CUTOUT
    reasons[cut] = why[cut]
    return Verdicts(flags, reasons, order.astype(np.int64), top, not_sure)


def judge(probs: np.ndarray, image: np.ndarray | None = None, threshold: float | None = None,
          *, checked: str | None = None) -> Verdict:
    """Combine the cut-out check and the confidence threshold for one picture.

    Parameters
    ----------
    probs : ndarray (10,)
        Calibrated probabilities.
    image : ndarray (256, 256, 3) uint8, optional
        The cut-out, for :func:`cutout_check` (skipped when None).
    threshold : float, optional
        The bundle's "not sure" threshold (None: no confidence check, e.g. old bundles).
    checked : str, optional
        :func:`cutout_check`'s answer when the caller already has it (``image`` None).
    """
    probs = np.asarray(probs, dtype=np.float32)
    reason = cutout_check(image) if image is not None else checked
    batch = judge_batch(probs[None], threshold, [reason])
    return Verdict(str(batch.flags[0]), probs, str(batch.reasons[0]),
                   [(int(k), float(p)) for k, p in
                    zip(batch.top3_classes[0], batch.top3_probs[0], strict=True)])


def assess(predictor, images: np.ndarray) -> list[Verdict]:
    """Verdicts of a :class:`~galaxy10.modeling.predict.Predictor` on (k, 256, 256, 3) cut-outs."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    probs = predictor.predict_proba(images)
    return [judge(p, img, predictor.threshold) for p, img in zip(probs, images, strict=True)]
