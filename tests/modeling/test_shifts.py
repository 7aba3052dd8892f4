"""The two shifts of issue #25: another asinh stretch, and a cut-out 1-2 px off-centre."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.modeling import shifts

NEW = ("asinh stretch", "off-centre 1-2 px")


def _blob(n: int = 6, size: int = 48, seed: int = 0) -> np.ndarray:
    """A bright centred blob on a faint noisy sky: a stand-in cut-out."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    blob = 200 * np.exp(-(xx ** 2 + yy ** 2) / (2 * 4.0 ** 2))
    images = 12 + blob[None, :, :, None] + rng.normal(0, 2, (n, size, size, 3))
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def _centroid(image: np.ndarray) -> np.ndarray:
    """(y, x) centroid of the pixels above the sky."""
    light = np.clip(image[..., 0].astype(np.float64) - 30, 0, None)
    yy, xx = np.mgrid[:image.shape[0], :image.shape[1]]
    return np.array([(light * yy).sum(), (light * xx).sum()]) / light.sum()


@pytest.mark.parametrize("name", NEW)
def test_new_shifts_are_listed_seeded_and_keep_shape_and_dtype(name):
    x = _blob()
    a = shifts.apply_shift(x, name, seed=3)
    np.testing.assert_array_equal(a, shifts.apply_shift(x, name, seed=3))
    assert a.shape == x.shape and a.dtype == np.uint8
    assert not np.array_equal(a, x)


def test_asinh_stretch_lifts_the_faint_end_and_keeps_black_and_white():
    x = _blob()
    out = shifts.apply_shift(x, "asinh stretch")
    sky = x < 40
    assert out[sky].mean() > 1.4 * x[sky].mean()  # faint sky lifted...
    assert (out.astype(int) >= x).all()  # ...and nothing darkened
    edges = shifts.asinh_stretch(np.array([[0, 255]], dtype=np.uint8), 3.0)
    assert edges.tolist() == [[0, 255]]
    with pytest.raises(ValueError, match="positive"):
        shifts.asinh_stretch(x, 0.0)


def test_off_centre_moves_each_galaxy_by_one_or_two_pixels_in_x_and_y():
    x = np.repeat(_blob(n=1), 40, axis=0)
    out = shifts.apply_shift(x, "off-centre 1-2 px", seed=5)
    moves = np.array([_centroid(o) - _centroid(i) for o, i in zip(out, x, strict=True)])
    steps = np.abs(moves)
    assert ((steps > 0.9) & (steps < 2.1)).all(), moves
    # both magnitudes and both signs occur, and each image draws its own
    assert {1, 2} <= set(np.rint(steps).astype(int).ravel())
    assert (moves > 0).any() and (moves < 0).any()
    assert len({tuple(np.rint(m).astype(int)) for m in moves}) > 4
    different_seed = shifts.apply_shift(x, "off-centre 1-2 px", seed=6)
    assert not np.array_equal(out, different_seed)


def test_off_centre_shifts_whole_pixels_without_blurring():
    x = _blob(n=1)
    out = shifts.off_centre(x, np.random.default_rng(0), 2, 2)
    (dy, dx), = [np.rint(_centroid(out[0]) - _centroid(x[0])).astype(int)]
    inner = slice(2, -2)
    np.testing.assert_array_equal(out[0][inner, inner],
                                  np.roll(x[0], (dy, dx), axis=(0, 1))[inner, inner])
