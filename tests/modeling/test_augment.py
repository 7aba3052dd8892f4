"""Augmentation and test-time augmentation (numpy only): exact effects, seeding, ranges."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.modeling import shifts
from galaxy10.modeling.augment import (
    DEFAULT_JITTER,
    FULL_JITTER,
    JITTERS,
    ROBUST_JITTER,
    SURVEY_JITTER,
    augment_batch,
    batch_rng,
    dihedral,
    jitter_photometry,
    jitter_source,
    jitter_zoom,
    predict_tta,
)


def blobs(n=8, size=32):
    """Bright centred squares on a dark sky, a different brightness each."""
    x = np.full((n, size, size, 3), 10, dtype=np.uint8)
    for k in range(n):
        x[k, 12:20, 12:20] = 120 + 10 * k
    return x


def test_zoom_by_a_fixed_factor_scales_about_the_centre():
    x = blobs()
    big = jitter_zoom(x, np.random.default_rng(1), (2.0, 2.0))
    small = jitter_zoom(x, np.random.default_rng(1), (0.5, 0.5))
    assert big.shape == x.shape and big.dtype == np.uint8
    half = (10 + x[:, 16, 16, 0].astype(float))[:, None, None] / 2  # half-way to each square
    bright = (x[..., 0] > half).sum(axis=(1, 2))  # 64 pixels
    np.testing.assert_allclose((big[..., 0] > half).sum(axis=(1, 2)), 4 * bright, atol=20)
    centre = small[:, 8:24, 8:24, 0] > half  # outside it, the reflected borders repeat the sky
    np.testing.assert_allclose(centre.sum(axis=(1, 2)), bright / 4, atol=8)
    np.testing.assert_array_equal(big[:, 16, 16], x[:, 16, 16])  # the centre stays put
    np.testing.assert_array_equal(jitter_zoom(x, np.random.default_rng(1), (1.0, 1.0)), x)
    grey = jitter_zoom(x[..., :1], np.random.default_rng(1), (2.0, 2.0))
    np.testing.assert_array_equal(grey, big[..., :1])  # one channel works the same


def test_zoom_factors_are_drawn_per_image_within_the_range():
    x = np.repeat(blobs(1), 40, axis=0)
    out = jitter_zoom(x, np.random.default_rng(2), (0.75, 1.33))
    areas = (out[..., 0] > 65).sum(axis=(1, 2))
    assert len(np.unique(areas)) > 3  # a factor per image
    assert areas.min() >= 0.75**2 * 64 - 16 and areas.max() <= 1.33**2 * 64 + 24
    np.testing.assert_array_equal(out, jitter_zoom(x, np.random.default_rng(2), (0.75, 1.33)))


def test_photometry_gains():
    x = blobs()
    same = jitter_photometry(x, np.random.default_rng(0), (1.0, 1.0), 0.0)
    assert same.dtype == np.float32
    np.testing.assert_array_equal(same, x.astype(np.float32))
    double = jitter_photometry(x, np.random.default_rng(0), (2.0, 2.0), 0.0)
    np.testing.assert_array_equal(double, np.minimum(2.0 * x, 255).astype(np.float32))
    tinted = jitter_photometry(x, np.random.default_rng(0), (1.0, 1.0), 0.2)
    ratio = tinted[:, 16, 16] / x[:, 16, 16]  # one gain per image and channel
    assert np.all((ratio >= 0.8 - 1e-6) & (ratio <= 1.2 + 1e-6))
    assert len(np.unique(np.round(ratio, 5))) > 8
    np.testing.assert_allclose(tinted[:, 0, 0] / x[:, 0, 0], ratio, rtol=1e-5)
    grey = jitter_photometry(x[..., :1], np.random.default_rng(0), (1.0, 1.0), 0.2)
    np.testing.assert_array_equal(grey, x[..., :1].astype(np.float32))  # no tint on one channel
    varied = jitter_photometry(x, np.random.default_rng(0), (0.5, 2.0), 0.0)
    gains = varied[:, 0, 0, 0] / x[:, 0, 0, 0]
    assert gains.min() >= 0.5 - 1e-6 and gains.max() <= 2.0 + 1e-6 and len(np.unique(gains)) == 8


def test_source_jitters_each_do_what_they_say():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    untouched = x.copy()
    np.testing.assert_array_equal(jitter_source(x, np.random.default_rng(1)), x)
    np.testing.assert_array_equal(jitter_source(x, np.random.default_rng(1), gamma=(0.5, 0.5)),
                                  shifts.gamma_stretch(x, 0.5))
    noisy = jitter_source(x, np.random.default_rng(1), noise=(3.0, 3.0)).astype(float)
    inside = (x > 20) & (x < 235)
    assert 2.7 < np.std(noisy[inside] - x[inside]) < 3.3
    blurred = jitter_source(x, np.random.default_rng(1), blur=(1.0, 1.0))
    changed = np.any(blurred != x, axis=(1, 2, 3))
    assert 10 <= changed.sum() <= 30  # about half the images
    for k in np.flatnonzero(changed):
        np.testing.assert_array_equal(blurred[k], shifts.blur(x[k:k + 1], 1.0)[0])
    assert not np.any(jitter_source(x, np.random.default_rng(1), blur=(0.0, 0.05)) != x)
    jpeg = jitter_source(x, np.random.default_rng(1), jpeg=(50, 50))
    changed = np.any(jpeg != x, axis=(1, 2, 3))
    assert 10 <= changed.sum() <= 30
    for k in np.flatnonzero(changed):
        np.testing.assert_array_equal(jpeg[k], shifts.jpeg_reencode(x[k:k + 1], 50)[0])
    np.testing.assert_array_equal(x, untouched)  # the input is never changed in place
    everything = dict(gamma=(0.7, 1.4), noise=(0.0, 4.0), blur=(0.0, 1.0), jpeg=(30, 90))
    a = jitter_source(x, np.random.default_rng(5), **everything)
    np.testing.assert_array_equal(a, jitter_source(x, np.random.default_rng(5), **everything))
    assert a.dtype == np.uint8


def test_jitter_settings():
    assert JITTERS == {"none": {}, "default": DEFAULT_JITTER, "robust": ROBUST_JITTER,
                       "survey": SURVEY_JITTER, "full": FULL_JITTER}
    assert SURVEY_JITTER == {**ROBUST_JITTER, "contrast": (0.8, 1.25)}
    assert FULL_JITTER == {"zoom": (0.75, 1.33), "brightness": (0.6, 1.6), "colour": 0.1,
                           "gamma": (0.7, 1.4), "noise": (0.0, 4.0), "blur": (0.0, 1.0),
                           "jpeg": (30, 90)}


class CornerModel:
    """A model whose prediction is the class of the top-left pixel's value (mod 10)."""

    def __init__(self):
        self.batches = []

    def predict_on_batch(self, batch):
        self.batches.append(len(batch))
        return np.eye(10, dtype=np.float32)[batch[:, 0, 0, 0] % 10]


