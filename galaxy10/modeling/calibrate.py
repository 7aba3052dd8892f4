"""Calibrated probabilities: temperature scaling, a top-label map, reliability data and the
"not sure" threshold.

A network's softmax output is usually over-confident: among answers given with 90%
probability, fewer than 90% are right. Temperature scaling (Guo et al. 2017) fixes that with
one number ``T`` fitted on held-out *validation* images (never the test set): the calibrated
distribution is ``softmax(log p / T)``. It keeps the ranking of the classes, so accuracy is
unchanged; only the stated probabilities move.

One number cannot bend the curve, though: a model that is over-confident at the top and
under-confident in the middle keeps part of its calibration error under any temperature
(docs/real-galaxies.md gives the reference model's figures). The probability a user reads is the top
one ("Barred Spiral, 87%"), so a second step calibrates exactly that: an isotonic (monotone)
map from the top probability to the accuracy observed at it on the validation images
(top-label calibration, Gupta & Ramdas 2022; isotonic regression, Zadrozny & Elkan 2002).
The other classes are rescaled to share the rest, and the map is clamped so that the top
class stays on top: the answer never changes, only what it claims. The map is stored as its
knots (JSON), applied with :func:`numpy.interp`.

An isotonic map is piecewise constant, so the confidences of a whole catalogue take a handful
of values and "most confident" rankings tie. :func:`fit_smooth_map` draws a strictly
increasing line through the isotonic fit's blocks instead, which keeps every distinct top
probability distinct. :func:`fit_calibration` chooses between the temperature alone, the
smooth map and the isotonic map by their ECE cross-fitted on the validation split, preferring
the first two wherever they are within :data:`ECE_TOLERANCE` of the best, and records each
candidate's ECE and how many distinct confidences it leaves.

The saved models output probabilities, not logits. ``log p`` equals the logits up to a
per-image constant, which softmax ignores, so working from log-probabilities is exact.

Everything here is NumPy/SciPy on arrays: no model is loaded and no file written.
:func:`galaxy10.pipeline.training.calibrate_bundle` fits a saved bundle with these functions,
and :func:`galaxy10.modeling.bundle.write_calibration` stores the record.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TARGET_ACCURACY = 0.9
"""Accuracy wanted of the answers given without "not sure" (see :func:`choose_threshold`)."""

FALLBACK_COVERAGE = 0.5
"""Share of validation images answered when :data:`TARGET_ACCURACY` is out of reach."""

_EPS = 1e-12


def log_probs(probs: np.ndarray) -> np.ndarray:
    """Natural log of probabilities (n, k), floored at 1e-12 so that zeros stay finite."""
    return np.log(np.clip(np.asarray(probs, dtype=np.float64), _EPS, 1.0))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled probabilities ``softmax(log p / T)``.

    Parameters
    ----------
    probs : ndarray, shape (n, k)
        Probabilities (rows sum to 1), e.g. the model's softmax output or a TTA average.
    temperature : float
        ``T > 1`` softens over-confident outputs, ``T < 1`` sharpens, ``T = 1`` is identity.

    Returns
    -------
    ndarray of float32, shape (n, k)
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = log_probs(probs) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _isotonic(top: np.ndarray, correct: np.ndarray, n_classes: int):
    """The isotonic regression of being right on the top probability, within ``[1/k, 1]``."""
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=1.0 / n_classes, y_max=1.0, increasing=True,
                              out_of_bounds="clip").fit(top, correct)


def _top_and_correct(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    correct = probs.argmax(axis=1) == np.asarray(y, dtype=np.int64)
    return probs.max(axis=1), correct.astype(np.float64)


def fit_confidence_map(probs: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    """Isotonic map from the top probability to the accuracy seen at it, on validation data.

    The map is piecewise constant: every top probability within one of its blocks gets the
    same value, so a catalogue's calibrated confidences tie (see :func:`fit_smooth_map`).

    Parameters
    ----------
    probs : ndarray, shape (n, k)
        Probabilities of *validation* images (after the temperature).
    y : ndarray of int, shape (n,)

    Returns
    -------
    dict
        ``x`` and ``y``: the knots of the non-decreasing, piecewise-linear map (JSON-able),
        for :func:`apply_confidence_map`. Outputs stay within ``[1/k, 1]``: a top probability
        below chance would contradict being the top.
    """
    top, correct = _top_and_correct(probs, y)
    iso = _isotonic(top, correct, np.shape(probs)[1])
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


SMOOTH_TILT = 0.5
"""How far :func:`fit_smooth_map` tilts each isotonic block: across its block, the map rises
through this share of the gaps to the neighbouring levels (half of each gap on each side), so
blocks never overlap and the map stays within a quarter of a gap of the isotonic fit."""


def _isotonic_blocks(top: np.ndarray, correct: np.ndarray, n_classes: int
                     ) -> tuple[np.ndarray, ...]:
    """The isotonic fit's blocks: level, first, mean and last top probability of each."""
    levels, block = np.unique(_isotonic(top, correct, n_classes).predict(top),
                              return_inverse=True)
    order = np.argsort(top, kind="stable")
    ranks = np.arange(levels.size)
    first = top[order][np.searchsorted(block[order], ranks, side="left")]
    last = top[order][np.searchsorted(block[order], ranks, side="right") - 1]
    return levels, first, np.bincount(block, weights=top) / np.bincount(block), last


