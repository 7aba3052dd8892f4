"""A bundle's embedding of a set of labelled galaxies, computed once and stored beside them.

The embedding of an image is the network's penultimate-layer vector, averaged over the
bundle's test-time views (:meth:`galaxy10.modeling.predict.Predictor.predict_and_embed`, the
same vectors the ``classify --embeddings`` catalogue stores), so it hardly depends on the
galaxy's orientation. Similar galaxies lie close together in it, which similarity search
(:mod:`galaxy10.evaluation.similarity`) and the button's "More like this" use.

:func:`embed_file` stores them next to the data in ``<data>.embeddings-<bundle12>.npz``
(``<bundle12>``: the first 12 hex digits of the bundle's SHA-256,
:func:`galaxy10.modeling.digest.bundle_hash`), written atomically, with inside: the full
bundle hash, the number of views, the rows embedded and the data's identity (its size and
modification time, the digest of its labels and row names). A stored file is used only when
all of these match; a stale one (another bundle, changed data, other rows or views) is
recomputed, or refused with ``recompute=False``. When the data's folder cannot be written,
or is marked read-only (a shared copy), the file goes to the data home's ``embeddings/``
folder instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.identity import stamps_total
from galaxy10.modeling.digest import bundle_hash

logger = logging.getLogger(__name__)

FORMAT = 1
"""Version of the stored layout; files of another version are stale."""
BATCH_SIZE = 128
"""Images read and embedded at a time (memory holds one batch and its views)."""


class StaleEmbeddingsError(Galaxy10Error):
    """Stored embeddings that do not describe the data or bundle asked about."""

    def __init__(self, path: str | os.PathLike[str], fault: str) -> None:
        self.path = Path(path)
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


class DamagedEmbeddingsError(StaleEmbeddingsError):
    """A stored embeddings file that cannot be read at all (cut short, overwritten, garbled).

    Unlike a stale file (made for something else, a normal event), it means a write or a
    copy went wrong: it is recomputed with a warning, and refused with ``recompute=False``
    with a message that says to delete it.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.reason = reason
        super().__init__(path, f"damaged embeddings file ({reason}): delete it to have it "
                               f"recomputed")


@dataclass
class Embeddings:
    """Embedding vectors of some rows of a labelled source, and what they were made from.

    Attributes
    ----------
    vectors : ndarray of float32, shape (n, D)
        One vector per row of ``rows``, in that order.
    probs : ndarray of float32, shape (n, 10)
        The bundle's calibrated class probabilities for the same images.
    labels : ndarray of uint8, shape (n,)
        The true classes of those rows.
    rows : ndarray of int64, shape (n,)
        Rows of the source that were embedded.
    bundle_hash : str
        SHA-256 of the bundle that made them.
    views : int
        Test-time views averaged per image.
    path : Path or None
        The stored file (None for embeddings never stored).
    reused : bool
        Whether they were read from ``path`` rather than computed now.
    """

    vectors: np.ndarray
    probs: np.ndarray
    labels: np.ndarray
    rows: np.ndarray
    bundle_hash: str
    views: int
    path: Path | None = None
    reused: bool = False

    def __len__(self) -> int:
        return len(self.rows)


def _digest(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes() if isinstance(a, np.ndarray)
                 else str(a).encode())
        h.update(b"\0")
    return h.hexdigest()


def data_identity(source) -> dict[str, Any]:
    """What must not change for stored embeddings of ``source`` to stay valid.

    ``source`` is an open :class:`~galaxy10.datasets.labelled.LabelledImages`. For a file
    (HDF5, Parquet, CSV manifest): its resolved path, size and modification time; for a class
    folder tree: the newest modification time and total size of its image files. Always: the
    digests of the labels and of the row names, so rows that moved or were relabelled are
    seen even when times were kept.
    """
    path = Path(source.path).resolve()
    ident: dict[str, Any] = {"path": os.fspath(path), "kind": source.kind, "n": len(source),
                             "labels": _digest(source.labels),
                             "names": _digest("\n".join(source.names()))}
    files = [path] if path.is_file() else list(getattr(source, "files", []))
    ident.update(stamps_total(files).to_dict())
    return ident


