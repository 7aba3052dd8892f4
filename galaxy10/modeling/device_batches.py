"""Training batches as a ``tf.data`` pipeline, augmented by the NumPy implementation.

:class:`~galaxy10.modeling.batches.AugmentedBatches` hands Keras one batch at a time from
Python. Here a generator reads the rows of a batch (from an array or a memory-mapped cache,
never a float copy of the data set) and a parallel ``map`` augments it with
:func:`~galaxy10.modeling.augment.augment_batch` inside ``tf.numpy_function``, prefetched while
the previous batch trains (OpenCV and NumPy release the GIL for most of the work). The gpu
profile trains through it.

There is one augmentation: each batch's draws come from
:func:`~galaxy10.modeling.augment.batch_rng` of ``(seed, epoch, batch)`` and the shuffle from
:func:`~galaxy10.modeling.batches.epoch_order`, exactly as in ``AugmentedBatches``, so the same
seed gives the same images (as float32) through either pipeline, with every jitter.
"""

from __future__ import annotations

import numpy as np


def device_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 32, *, seed: int = 0,
                   augment: bool = True, shuffle: bool = True,
                   sample_weight: np.ndarray | None = None,
                   zoom: tuple[float, float] | None = None,
                   brightness: tuple[float, float] | None = None, colour: float = 0.0,
                   gamma: tuple[float, float] | None = None,
                   noise: tuple[float, float] | None = None,
                   blur: tuple[float, float] | None = None,
                   jpeg: tuple[int, int] | None = None,
                   contrast: tuple[float, float] | None = None):
    """A ``tf.data.Dataset`` of augmented batches ``(images, labels[, weights])``.

    Parameters
    ----------
    x : array-like, shape (n, H, W, C), uint8
        Images; an array, a read-only memmap or a :class:`~galaxy10.modeling.batches.RowView`
        (only one batch of rows is read at a time).
    y : ndarray, shape (n,) or (n, classes)
        Integer labels, or one-hot targets (label smoothing).
    batch_size : int
        Images per batch; the last batch may be smaller.
    seed : int
        Seeds the shuffle order (per epoch) and every augmentation draw (per epoch and batch),
        as :class:`~galaxy10.modeling.batches.AugmentedBatches` does.
    augment : bool
        False: the images as they are (validation-style), still shuffled if ``shuffle``.
    shuffle : bool
        Draw a new order every epoch.
    sample_weight : ndarray, shape (n,), optional
        Per-image loss weights (balanced class weights).
    zoom, brightness, colour, gamma, noise, blur, jpeg, contrast
        As :func:`~galaxy10.modeling.augment.augment_batch`.

    Returns
    -------
    tf.data.Dataset
        Each pass over it is one epoch; images come out as float32 in [0, 255] (the model's
        ``Rescaling`` layer takes them as the NumPy path's), labels as int64 (targets as
        float32).
    """
    from galaxy10.core.quiet import load_tensorflow
    from galaxy10.modeling.augment import augment_batch, batch_rng
    from galaxy10.modeling.batches import epoch_order

    tf = load_tensorflow()

    y = np.asarray(y)
    y = y.astype(np.float32) if y.ndim > 1 else y.astype(np.int64)
    n = len(y)
    if n == 0:
        raise ValueError("no training images")
    shape = tuple(int(s) for s in np.asarray(x[:1]).shape[1:])
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
    n_batches = -(-n // batch_size)
    jitter = {"zoom": zoom, "brightness": brightness, "colour": colour, "gamma": gamma,
              "noise": noise, "blur": blur, "jpeg": jpeg, "contrast": contrast}
    epoch = {"count": -1}

    def batches():
        epoch["count"] += 1
        e = epoch["count"]
        order = epoch_order(n, seed, e, shuffle)
        for i in range(n_batches):
            rows = np.sort(order[i * batch_size:(i + 1) * batch_size])
            out = (np.asarray(x[rows]), y[rows], np.array([seed, e, i], dtype=np.int64))
            yield out if weights is None else (*out, weights[rows])

    signature = (tf.TensorSpec((None, *shape), tf.uint8),
                 tf.TensorSpec((None, *y.shape[1:]), tf.as_dtype(y.dtype)),
                 tf.TensorSpec((3,), tf.int64))
    if weights is not None:
        signature = (*signature, tf.TensorSpec((None,), tf.float32))
    data = tf.data.Dataset.from_generator(batches, output_signature=signature)

    def numpy_augment(images: np.ndarray, batch_seed: np.ndarray) -> np.ndarray:
        if augment:
            images = augment_batch(images, batch_rng(*batch_seed), **jitter)
        return np.asarray(images, dtype=np.float32)

    def transform(images, labels, batch_seed, *rest):
        out = tf.numpy_function(numpy_augment, [images, batch_seed], tf.float32,
                                stateful=False)
        out.set_shape(images.shape)
        return (out, labels, *rest)

    data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.apply(tf.data.experimental.assert_cardinality(n_batches))
    return data.prefetch(tf.data.AUTOTUNE)
