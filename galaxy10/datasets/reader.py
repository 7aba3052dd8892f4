"""Lazy, validating reader for files with the Galaxy10 HDF5 schema.

The real ``Galaxy10_DECals.h5`` holds 3.5 GB of pixels; the original analysis read all of
them into memory to keep a fifth. :class:`Galaxy10File` instead reads only the labels when it
opens a file and fetches images by index, in sorted contiguous runs that match the HDF5
layout, so memory stays bounded by the batch size.

Compressed files whose chunks span many images (h5py's automatic chunks for the full file
are (555, 16, 16, 1): one image touches 768 chunks, each shared with 554 other images) are
read chunk-aware: a bulk read visits the rows it needs one chunk-aligned slab of rows at a
time, in file order, so every chunk is decompressed once per read instead of once per image,
and the images dataset is opened with a chunk cache large enough for one slab, so
consecutive batches of a pass in file order reuse the slab they share.

Schema
------
``images``
    uint8, shape (N, H, W, 3), RGB.
``ans``
    unsigned or signed integers in 0-9, shape (N,).
``ra``, ``dec``, ``redshift``, ``pxscale`` (optional)
    floats, shape (N,).
``split`` (optional)
    uint8 codes, shape (N,), into the JSON list of names in the file attribute
    ``split_names``: the train/test split of a copy that came with one (an import of the
    Hugging Face Parquet files).
"""

from __future__ import annotations

import errno
import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import h5py
import numpy as np

from galaxy10.core.classes import N_CLASSES
from galaxy10.core.errors import GalaxyDataError
from galaxy10.core.files import format_bytes, unreadable_reason
from galaxy10.datasets.release import is_verified_release

logger = logging.getLogger(__name__)

METADATA_FIELDS: tuple[str, ...] = ("ra", "dec", "redshift", "pxscale")
SPLIT_FIELD, SPLIT_NAMES_ATTR = "split", "split_names"
"""The optional per-image split codes and the file attribute naming them."""
SOURCE_ATTR = "galaxy10_source"
"""File attribute that galaxy10 writes to say where the pixels came from."""
REAL = "real"
"""``source`` of the official release, verified by its checksum (:mod:`galaxy10.datasets.release`)."""
UNVERIFIED = "unverified"
"""``source`` of an HDF5 file in the Galaxy10 layout that galaxy10 neither wrote nor verified."""
MAX_CHUNK_CACHE_BYTES = 256 * 2**20
"""Upper bound of the images dataset's chunk cache (HDF5's default is 1 MiB)."""


def _next_prime(n: int) -> int:
    """Smallest prime >= n: HDF5 recommends a prime number of chunk-cache hash slots."""
    n = max(int(n), 2)
    while any(n % d == 0 for d in range(2, math.isqrt(n) + 1)):
        n += 1
    return n


def _slab_cache(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int
                ) -> tuple[int, int, int]:
    """``(nbytes, nslots, chunks_per_slab)`` of a chunk cache that holds one slab of rows.

    A slab is ``chunks[0]`` rows: the rows that share the same chunks. Its chunks, each
    ``prod(chunks) * itemsize`` bytes uncompressed, number ``prod(ceil(shape[k] / chunks[k]))``
    over the image axes. The cache gets 100 hash slots per chunk (HDF5's advice) and a margin.
    """
    per_slab = math.prod(math.ceil(s / c) for s, c in zip(shape[1:], chunks[1:], strict=True))
    nbytes = per_slab * math.prod(chunks) * itemsize
    nbytes = max(2**20, int(nbytes * 1.1))
    if nbytes >= MAX_CHUNK_CACHE_BYTES:
        logger.info("one slab of chunks is %.0f MB; the chunk cache is capped at %.0f MB, so "
                    "bulk reads take each slab's span of rows in one read",
                       nbytes / 1e6, MAX_CHUNK_CACHE_BYTES / 1e6)
        nbytes = MAX_CHUNK_CACHE_BYTES
    return nbytes, _next_prime(100 * per_slab), per_slab