def embeddings_path(data: str | os.PathLike[str], digest: str,
                    rows: np.ndarray | None = None) -> Path:
    """Where :func:`embed_file` stores a bundle's embeddings of ``data`` (see the module)."""
    data = Path(data)
    tag = "" if rows is None else f"-rows{_digest(np.asarray(rows, np.int64))[:8]}"
    name = f"{data.name}.embeddings-{digest[:12]}{tag}.npz"
    folder = data.resolve().parent
    if _writable(folder):
        return folder / name
    from galaxy10.core.paths import get_data_home

    place = hashlib.sha256(os.fspath(data.resolve()).encode()).hexdigest()[:8]
    return get_data_home() / "embeddings" / f"{place}-{name}"


def _writable(folder: Path) -> bool:
    """Whether ``folder`` may take the file: writable, and not marked read-only.

    A folder whose permission bits forbid writing (a shared, read-only copy of the data) is
    left alone even by a user, such as root, whom the system would let write there.
    """
    import stat

    try:
        mode = folder.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(
        folder, os.W_OK | os.X_OK)


def read_embeddings(path: str | os.PathLike[str], digest: str, views: int,
                    identity: dict[str, Any], rows: np.ndarray) -> Embeddings:
    """Stored embeddings, checked against what they must describe.

    Raises
    ------
    DamagedEmbeddingsError
        If the file cannot be read as a galaxy10 embeddings file (cut short, garbled, arrays
        missing or of inconsistent shapes).
    StaleEmbeddingsError
        If it is of another layout, or was made by another bundle, with other views, of other
        rows or of the data before it changed; the message says which.
    """
    path = Path(path)
    meta, arrays = _read_npz(path)
    if meta.get("format") != FORMAT:
        raise StaleEmbeddingsError(path, f"layout {meta.get('format')}, expected {FORMAT}")
    if meta.get("bundle_hash") != digest:
        raise StaleEmbeddingsError(path, "made by another bundle (or this bundle before it "
                                         "changed)")
    if meta.get("views") != views:
        raise StaleEmbeddingsError(path, f"made with {meta.get('views')} views, not {views}")
    if meta.get("data") != identity:
        changed = sorted(k for k in identity if (meta.get("data") or {}).get(k) != identity[k])
        raise StaleEmbeddingsError(path, "the data changed since they were computed ("
                                         + ", ".join(changed) + ")")
    if not np.array_equal(arrays["rows"], rows):
        raise StaleEmbeddingsError(path, "made for other rows of the data")
    return Embeddings(arrays["vectors"], arrays["probs"], arrays["labels"], arrays["rows"],
                      digest, views, path, reused=True)


