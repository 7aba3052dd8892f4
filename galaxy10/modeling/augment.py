"""Augmentation and test-time augmentation of the modern CNN's images.

Galaxies have no up or down, so the 8 flip/90-degree-rotation views of a cut-out show the
same object: training batches draw one view per image, and prediction averages all eight
(:func:`predict_tta`). The zoom and photometric jitters make apparent size, brightness and
tint weak cues, because they vary with distance, survey depth and calibration, not with
morphology. Everything here is seeded, works on uint8 batches and needs no Keras
(:mod:`galaxy10.modeling.batches` feeds the augmented batches to Keras).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from galaxy10.core.classes import N_CLASSES


def dihedral(images: np.ndarray, view: int) -> np.ndarray:
    """One of the 8 flip/90-degree-rotation views of a batch (n, H, W, C); view 0 is identity.

    Galaxies have no up or down, so all eight views show the same object.
    """
    out = np.rot90(images, k=view % 4, axes=(1, 2))
    return out[:, :, ::-1] if view >= 4 else out


DEFAULT_JITTER: dict[str, Any] = {"zoom": (0.75, 1.33), "brightness": (0.6, 1.6), "colour": 0.1}
"""Zoom and brightness/colour jitter of the modern CNN's training batches.

Chosen in a one-off controlled comparison (full-size synthetic set, same split, 15 epochs, only
the jitter changed; run on a GPU with Keras' JAX backend, recorded in the session note of
2026-11-25, not in metrics.json): it cost about 0.02 of synthetic balanced accuracy and raised
the synthetic-trained model's accuracy on the 1,000 real images from 0.25 to 0.33. The
ablation in notebook 04 and ``bench accuracy`` measure its effect with this package's own runs.
"""


def jitter_zoom(images: np.ndarray, rng: np.random.Generator,
                zoom: tuple[float, float]) -> np.ndarray:
    """Rescale each image about its centre by a factor drawn log-uniformly from ``zoom``.

    Galaxies of one class come at many distances, so apparent size is not a class property;
    zooming teaches the model that (and narrows the gap between synthetic and real sizes).
    Borders are filled by reflection, which continues the sky rather than adding black edges.
    """
    import cv2

    out = np.empty_like(images)
    height, width = images.shape[1:3]
    factors = np.exp(rng.uniform(np.log(zoom[0]), np.log(zoom[1]), size=len(images)))
    for k, factor in enumerate(factors):
        matrix = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), 0.0, float(factor))
        warped = cv2.warpAffine(images[k], matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
        out[k] = warped.reshape(images.shape[1:])
    return out


def jitter_photometry(images: np.ndarray, rng: np.random.Generator,
                      brightness: tuple[float, float], colour: float) -> np.ndarray:
    """Scale each image by a random brightness and each colour channel by a random gain.

    Surveys differ in depth and colour calibration, and simulated galaxies never match real
    ones exactly in flux or colour; these jitters make brightness and tint weak cues.
    Returns float32 pixels in [0, 255] (the model's ``Rescaling`` accepts them).
    """
    n, channels = len(images), images.shape[-1]
    gain = np.exp(rng.uniform(np.log(brightness[0]), np.log(brightness[1]), size=(n, 1, 1, 1)))
    if colour and channels > 1:
        gain = gain * rng.uniform(1 - colour, 1 + colour, size=(n, 1, 1, channels))
    return np.clip(images.astype(np.float32) * gain.astype(np.float32), 0, 255)


def jitter_source(images: np.ndarray, rng: np.random.Generator, *,
                  gamma: tuple[float, float] | None = None,
                  noise: tuple[float, float] | None = None,
                  blur: tuple[float, float] | None = None,
                  jpeg: tuple[int, int] | None = None,
                  contrast: tuple[float, float] | None = None) -> np.ndarray:
    """Change each uint8 image the way another pipeline would, by a random amount.

    Cut-outs from other sources differ in stretch (``gamma``: exponent range, drawn
    log-uniformly), pixel noise (``noise``: added Gaussian sigma range in counts), seeing
    (``blur``: Gaussian sigma range in pixels, applied to half the images) and compression
    (``jpeg``: quality range, applied to half the images) and the flux scale over the same sky
    (``contrast``: the factor range of :func:`~galaxy10.modeling.shifts.sky_gain`, drawn
    log-uniformly, applied first). Training on such changes keeps the
    model from relying on one pipeline's look (see :mod:`galaxy10.modeling.shifts` for the fixed
    changes ``bench real`` tests with). ``None`` leaves a change out.
    """
    from galaxy10.modeling import shifts

    out = np.array(images, dtype=np.uint8, copy=True)
    n = len(out)
    if contrast is not None:
        factors = np.exp(rng.uniform(np.log(contrast[0]), np.log(contrast[1]), size=n))
        out = shifts.sky_gain(out, factors)
    if gamma is not None:
        exponents = np.exp(rng.uniform(np.log(gamma[0]), np.log(gamma[1]), size=n))
        for k in range(n):
            out[k] = shifts.gamma_stretch(out[k], float(exponents[k]))
    if blur is not None:
        sigmas = rng.uniform(blur[0], blur[1], size=n)
        for k in np.flatnonzero(rng.random(n) < 0.5):
            if sigmas[k] > 0.05:
                out[k] = shifts.blur(out[k:k + 1], float(sigmas[k]))[0]
    if noise is not None:
        sigma = rng.uniform(noise[0], noise[1], size=(n, 1, 1, 1)).astype(np.float32)
        noisy = out.astype(np.float32) + rng.standard_normal(out.shape, dtype=np.float32) * sigma
        out = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if jpeg is not None:
        qualities = rng.integers(jpeg[0], jpeg[1] + 1, size=n)
        for k in np.flatnonzero(rng.random(n) < 0.5):
            out[k] = shifts.jpeg_reencode(out[k:k + 1], int(qualities[k]))[0]
    return out


def batch_rng(seed: int, epoch: int, batch: int) -> np.random.Generator:
    """The random generator of batch ``batch`` of epoch ``epoch`` of a run seeded ``seed``.

    Both input pipelines (:class:`~galaxy10.modeling.batches.AugmentedBatches` and the
    ``tf.data`` one of :mod:`galaxy10.modeling.device_batches`) draw a batch's augmentation
    from it, so the same seed gives the same images through either.
    """
    return np.random.default_rng([int(seed), int(epoch), int(batch)])


def augment_batch(images: np.ndarray, rng: np.random.Generator, *,
                  zoom: tuple[float, float] | None = None,
                  brightness: tuple[float, float] | None = None, colour: float = 0.0,
                  gamma: tuple[float, float] | None = None,
                  noise: tuple[float, float] | None = None,
                  blur: tuple[float, float] | None = None,
                  jpeg: tuple[int, int] | None = None,
                  contrast: tuple[float, float] | None = None) -> np.ndarray:
    """One training batch's augmentation: a random dihedral view of each image, then the jitters.

    The one implementation of training augmentation, used by both input pipelines. Draws, in
    this order from ``rng``: the views, the zoom (:func:`jitter_zoom`), the source changes
    (:func:`jitter_source`: ``contrast``, ``gamma``, ``noise``, ``blur``, ``jpeg``) and the gains
    (:func:`jitter_photometry`: ``brightness``, ``colour``); None leaves one out. ``images``
    (uint8, (n, H, W, C)) is not changed. Returns uint8, or float32 in [0, 255] when
    ``brightness`` is set.
    """
    images = np.array(images, copy=True)
    views = rng.integers(0, 8, size=len(images))
    for view in np.unique(views):  # one vectorised flip/rotation per view drawn
        pick = views == view
        images[pick] = dihedral(images[pick], int(view))
    if zoom is not None:
        images = jitter_zoom(images, rng, zoom)
    source = {"gamma": gamma, "noise": noise, "blur": blur, "jpeg": jpeg, "contrast": contrast}
    if any(v is not None for v in source.values()):
        images = jitter_source(images, rng, **source)
    if brightness is not None:
        images = jitter_photometry(images, rng, brightness, colour)
    return images


ROBUST_JITTER: dict[str, Any] = {"zoom": (0.8, 1.25), "gamma": (0.7, 1.4), "noise": (0.0, 4.0),
                                 "blur": (0.0, 1.0), "jpeg": (30, 90)}
"""Augmentation against other sources' cut-outs: scale, stretch, noise, seeing, compression.

