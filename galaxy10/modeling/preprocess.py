"""Image preprocessing: the seed-faithful transform and a general, correct one.

Seed-faithful (the original analysis, reproduced exactly):
``cv2.resize(img, (64, 64))`` (bilinear) -> ``cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)`` ->
flatten to 4,096 features -> ``MinMaxScaler`` fitted on the training rows only.
The Galaxy10 images are RGB, so ``BGR2GRAY`` swaps the red and blue weights
(0.114 R + 0.587 G + 0.299 B instead of 0.299 R + 0.587 G + 0.114 B): red bulges come out
darker than they should. We keep that quirk only here, to reproduce the published numbers.

General (:class:`ImageConfig`): optional central crop (the galaxy sits in the centre and fills
well under half of the cut-out), resize with area averaging, RGB or correctly weighted grey,
kept as uint8 so caches stay small; scaling to [0, 1] happens inside the Keras model.

All functions are pure: arrays in, arrays out. Streaming over files lives in
:func:`seed_features_from_file` and :mod:`galaxy10.modeling.cache`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from galaxy10.core.atomic import write_json
from galaxy10.core.profiles import MIN_SIDE

SEED_SIZE = 64
SEED_FEATURES = SEED_SIZE * SEED_SIZE


def seed_image(image: np.ndarray) -> np.ndarray:
    """One image through the original's per-image steps: (H, W, 3) uint8 -> (64, 64) uint8."""
    small = cv2.resize(image, (SEED_SIZE, SEED_SIZE))
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)  # sic: the data are RGB, see module doc


