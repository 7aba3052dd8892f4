"""The Predictor's views and embeddings: one pass gives the probabilities and the vectors."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.modeling.augment import dihedral


@pytest.fixture(scope="module")
def predictor(model_bundle):
    from galaxy10.modeling.predict import Predictor

    return Predictor(model_bundle["model"])


@pytest.fixture(scope="module")
def images(model_bundle):
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(model_bundle["data"]) as f:
        return f.read(np.arange(12))


def test_embedding_pass_gives_the_same_probabilities(predictor, images):
    probs, emb = predictor.predict_and_embed(images, batch_size=5)
    np.testing.assert_array_equal(probs, predictor.predict_proba(images, batch_size=5))
    assert emb.dtype == np.float32 and emb.shape == (12, 8)  # the last block's 8 filters
    one, _ = predictor.predict_and_embed(images, views=1)
    np.testing.assert_array_equal(one, predictor.predict_proba(images, views=1))


def test_embeddings_are_the_last_layers_input_averaged_over_the_views(predictor, images):
    import keras

    model = predictor.model
    inner = keras.Model(model.inputs, model.layers[-1].input)
    x = predictor.preprocess(images)
    expected = np.mean([inner.predict_on_batch(dihedral(x, v)) for v in range(8)], axis=0)
    _, emb = predictor.predict_and_embed(images)
    np.testing.assert_allclose(emb, expected, rtol=1e-5, atol=1e-6)
    # a rotated galaxy has the same embedding: the 8 views are the same 8 views
    _, turned = predictor.predict_and_embed(np.rot90(images, k=1, axes=(1, 2)))
    np.testing.assert_allclose(turned, emb, rtol=1e-4, atol=1e-5)


def test_views_default_to_the_bundles_and_are_checked(predictor, images):
    assert predictor.tta and predictor.views == 8
    one = predictor.predict_proba(images, views=1, calibrated=False)
    x = predictor.preprocess(images)
    np.testing.assert_array_equal(one, predictor.model.predict_on_batch(x))
    assert not np.array_equal(one, predictor.predict_proba(images, calibrated=False))
    for bad in (0, 9):
        with pytest.raises(ValueError, match="views must be 1 to 8"):
            predictor.predict_proba(images, views=bad)
