"""Decode image files (JPEG, PNG, ...) into Galaxy10-style RGB cut-outs.

Shared by the folder import, the ``predict`` command and the widget's upload, so that a
user's own picture goes through exactly the same steps as the data, and an unreadable file
always gives one :class:`~galaxy10.core.errors.ImageError` naming it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np

from galaxy10.core.classes import IMAGE_SHAPE
from galaxy10.core.errors import ImageError, ImageTooLargeError
from galaxy10.core.files import unreadable_reason

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                            ".webp"})
MAX_SIDE = 8192
"""Largest accepted image side in pixels: 32 times a cut-out, well above any real cut-out, and
small enough that one decoded picture (at most 200 MB of RGB) cannot exhaust memory."""


def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB uint8 image as PNG (lossless: a cut-out saved so reads back the same
    pixels; cv2 wants BGR)."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(np.asarray(image)[..., ::-1]))
    if not ok:  # pragma: no cover - cv2 only fails on invalid arrays
        raise ValueError("could not encode image as PNG")
    return buf.tobytes()


def _check_size(img, label: str) -> None:
    w, h = img.size
    if w < 1 or h < 1 or max(w, h) > MAX_SIDE:
        raise ImageTooLargeError(label, f"image is {w} x {h} px; galaxy10 accepts 1 to {MAX_SIDE} px a "
                                "side (crop or shrink it first)")


def _to_rgb8(img) -> np.ndarray:
    """RGB uint8 pixels of an opened image, scaling high-bit-depth grey instead of clipping.

    Pillow's ``convert("RGB")`` clips 16- and 32-bit grey (modes ``I;16*``, ``I``, ``F``) at 255,
    which turns most of a 16-bit picture white; these modes are rescaled to 0-255 here.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16"):
            top = 65535.0
        elif mode == "F":
            top = 1.0 if np.nanmax(values, initial=0.0) <= 1.0 else float(np.nanmax(values))
        else:  # "I": 16-bit PNGs arrive so in older Pillow; wider data is scaled to its max
            peak = float(values.max(initial=0.0))
            top = 255.0 if peak <= 255 else 65535.0 if peak <= 65535 else peak
        grey = np.clip(np.nan_to_num(values) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., np.newaxis], 3, axis=-1)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def probe_image(path: str | os.PathLike[str]) -> None:
    """Check a picture's header (format and size) without decoding its pixels.

    Cheap enough to run over a whole folder before an import, so that unreadable or
    unreasonably large files can be refused up front while the rest are imported.

    Raises
    ------
    ImageError
        If the file is missing, empty or not a picture; :class:`ImageTooLargeError` if it is
        larger than :data:`MAX_SIDE` pixels a side.
    """
    from PIL import Image

    label = os.fspath(path)
    try:
        _check_file(Path(path), label)
        with _open(path) as img:
            _check_size(img, label)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(label, _bomb_text(exc)) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(label, f"not a readable image ({type(exc).__name__}: {exc})") from None


def _check_file(path: Path, label: str) -> None:
    why = unreadable_reason(path, what="image file")
    if why:
        raise ImageError(label, "file is empty" if why.startswith("is empty") else why)


def _bomb_text(exc: Exception) -> str:
    size = f"{exc}".split(" could be")[0].rstrip(" ,.")
    return f"refused as a possible decompression bomb ({size}; at most {MAX_SIDE} px a side)"


def _open(handle):
    """``Image.open`` without Pillow's bomb *warning*: oversized images are refused instead."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        return Image.open(handle)


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
        If the file is missing, empty, not a picture Pillow can decode, or larger than
        :data:`MAX_SIDE` pixels a side (a decompression bomb included).
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
            _check_file(path, label)
            handle = path
        with _open(handle) as img:
            _check_size(img, label)
            img.load()
            return _to_rgb8(img)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(label, _bomb_text(exc)) from None
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
