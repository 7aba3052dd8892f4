"""Preprocessed uint8 caches on disk, memory-mapped, keyed by parameters and source file.

Training the modern CNN for tens of epochs would otherwise decode and resize every 256 px
image once per epoch. Instead each image is preprocessed once into a ``.npy`` file that is
memory-mapped read-only: training reads batches from it, and no float copy of the whole set
ever exists (17,736 images at 96 px RGB take 490 MB as uint8, 1.9 GB as float32).

A cache is trusted only if its sidecar JSON matches: the preprocessing parameters, the
source file's identity (resolved path, size, modification time, number of images), the rows,
and the ``.npy`` file's own size and modification time (:class:`~galaxy10.core.identity.FileStamp`,
as the release record trusts them: loading never reads the whole file to hash it). Anything
else (a killed writer, a changed source, a file since rewritten, truncated or touched) is
rebuilt, atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from galaxy10.core.atomic import atomic_path, write_json
from galaxy10.core.identity import file_stamp, settled_stamp
from galaxy10.datasets.reader import Galaxy10File
from galaxy10.modeling.preprocess import ImageConfig, transform

logger = logging.getLogger(__name__)
CACHE_VERSION = 1


def _file_identity(galaxies: Galaxy10File) -> dict:
    return {"path": os.fspath(galaxies.path.resolve()), **file_stamp(galaxies.path).to_dict(),
            "n": len(galaxies)}


def cache_key(galaxies: Galaxy10File, config: ImageConfig, rows: np.ndarray) -> str:
    """Stable name of the cache of ``rows`` of ``galaxies`` under ``config``."""
    doc = {"v": CACHE_VERSION, "file": _file_identity(galaxies), "image": config.to_dict(),
           "rows": hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64)).hexdigest()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def cached_images(galaxies: Galaxy10File, config: ImageConfig, rows: np.ndarray | None = None,
                  cache_dir: str | os.PathLike[str] | None = None, batch_size: int = 256,
                  progress: bool = False) -> np.ndarray:
    """Preprocessed images of ``rows`` (default: all), from a verified cache or built now.

    Parameters
    ----------
    galaxies : Galaxy10File
        The open source file.
    config : ImageConfig
        Preprocessing parameters.
    rows : ndarray of int, optional
        Rows to include, in the order wanted (default: every row).
    cache_dir : path-like, optional
        Default ``<data home>/interim``.
    batch_size : int, default 256
        Images read and transformed at once while building.

    Returns
    -------
    numpy.memmap of uint8, shape (len(rows), *config.shape), read-only
    """
    from galaxy10.core.paths import get_data_home

    rows = np.arange(len(galaxies)) if rows is None else np.asarray(rows, dtype=np.int64)
    folder = Path(cache_dir) if cache_dir else get_data_home() / "interim"
    key = cache_key(galaxies, config, rows)
    npy = folder / f"cache_{config.size}px_{config.color}_{key}.npy"
    meta = npy.with_suffix(".json")
    expected = (rows.size, *config.shape)
    if npy.is_file() and meta.is_file():
        arr = _verified(npy, meta, key, expected)
        if arr is not None:
            return arr
    _build(galaxies, config, rows, npy, expected, batch_size, progress)
    write_json(meta, {"key": key, "npy": settled_stamp(npy).to_dict(), "shape": list(expected),
                      "image": config.to_dict(), "source": _file_identity(galaxies)})
    return np.load(npy, mmap_mode="r")


def _verified(npy: Path, meta: Path, key: str, expected: tuple[int, ...]) -> np.ndarray | None:
    """The cache, memory-mapped, if it matches its record; else None, with one warning.

    A cache cut short, emptied or overwritten fails inside NumPy's header parser with errors
    of several types (``EOFError``, ``SyntaxError``, ``tokenize.TokenError``, ``ValueError``);
    each means the same here: the cache is rebuilt, never an error on every later call.
    """
    from tokenize import TokenError

    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        arr = np.load(npy, mmap_mode="r")
    except (OSError, ValueError, EOFError, SyntaxError, TokenError) as exc:
        logger.warning("cache %s is unreadable (%s: %s); rebuilding", npy, type(exc).__name__,
                       exc)
        return None
    if (isinstance(info, dict) and info.get("key") == key and tuple(arr.shape) == expected
            and arr.dtype == np.uint8 and file_stamp(npy).matches(info.get("npy"))):
        return arr
    logger.warning("cache %s does not match its record; rebuilding", npy)
    return None


def _build(galaxies: Galaxy10File, config: ImageConfig, rows: np.ndarray, npy: Path,
           shape: tuple[int, ...], batch_size: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    # Plain file writes (not a writable memmap): dirty mapped pages would count towards the
    # process's resident memory, written blocks do not.
    with atomic_path(npy, suffix=".npy") as tmp, open(tmp, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                 "fortran_order": False, "shape": shape})
        offset = fh.tell()
        row_bytes = int(np.prod(shape[1:]))
        with tqdm(total=rows.size, desc=f"cache {config.size}px {config.color}", unit="img",
                  disable=not progress, leave=False) as bar:
            for pos, images in galaxies.iter_file_order(rows, batch_size):
                batch = transform(images, config)
                if np.all(np.diff(pos) == 1):  # the usual case: rows already sorted
                    fh.seek(offset + int(pos[0]) * row_bytes)
                    fh.write(batch.tobytes())
                else:
                    for p, img in zip(pos, batch, strict=True):
                        fh.seek(offset + int(p) * row_bytes)
                        fh.write(img.tobytes())
                bar.update(pos.size)
        fh.flush()
        os.fsync(fh.fileno())
