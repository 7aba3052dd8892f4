"""Batch-normalisation statistics re-estimated on a user's own, unlabelled images (AdaBN).

A network's batch-normalisation layers keep, for inference, the mean and variance of every
channel as they were in its training images. Cut-outs from another survey, another
pipeline's stretch or another noise level shift those statistics, and every later layer
reads features that are off-centre and off-scale. Re-estimating them on the new images,
with no label and no weight changed, is AdaBN (Li, Wang, Shi, Liu & Hou 2016, "Revisiting
batch normalization for practical domain adaptation"): the cheapest domain adaptation
there is, and one that needs nothing the user does not already have.

:func:`adapt_batch_norm` sets, layer by layer, each layer's statistics to the exact mean
and variance of its input over the images and their eight flips and quarter turns (the
network was trained on all eight), so each layer sees the statistics of the layers before
it already adapted. ``python -m galaxy10 adapt`` (:func:`galaxy10.pipeline.adapt.adapt_bundle`)
saves the result as a new bundle; ``bench active`` measures what it changes.
"""

from __future__ import annotations

import numpy as np

from galaxy10.core.errors import Galaxy10Error

VIEWS = 8
"""Views of every image whose statistics are pooled: the flips and quarter turns that the
network was trained on."""


def batch_norm_layers(model) -> list:
    """The model's batch-normalisation layers, in the order the data meets them."""
    from galaxy10.core.quiet import load_keras

    keras = load_keras()
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)]


def adapt_batch_norm(model, x: np.ndarray, *, views: int = VIEWS, batch_size: int = 128
                     ) -> int:
    """Set every batch-normalisation layer's moving mean and variance to its input's
    statistics over ``x``, in place.

    Parameters
    ----------
    model : keras.Model
        A functional model (the modern CNN); only its batch-normalisation statistics change.
    x : ndarray, shape (n, H, W, C)
        Model input (``Predictor.preprocess`` of the images), at least one image.
    views : int, default 8
        Dihedral views of each image pooled (1: the images as they are).
    batch_size : int

    Returns
    -------
    int
        The number of layers adapted.

    Raises
    ------
    Galaxy10Error
        When the model has no batch-normalisation layer (the seed CNN), or ``x`` is empty.
    """
    from galaxy10.core.quiet import load_keras
    from galaxy10.modeling.augment import dihedral

    layers = batch_norm_layers(model)
    if not layers:
        raise Galaxy10Error(f"model {model.name!r} has no batch-normalisation layer to adapt "
                            "(the seed CNN has none); adapt a modern-CNN bundle")
    if not len(x):
        raise Galaxy10Error("no image to adapt the batch-normalisation statistics to")
    keras = load_keras()
    for layer in layers:
        inputs_of = keras.Model(model.inputs, layer.input)
        total = squares = 0.0
        count = 0
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            for view in range(views):
                seen = np.asarray(inputs_of.predict_on_batch(
                    dihedral(batch, view) if views > 1 else batch), dtype=np.float64)
                seen = seen.reshape(-1, seen.shape[-1])
                total = total + seen.sum(axis=0)
                squares = squares + np.square(seen).sum(axis=0)
                count += len(seen)
        mean = total / count
        variance = np.maximum(squares / count - np.square(mean), 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))
    return len(layers)
