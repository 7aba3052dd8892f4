"""Training batches as a ``tf.data`` pipeline whose augmentation runs on the device.

:class:`~galaxy10.modeling.batches.AugmentedBatches` augments in NumPy/OpenCV on the CPU, one batch at a
time: fine for 64 px images on 2 cores, where the model is the bottleneck, but a GPU training
the ``gpu`` profile's 128 px network consumes batches faster than Python can make them. Here
the CPU only reads the rows of a batch (from an array or a memory-mapped cache, never a float
copy of the data set) and TensorFlow ops do the rest, in the input pipeline, prefetched while
the previous batch trains:

* the 8 flip/90-degree-rotation views, drawn as a left-right flip, an up-down flip and a
  transpose, each with probability 1/2 (their combinations are exactly the 8 views);
* the zoom of :func:`~galaxy10.modeling.augment.jitter_zoom`: a log-uniform factor about the centre,
  borders filled by reflection (the image is reflect-padded, then ``crop_and_resize``);
* the brightness and per-channel colour gains of :func:`~galaxy10.modeling.augment.jitter_photometry`.

Every random draw is a stateless op seeded by ``(seed, epoch, batch)``, like the NumPy path,
so a run is reproducible. The source jitters (gamma, noise, blur, JPEG) have no device
version; :func:`supports` tells the caller to use the NumPy path for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEVICE_JITTERS = frozenset({"zoom", "brightness", "colour"})
"""Augmentation settings this pipeline implements (beyond flips and rotations)."""


def supports(jitter: dict[str, Any] | None) -> bool:
    """Whether every setting of ``jitter`` that is switched on has a device version here."""
    return all(key in DEVICE_JITTERS for key, value in (jitter or {}).items()
               if value not in (None, 0, 0.0))


def device_dataset(x: np.ndarray, y: np.ndarray, batch_size: int = 32, *, seed: int = 0,
                   augment: bool = True, shuffle: bool = True,
                   sample_weight: np.ndarray | None = None,
                   zoom: tuple[float, float] | None = None,
                   brightness: tuple[float, float] | None = None, colour: float = 0.0):
    """A ``tf.data.Dataset`` of augmented batches ``(images, labels[, weights])``.

    Parameters
    ----------
    x : array-like, shape (n, H, W, C), uint8
        Square images; an array, a read-only memmap or a :class:`~galaxy10.modeling.batches.RowView`
        (only one batch of rows is read at a time).
    y : ndarray, shape (n,) or (n, classes)
        Integer labels, or one-hot targets (label smoothing).
    batch_size : int
        Images per batch; the last batch may be smaller.
    seed : int
        Seeds the shuffle order (per epoch) and every augmentation draw (per epoch and batch).
    augment : bool
        False: the images as they are (validation-style), still shuffled if ``shuffle``.
    shuffle : bool
        Draw a new order every epoch.
    sample_weight : ndarray, shape (n,), optional
        Per-image loss weights (balanced class weights).
    zoom, brightness, colour
        As :class:`~galaxy10.modeling.batches.AugmentedBatches`; None or 0 leaves one out.

    Returns
    -------
    tf.data.Dataset
        Each pass over it is one epoch; images come out as float32 in [0, 255] (the model's
        ``Rescaling`` layer takes them as the NumPy path's), labels as int64 (targets as
        float32).
    """
    from galaxy10.core.quiet import load_tensorflow

    tf = load_tensorflow()

    y = np.asarray(y)
    y = y.astype(np.float32) if y.ndim > 1 else y.astype(np.int64)
    n = len(y)
    if n == 0:
        raise ValueError("no training images")
    shape = tuple(int(s) for s in np.asarray(x[:1]).shape[1:])
    if shape[0] != shape[1]:
        raise ValueError(f"device augmentation needs square images, got {shape[:2]}")
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float32)
    n_batches = -(-n // batch_size)
    epoch = {"count": -1}

    def batches():
        epoch["count"] += 1
        e = epoch["count"]
        order = (np.random.default_rng([seed, e]).permutation(n) if shuffle else np.arange(n))
        for i in range(n_batches):
            rows = np.sort(order[i * batch_size:(i + 1) * batch_size])
            out = (np.asarray(x[rows]), y[rows],
                   np.array([seed, e * 1_000_003 + i], dtype=np.int64))
            yield out if weights is None else (*out, weights[rows])

    signature = (tf.TensorSpec((None, *shape), tf.uint8),
                 tf.TensorSpec((None, *y.shape[1:]), tf.as_dtype(y.dtype)),
                 tf.TensorSpec((2,), tf.int64))
    if weights is not None:
        signature = (*signature, tf.TensorSpec((None,), tf.float32))
    data = tf.data.Dataset.from_generator(batches, output_signature=signature)

    def transform(images, labels, batch_seed, *rest):
        images = tf.cast(images, tf.float32)
        if augment:
            images = augment_batch(images, batch_seed, zoom=zoom, brightness=brightness,
                                   colour=colour)
        return (images, labels, *rest)

    data = data.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    data = data.apply(tf.data.experimental.assert_cardinality(n_batches))
    return data.prefetch(tf.data.AUTOTUNE)


def augment_batch(images, batch_seed, *, zoom: tuple[float, float] | None = None,
                  brightness: tuple[float, float] | None = None, colour: float = 0.0):
    """Random dihedral views, zoom and gains of a float32 batch (B, S, S, C), in TensorFlow ops.

    ``batch_seed`` is a shape-(2,) int tensor; the same seed gives the same batch.
    """
    from galaxy10.core.quiet import load_tensorflow

    tf = load_tensorflow()

    seeds = tf.random.experimental.stateless_split(tf.cast(batch_seed, tf.int64), num=5)
    batch = tf.shape(images)[0]
    channels = images.shape[-1]

    def coin(k):
        flip = tf.random.stateless_uniform([batch], seeds[k]) < 0.5
        return tf.reshape(flip, [-1, 1, 1, 1])

    images = tf.where(coin(0), tf.reverse(images, axis=[2]), images)   # left-right
    images = tf.where(coin(1), tf.reverse(images, axis=[1]), images)   # up-down
    images = tf.where(coin(2), tf.transpose(images, [0, 2, 1, 3]), images)  # transpose
    if zoom is not None:
        side = images.shape[1] or tf.shape(images)[1]
        low, high = float(np.log(zoom[0])), float(np.log(zoom[1]))
        factor = tf.exp(tf.random.stateless_uniform([batch], seeds[3], low, high))
        # reflect-pad by half the largest zoom-out, then crop a box of side 1/factor
        pad = int(np.ceil(max(0.0, 1.0 / zoom[0] - 1.0) / 2 * int(side))) + 1
        pad = min(pad, int(side) - 1)
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="REFLECT")
        total = float(int(side) + 2 * pad)
        half = (int(side) - 1.0) / (2.0 * factor) / (total - 1.0)  # as cv2's warp about the centre
        centre = (pad + (int(side) - 1) / 2.0) / (total - 1.0)
        boxes = tf.stack([centre - half, centre - half, centre + half, centre + half], axis=1)
        images = tf.image.crop_and_resize(padded, boxes, tf.range(batch),
                                          [int(side), int(side)], method="bilinear")
    if brightness is not None or colour:
        gain = tf.ones([batch, 1, 1, 1])
        if brightness is not None:
            low, high = float(np.log(brightness[0])), float(np.log(brightness[1]))
            gain = tf.exp(tf.random.stateless_uniform([batch, 1, 1, 1], seeds[4], low, high))
        if colour and channels and channels > 1:
            tint_seed = tf.random.experimental.stateless_split(seeds[4], num=1)[0]
            gain = gain * tf.random.stateless_uniform([batch, 1, 1, channels], tint_seed,
                                                      1.0 - colour, 1.0 + colour)
        images = tf.clip_by_value(images * gain, 0.0, 255.0)
    return images