def _check_path(path: Path) -> None:
    """Raise :class:`GalaxyDataError` for a path that cannot be an HDF5 file to read."""
    why = unreadable_reason(path, what="HDF5 file")
    if why == "is empty (0 bytes)":
        why = "file is empty (0 bytes); the download or copy failed"
    if why:
        raise GalaxyDataError(path, why)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except PermissionError as exc:
        raise GalaxyDataError(path, "cannot be read (permission denied)") from exc
    except OSError as exc:
        raise GalaxyDataError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not h5py.is_hdf5(path):
        hint = ""
        if head.lstrip().lower().startswith((b"<!doctype", b"<html")):
            hint = " (it looks like an HTML page, e.g. a saved download error)"
        elif head.startswith(b"\xff\xd8\xff"):
            hint = " (it looks like a JPEG image)"
        elif head.startswith(b"\x89PNG"):
            hint = " (it looks like a PNG image)"
        raise GalaxyDataError(path, f"not an HDF5 file{hint}; first bytes {head[:8]!r}")


MAX_BLANK_RATIO = 200
"""Declared bytes per stored byte above which a dataset of at least
:data:`MIN_BLANK_CHECK_BYTES` is refused: real cut-outs compress a few times, not hundreds."""
MIN_BLANK_CHECK_BYTES = 64 * 2**20
"""Datasets declaring less than this are not held to :data:`MAX_BLANK_RATIO` (reading them
is cheap whatever they hold); unwritten data are refused at any size."""


def _check_stored(path: Path, dataset: h5py.Dataset) -> None:
    """Refuse a dataset whose declared size is far above what the file stores.

    HDF5 lets a file declare a dataset of any shape and store none of it: the rows never
    written read as zeros. A 1.6 kB file can declare 100,000 full-size images (19.7 GB of
    blank pixels), which every pass over the file (``repack``, ``audit``, training) would
    then read. Refused here, before any read: datasets with no stored bytes at all, chunked
    datasets with chunks never written, and large datasets that store less than one byte in
    :data:`MAX_BLANK_RATIO` (compressed blank images).
    """
    declared = math.prod(dataset.shape) * dataset.dtype.itemsize
    if declared == 0:
        return
    try:
        stored = dataset.id.get_storage_size()
        chunks = dataset.chunks
        total = (math.prod(math.ceil(s / c) for s, c in zip(dataset.shape, chunks, strict=True))
                 if chunks else 1)
        written = dataset.id.get_num_chunks() if chunks else (1 if stored else 0)
    except (AttributeError, OSError, RuntimeError, ValueError):  # an old HDF5: no check
        return
    name = dataset.name.lstrip("/")
    what = (f"'{name}' declares {dataset.shape[0]:,} images of "
            f"{' x '.join(str(s) for s in dataset.shape[1:])} ({format_bytes(declared)})"
            if name == "images" else f"'{name}' declares {dataset.shape[0]:,} rows "
                                     f"({format_bytes(declared)})")
    if written < total:
        never = (f"{total - written:,} of its {total:,} chunks were never written" if chunks
                 else "it was never written")
        raise GalaxyDataError(path, f"{what} but stores {format_bytes(stored)}: {never} and "
                                    "would read as blank; refusing it before any pass over it")
    if declared >= MIN_BLANK_CHECK_BYTES and stored * MAX_BLANK_RATIO < declared:
        raise GalaxyDataError(path, f"{what} but stores only {format_bytes(stored)} "
                                    f"(compressed {declared / max(stored, 1):,.0f} to 1: "
                                    "blank images); refusing it before any pass over it")


def _open_error(path: Path, exc: OSError) -> GalaxyDataError:
    """Translate h5py's OSError on open into a one-line message."""
    text = str(exc)
    match = re.search(r"eof = (\d+).*stored_eof = (\d+)", text)
    if "truncated file" in text and match:
        have, want = (int(v) for v in match.groups())
        return GalaxyDataError(
            path, f"HDF5 file is truncated ({have:,} of {want:,} bytes): "
                  "the download or copy did not finish")
    if getattr(exc, "errno", None) == errno.EACCES:
        return GalaxyDataError(path, "cannot be read (permission denied)")
    reason = text.split("(", 1)[-1].rstrip(")") if "(" in text else text
    return GalaxyDataError(path, f"HDF5 file cannot be opened, it may be corrupt ({reason})")