def _read_npz(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The meta record and the arrays of a stored file, or :class:`DamagedEmbeddingsError`.

    A file cut short or overwritten fails inside ``zipfile``, ``zlib`` or NumPy's header
    parser with errors of many types; each means the same thing here.
    """
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = {k: npz[k] for k in ("vectors", "probs", "labels", "rows")}
    except (OSError, KeyError, ValueError, EOFError, SyntaxError, zipfile.BadZipFile,
            zlib.error) as exc:
        raise DamagedEmbeddingsError(path, f"{type(exc).__name__}: {exc}") from None
    n = arrays["rows"].shape[0] if arrays["rows"].ndim == 1 else -1
    if not isinstance(meta, dict):
        raise DamagedEmbeddingsError(path, "its record is not a JSON object")
    if n < 0 or arrays["vectors"].ndim != 2 or any(
            len(a) != n for a in (arrays["vectors"], arrays["probs"], arrays["labels"])):
        raise DamagedEmbeddingsError(path, "its arrays do not have one row per image")
    return meta, arrays


def embed_images(predictor, source, rows: np.ndarray, *, views: int | None = None,
                 batch_size: int = BATCH_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, probs)`` of ``rows`` of an open labelled source, batch by batch.

    Works for in-memory predictors too (benchmarks embed models fresh out of training).
    """
    vectors, probs = [], []
    for _, images in source.iter_batches(rows, batch_size=batch_size):
        p, v = predictor.predict_and_embed(images, batch_size=batch_size, views=views)
        vectors.append(v)
        probs.append(p)
    if not vectors:
        raise Galaxy10Error(f"{source.path}: no images to embed")
    return np.concatenate(vectors), np.concatenate(probs)


def embed_file(bundle, data: str | os.PathLike[str], *, rows: Sequence[int] | None = None,
               views: int | None = None, recompute: bool = True,
               batch_size: int = BATCH_SIZE) -> Embeddings:
    """A bundle's embeddings of a labelled source, reused when stored and still valid.

    Parameters
    ----------
    bundle : path-like or Predictor
        The ``.keras`` bundle, or a :class:`~galaxy10.modeling.predict.Predictor` loaded from
        one (its file is hashed; it is used as it is, not loaded again).
    data : path-like
        Anything :func:`galaxy10.datasets.labelled.open_labelled` reads: a Galaxy10 HDF5
        file, a folder of class folders, a CSV manifest, a Parquet file.
    rows : sequence of int, optional
        Rows to embed (default: all). The button embeds only its held-out rows.
    views : int, optional
        Test-time views to average (default: the bundle's own, 8 with TTA).
    recompute : bool, default True
        What to do with a stale stored file: compute again and replace it (True), or raise
        :class:`StaleEmbeddingsError` (False).
    batch_size : int
        Images read and embedded at a time.

    Returns
    -------
    Embeddings
        With ``path`` the stored file and ``reused`` whether it was read rather than made.
    """
    from galaxy10.core.atomic import write_npz
    from galaxy10.datasets.labelled import open_labelled

    bundle_path = Path(getattr(bundle, "model_path", bundle))
    if not (bundle_path.is_file() and bundle_path.with_suffix(".json").is_file()):
        from galaxy10.core.errors import ModelError

        raise ModelError(bundle_path, "no bundle file to identify the embeddings by (stored "
                                      "embeddings need a saved .keras bundle with its .json)")
    digest = bundle_hash(bundle_path)
    with open_labelled(data) as source:
        idx = (np.arange(len(source), dtype=np.int64) if rows is None
               else np.asarray(rows, dtype=np.int64).reshape(-1))
        if idx.size and (idx.min() < 0 or idx.max() >= len(source)):
            raise Galaxy10Error(f"{data}: rows must be in 0-{len(source) - 1}")
        identity = data_identity(source)
        path = embeddings_path(data, digest, None if rows is None else idx)
        if path.is_file():
            try:
                want = _views(bundle, bundle_path, views)
                return read_embeddings(path, digest, want, identity, idx)
            except StaleEmbeddingsError as exc:
                if not recompute:
                    raise
                if isinstance(exc, DamagedEmbeddingsError):  # a failed write or copy: say so
                    logger.warning("%s: damaged (%s); recomputing it", exc.path, exc.reason)
                else:
                    logger.info("recomputing embeddings: %s", exc)
        predictor = bundle if hasattr(bundle, "predict_and_embed") else _load(bundle_path)
        used = predictor._check_views(views)
        vectors, probs = embed_images(predictor, source, idx, views=used, batch_size=batch_size)
        labels = source.labels[idx]
        meta = {"format": FORMAT, "bundle_hash": digest, "bundle": os.fspath(bundle_path),
                "views": used, "data": identity}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(path, vectors=vectors, probs=probs, labels=labels, rows=idx,
              meta=np.asarray(json.dumps(meta, sort_keys=True)))
    return Embeddings(vectors, probs, labels, idx, digest, used, path, reused=False)


def _views(bundle, bundle_path: Path, views: int | None) -> int:
    """The views a run would use, without loading the network (read from the bundle's JSON)."""
    if views is not None:
        return int(views)
    if hasattr(bundle, "views"):
        return int(bundle.views)
    from galaxy10.modeling.bundle import read_bundle

    return read_bundle(bundle_path).views


def _load(bundle_path: Path):
    from galaxy10.modeling.predict import Predictor

    return Predictor(bundle_path)
