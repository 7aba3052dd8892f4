"""Keras model builders: the original's networks, reproduced, and a stronger CNN.

* :func:`build_seed_ffn` - the original's feed-forward net, Dense(2053) x 2 on 4,096 scaled
  pixels.
* :func:`build_seed_cnn` - the original's CNN on 64x64x1 scaled pixels, with the random
  search's knobs (``filter01``, ``filter02``, ``activation01``).
* :func:`build_galaxy_cnn` - the modern model: colour, larger input, batch normalisation,
  global average pooling, dropout; uint8 input rescaled inside the model, so the saved
  ``.keras`` file carries its own scaling.

TensorFlow is imported only inside the functions (``import galaxy10`` stays cheap).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from galaxy10.core.classes import N_CLASSES
from galaxy10.core.errors import ModelError, ModelOutOfMemoryError

SEED_INPUT = (64, 64, 1)
SEED_DENSE = (1152 + N_CLASSES) // 2  # 581, the original's "halfway" width


def _keras():
    from galaxy10.core.quiet import load_keras

    return load_keras()


def build_seed_ffn(n_features: int = 4096, width: int = 2053, seed: int | None = None):
    """The original feed-forward network: Dense(2053, relu) x 2 -> Dense(10, softmax).

    Adam, categorical cross-entropy on integer labels (``sparse_``, the same loss).
    """
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((n_features,)),
        layers.Dense(width, activation="relu"),
        layers.Dense(width, activation="relu"),
        layers.Dense(N_CLASSES, activation="softmax"),
    ], name="seed_ffn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_seed_cnn(filter01: int = 32, filter02: int = 32, activation01: str = "relu",
                   seed: int | None = None):
    """The original CNN on (64, 64, 1) MinMax-scaled grey pixels.

    Conv2D(filter01, 3) -> MaxPool(2) -> Conv2D(filter02, 3) -> MaxPool(2) ->
    Conv2D(32, 3, activation01) -> MaxPool(2) -> Flatten (1,152) -> Dense(581) -> Dense(581)
    -> Dense(10, softmax); Adam. The defaults are the original's first model; the random
    search varied the three keyword arguments.
    """
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input(SEED_INPUT),
        layers.Conv2D(filter01, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(filter02, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation=activation01),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(SEED_DENSE, activation="relu"),
        layers.Dense(SEED_DENSE, activation="relu"),
        layers.Dense(N_CLASSES, activation="softmax"),
    ], name="seed_cnn")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_galaxy_cnn(input_shape: tuple[int, int, int] = (96, 96, 3),
                     filters: tuple[int, ...] = (32, 64, 128, 128), dropout: float = 0.3,
                     learning_rate: Any = 1e-3, seed: int | None = None):
    """A small modern CNN for galaxy cut-outs.

    Input is uint8 pixels; ``Rescaling(1/255)`` inside the model makes the saved model
    self-contained. Each block is Conv-BN-ReLU then max-pooling (one convolution per block
    keeps a training epoch over all 17,736 images within about a minute on 2 CPU cores);
    global average pooling makes the head independent of the input size and has few
    parameters, dropout regularises.
    Augmentation (flips, 90-degree rotations) is applied to the training batches by
    :mod:`galaxy10.modeling.train`, so inference is plain. ``learning_rate`` is a float or a Keras
    learning-rate schedule (:func:`galaxy10.modeling.train.train_galaxy_cnn` passes a cosine decay).
    """
    keras = _keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    layers = keras.layers
    inputs = keras.Input(input_shape, name="pixels")
    x = layers.Rescaling(1.0 / 255)(inputs)
    for i, width in enumerate(filters):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        # momentum 0.9 (Keras: 0.99): the moving statistics used at inference settle within
        # a few epochs, which matters for small data sets (800 training images: 25 steps/epoch)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    # float32 even under mixed precision (the gpu profile): a float16 softmax and loss underflow
    outputs = layers.Dense(N_CLASSES, activation="softmax", name="probabilities",
                           dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="galaxy_cnn")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def save_model(model, path: str | os.PathLike[str]) -> Path:
    """Save ``model`` in the ``.keras`` format, atomically."""
    from galaxy10.core.atomic import atomic_path

    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: models are saved as .keras files")
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    return path


def load_model(path: str | os.PathLike[str]):
    """Load a ``.keras`` model, or raise :class:`ModelError` naming the file and the fault.

    ``safe_mode`` stays on: a ``.keras`` file cannot run arbitrary code (no pickled lambdas).
    Running out of memory while loading is :class:`ModelOutOfMemoryError` (a ``ModelError``
    that says the bundle is not at fault), never "not a loadable Keras model".
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "model file not found; train one with notebook 04_cnn or "
                               "`python -m galaxy10 train`")
    keras = _keras()
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except MemoryError:  # the process's fault (the machine, `ulimit -v`), not the bundle's
        raise ModelOutOfMemoryError(path) from None
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile errors...
        if type(exc).__name__ == "ResourceExhaustedError":  # TensorFlow's out of memory
            raise ModelOutOfMemoryError(path) from None
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ModelError(path, f"not a loadable Keras model ({reason})") from None
