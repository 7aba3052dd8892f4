"""Where the model looked: Grad-CAM maps, averaged over the 8 dihedral views, and overlays.

Grad-CAM (Selvaraju et al. 2017) weights the feature maps of the last convolutional block by
the spatially averaged gradient of the class score and keeps the positive part. Here:

* the class score is the pre-softmax logit, recomputed from the softmax layer's own weights
  (the saved models end in ``Dense(10, softmax)``); the gradient of a softmax output would
  also depend on the other classes;
* the map is computed for each of the 8 flip/90-degree views the predictor averages (TTA),
  each view's map is turned back to the original orientation and the 8 are averaged. The
  result is equivariant: the map of a flipped galaxy is the flipped map, as it should be for
  objects with no up or down;
* maps have the model input's spatial shape; :func:`cutout_map` puts them back on the 256 px
  cut-out (the model sees only the central crop), and :func:`overlay` blends them over it.

TensorFlow is imported inside the functions (the module is inherently Keras, but
``import galaxy10.modeling.saliency`` stays cheap).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_POOLING = ("Pooling", "Dropout")  # matched anywhere in the layer's class name
_STOP = ("GlobalAveragePooling", "GlobalMaxPooling", "Flatten")


def feature_layer(model) -> Any:
    """The last convolutional block's output layer of ``model``.

    Walks the layers in order up to the first global pooling or ``Flatten`` and returns the
    last one with a 4-D (batch, H, W, C) output that is not a pooling or dropout layer: the
    block's rectified feature maps at the finest resolution the head still sees (for
    :func:`~galaxy10.modeling.models.build_galaxy_cnn`, the last ReLU; for the seed CNN, the last
    ``Conv2D``). Found by type and shape, so renamed layers do not break it.

    Raises
    ------
    ValueError
        If the model has no convolutional feature maps.
    """
    found = None
    for layer in model.layers:
        kind = type(layer).__name__
        if kind.startswith(_STOP):
            break
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None and len(shape) == 4 and not any(p in kind for p in _POOLING) \
                and kind not in ("InputLayer", "Rescaling"):
            found = layer
    if found is None:
        raise ValueError(f"{model.name}: no convolutional feature maps for Grad-CAM")
    return found


def _undo_view(maps: np.ndarray, view: int) -> np.ndarray:
    """Inverse of :func:`galaxy10.modeling.train.dihedral` for maps (n, H, W)."""
    if view >= 4:
        maps = maps[:, :, ::-1]
    return np.rot90(maps, k=-(view % 4), axes=(1, 2))


class GradCAM:
    """Grad-CAM for one model, with its gradient graph built once (fast repeated calls).

    Parameters
    ----------
    model : keras.Model
        A classifier ending in ``Dense(n_classes, activation="softmax")``.
    layer : str, optional
        Name of the feature layer; default :func:`feature_layer`.
    """

    def __init__(self, model, layer: str | None = None) -> None:
        from galaxy10.core.quiet import load_keras

        keras = load_keras()

        self.model = model
        feat = model.get_layer(layer) if layer else feature_layer(model)
        head = model.layers[-1]
        # the head's input (after pooling and dropout) and its kernel give the logits
        self._grad_model = keras.Model(model.inputs, [feat.output, head.input])
        self._kernel, self._bias = head.kernel, head.bias
        self.layer_name = feat.name
        self._fn = None

    def _compiled(self):
        if self._fn is None:
            from galaxy10.core.quiet import load_tensorflow

            tf = load_tensorflow()

            @tf.function(reduce_retracing=True)
            def fn(x, classes):
                with tf.GradientTape() as tape:
                    feats, hidden = self._grad_model(x, training=False)
                    logits = tf.matmul(hidden, self._kernel) + self._bias
                    score = tf.reduce_sum(tf.gather(logits, classes, axis=1, batch_dims=1))
                grads = tape.gradient(score, feats)
                weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
                cam = tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1))
                return cam, tf.nn.softmax(logits)

            self._fn = fn
        return self._fn

    def views(self, x: np.ndarray, target: int | None = None, views: int = 8
              ) -> tuple[np.ndarray, np.ndarray]:
        """Maps of one model input in each view, back in its orientation, input-sized.

        Parameters
        ----------
        x : ndarray, shape (H, W, C)
            One model input (e.g. :meth:`galaxy10.modeling.predict.Predictor.preprocess` output).
        target : int, optional
            Class to explain; default the class with the highest view-averaged probability.

        Returns
        -------
        maps : ndarray of float32, shape (views, H, W)
            Non-negative, not normalised.
        probs : ndarray of float32, shape (n_classes,)
            The model's probabilities averaged over the views (same as TTA prediction).
        """
        import cv2

        from galaxy10.modeling.augment import dihedral

        batch = np.concatenate([dihedral(x[None], v) for v in range(views)]).astype(np.float32)
        fn = self._compiled()
        if target is None:
            _, probs = fn(batch, np.zeros(views, dtype=np.int32))
            target = int(np.asarray(probs).mean(axis=0).argmax())
        cams, probs = fn(batch, np.full(views, target, dtype=np.int32))
        cams = np.asarray(cams, dtype=np.float32)
        height, width = x.shape[:2]
        up = np.stack([cv2.resize(c, (width, height), interpolation=cv2.INTER_LINEAR)
                       for c in cams])
        maps = np.stack([_undo_view(up[v:v + 1], v)[0] for v in range(views)])
        return np.ascontiguousarray(maps), np.asarray(probs).mean(axis=0).astype(np.float32)

    def __call__(self, x: np.ndarray, target: int | None = None, views: int = 8) -> np.ndarray:
        """The view-averaged Grad-CAM map of one model input, shape (H, W), scaled to [0, 1].

        ``views=1`` gives plain (not averaged) Grad-CAM. An all-zero map (no positive
        evidence anywhere) stays zero.
        """
        maps, _ = self.views(x, target, views)
        cam = maps.mean(axis=0)
        peak = float(cam.max())
        return (cam / peak if peak > 0 else cam).astype(np.float32)


def grad_cam(predictor, image: np.ndarray, target: int | None = None) -> np.ndarray:
    """Grad-CAM of a :class:`~galaxy10.modeling.predict.Predictor` for one 256 px cut-out.

    Averages over the 8 dihedral views when the predictor uses TTA, else uses the plain view.
    Returns the map in the model input's spatial shape, in [0, 1]; see :func:`cutout_map`.
    The gradient graph is cached on the predictor, so later calls are fast.
    """
    cam = getattr(predictor, "_grad_cam", None)
    if cam is None:
        cam = predictor._grad_cam = GradCAM(predictor.model)
    x = predictor.preprocess(image[None])[0]
    return cam(x, target, views=8 if predictor.tta else 1)


def cutout_map(cam: np.ndarray, crop: float = 1.0, size: int = 256) -> np.ndarray:
    """A model-input-sized map placed on the ``size`` px cut-out the model's input came from.

    The model sees the central ``crop`` fraction of the cut-out, so the map is resized to that
    square and the surrounding frame (not seen by the model) is zero.
    """
    import cv2

    inner = int(round(size * crop))
    start = (size - inner) // 2
    out = np.zeros((size, size), dtype=np.float32)
    out[start:start + inner, start:start + inner] = cv2.resize(
        np.asarray(cam, dtype=np.float32), (inner, inner), interpolation=cv2.INTER_LINEAR)
    return out


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a [0, 1] map over an RGB uint8 image with the 'jet' colour map, as uint8 RGB.

    The blend weight grows with the map (``alpha * cam``), so regions the model ignored keep
    the original pixels and the galaxy stays visible under the colour. The map is resized to
    the image if needed.
    """
    import cv2

    image = np.asarray(image, dtype=np.uint8)
    cam = np.clip(np.asarray(cam, dtype=np.float32), 0.0, 1.0)
    if cam.shape != image.shape[:2]:
        cam = cv2.resize(cam, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((cam * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    weight = (alpha * cam)[..., None]
    blended = image.astype(np.float32) * (1 - weight) + colour.astype(np.float32) * weight
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def predictor_overlay(predictor, image: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Grad-CAM of ``predictor`` for one 256 px cut-out, overlaid on it (uint8 RGB)."""
    crop = predictor.config.crop if predictor.kind == "galaxy" else 1.0
    cam = cutout_map(grad_cam(predictor, image), crop=crop, size=image.shape[0])
    return overlay(image, cam, alpha)
