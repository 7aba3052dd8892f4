"""Decode image files (JPEG, PNG, ...) into Galaxy10-style RGB cut-outs.

Shared by the folder import, the ``predict`` command and the widget's upload, so that a
user's own picture goes through exactly the same steps as the data, and an unreadable file
always gives one :class:`~galaxy10.errors.ImageError` naming it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np

from galaxy10.classes import IMAGE_SHAPE
from galaxy10.errors import ImageError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                            ".webp"})


def decode_image(source: str | os.PathLike[str] | bytes, name: str | None = None) -> np.ndarray:
    """Read a picture as an RGB uint8 array of shape (H, W, 3).

    Parameters
    ----------
    source : path-like or bytes
        A file, or its bytes (an upload).
    name : str, optional
        Name to show in errors when ``source`` is bytes.

    Raises
    ------
    ImageError
        If the file is missing, empty, or not a picture Pillow can decode.
    """
    from PIL import Image, UnidentifiedImageError

    label = name or (os.fspath(source) if not isinstance(source, bytes) else "<upload>")
    try:
        if isinstance(source, bytes):
            if not source:
                raise ImageError(label, "file is empty")
            handle = io.BytesIO(source)
        else:
            path = Path(source)
            if not path.is_file():
                raise ImageError(label, "image file not found")
            if path.stat().st_size == 0:
                raise ImageError(label, "file is empty")
            handle = path
        with Image.open(handle) as img:
            img.load()
            rgb = img.convert("RGB")
        return np.asarray(rgb, dtype=np.uint8)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageError(label, f"not a readable image ({type(exc).__name__}: {exc})") from None


def to_cutout(image: np.ndarray, shape: tuple[int, int, int] = IMAGE_SHAPE) -> np.ndarray:
    """Resize an RGB image to the Galaxy10 cut-out shape (256 x 256 x 3) if it differs.

    Shrinking uses area averaging, enlarging bilinear interpolation; non-square pictures are
    squeezed (cut-outs are square, and a user's crop is assumed to be centred).
    """
    h, w = shape[:2]
    if image.shape[:2] == (h, w):
        return image
    shrink = image.shape[0] > h or image.shape[1] > w
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def load_cutout(source: str | os.PathLike[str] | bytes, name: str | None = None) -> np.ndarray:
    """:func:`decode_image` then :func:`to_cutout`: any picture as a (256, 256, 3) uint8 cut-out."""
    return to_cutout(decode_image(source, name))