The ranges bracket the shifts of :data:`galaxy10.modeling.shifts.SHIFTS` at the model's input (a
64 px image of the central 128 px, so noise and blur are about half their 256-px size).
Unlike :data:`DEFAULT_JITTER` it leaves brightness and colour alone, which real-image
fine-tuning needs (they carry class information on real cut-outs).
"""

SURVEY_JITTER: dict[str, Any] = {**ROBUST_JITTER, "contrast": (0.8, 1.25)}
""":data:`ROBUST_JITTER` plus the survey's own variation of the galaxies' flux scale over the
same sky (``contrast``, :func:`~galaxy10.modeling.shifts.sky_gain`). Another export of
Galaxy10 showed cores 1.18 times brighter (and a sky 1.24 times noisier, which the robust
noise range already brackets) than the real sample; the range brackets 1.18 on either side.
Fine-tuning's default since issue #38 (:data:`FINETUNE_JITTER`): ``bench select``'s nested,
region-held-out selection chose it over :data:`ROBUST_JITTER` in 3 of 5 outer folds, and it
loses less under another export's look (``reports/reference/recipe_selection.json``)."""

FULL_JITTER: dict[str, Any] = {**DEFAULT_JITTER, **{k: v for k, v in ROBUST_JITTER.items()
                                                    if k != "zoom"}}
"""Everything at once, for pre-training on synthetic images: zoom, brightness and colour
(the generator's fluxes and colours are not the sky's) plus the other sources' changes."""

JITTERS: dict[str, dict[str, Any]] = {"none": {}, "default": DEFAULT_JITTER,
                                      "robust": ROBUST_JITTER, "survey": SURVEY_JITTER,
                                      "full": FULL_JITTER}
"""Named augmentation settings, as the command line's ``--jitter`` chooses them."""

FINETUNE_JITTER = "survey"
"""The name (in :data:`JITTERS`) of the augmentation ``train --init`` fine-tunes with, which
``bench real`` and ``bench select``'s ``shipped`` candidate measure by default. It is chosen by
``bench select`` (see :data:`SURVEY_JITTER`); the one place to change it."""


def predict_tta(model, x: np.ndarray, batch_size: int = 128, views: int = 8) -> np.ndarray:
    """Class probabilities averaged over the first ``views`` dihedral views of each image."""
    probs = np.zeros((len(x), N_CLASSES), dtype=np.float64)
    for start in range(0, len(x), batch_size):
        batch = np.asarray(x[start:start + batch_size])
        for view in range(views):
            probs[start:start + len(batch)] += model.predict_on_batch(dihedral(batch, view))
    return (probs / views).astype(np.float32)
