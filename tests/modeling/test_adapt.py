"""AdaBN: batch-normalisation statistics re-estimated on unlabelled images."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_bundles import tiny_bundle

from galaxy10.core.errors import Galaxy10Error
from galaxy10.modeling.adapt import adapt_batch_norm, batch_norm_layers
from galaxy10.modeling.augment import dihedral
from galaxy10.modeling.predict import Predictor


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    return Predictor(tiny_bundle(tmp_path_factory.mktemp("adapt") / "tiny.keras"))


def _over_views(model, tensor, x: np.ndarray) -> np.ndarray:
    """A layer's input or output (``tensor``) in inference over all eight views, per channel."""
    from galaxy10.core.quiet import load_keras

    keras = load_keras()
    sub = keras.Model(model.inputs, tensor)
    seen = np.concatenate([np.asarray(sub(dihedral(x, v), training=False)) for v in range(8)])
    return seen.reshape(-1, seen.shape[-1]).astype(np.float64)


def _dim_noisy(n: int, seed: int) -> np.ndarray:
    """Model input unlike anything a network saw: dark, with a faint source and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:32, :32]
    blob = 60 * np.exp(-((yy - 16) ** 2 + (xx - 13) ** 2) / 30.0)
    x = blob[None, ..., None] + rng.normal(10, 6, (n, 32, 32, 3))
    return np.clip(x, 0, 255).astype(np.uint8)


def _restore(model, saved) -> None:
    for layer, weights in zip(batch_norm_layers(model), saved, strict=True):
        layer.set_weights(weights)


def test_every_layer_holds_its_inputs_statistics_over_the_images_it_was_adapted_to(
        predictor) -> None:
    """After adaptation each layer's moving mean and variance are its input's mean and
    variance over the images' eight views, the earlier layers' new statistics included, so
    its output's mean is its own beta; before it, the output's mean was far from beta."""
    model = predictor.model
    layers = batch_norm_layers(model)
    saved = [layer.get_weights() for layer in layers]
    x = _dim_noisy(24, seed=1)

    def off_centre(layer) -> float:
        beta = np.asarray(layer.get_weights()[1], dtype=np.float64)
        return float(np.abs(_over_views(model, layer.output, x).mean(axis=0) - beta).max())

    try:
        before = [off_centre(layer) for layer in layers]
        assert adapt_batch_norm(model, x) == len(layers) == 2
        for layer in layers:
            seen = _over_views(model, layer.input, x)
            _gamma, _beta, mean, variance = layer.get_weights()
            np.testing.assert_allclose(mean, seen.mean(axis=0), rtol=1e-3, atol=1e-5)
            np.testing.assert_allclose(variance, seen.var(axis=0), rtol=1e-3, atol=1e-6)
        after = [off_centre(layer) for layer in layers]
        assert max(after) < 1e-3, after
        assert min(before) > 0.05, before
    finally:
        _restore(model, saved)


def test_adaptation_is_deterministic_and_ignores_the_images_order(predictor) -> None:
    model = predictor.model
    saved = [layer.get_weights() for layer in batch_norm_layers(model)]
    x = _dim_noisy(20, seed=2)
    try:
        adapt_batch_norm(model, x, batch_size=7)
        first = [w.copy() for layer in batch_norm_layers(model) for w in layer.get_weights()]
        _restore(model, saved)
        adapt_batch_norm(model, x[::-1], batch_size=128)
        second = [w for layer in batch_norm_layers(model) for w in layer.get_weights()]
    finally:
        _restore(model, saved)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # the weights proper (gamma, beta) never change: only the two statistics
    for layer, weights in zip(batch_norm_layers(model), saved, strict=True):
        for got, was in zip(layer.get_weights()[:2], weights[:2], strict=True):
            np.testing.assert_array_equal(got, was)


def test_changes_only_the_statistics_and_the_guesses_follow(predictor) -> None:
    model = predictor.model
    saved = [layer.get_weights() for layer in batch_norm_layers(model)]
    others = [w.copy() for layer in model.layers if layer not in batch_norm_layers(model)
              for w in layer.get_weights()]
    x = _dim_noisy(16, seed=3)
    plain = predictor.predict_proba(x, preprocessed=True, calibrated=False)
    try:
        adapt_batch_norm(model, x)
        adapted = predictor.predict_proba(x, preprocessed=True, calibrated=False)
        after = [w for layer in model.layers if layer not in batch_norm_layers(model)
                 for w in layer.get_weights()]
    finally:
        _restore(model, saved)
    for a, b in zip(others, after, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(plain, adapted, atol=1e-3)
    np.testing.assert_allclose(predictor.predict_proba(x, preprocessed=True, calibrated=False),
                               plain, rtol=1e-5, atol=1e-6)


def test_refuses_a_network_without_batch_normalisation_and_no_images(predictor) -> None:
    from galaxy10.modeling.models import build_seed_cnn

    with pytest.raises(Galaxy10Error, match="no batch-normalisation layer"):
        adapt_batch_norm(build_seed_cnn(), np.zeros((2, 64, 64, 1), np.float32))
    with pytest.raises(Galaxy10Error, match="no image"):
        adapt_batch_norm(predictor.model, np.zeros((0, 32, 32, 3), np.uint8))