def fit_smooth_map(probs: np.ndarray, y: np.ndarray) -> dict[str, list[float]]:
    """A strictly increasing top-label map: the isotonic fit with each flat block tilted.

    The isotonic fit (:func:`fit_confidence_map`) pools the validation images into blocks and
    gives every top probability in a block the block's accuracy, so confidences tie. This
    map passes through each block's centre (the mean top probability of its images) at the
    block's accuracy and rises across the block by :data:`SMOOTH_TILT` of the gaps to the
    neighbouring levels, linearly between knots. It is strictly increasing from ``1/k`` to 1
    (the outer blocks are stretched to those ends), so every distinct top probability keeps a
    distinct calibrated value and "most confident" rankings do not tie, while each block's
    images are still claimed about the accuracy they had.

    Parameters
    ----------
    probs : ndarray, shape (n, k)
        Probabilities of *validation* images (after the temperature).
    y : ndarray of int, shape (n,)

    Returns
    -------
    dict
        Knots ``x`` (from ``1/k`` to 1) and ``y``, both strictly increasing and JSON-able,
        applied by :func:`apply_confidence_map` as the isotonic map's are. Outputs stay
        within ``[1/k, 1]``.
    """
    top, correct = _top_and_correct(probs, y)
    chance = 1.0 / np.shape(probs)[1]
    levels, first, centre, last = _isotonic_blocks(top, correct, np.shape(probs)[1])
    first[0], last[-1] = chance, 1.0
    low = levels - SMOOTH_TILT / 2 * np.diff(levels, prepend=chance)
    high = levels + SMOOTH_TILT / 2 * np.diff(levels, append=1.0)
    # a level on a bound (1.0 above all) has no room on that side: its centre takes the middle
    middle = np.where((low < levels) & (levels < high), levels, (low + high) / 2)
    x = np.stack([first, centre, last], axis=1).ravel()
    knots_y = np.stack([low, middle, high], axis=1).ravel()
    keep = np.append(True, np.diff(x) > 0)  # a block of one value: its knots are one
    return {"x": x[keep].tolist(), "y": knots_y[keep].tolist()}


