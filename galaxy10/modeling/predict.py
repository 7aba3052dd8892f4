"""Load a trained model once and classify 256 px cut-outs with its own preprocessing.

A model is stored as a bundle (:mod:`galaxy10.modeling.bundle`): ``NAME.keras`` and
``NAME.json`` with its preprocessing, test-time views and calibration, which
:class:`Predictor` applies. The widget, the ``predict`` command and the evaluation notebook all go through
:class:`Predictor`, so a picture is always preprocessed exactly as in training.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from galaxy10.core.errors import ModelError
from galaxy10.modeling.bundle import BundleParams, params_path, read_bundle
from galaxy10.modeling.preprocess import ImageConfig, minmax_from_dict, seed_features, transform


class Predictor:
    """A trained model and its preprocessing, loaded once.

    Parameters
    ----------
    model_path : path-like
        The ``.keras`` file; its parameters are read from the ``.json`` beside it.

    Raises
    ------
    ModelError
        If either file is missing or unusable; the message says which notebook or command
        trains a model.
    """

    def __init__(self, model_path: str | os.PathLike[str]) -> None:
        from galaxy10.core.files import unreadable_reason
        from galaxy10.modeling.models import load_model

        self.model_path = Path(model_path)
        why = unreadable_reason(self.model_path, what="model file")
        if why == "file not found":
            raise ModelError(self.model_path, "model file not found; train one with "
                                              "notebooks/04_cnn.ipynb or `python -m galaxy10 "
                                              "train`")
        if why:
            raise ModelError(self.model_path, why)
        #: the bundle's JSON parameters, typed and checked (:func:`read_bundle`)
        self.bundle: BundleParams = read_bundle(self.model_path)
        self._attach(load_model(self.model_path))

    @classmethod
    def in_memory(cls, model, *, kind: str, config: ImageConfig, scaler=None, tta: bool = False,
                  name: str = "model") -> Predictor:
        """A predictor for a model that was just trained, without saving a bundle first.

        Benchmarks score models as they come out of training; going through ``.keras`` files
        would only cost time and temporary files.
        """
        self = cls.__new__(cls)
        self.model_path = Path(f"{name}.keras")
        self.bundle = BundleParams(kind=kind, image=config, tta=bool(tta))
        self._attach(model, scaler=scaler)
        return self

    def _attach(self, model, scaler=None) -> None:
        """Use ``model``; check that its input and output match the parameters."""
        bundle = self.bundle
        self.kind: str = bundle.kind
        self.config: ImageConfig = bundle.image
        self.scaler = (scaler if scaler is not None or bundle.scaler is None
                       else minmax_from_dict(bundle.scaler))
        self.tta: bool = bundle.tta
        #: softmax temperature fitted on validation data (1.0: bundle not calibrated)
        self.temperature: float = bundle.calibration.temperature
        #: top-label map fitted on validation data after the temperature (None: none)
        self.confidence_map: dict[str, list[float]] | None = bundle.calibration.confidence_map
        #: calibrated top probability below which an answer is "not sure" (None: no threshold)
        self.threshold: float | None = bundle.calibration.threshold
        self.model = model
        expected = (64, 64, 1) if self.kind == "seed" else self.config.shape
        got = tuple(self.model.input_shape[1:])
        if got != expected:
            raise ModelError(self.model_path, f"model input {got} does not match its "
                                              f"parameters {expected}")
        width = self.model.output_shape[-1]
        if width != len(bundle.class_names):
            raise ModelError(params_path(self.model_path),
                             f"field 'class_names' lists {len(bundle.class_names)} classes, "
                             f"but the network answers {width}")

    @property
    def calibrated(self) -> bool:
        """Whether :meth:`predict_proba` changes the model's probabilities by default."""
        return self.temperature != 1.0 or bool(self.confidence_map)

    @property
    def name(self) -> str:
        """The bundle's name (file stem), e.g. ``seed_cnn``."""
        return self.model_path.stem

    def preprocess(self, images: np.ndarray) -> np.ndarray:
        """Model input for a batch of (k, H, W, 3) uint8 RGB cut-outs."""
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if self.kind == "seed":
            scaled = self.scaler.transform(seed_features(images).astype(np.float64))
            return scaled.astype(np.float32).reshape(-1, 64, 64, 1)
        return transform(images, self.config)

    @property
    def views(self) -> int:
        """Test-time views averaged by default: 8 for a bundle saved with ``tta``, else 1."""
        return 8 if self.tta else 1

    def predict_proba(self, images: np.ndarray, batch_size: int = 128, *,
                      calibrated: bool = True, preprocessed: bool = False,
                      views: int | None = None) -> np.ndarray:
        """Class probabilities, shape (k, 10), float32.

        Parameters
        ----------
        images : ndarray of uint8
            (k, H, W, 3) cut-outs, or model inputs with ``preprocessed=True``.
        calibrated : bool, default True
            Apply the bundle's temperature and top-label map (a no-op for bundles without
            them; :func:`galaxy10.modeling.calibrate.calibrated_probs`). With TTA the 8 views'
            probabilities are averaged first and the calibration applies to the average: the
            average is the model's best estimate, and the calibration was fitted on exactly
            that quantity, so it matches what is shown.
        preprocessed : bool, default False
            ``images`` are already the model's input (e.g. rows of the training cache).
        views : int, optional
            Flip/rotation views to average (1-8; default :attr:`views`). The calibration was
            fitted on the bundle's own number of views.
        """
        from galaxy10.modeling.augment import predict_tta

        x = np.asarray(images) if preprocessed else self.preprocess(images)
        views = self._check_views(views)
        if views > 1:
            probs = predict_tta(self.model, x, batch_size=batch_size, views=views)
        else:
            out = [self.model.predict_on_batch(x[i:i + batch_size])
                   for i in range(0, len(x), batch_size)]
            probs = np.concatenate(out).astype(np.float32)
        return self._calibrate(probs) if calibrated else probs

    def predict_and_embed(self, images: np.ndarray, batch_size: int = 128, *,
                          calibrated: bool = True, preprocessed: bool = False,
                          views: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities as :meth:`predict_proba` and the penultimate layer, from one pass.

        The embedding is the input of the network's last layer (for the modern CNN the
        globally pooled features), averaged over the same test-time views as the
        probabilities, so that it, like them, does not depend on the galaxy's orientation.
        Similar galaxies lie close together in it: catalogues keep it for similarity search
        and clustering.

        Returns
        -------
        probs : ndarray of float32, shape (k, 10)
        embeddings : ndarray of float32, shape (k, D)
            D is the width of the last layer's input (the last block's filters).
        """
        from galaxy10.modeling.augment import dihedral

        x = np.asarray(images) if preprocessed else self.preprocess(images)
        views = self._check_views(views)
        both = self._embedding_model()
        width, classes = (int(out.shape[-1]) for out in both.outputs)
        probs = np.zeros((len(x), classes), dtype=np.float64)
        emb = np.zeros((len(x), width), dtype=np.float64)
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            for view in range(views):
                feats, p = both.predict_on_batch(dihedral(batch, view) if views > 1 else batch)
                emb[start:start + len(batch)] += feats
                probs[start:start + len(batch)] += p
        probs = (probs / views).astype(np.float32)
        return (self._calibrate(probs) if calibrated else probs), (emb / views).astype(np.float32)

    @property
    def embedding_width(self) -> int:
        """Length of :meth:`predict_and_embed`'s vectors: the input of the last layer."""
        return int(self.model.layers[-1].input.shape[-1])

    def _embedding_model(self):
        """The network with a second output: the input of its last layer (built once)."""
        if getattr(self, "_both", None) is None:
            from galaxy10.core.quiet import load_keras

            keras = load_keras()

            last = self.model.layers[-1]
            self._both = keras.Model(self.model.inputs, [last.input, self.model.outputs[0]])
        return self._both

    def _check_views(self, views: int | None) -> int:
        views = self.views if views is None else int(views)
        if not 1 <= views <= 8:
            raise ValueError(f"views must be 1 to 8 (the flip/rotation views), got {views}")
        return views

    def _calibrate(self, probs: np.ndarray) -> np.ndarray:
        if not self.calibrated:
            return probs
        from galaxy10.modeling.calibrate import calibrated_probs

        return calibrated_probs(probs, self.temperature, self.confidence_map)

    def predict_file(self, source, name: str | None = None) -> np.ndarray:
        """Probabilities (10,) for one picture file or its bytes (any size, JPEG/PNG...)."""
        from galaxy10.datasets.images import load_cutout

        return self.predict_proba(load_cutout(source, name)[None])[0]
