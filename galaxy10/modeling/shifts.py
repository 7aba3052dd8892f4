"""Controlled changes of a cut-out that other people's pipelines make (like ImageNet-C).

A model that has only seen one pipeline's cut-outs can fail on another's: more pixel noise,
another stretch, JPEG re-encoding, a different pixel scale, worse seeing. ``bench real``
scores every model on its test folds after each change in :data:`SHIFTS`, so a user knows
how much of the accuracy survives a different source. The same functions, with random
strengths, are available to augmentation.

All functions take and return uint8 cut-outs of shape (n, H, W, 3) and are deterministic
given their ``rng`` (noise is the only random change).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def background_sigma(images: np.ndarray, border: int = 16) -> np.ndarray:
    """Robust pixel-noise sigma of each image, from its border (mostly sky): 1.4826 x MAD.

    Returns
    -------
    sigma : ndarray, shape (n,), float64, at least 0.5 (a perfectly flat border has no noise
        estimate, but uint8 rounding alone adds about 0.3)
    """
    images = np.asarray(images, dtype=np.float32)
    edge = np.concatenate([images[:, :border].reshape(len(images), -1),
                           images[:, -border:].reshape(len(images), -1),
                           images[:, :, :border].reshape(len(images), -1),
                           images[:, :, -border:].reshape(len(images), -1)], axis=1)
    mad = np.median(np.abs(edge - np.median(edge, axis=1, keepdims=True)), axis=1)
    return np.maximum(1.4826 * mad.astype(np.float64), 0.5)


def add_noise(images: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Raise each image's pixel noise to ``factor`` times its own (estimated) level.

    Independent Gaussian noise adds in quadrature, so the added sigma is
    ``sigma * sqrt(factor**2 - 1)``.
    """
    sigma = background_sigma(images) * np.sqrt(max(factor ** 2 - 1.0, 0.0))
    noise = rng.standard_normal(images.shape, dtype=np.float32) * sigma[:, None, None, None]
    return np.clip(np.rint(images.astype(np.float32) + noise), 0, 255).astype(np.uint8)


def gamma_stretch(images: np.ndarray, gamma: float) -> np.ndarray:
    """``255 (x / 255) ** gamma``: gamma < 1 brightens faint outskirts and cores, > 1 darkens."""
    lut = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    return lut[np.asarray(images)]


def jpeg_reencode(images: np.ndarray, quality: int) -> np.ndarray:
    """Encode each image as JPEG at ``quality`` and decode it again (colour order kept)."""
    import cv2

    out = np.empty_like(images)
    for k, image in enumerate(images):
        ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
            raise RuntimeError("JPEG encoding failed")
        out[k] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    return out


def rescale(images: np.ndarray, factor: float) -> np.ndarray:
    """Magnify each image by ``factor`` about its centre (the galaxy stays centred).

    ``factor`` > 1: the galaxy looks larger (a finer pixel scale or a nearer galaxy); < 1:
    smaller, with the border continued by reflection (more sky, no black edges).
    """
    import cv2

    height, width = images.shape[1:3]
    matrix = cv2.getRotationMatrix2D((width / 2 - 0.5, height / 2 - 0.5), 0.0, float(factor))
    out = np.empty_like(images)
    for k, image in enumerate(images):
        out[k] = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101)
    return out


def blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``sigma`` pixels: worse seeing, or a broader PSF."""
    import cv2

    out = np.empty_like(images)
    for k, image in enumerate(images):
        out[k] = cv2.GaussianBlur(image, (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT_101)
    return out


ShiftFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]

SHIFTS: dict[str, ShiftFn] = {
    "noise x1.3": lambda x, rng: add_noise(x, 1.3, rng),
    "noise x2": lambda x, rng: add_noise(x, 2.0, rng),
    "gamma 0.7": lambda x, rng: gamma_stretch(x, 0.7),
    "gamma 1.4": lambda x, rng: gamma_stretch(x, 1.4),
    "JPEG q40": lambda x, rng: jpeg_reencode(x, 40),
    "rescale 0.8x": lambda x, rng: rescale(x, 0.8),
    "rescale 1.25x": lambda x, rng: rescale(x, 1.25),
    "blur 1.5 px": lambda x, rng: blur(x, 1.5),
}
"""The changes ``bench real`` scores, by name. Strengths follow what other-source Galaxy10
cut-outs show (about 30 % more noise, brighter cores, galaxies about 12 % larger), bracketed
on both sides."""


def apply_shift(images: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """The images after shift ``name`` (one of :data:`SHIFTS`), seeded.

    Raises
    ------
    ValueError
        For an unknown shift (the message lists them).
    """
    if name not in SHIFTS:
        raise ValueError(f"unknown shift {name!r}; choose from {', '.join(SHIFTS)}")
    return SHIFTS[name](np.asarray(images), np.random.default_rng(seed))
