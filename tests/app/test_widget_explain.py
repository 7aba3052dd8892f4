"""The button's Grad-CAM toggle and its 'not sure' / 'not a galaxy cut-out' messages."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from galaxy10.app.widget import button_from_model


def _png_pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_toggle_overlays_the_map_on_the_shown_galaxy_and_back(model_bundle):
    from galaxy10.modeling.saliency import predictor_overlay

    button = button_from_model(model_bundle["model"], seed=3)
    button.show_random()
    plain = _png_pixels(button.image.value)
    np.testing.assert_array_equal(plain, button.shown_image)
    button.show_map.value = True  # redraws the galaxy on screen
    shown = _png_pixels(button.image.value)
    np.testing.assert_array_equal(shown, predictor_overlay(button.predictor, button.shown_image))
    assert shown.shape == plain.shape
    button.show_random()  # stays on for the next click
    np.testing.assert_array_equal(_png_pixels(button.image.value),
                                  predictor_overlay(button.predictor, button.shown_image))
    button.show_map.value = False
    np.testing.assert_array_equal(_png_pixels(button.image.value), button.shown_image)


def test_an_uploaded_photo_is_called_not_a_galaxy_cutout(model_bundle):
    from sklearn.datasets import load_sample_image

    button = button_from_model(model_bundle["model"], seed=3)
    buf = io.BytesIO()
    Image.fromarray(load_sample_image("china.jpg")).save(buf, format="JPEG")
    button.classify_bytes(buf.getvalue(), "china.jpg")
    assert "not a galaxy cut-out" in button.result.value
    assert button.shown_verdict.flag == "not a galaxy cut-out"
