"""Per-image statistics for the exploratory notebook, computed in streamed batches."""

from __future__ import annotations

import numpy as np

from galaxy10.datasets.reader import Galaxy10File


def image_statistics(galaxies: Galaxy10File, rows: np.ndarray,
                     batch_size: int = 256) -> dict[str, np.ndarray]:
    """Brightness, colour and extent of each image in ``rows``.

    Returns
    -------
    dict of ndarray, each shape (len(rows),)
        ``brightness``: mean of all pixels (0-255), mostly sky;
        ``centre_brightness``: mean of the central 64x64 pixels, mostly galaxy;
        ``colour``: mean red minus mean blue in the centre (positive = redder);
        ``extent``: fraction of pixels brighter than the image's median + 3 x robust sigma,
        a rough measure of how much of the frame the galaxy and neighbours fill.
    """
    out = {k: np.empty(len(rows)) for k in ("brightness", "centre_brightness", "colour",
                                            "extent")}
    pos = 0
    for _, images in galaxies.iter_batches(rows, batch_size):
        x = images.astype(np.float32)
        h, w = x.shape[1:3]
        centre = x[:, h // 2 - 32:h // 2 + 32, w // 2 - 32:w // 2 + 32]
        grey = x.mean(axis=3).reshape(len(x), -1)
        med = np.median(grey, axis=1, keepdims=True)
        mad = np.median(np.abs(grey - med), axis=1, keepdims=True) * 1.4826 + 1e-3
        sl = slice(pos, pos + len(x))
        out["brightness"][sl] = x.mean(axis=(1, 2, 3))
        out["centre_brightness"][sl] = centre.mean(axis=(1, 2, 3))
        out["colour"][sl] = centre[..., 0].mean(axis=(1, 2)) - centre[..., 2].mean(axis=(1, 2))
        out["extent"][sl] = (grey > med + 3 * mad).mean(axis=1)
        pos += len(x)
    return out