@pytest.mark.parametrize(("views", "want"), [(8, {1: .25, 3: .25, 7: .25, 9: .25}),
                                             (4, {1: .25, 3: .25, 7: .25, 9: .25}),
                                             (2, {1: .5, 3: .5}), (1, {1: 1.0})])
def test_tta_averages_the_first_views(views, want):
    image = np.arange(1, 10, dtype=np.uint8).reshape(1, 3, 3, 1)  # corners 1, 3, 9, 7
    x = np.concatenate([image, image, image + 10])  # the third: corners 11, 13, 19, 17, same mod 10
    model = CornerModel()
    probs = predict_tta(model, x, batch_size=2, views=views)
    expected = np.zeros(10, dtype=np.float32)
    for label, p in want.items():
        expected[label] = p
    assert probs.dtype == np.float32 and probs.shape == (3, 10)
    np.testing.assert_allclose(probs, np.tile(expected, (3, 1)))
    assert model.batches == [2] * views + [1] * views  # batches of 2, then the rest


def test_zoom_keeps_a_centred_image_centred_and_fills_borders_with_reflected_sky():
    x = blobs(2)  # squares at 12-19 of 32: symmetric about the centre 15.5
    for factor in (0.6, 1.5):
        out = jitter_zoom(x, np.random.default_rng(0), (factor, factor))
        np.testing.assert_array_equal(out, out[:, ::-1, ::-1])  # still symmetric
    shrunk = jitter_zoom(x, np.random.default_rng(0), (0.6, 0.6))
    assert (shrunk[:, 0, :] == 10).all() and (shrunk[:, :, 0] == 10).all()  # sky, not black