def read_in_batches(source, rows: Sequence[int] | np.ndarray | None = None,
                    batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(rows, images)`` from ``source.read`` ``batch_size`` rows at a time.

    The one batching loop of every image reader (:class:`Galaxy10File` and the labelled
    sources of :mod:`galaxy10.datasets.labelled`): ``rows`` default to every row, in order,
    and memory holds one batch of images at a time.
    """
    idx = np.arange(len(source)) if rows is None else np.asarray(rows, dtype=np.int64)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    for start in range(0, idx.size, batch_size):
        chunk = idx[start:start + batch_size]
        yield chunk, source.read(chunk)


class Galaxy10File:
    """A Galaxy10 HDF5 file, opened read-only and validated; images are read on demand.

    Parameters
    ----------
    path : str or Path
        File with the Galaxy10 schema (the real download, a synthetic file or an import).

    Attributes
    ----------
    path : Path
        The file.
    labels : ndarray of uint8, shape (N,)
        The ``ans`` labels, the only array read on open.
    image_shape : tuple of int
        ``(H, W, 3)`` of one image.
    source : str
        ``"synthetic"`` or ``"imported"`` (galaxy10's own ``galaxy10_source`` attribute);
        for other files ``"real"`` when a verification record says the file is the official
        release (:func:`galaxy10.datasets.release.is_verified_release`), else
        ``"unverified"``: an HDF5 file in the Galaxy10 layout, whatever its name.

    Raises
    ------
    GalaxyDataError
        If the file is missing, unreadable, not HDF5, truncated, or breaks the schema; the
        message names the file and the fault. The file is never modified.

    Examples
    --------
    >>> with Galaxy10File("data/raw/Galaxy10_DECals.h5") as f:   # doctest: +SKIP
    ...     first = f.read([0, 5, 7])                              # (3, 256, 256, 3) uint8
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _check_path(self.path)
        try:
            self._h5 = h5py.File(self.path, "r")
        except OSError as exc:
            raise _open_error(self.path, exc) from None
        try:
            self._validate()
        except GalaxyDataError:
            self._h5.close()
            raise
        except (OSError, KeyError, ValueError, RuntimeError) as exc:
            self._h5.close()
            raise GalaxyDataError(self.path, f"HDF5 file is corrupt ({exc})") from None

    def _dataset(self, name: str, required: bool = True) -> h5py.Dataset | None:
        obj = self._h5.get(name)
        if obj is None:
            if required:
                found = ", ".join(sorted(self._h5.keys())) or "nothing"
                raise GalaxyDataError(self.path, f"has no '{name}' dataset (found: {found})")
            return None
        if not isinstance(obj, h5py.Dataset):
            raise GalaxyDataError(self.path, f"'{name}' is a group, not a dataset")
        return obj

    def _validate(self) -> None:
        images = self._dataset("images")
        ans = self._dataset("ans")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise GalaxyDataError(
                self.path, f"'images' has shape {images.shape}, expected (N, height, width, 3)")
        if images.dtype != np.uint8:
            raise GalaxyDataError(self.path, f"'images' has dtype {images.dtype}, expected uint8")
        if ans.ndim != 1:
            raise GalaxyDataError(self.path, f"'ans' has shape {ans.shape}, expected (N,)")
        if ans.dtype.kind not in "ui":
            raise GalaxyDataError(self.path, f"'ans' has dtype {ans.dtype}, expected uint8")
        if len(ans) != len(images):
            raise GalaxyDataError(
                self.path, f"'images' has {len(images):,} rows but 'ans' has {len(ans):,}")
        if len(ans) == 0:
            raise GalaxyDataError(self.path, "holds no images (N = 0)")
        for dataset in (images, ans):  # before any read: the labels are read next
            _check_stored(self.path, dataset)
        labels = ans[()]
        bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
        if bad.size:
            raise GalaxyDataError(
                self.path, f"'ans' has {bad.size:,} labels outside 0-{N_CLASSES - 1} "
                           f"(first: {labels[bad[0]]} at row {bad[0]})")
        for name in METADATA_FIELDS:
            meta = self._dataset(name, required=False)
            if meta is not None and meta.shape != (len(ans),):
                raise GalaxyDataError(
                    self.path, f"'{name}' has shape {meta.shape}, expected ({len(ans)},)")
        self._images = self._with_chunk_cache(images)
        self.labels: np.ndarray = labels.astype(np.uint8)
        self.image_shape: tuple[int, int, int] = tuple(images.shape[1:])  # type: ignore[assignment]
        source = self._h5.attrs.get(SOURCE_ATTR)
        if source is None:  # not galaxy10's: real only if its checksum was verified
            source = REAL if is_verified_release(self.path) else UNVERIFIED
        self.source: str = source.decode() if isinstance(source, bytes) else str(source)

    def _with_chunk_cache(self, images: h5py.Dataset) -> h5py.Dataset:
        """Return ``images`` read through a chunk cache sized to one slab, where chunks span rows.

        Contiguous files and files chunked one image per chunk keep HDF5's defaults: every
        read there touches only the chunks of the images asked for. Otherwise the file is
        reopened with the cache settings (HDF5 ignores a dataset-level cache request for a
        dataset that is already open, and the chunk shape is known only once it is).
        """
        chunks = images.chunks
        self._slab_rows = 1 if chunks is None else int(chunks[0])
        self._slab_fits_cache = True
        if self._slab_rows <= 1:
            return images
        nbytes, nslots, _ = _slab_cache(images.shape, chunks, images.dtype.itemsize)
        self._slab_fits_cache = nbytes < MAX_CHUNK_CACHE_BYTES
        name = images.name
        del images
        self._h5.close()
        self._h5 = h5py.File(self.path, "r", rdcc_nbytes=nbytes, rdcc_nslots=nslots)
        return self._h5[name]

    def layout(self) -> dict[str, object]:
        """How the images are stored, and whether random single-image reads are fast.

        Returns
        -------
        dict
            ``storage`` ("contiguous" or "chunked"), ``chunks`` (tuple or None),
            ``compression`` (e.g. "gzip", or None), ``compression_opts``, ``shuffle``,
            ``rows_per_chunk``, ``chunks_per_image``, ``chunk_cache_bytes`` (the cache this
            reader opened the images with; None for HDF5's default) and
            ``fast_random_reads``: True when one image can be read without decompressing
            other images' pixels (contiguous, or one image per chunk). When False,
            ``python -m galaxy10 repack`` writes a copy with one image per chunk.
        """
        ds = self._images
        chunks = ds.chunks
        rows = 1 if chunks is None else int(chunks[0])
        per_image = 1 if chunks is None else math.prod(
            math.ceil(s / c) for s, c in zip(ds.shape[1:], chunks[1:], strict=True))
        cache = self._h5.id.get_access_plist().get_cache()[2] if rows > 1 else None
        return {"storage": "contiguous" if chunks is None else "chunked",
                "chunks": None if chunks is None else tuple(int(c) for c in chunks),
                "compression": ds.compression, "compression_opts": ds.compression_opts,
                "shuffle": bool(ds.shuffle), "rows_per_chunk": rows,
                "chunks_per_image": per_image, "chunk_cache_bytes": cache,
                "fast_random_reads": rows == 1}

    # -- context manager and basics -------------------------------------------------------
    def __enter__(self) -> Galaxy10File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying HDF5 file (idempotent)."""
        if getattr(self, "_h5", None) is not None and self._h5.id.valid:
            self._h5.close()

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return (f"Galaxy10File({str(self.path)!r}, n={len(self)}, "
                f"image_shape={self.image_shape}, source={self.source!r})")

    @property
    def attrs(self) -> dict[str, object]:
        """File-level attributes (for synthetic files: seed, preset, generator version)."""
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in self._h5.attrs.items()}

    def metadata(self, name: str) -> np.ndarray | None:
        """Return the optional per-image array ``name`` (``ra``, ``dec``, ...) or None."""
        if name not in METADATA_FIELDS:
            raise ValueError(f"unknown metadata field {name!r}; choose from {METADATA_FIELDS}")
        meta = self._h5.get(name)
        return None if meta is None else self._guard(lambda: meta[()])

    def splits(self) -> np.ndarray | None:
        """The split name (``"train"``, ``"test"``...) of every row, or None if none recorded.

        Raises
        ------
        GalaxyDataError
            If the ``split`` dataset does not match the rows or its names.
        """
        codes = self._h5.get(SPLIT_FIELD)
        if codes is None:
            return None
        import json

        try:
            names = json.loads(self.attrs.get(SPLIT_NAMES_ATTR, "[]"))
            codes = self._guard(lambda: codes[()])
            if codes.shape != (len(self),) or (codes.size and codes.max() >= len(names)):
                raise ValueError(f"{codes.shape[0]} codes for {len(self)} rows and "
                                 f"{len(names)} names")
        except (ValueError, TypeError) as exc:
            raise GalaxyDataError(self.path, f"'{SPLIT_FIELD}' is malformed ({exc})") from None
        return np.asarray(names, dtype=object)[codes.astype(np.int64)]

    def class_counts(self) -> np.ndarray:
        """Images per class, shape (10,), int64."""
        return np.bincount(self.labels, minlength=N_CLASSES)

    # -- image access -------------------------------------------------------------------
    def _guard(self, read):
        try:
            return read()
        except (OSError, RuntimeError) as exc:
            raise GalaxyDataError(self.path, f"cannot read image data, the file may be "
                                             f"corrupt or truncated ({exc})") from None

    def image(self, index: int) -> np.ndarray:
        """Return image ``index`` as uint8 of shape (H, W, 3)."""
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"image index {index} out of range for {len(self)} images")
        return self._guard(lambda: self._images[index])

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the images at ``indices``, in the order given.

        Reads happen in ascending index order, one slice per contiguous run, which is how
        HDF5 lays rows out on disk; the result is then put back in the requested order. When
        a chunk holds several rows, the rows are read one chunk-aligned slab at a time (one
        HDF5 read per slab), so each chunk is decompressed once however many requested
        rows share it.

        Parameters
        ----------
        indices : sequence of int
            Row numbers, any order, repeats allowed.

        Returns
        -------
        ndarray of uint8, shape (len(indices), H, W, 3)
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"image indices must be in 0-{len(self) - 1}")
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        out = np.empty((idx.size, *self.image_shape), dtype=np.uint8)
        unique = np.unique(sorted_idx)
        block = (self._read_runs(unique) if self._slab_rows <= 1
                 else self._read_slabs(unique))
        # map every requested index to its row in `block`
        rank = np.searchsorted(unique, sorted_idx)
        out[order] = block[rank]
        return out

    def read_range(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Return rows ``start:stop`` in one HDF5 read, into ``out`` when given.

        The rows a catalogue classifies come in file order: one read of the range, written
        straight into a buffer the caller reuses, spares :meth:`read`'s sorting, its copy
        into the requested order and a new allocation per batch. Each chunk the range
        touches is decompressed once, whatever the layout.

        Parameters
        ----------
        start, stop : int
            ``0 <= start <= stop <= len(self)``.
        out : ndarray of uint8, shape (stop - start, H, W, 3), C-contiguous, optional

        Returns
        -------
        ndarray of uint8, shape (stop - start, H, W, 3)
            ``out`` itself when given.
        """
        start, stop = int(start), int(stop)
        if not 0 <= start <= stop <= len(self):
            raise IndexError(f"rows {start}:{stop} out of range for {len(self)} images")
        shape = (stop - start, *self.image_shape)
        if out is None:
            out = np.empty(shape, dtype=np.uint8)
        elif out.shape != shape or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous uint8 array of shape {shape}, "
                             f"got {out.dtype} {out.shape}")
        if stop > start:
            self._guard(lambda: self._images.read_direct(out, np.s_[start:stop]))
        return out

    def _read_runs(self, unique: np.ndarray) -> np.ndarray:
        """Rows ``unique`` (sorted, distinct), one slice per contiguous run."""
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        block = np.empty((unique.size, *self.image_shape), dtype=np.uint8)
        pos = 0
        for run in np.split(unique, breaks) if unique.size else []:
            start, stop = int(run[0]), int(run[-1]) + 1
            self._guard(lambda s=start, e=stop, p=pos: self._images.read_direct(
                block, np.s_[s:e], np.s_[p:p + e - s]))
            pos += stop - start
        return block

    def _read_slabs(self, unique: np.ndarray) -> np.ndarray:
        """Rows ``unique`` (sorted, distinct) of a file whose chunks hold several rows.

        Rows are visited one slab (``rows_per_chunk`` rows sharing the same chunks) at a
        time, in file order. When the chunk cache holds a slab, each contiguous run is read
        directly and the slab's chunks are decompressed once, on the first run, then served
        from the cache. Otherwise the slab's span of rows is read in one piece and the rows
        picked from it. (h5py's fancy indexing with a list of rows would also decompress
        each chunk once, but costs 10x more in selection overhead.)
        """
        if self._slab_fits_cache:
            return self._read_runs(unique)
        block = np.empty((unique.size, *self.image_shape), dtype=np.uint8)
        slab = unique // self._slab_rows
        breaks = np.flatnonzero(np.diff(slab)) + 1
        bounds = zip(np.r_[0, breaks], np.r_[breaks, unique.size], strict=True)
        for lo, hi in bounds if unique.size else []:
            first, last = int(unique[lo]), int(unique[hi - 1])
            span = self._guard(lambda a=first, b=last: self._images[a:b + 1])
            block[lo:hi] = span[unique[lo:hi] - first]
        return block

    def iter_batches(self, indices: Sequence[int] | np.ndarray | None = None,
                     batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(indices, images)`` batches over ``indices`` (default: every image).

        Memory holds one batch at a time: ``batch_size * H * W * 3`` bytes (50 MB for 256
        images of 256 px).
        """
        return read_in_batches(self, indices, batch_size)


    def iter_file_order(self, indices: Sequence[int] | np.ndarray, batch_size: int = 256
                        ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(positions, images)`` with ``images = self.read(indices[positions])``.

        Batches follow the file's row order (the fastest way through HDF5) whatever the order
        of ``indices``; ``positions`` says where each image belongs in the caller's output.
        """
        idx = np.asarray(indices, dtype=np.int64)
        order = np.argsort(idx, kind="stable")
        for start in range(0, idx.size, batch_size):
            pos = order[start:start + batch_size]
            yield pos, self.read(idx[pos])


def describe_layout(layout: dict) -> str:
    """One line on how a file stores its images, from :meth:`Galaxy10File.layout`.

    Says whether random single-image reads are fast and, if not, how to fix it.
    """
    if layout["chunks"] is None:
        where = "contiguous, uncompressed"
    else:
        codec = layout["compression"] or "uncompressed"
        if layout["compression"] == "gzip":
            codec += f" level {layout['compression_opts']}"
        if layout["shuffle"]:
            codec += " + shuffle"
        where = f"chunks {layout['chunks']}, {codec}"
    if layout["fast_random_reads"]:
        verdict = "random single-image reads are fast"
    else:
        verdict = (f"random single-image reads are slow (one image decompresses "
                   f"{layout['chunks_per_image']} chunks shared by {layout['rows_per_chunk']} "
                   "rows); `python -m galaxy10 repack` writes a fast copy")
    return f"{where}; {verdict}"


def describe_file(path: str | os.PathLike[str]) -> str:
    """A per-class summary of a Galaxy10 file: data source, shapes and counts (``info``)."""
    from galaxy10.core.classes import CLASS_NAMES, source_label

    with Galaxy10File(path) as f:
        counts = f.class_counts()
        lines = [f"{f.path}", f"  data source : {source_label(f.source)}",
                 f"  images      : {len(f):,} x {f.image_shape} uint8"]
        attrs = f.attrs
        if f.source == "synthetic":
            lines.append(f"  generator   : version {attrs.get('generator_version')}, "
                         f"preset {attrs.get('preset')}, seed {attrs.get('seed')}")
        meta = {name: f.metadata(name) for name in METADATA_FIELDS}
        extra = [name for name, values in meta.items() if values is not None]
        lines.append(f"  metadata    : {', '.join(extra) if extra else 'none'}")
        if meta["ra"] is not None and meta["dec"] is not None:
            from galaxy10.datasets.sky import footprint, format_footprint

            lines.append("  sky         : " + format_footprint(footprint(meta["ra"],
                                                                       meta["dec"])))
        splits = f.splits()
        if splits is not None:
            names, sizes = np.unique(splits, return_counts=True)
            lines.append("  split       : " + ", ".join(f"{n} {k:,}" for n, k in
                                                        zip(names, sizes, strict=True)))
        lines.append(f"  layout      : {describe_layout(f.layout())}")
        lines.append("  class                              count  share")
        for label in range(N_CLASSES):
            lines.append(f"  {label} {CLASS_NAMES[label]:<31} {counts[label]:>6,}  "
                         f"{counts[label] / len(f):6.1%}")
    return "\n".join(lines)