def apply_confidence_map(probs: np.ndarray, confidence_map: dict[str, list[float]]
                         ) -> np.ndarray:
    """Probabilities whose top value follows ``confidence_map``; the ranking is kept.

    The top class gets the mapped value; the others are scaled to share the rest in their
    old proportions. Where the map would push the top below the runner-up, it is raised just
    enough to stay on top, so the predicted class never changes.

    Returns
    -------
    ndarray of float32, shape (n, k)
    """
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    if n == 0:
        return probs.astype(np.float32)
    order = np.argsort(-probs, axis=1)
    rows = np.arange(n)
    top, second = probs[rows, order[:, 0]], probs[rows, order[:, 1]]
    mapped = np.interp(top, confidence_map["x"], confidence_map["y"])
    rest = np.maximum(1.0 - top, _EPS)
    # keep the top on top: mapped > second * (1 - mapped) / rest (a hair above the tie, which
    # float32 would otherwise break by class order)
    mapped = np.clip(np.maximum(mapped, second / (rest + second) + 1e-5), 0.0, 1.0)
    out = probs * ((1.0 - mapped) / rest)[:, None]
    # a saturated top (1.0 in float32) leaves nothing to scale: the others share the rest evenly
    saturated = 1.0 - top < 1e-9
    out[saturated] = ((1.0 - mapped[saturated]) / (probs.shape[1] - 1))[:, None]
    out[rows, order[:, 0]] = mapped
    return out.astype(np.float32)


def calibrated_probs(probs: np.ndarray, temperature: float = 1.0,
                     confidence_map: dict[str, list[float]] | None = None) -> np.ndarray:
    """The temperature, then the top-label map (if any): what a bundle's user is shown."""
    out = np.asarray(probs)
    if temperature != 1.0:
        out = apply_temperature(out, temperature)
    if confidence_map:
        out = apply_confidence_map(out, confidence_map)
    return out.astype(np.float32, copy=False)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels ``y`` (the quantity ``T`` minimises)."""
    y = np.asarray(y, dtype=np.int64)
    return float(-log_probs(probs)[np.arange(y.size), y].mean())


def fit_temperature(log_p: np.ndarray, y: np.ndarray, bounds: tuple[float, float] = (0.05, 20.0)
                    ) -> float:
    """The temperature minimising the NLL of ``softmax(log_p / T)`` on labelled data.

    Parameters
    ----------
    log_p : ndarray, shape (n, k)
        Logits or log-probabilities (:func:`log_probs`) of *validation* images.
    y : ndarray of int, shape (n,)
    bounds : (float, float)
        Search range of ``T``. The search runs over ``log T`` (bounded Brent), where the NLL
        is smooth and the range is symmetric between sharpening and softening.

    Returns
    -------
    float
        The fitted ``T`` (1.0 for empty input).
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    log_p = np.asarray(log_p, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if y.size == 0:
        return 1.0
    rows = np.arange(y.size)

    def loss(log_t: float) -> float:
        return float(-log_softmax(log_p / np.exp(log_t), axis=1)[rows, y].mean())

    res = minimize_scalar(loss, bounds=(np.log(bounds[0]), np.log(bounds[1])), method="bounded",
                          options={"xatol": 1e-4})
    return float(np.exp(res.x))


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict[str, Any]:
    """Reliability-diagram data: per confidence bin, mean confidence, accuracy and count.

    Bins are equal-width on the top-class probability in [0, 1] (right-closed, the first bin
    includes 0), as in Guo et al. 2017.

    Returns
    -------
    dict
        ``edges`` (n_bins + 1,), ``confidence``, ``accuracy`` (NaN for empty bins) and
        ``count`` (n_bins,), as lists of floats/ints (JSON-able).
    """
    probs = np.asarray(probs)
    y = np.asarray(y, dtype=np.int64)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=n_bins) / count
        acc = np.bincount(which, weights=correct.astype(float), minlength=n_bins) / count
    return {"edges": edges.tolist(), "confidence": mean_conf.tolist(), "accuracy": acc.tolist(),
            "count": count.astype(int).tolist()}


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """ECE: the count-weighted mean gap between accuracy and confidence over the bins.

    0 means the stated top probability matches the observed accuracy in every bin.
    """
    bins = reliability_bins(probs, y, n_bins)
    count = np.asarray(bins["count"], dtype=float)
    if count.sum() == 0:
        return 0.0
    gap = np.abs(np.asarray(bins["accuracy"]) - np.asarray(bins["confidence"]))
    return float(np.nansum(gap * count) / count.sum())