def seed_features(images: np.ndarray) -> np.ndarray:
    """Seed-faithful features of a batch, before scaling.

    Parameters
    ----------
    images : ndarray of uint8, shape (k, H, W, 3)

    Returns
    -------
    ndarray of uint8, shape (k, 4096)
        Flattened 64x64 grey images, row-major as ``ndarray.flatten`` gives them.
    """
    out = np.empty((len(images), SEED_FEATURES), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = seed_image(img).reshape(-1)
    return out


def seed_features_from_file(galaxies, indices: np.ndarray, batch_size: int = 256,
                            progress: bool = False) -> np.ndarray:
    """Seed-faithful features of rows ``indices`` of an open :class:`~galaxy10.Galaxy10File`.

    Streams batches, so memory holds one batch of 256 px images plus the small 4,096-byte
    feature rows, instead of the whole file. Rows come back in the order of ``indices``.
    """
    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty((indices.size, SEED_FEATURES), dtype=np.uint8)
    bar = _progress(indices.size, "seed features", progress)
    for pos, images in galaxies.iter_file_order(indices, batch_size):
        out[pos] = seed_features(images)
        bar.update(pos.size)
    bar.close()
    return out


def fit_minmax(features: np.ndarray):
    """Fit the original's per-pixel ``MinMaxScaler`` on training features only."""
    from sklearn.preprocessing import MinMaxScaler

    return MinMaxScaler().fit(features.astype(np.float64))


_SCALER_FIELDS = ("min_", "scale_", "data_min_", "data_max_", "data_range_")


def minmax_to_dict(scaler) -> dict:
    """A fitted ``MinMaxScaler``'s parameters as plain JSON types (no pickle)."""
    params = {name: getattr(scaler, name).tolist() for name in _SCALER_FIELDS}
    params.update(kind="sklearn.preprocessing.MinMaxScaler",
                  feature_range=list(scaler.feature_range),
                  n_samples_seen_=int(scaler.n_samples_seen_))
    return params


def minmax_from_dict(params: dict):
    """Rebuild a fitted ``MinMaxScaler`` from :func:`minmax_to_dict`'s output."""
    from sklearn.preprocessing import MinMaxScaler

    scaler = MinMaxScaler(feature_range=tuple(params["feature_range"]))
    for name in _SCALER_FIELDS:
        setattr(scaler, name, np.asarray(params[name], dtype=np.float64))
    scaler.n_samples_seen_ = int(params["n_samples_seen_"])
    scaler.n_features_in_ = scaler.min_.size
    return scaler


def save_minmax(scaler, path: str | os.PathLike[str]) -> Path:
    """Save a fitted ``MinMaxScaler`` as JSON, atomically (the original pickled it)."""
    return write_json(path, minmax_to_dict(scaler))


# -- general preprocessing ------------------------------------------------------------------
MIN_SIZE = MIN_SIDE
"""Smallest input side (px) an :class:`ImageConfig` accepts (the profiles' bound)."""


@dataclass(frozen=True)
class ImageConfig:
    """How to turn a 256 px RGB cut-out into model input.

    Attributes
    ----------
    size : int
        Output side in pixels.
    color : {"rgb", "grey", "seed-grey"}
        ``"grey"`` uses the correct RGB weights; ``"seed-grey"`` the original's BGR2GRAY.
    crop : float
        Fraction of the frame kept around the centre before resizing (1.0 = whole frame).
    interpolation : {"linear", "area"}
        ``"linear"`` is cv2's default (the original's); ``"area"`` averages, which avoids
        aliasing when shrinking 256 px to 64 px.
    """

    size: int = 64
    color: Literal["rgb", "grey", "seed-grey"] = "rgb"
    crop: float = 1.0
    interpolation: Literal["linear", "area"] = "area"

    def __post_init__(self) -> None:
        if self.size < MIN_SIZE:
            raise ValueError(f"size must be at least {MIN_SIZE} px, got {self.size}")
        if self.color not in ("rgb", "grey", "seed-grey"):
            raise ValueError(f"color must be 'rgb', 'grey' or 'seed-grey', got {self.color!r}")
        if not 0.0 < self.crop <= 1.0:
            raise ValueError(f"crop must be in (0, 1], got {self.crop}")
        if self.interpolation not in ("linear", "area"):
            raise ValueError("interpolation must be 'linear' or 'area', "
                             f"got {self.interpolation!r}")

    @property
    def channels(self) -> int:
        """1 for grey, 3 for RGB."""
        return 3 if self.color == "rgb" else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one preprocessed image, ``(size, size, channels)``."""
        return (self.size, self.size, self.channels)

    def to_dict(self) -> dict:
        """Plain-JSON form, saved next to a model so the button preprocesses the same way."""
        return asdict(self)

    @classmethod
    def from_dict(cls, params: dict) -> ImageConfig:
        """Inverse of :meth:`to_dict`; ignores unknown keys from newer versions.

        Raises
        ------
        TypeError
            If ``params`` is not a mapping (a hand-edited JSON with a list or null there),
            or a value has the wrong type; callers turn it into an error naming their file.
        """
        if not isinstance(params, dict):
            raise TypeError(f"'image' must be a JSON object, got {type(params).__name__}: "
                            f"{str(params)[:40]}")
        names = {"size", "color", "crop", "interpolation"}
        return cls(**{k: v for k, v in params.items() if k in names})

    def key(self) -> str:
        """Short stable hash of the parameters, used in cache file names."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


SEED_CONFIG = ImageConfig(size=64, color="seed-grey", crop=1.0, interpolation="linear")
"""The original's per-image steps as an :class:`ImageConfig` (before MinMax scaling)."""

_INTERP = {"linear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


def transform_image(image: np.ndarray, config: ImageConfig) -> np.ndarray:
    """Preprocess one (H, W, 3) uint8 RGB image to ``config.shape`` uint8."""
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    if config.crop < 1.0:
        ch, cw = max(1, round(h * config.crop)), max(1, round(w * config.crop))
        top, left = (h - ch) // 2, (w - cw) // 2
        image = image[top:top + ch, left:left + cw]
    small = cv2.resize(image, (config.size, config.size),
                       interpolation=_INTERP[config.interpolation])
    if config.color == "rgb":
        return small
    code = cv2.COLOR_BGR2GRAY if config.color == "seed-grey" else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(small, code)[..., np.newaxis]


def transform(images: np.ndarray, config: ImageConfig) -> np.ndarray:
    """Preprocess a batch: (k, H, W, 3) uint8 -> (k, *config.shape) uint8."""
    out = np.empty((len(images), *config.shape), dtype=np.uint8)
    for i, img in enumerate(images):
        out[i] = transform_image(img, config)
    return out


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", disable=not enabled, leave=False)