def test_photometry_keeps_black_black_and_tints_both_ways():
    x = np.zeros((40, 4, 4, 3), np.uint8)
    x[:, 2:, :] = 100
    out = jitter_photometry(x, np.random.default_rng(0), (0.6, 1.6), 0.2)
    assert (out[:, :2] == 0).all()
    ratio = out[:, 3, 3] / 100
    assert ratio.min() < 0.7 and ratio.max() > 1.5  # brightness gains span the range


def test_source_ranges_are_drawn_per_image_and_noise_is_clipped_not_wrapped():
    x = np.full((40, 16, 16, 3), 128, np.uint8)
    gamma = jitter_source(x, np.random.default_rng(0), gamma=(0.5, 2.0))[:, 0, 0, 0]
    assert gamma.min() < 80 and gamma.max() > 170  # darker and brighter stretches
    noisy = jitter_source(x, np.random.default_rng(0), noise=(0.0, 6.0)).astype(float)
    sigmas = noisy.std(axis=(1, 2, 3))
    assert sigmas.min() < 1.5 and sigmas.max() > 4.5
    for level, low, high in ((0, 0, 20), (255, 235, 255)):
        out = jitter_source(np.full((4, 16, 16, 3), level, np.uint8), np.random.default_rng(0),
                            noise=(5.0, 5.0))
        assert out.min() == low if level == 0 else out.max() == high
        assert low <= out.min() and out.max() <= high  # clipped at 0 and 255, never wrapped
    qualities = set()
    out = jitter_source(np.random.default_rng(1).integers(0, 256, (40, 16, 16, 3), np.uint8),
                        np.random.default_rng(2), jpeg=(20, 90))
    src = np.random.default_rng(1).integers(0, 256, (40, 16, 16, 3), np.uint8)
    for k in np.flatnonzero(np.any(out != src, axis=(1, 2, 3))):
        qualities |= {q for q in range(20, 91)
                      if np.array_equal(out[k], shifts.jpeg_reencode(src[k:k + 1], q)[0])}
    assert min(qualities) < 50 and max(qualities) > 60  # qualities drawn across the range


def test_augment_batch_leaves_its_input_alone_and_repeats_for_a_batch_seed():
    x = blobs()
    x.setflags(write=False)  # as tf.numpy_function may hand over a tensor's own buffer
    a = augment_batch(x, batch_rng(4, 1, 2), **FULL_JITTER)
    b = augment_batch(x, batch_rng(4, 1, 2), **FULL_JITTER)
    assert np.array_equal(a, b) and a.dtype == np.float32
    assert not np.array_equal(a, augment_batch(x, batch_rng(4, 2, 1), **FULL_JITTER))
    views = augment_batch(x, batch_rng(0, 0, 0))  # no jitter: each image one of its 8 views
    assert views.dtype == np.uint8 and all(
        any(np.array_equal(views[k], dihedral(x[k:k + 1], v)[0]) for v in range(8))
        for k in range(len(x)))