def coverage_accuracy(probs: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """Share of images answered (top probability >= ``threshold``) and their accuracy.

    The accuracy is NaN when nothing is answered.
    """
    probs = np.asarray(probs)
    y = np.asarray(y, dtype=np.int64)
    confident = probs.max(axis=1) >= threshold
    if not confident.any():
        return 0.0, float("nan")
    acc = float((probs.argmax(axis=1)[confident] == y[confident]).mean())
    return float(confident.mean()), acc


def choose_threshold(probs: np.ndarray, y: np.ndarray, target_accuracy: float = TARGET_ACCURACY,
                     fallback_coverage: float = FALLBACK_COVERAGE) -> tuple[float, bool]:
    """The "not sure" threshold on the calibrated top probability, chosen on validation data.

    Rule: the *smallest* threshold at which the answers given (top probability >= threshold)
    are at least ``target_accuracy`` right. Smallest, because every higher threshold only
    answers fewer images; a target accuracy rather than a fixed coverage, because "when it
    answers, it is right 9 times in 10" is what a user can act on, whatever the model.
    At least 10 answered validation images are required, so one lucky image cannot set it.

    If no threshold reaches the target (a weak model, or a tiny validation split), the
    threshold answering ``fallback_coverage`` of the images is used instead and the second
    return value is False, so the caller can report that the target was not met.

    Returns
    -------
    threshold : float
    target_met : bool
    """
    probs = np.asarray(probs)
    y = np.asarray(y, dtype=np.int64)
    if y.size == 0:
        return 0.0, False
    top = probs.max(axis=1)
    order = np.argsort(-top, kind="stable")
    correct = (probs.argmax(axis=1) == y)[order]
    answered = np.arange(1, y.size + 1)
    running_acc = np.cumsum(correct) / answered
    ok = (running_acc >= target_accuracy) & (answered >= min(10, y.size))
    # a threshold t answers every image with top >= t: only cut between distinct values
    distinct = np.append(top[order][1:] < top[order][:-1], True)
    ok &= distinct
    if ok.any():
        k = int(np.flatnonzero(ok).max())  # largest answered set = smallest threshold
        return float(top[order][k]), True
    return float(np.quantile(top, 1.0 - fallback_coverage)), False


MIN_TEMPERATURE_IMAGES = 200
"""Fewer validation images than this keep ``T = 1`` and fit no top-label map: one
temperature fitted on the validation split of a fine-tuning run on a few hundred real images
sharpened an under-confident model and doubled its test ECE, so a small validation split
is not trusted to rescale probabilities (an isotonic map, with more freedom, would overfit it
even more). The "not sure" threshold is still chosen on it."""


CANDIDATES = ("temperature", "smooth", "isotonic")
"""The calibrations :func:`fit_calibration` chooses between, simplest first: the temperature
alone, then followed by :func:`fit_smooth_map`, then by the isotonic :func:`fit_confidence_map`
(last: its confidences tie)."""

ECE_TOLERANCE = 0.01
"""How much higher than the best a candidate's ECE may be and still be chosen: differences
this small are within the sampling noise of ECE on a validation split of a few thousand
images, while the isotonic map's ties cost every "most confident" ranking."""

CHOICE_FOLDS = 5
"""Folds of the validation split over which each candidate's ECE is cross-fitted."""

_MAP_FITTERS = {"temperature": lambda probs, y: None, "smooth": fit_smooth_map,
                "isotonic": fit_confidence_map}


def distinct_confidences(probs: np.ndarray) -> int:
    """How many distinct top probabilities (as float32, as shown) ``probs`` holds: ties show
    as fewer distinct values than images."""
    probs = np.asarray(probs, dtype=np.float32)
    return int(np.unique(probs.max(axis=1)).size) if len(probs) else 0


def cross_fitted_ece(probs: np.ndarray, y: np.ndarray, *, folds: int = CHOICE_FOLDS,
                     seed: int = 0, n_bins: int = 15) -> dict[str, float]:
    """Each candidate's ECE on validation images it was not fitted to.

    The images are dealt into ``folds`` folds (a permutation drawn with ``seed``); for each,
    the temperature and then each candidate's map are fitted on the other folds and applied
    to it, and the ECE is measured on the pooled held-out probabilities. Measured on the
    images it was fitted to, the isotonic map would look near-perfect (it is fitted to exactly
    that), which would make every comparison favour it.

    Returns
    -------
    dict
        ECE per name of :data:`CANDIDATES`.
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    fold = np.random.default_rng(seed).permutation(y.size) % folds
    held = {kind: np.zeros(probs.shape, dtype=np.float32) for kind in CANDIDATES}
    for f in range(folds):
        fit, out = fold != f, fold == f
        temperature = fit_temperature(log_probs(probs[fit]), y[fit])
        scaled_fit = apply_temperature(probs[fit], temperature)
        scaled_out = apply_temperature(probs[out], temperature)
        for kind in CANDIDATES:
            held[kind][out] = calibrated_probs(scaled_out, 1.0,
                                               _MAP_FITTERS[kind](scaled_fit, y[fit]))
    return {kind: expected_calibration_error(held[kind], y, n_bins) for kind in CANDIDATES}


def choose_candidate(ece: dict[str, float], tolerance: float = ECE_TOLERANCE) -> str:
    """The first of :data:`CANDIDATES` (the simplest) whose ECE is within ``tolerance`` of
    the lowest: the temperature alone or the smooth map wherever they are as good, the
    isotonic map only where it is better by more than ``tolerance``."""
    best = min(ece[kind] for kind in CANDIDATES)
    return next(kind for kind in CANDIDATES if ece[kind] <= best + tolerance)


def _choose_map(probs_val: np.ndarray, y_val: np.ndarray, scaled: np.ndarray, n_bins: int,
                seed: int) -> tuple[str, dict[str, list[float]] | None, dict[str, Any]]:
    """The chosen candidate, its map (fitted on all of ``scaled``) and every candidate's
    cross-fitted ECE and count of distinct validation confidences."""
    ece = cross_fitted_ece(probs_val, y_val, seed=seed, n_bins=n_bins)
    maps = {kind: _MAP_FITTERS[kind](scaled, y_val) for kind in CANDIDATES}
    candidates = {kind: {"ece_cross_fitted": ece[kind], "distinct": distinct_confidences(
        calibrated_probs(scaled, 1.0, maps[kind]))} for kind in CANDIDATES}
    method = choose_candidate(ece)
    return method, maps[method], candidates


def fit_calibration(probs_val: np.ndarray, y_val: np.ndarray, n_bins: int = 15,
                    target_accuracy: float = TARGET_ACCURACY, seed: int = 0) -> dict[str, Any]:
    """Fit ``T``, the top-label map and the "not sure" threshold on validation probabilities.

    After the temperature, the map is chosen among :data:`CANDIDATES` by their ECE
    cross-fitted on the validation split (:func:`cross_fitted_ece`, folds drawn with
    ``seed``) with :func:`choose_candidate`'s rule. ``T`` stays 1 and no map is fitted below
    :data:`MIN_TEMPERATURE_IMAGES` validation images.

    Returns
    -------
    dict
        The bundle's ``calibration`` record: ``temperature``, ``method`` (the candidate
        chosen, None below the minimum), ``confidence_map`` (its knots, or None),
        ``candidates`` (per candidate, ``ece_cross_fitted`` and ``distinct``: the distinct
        calibrated confidences of the validation images), ``ece_tolerance``,
        ``distinct_before`` and ``distinct_after`` (distinct validation confidences before
        and after calibration: ties), ``ece_before``, ``ece_after_temperature``,
        ``ece_after`` (on the images the map was fitted to, so optimistic: the test set's
        figure is the honest one), ``nll_before``, ``nll_after``, ``threshold`` (on
        calibrated probabilities), ``target_accuracy``, ``target_met``, ``coverage`` and
        ``confident_accuracy`` (of the validation images), ``n_val`` and ``fitted_on``.
    """
    y_val = np.asarray(y_val, dtype=np.int64)
    enough = y_val.size >= MIN_TEMPERATURE_IMAGES
    temperature = fit_temperature(log_probs(probs_val), y_val) if enough else 1.0
    scaled = apply_temperature(probs_val, temperature)
    method, confidence_map, candidates = (_choose_map(probs_val, y_val, scaled, n_bins, seed)
                                          if enough else (None, None, None))
    calibrated = calibrated_probs(scaled, 1.0, confidence_map)
    threshold, met = choose_threshold(calibrated, y_val, target_accuracy)
    coverage, accuracy = coverage_accuracy(calibrated, y_val, threshold)
    return {"temperature": temperature, "method": method, "confidence_map": confidence_map,
            "candidates": candidates, "ece_tolerance": ECE_TOLERANCE,
            "distinct_before": distinct_confidences(probs_val),
            "distinct_after": distinct_confidences(calibrated),
            "ece_before": expected_calibration_error(probs_val, y_val, n_bins),
            "ece_after_temperature": expected_calibration_error(scaled, y_val, n_bins),
            "ece_after": expected_calibration_error(calibrated, y_val, n_bins),
            "nll_before": nll(probs_val, y_val), "nll_after": nll(calibrated, y_val),
            "threshold": threshold, "target_accuracy": target_accuracy, "target_met": met,
            "coverage": coverage, "confident_accuracy": accuracy, "n_val": int(y_val.size),
            "fitted_on": f"validation split, {y_val.size} images" + (
                "" if enough else f" (fewer than {MIN_TEMPERATURE_IMAGES}: temperature kept at "
                                  "1, no top-label map)")}


def calibration_stages(predictor, raw: np.ndarray) -> dict[str, np.ndarray]:
    """``raw`` probabilities after each calibration step the bundle has, named for a legend.

    ``before`` always; then the temperature (if not 1) and the top-label map (if fitted), each
    applied on top of the previous step, as :meth:`galaxy10.modeling.predict.Predictor.predict_proba`
    applies them. Notebook 05 draws one reliability curve per stage.
    """
    stages = {"before": raw}
    scaled = raw
    if predictor.temperature != 1.0:
        scaled = apply_temperature(raw, predictor.temperature)
        stages[f"temperature (T = {predictor.temperature:.2f})"] = scaled
    if predictor.confidence_map:
        label = "temperature + top-label map" if predictor.temperature != 1.0 else "top-label map"
        stages[label] = apply_confidence_map(scaled, predictor.confidence_map)
    return stages


def calibration_on_test_set(predictor, raw: np.ndarray, calibrated: np.ndarray,
                         y_test: np.ndarray) -> dict[str, Any]:
    """How a bundle's calibration holds on the test set: ECE before/after, coverage.

    ``raw`` and ``calibrated`` are the predictor's test probabilities without and with its
    calibration; ``ece_after_temperature`` shows the temperature's share, ``method`` which
    map the bundle chose (None: older bundles, which have the isotonic one, and uncalibrated
    ones) and ``distinct_confidences`` how many distinct confidences the test images were
    given (fewer than the images: ties). A bundle without a threshold answers every image, so
    its coverage is 1 and the accuracy of its answers is its plain accuracy.
    """
    y_test = np.asarray(y_test, dtype=np.int64)
    if predictor.threshold is not None:
        coverage, confident = coverage_accuracy(calibrated, y_test, predictor.threshold)
    else:
        coverage, confident = 1.0, float((calibrated.argmax(axis=1) == y_test).mean())
    return {"temperature": predictor.temperature,
            "confidence_map": bool(predictor.confidence_map),
            "method": predictor.bundle.calibration.method,
            "distinct_confidences": distinct_confidences(calibrated),
            "ece_before": expected_calibration_error(raw, y_test),
            "ece_after_temperature": expected_calibration_error(
                apply_temperature(raw, predictor.temperature), y_test),
            "ece_after": expected_calibration_error(calibrated, y_test),
            "threshold": predictor.threshold, "coverage": coverage,
            "confident_accuracy": None if np.isnan(confident) else confident,
            "fitted_on": predictor.bundle.calibration.fitted_on}
