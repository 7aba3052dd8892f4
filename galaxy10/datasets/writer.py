"""Stream images into a new file with the Galaxy10 HDF5 schema, atomically.

Used by the synthetic generator and the image-folder import: both know N in advance, write
batches as they are made, and must never leave a half-written file at the final path.
:func:`h5_for_writing` is the one way galaxy10 opens an HDF5 file to write (repack uses it
too): a write that fails (the file size limit, a full disk) ends in an ordinary error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from galaxy10.core.atomic import atomic_path
from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.datasets.reader import METADATA_FIELDS, SOURCE_ATTR


@contextlib.contextmanager
def h5_for_writing(path: str | os.PathLike[str]) -> Iterator[h5py.File]:
    """``h5py.File(path, "w")``, closed cleanly even when HDF5 could not write.

    When a write fails (``ulimit -f``, a full disk), HDF5's close fails as well and leaves the
    file open inside the library, which then crashes the interpreter as it exits (a
    segmentation fault after the error line). On any failure the file's descriptor is pointed
    at ``/dev/null`` before closing, so HDF5's last flushes go nowhere and the close succeeds;
    the error is raised again, and the caller's :func:`~galaxy10.core.atomic.atomic_path`
    removes the temporary file. Use it only on such temporary files.
    """
    f = h5py.File(path, "w")
    try:
        yield f
        f.close()
    except BaseException as exc:
        _discard(f)
        mapped = _system_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


def _system_error(exc: BaseException) -> BaseException:
    """HDF5's failed write as the ``OSError`` it wraps (h5py raises some as RuntimeError,
    some with the system's error number only inside the message), else ``exc`` itself."""
    import re

    found = re.search(r"errno = (\d+)", str(exc)) if isinstance(exc, Exception) else None
    if found is None or (isinstance(exc, OSError) and exc.errno is not None):
        return exc
    number = int(found.group(1))
    return OSError(number, os.strerror(number))


def _discard(f: h5py.File) -> None:
    """Close ``f`` after a failure, its unwritten data dropped (see :func:`h5_for_writing`)."""
    if not f.id.valid:
        return
    with contextlib.suppress(Exception):
        fd = f.id.get_vfd_handle()
        if isinstance(fd, int):
            null = os.open(os.devnull, os.O_RDWR)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)
    with contextlib.suppress(Exception):
        f.close()


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
        self._h5 = self._stack.enter_context(h5_for_writing(tmp))
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
            try:
                self._h5.flush()
            except Exception as failed:  # e.g. the file size limit: close and clean up first
                if not self._stack.__exit__(type(failed), failed, failed.__traceback__):
                    raise
                return
        self._stack.__exit__(exc_type, exc, tb)
