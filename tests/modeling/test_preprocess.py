"""Preprocessing matches direct cv2/scikit-learn computations and streams exactly."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from galaxy10 import Galaxy10File
from galaxy10.modeling.preprocess import (
    ImageConfig,
    fit_minmax,
    minmax_from_dict,
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
    back = minmax_from_dict(json.loads(path.read_text()))  # as a seed bundle's JSON is read
    np.testing.assert_array_equal(back.transform(x[4:]), direct.transform(x[4:]))


def test_image_config_shapes_crop_and_json(tmp_path):
    cfg = ImageConfig(size=96, color="rgb", crop=0.5)
    out = transform(IMAGES, cfg)
    assert out.shape == (6, 96, 96, 3) and out.dtype == np.uint8
    centre = cv2.resize(IMAGES[0][64:192, 64:192], (96, 96), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(out[0], centre)
    assert transform(IMAGES, ImageConfig(32, "grey")).shape == (6, 32, 32, 1)
    assert ImageConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
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


def test_scaler_json_is_complete_and_float64(tmp_path):
    from galaxy10.modeling.preprocess import minmax_to_dict

    feats = np.random.default_rng(0).integers(0, 256, (20, 6)).astype(np.float64)
    scaler = MinMaxScaler(feature_range=(-1, 1)).fit(feats)
    doc = minmax_to_dict(scaler)
    assert doc["kind"] == "sklearn.preprocessing.MinMaxScaler" and doc["feature_range"] == [-1, 1]
    back = minmax_from_dict(json.loads(save_minmax(scaler, tmp_path / "s.json").read_text()))
    assert back.feature_range == (-1, 1) and back.n_samples_seen_ == 20 and back.n_features_in_ == 6
    for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
        assert getattr(back, name).dtype == np.float64
    np.testing.assert_array_equal(back.transform(feats), scaler.transform(feats))
    assert json.loads((tmp_path / "s.json").read_text())["n_samples_seen_"] == 20


def test_image_config_from_dict_checks_its_input():
    with pytest.raises(KeyError):
        minmax_from_dict({"min_": [1]})
    with pytest.raises(TypeError, match=r"'image' must be a JSON object, got list: \[1, 2\]$"):
        ImageConfig.from_dict([1, 2])
    config = ImageConfig(size=16, color="grey", crop=0.5, interpolation="linear")
    assert ImageConfig.from_dict(config.to_dict()) == config
    assert ImageConfig.from_dict({**config.to_dict(), "future": 1}) == config
    long = list(range(100))
    with pytest.raises(TypeError) as info:
        ImageConfig.from_dict(long)
    assert str(info.value) == f"'image' must be a JSON object, got list: {str(long)[:40]}"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"size": 7}, "size must be at least 8 px, got 7"),
    ({"color": "bgr"}, "color must be 'rgb', 'grey' or 'seed-grey', got 'bgr'"),
    ({"crop": 1.5}, "crop must be in (0, 1], got 1.5"),
    ({"crop": 0.0}, "crop must be in (0, 1], got 0.0"),
    ({"interpolation": "cubic"}, "interpolation must be 'linear' or 'area', got 'cubic'"),
])
def test_image_config_refuses_bad_values_with_a_message(kwargs, message):
    with pytest.raises(ValueError) as info:
        ImageConfig(**kwargs)
    assert str(info.value) == message
    assert ImageConfig(size=8, crop=1.0).shape == (8, 8, 3)


def test_config_key_is_a_stable_short_hash():
    import hashlib
    import json

    config = ImageConfig(size=32, color="grey")
    text = json.dumps(config.to_dict(), sort_keys=True)
    assert config.key() == hashlib.sha256(text.encode()).hexdigest()[:12]
    assert config.key() != ImageConfig(size=32, color="rgb").key()


def test_transform_image_refuses_other_inputs_and_crops_the_centre():
    from galaxy10.modeling.preprocess import transform_image

    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 RGB image, got float32 \(4, 4, 3\)"):
        transform_image(np.zeros((4, 4, 3), np.float32), ImageConfig(size=8))
    with pytest.raises(ValueError, match="got uint8"):
        transform_image(np.zeros((4, 4, 4), np.uint8), ImageConfig(size=8))
    with pytest.raises(ValueError, match="got uint8"):
        transform_image(np.zeros((4, 4), np.uint8), ImageConfig(size=8))
    image = np.zeros((40, 40, 3), np.uint8)
    image[10:30, 10:30] = 200  # the central half is all bright
    image[10:30, 10:30, 2] = 50
    out = transform_image(image, ImageConfig(size=8, crop=0.5, interpolation="linear"))
    assert (out[..., 0] == 200).all() and (out[..., 2] == 50).all()
    odd = np.zeros((41, 41, 3), np.uint8)
    odd[10:31, 10:31] = 200  # 21 px square: round(41 * 0.5) = 20 px crop from (41 - 20) // 2
    assert (transform_image(odd, ImageConfig(size=8, crop=0.5, interpolation="linear")) == 200).all()
    tiny = transform_image(image, ImageConfig(size=8, crop=0.01, interpolation="area"))
    assert tiny.shape == (8, 8, 3) and (tiny[..., 0] == 200).all()  # at least one pixel kept
    grey = transform_image(image, ImageConfig(size=8, color="grey", crop=0.5))
    want = cv2.cvtColor(np.array([[[200, 200, 50]]], np.uint8), cv2.COLOR_RGB2GRAY)[0, 0]
    assert grey.shape == (8, 8, 1) and (grey == want).all()
