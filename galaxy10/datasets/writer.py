"""Stream images into a new file with the Galaxy10 HDF5 schema, atomically.

Used by the synthetic generator and the image-folder import: both know N in advance, write
batches as they are made, and must never leave a half-written file at the final path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galaxy10.core.atomic import atomic_path
from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.datasets.reader import METADATA_FIELDS, SOURCE_ATTR


class Galaxy10Writer:
    """Write ``n`` images batch by batch to ``path``; the file appears only on success.

    Parameters
    ----------
    path : str or Path
        Final file. An existing file there is replaced only when writing succeeds.
    n : int
        Number of images the file will hold.
    image_shape : tuple of int, default (256, 256, 3)
    source : str
        Recorded as the file attribute ``galaxy10_source`` (``"synthetic"``, ``"imported"``).
    attrs : mapping, optional
        Further file attributes (seed, preset, origin folder, ...), for provenance.
    with_metadata : bool, default False
        Create the optional ``ra``, ``dec``, ``redshift``, ``pxscale`` datasets.
    columns : mapping of name to dtype, optional
        Further per-image datasets of shape (n,) (an import's ``split``), written through
        :meth:`write`'s ``metadata`` like the optional fields.

    Notes
    -----
    Images are stored in chunks of one image, uncompressed: the reader's batched slices and
    single-image reads both hit whole chunks, and reading stays I/O-bound rather than
    decompression-bound.
    """

    def __init__(self, path: str | os.PathLike[str], n: int,
                 image_shape: tuple[int, int, int] = (256, 256, 3), *, source: str,
                 attrs: Mapping[str, Any] | None = None, with_metadata: bool = False,
                 columns: Mapping[str, Any] | None = None) -> None:
        if n < 1:
            raise ValueError("a Galaxy10 file needs at least one image")
        self.path = Path(path)
        self.n = int(n)
        self.image_shape = tuple(image_shape)
        self._source = source
        self._attrs = dict(attrs or {})
        self._with_metadata = with_metadata
        self._columns = dict(columns or {})
        self._stack = ExitStack()
        self._written = np.zeros(self.n, dtype=bool)

    def __enter__(self) -> Galaxy10Writer:
        tmp = self._stack.enter_context(atomic_path(self.path, suffix=".h5"))
        self._h5 = self._stack.enter_context(h5py.File(tmp, "w"))
        self._h5.attrs[SOURCE_ATTR] = self._source
        self._h5.attrs["class_names"] = np.array(CLASS_NAMES, dtype=h5py.string_dtype())
        for key, value in self._attrs.items():
            self._h5.attrs[key] = value
        self.images = self._h5.create_dataset(
            "images", shape=(self.n, *self.image_shape), dtype=np.uint8,
            chunks=(1, *self.image_shape))
        self.ans = self._h5.create_dataset("ans", shape=(self.n,), dtype=np.uint8)
        self.meta = {}
        if self._with_metadata:
            for name in METADATA_FIELDS:
                self.meta[name] = self._h5.create_dataset(name, shape=(self.n,), dtype=np.float64)
        for name, dtype in self._columns.items():
            self.meta[name] = self._h5.create_dataset(name, shape=(self.n,), dtype=dtype)
        return self

    def write(self, start: int, images: np.ndarray, labels: np.ndarray,
              metadata: Mapping[str, np.ndarray] | None = None) -> None:
        """Write a batch of images and labels at rows ``start:start + len(images)``."""
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.dtype != np.uint8 or images.shape[1:] != self.image_shape:
            raise ValueError(f"expected uint8 images of shape (k, {self.image_shape}), "
                             f"got {images.dtype} {images.shape}")
        if labels.shape != (len(images),) or labels.min() < 0 or labels.max() >= N_CLASSES:
            raise ValueError("labels must be one integer in 0-9 per image")
        stop = start + len(images)
        self.images[start:stop] = images
        self.ans[start:stop] = labels
        for name, values in (metadata or {}).items():
            self.meta[name][start:stop] = values
        self._written[start:stop] = True

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None and not self._written.all():
            missing = int((~self._written).sum())
            exc = RuntimeError(f"{self.path}: {missing} of {self.n} rows were never written")
            self._stack.__exit__(type(exc), exc, None)
            raise exc
        if exc_type is None:
            self._h5.flush()
        self._stack.__exit__(exc_type, exc, tb)
