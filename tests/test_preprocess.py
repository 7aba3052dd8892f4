"""Preprocessing matches direct cv2/scikit-learn computations and streams exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from galaxy10 import Galaxy10File
from galaxy10.preprocess import (
    ImageConfig,
    fit_minmax,
    load_config,
    load_minmax,
    save_config,
    save_minmax,
    seed_features,
    seed_features_from_file,
    transform,
)

RNG = np.random.default_rng(3)
IMAGES = RNG.integers(0, 256, size=(6, 256, 256, 3), dtype=np.uint8)


def test_seed_features_equal_the_original_cv2_steps():
    expected = np.array([cv2.cvtColor(cv2.resize(img, (64, 64)), cv2.COLOR_BGR2GRAY).flatten()
                         for img in IMAGES])
    np.testing.assert_array_equal(seed_features(IMAGES), expected)
    assert seed_features(IMAGES).shape == (6, 4096)


def test_seed_grey_swaps_red_and_blue_weights():
    red = np.zeros((1, 256, 256, 3), np.uint8)
    red[..., 0] = 200
    seed = transform(red, ImageConfig(64, "seed-grey", interpolation="linear"))
    right = transform(red, ImageConfig(64, "grey"))
    assert seed.mean() == pytest.approx(200 * 0.114, abs=1)  # red weighted as if blue
    assert right.mean() == pytest.approx(200 * 0.299, abs=1)


def test_minmax_fit_and_json_roundtrip(tmp_path):
    x = seed_features(IMAGES).astype(np.float64)
    scaler = fit_minmax(x[:4])
    direct = MinMaxScaler().fit(x[:4])
    np.testing.assert_array_equal(scaler.transform(x[4:]), direct.transform(x[4:]))
    path = save_minmax(scaler, tmp_path / "scaler.json")
    assert path.read_text().lstrip().startswith("{")
    np.testing.assert_array_equal(load_minmax(path).transform(x[4:]), direct.transform(x[4:]))


def test_image_config_shapes_crop_and_json(tmp_path):
    cfg = ImageConfig(size=96, color="rgb", crop=0.5)
    out = transform(IMAGES, cfg)
    assert out.shape == (6, 96, 96, 3) and out.dtype == np.uint8
    centre = cv2.resize(IMAGES[0][64:192, 64:192], (96, 96), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(out[0], centre)
    assert transform(IMAGES, ImageConfig(32, "grey")).shape == (6, 32, 32, 1)
    save_config(cfg, tmp_path / "p.json", class_names=["a"])
    loaded, doc = load_config(tmp_path / "p.json")
    assert loaded == cfg and doc["class_names"] == ["a"]
    assert cfg.key() != ImageConfig(size=64).key()
    with pytest.raises(ValueError):
        ImageConfig(crop=0)


def test_streamed_features_equal_in_memory(tmp_path):
    from conftest import write_h5

    path = write_h5(tmp_path / "f.h5", images=IMAGES, ans=np.arange(6, dtype=np.uint8))
    order = np.array([4, 0, 5, 2])
    with Galaxy10File(path) as f:
        streamed = seed_features_from_file(f, order, batch_size=3)
    np.testing.assert_array_equal(streamed, seed_features(IMAGES[order]))
