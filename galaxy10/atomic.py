"""Atomic file writes: write to a temporary file beside the target, then rename.

A killed process or a failed write therefore leaves either the previous complete file or
nothing at the final path, never a half-written one. ``os.replace`` is atomic on POSIX and
Windows when source and target are on the same file system, which is why the temporary file
lives in the target's own folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path that replaces ``target`` when the block ends without error.

    Parameters
    ----------
    target : path-like
        Final location. Its folder is created if needed.
    suffix : str, optional
        Suffix of the temporary file; defaults to the target's, because some writers
        (Keras, NumPy) choose the format from it.

    Yields
    ------
    Path
        A fresh path in the target's folder, named ``.<name>.<random>.tmp<suffix>``.
        Whatever is written there becomes ``target`` on success, and is removed on any
        exception, ``KeyboardInterrupt`` included.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = target.suffix if suffix is None else suffix
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as h5py and Keras want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the target path."""
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the target path."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented, key-sorted JSON to ``target`` atomically."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=_json_default)
                      + "\n")


def write_npz(target: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Save ``arrays`` to an uncompressed ``.npz`` file atomically (no pickled objects)."""
    with atomic_path(target, suffix=".npz") as tmp:
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(target)


def _json_default(obj: Any) -> Any:
    """Convert NumPy scalars and arrays, and paths, to plain JSON types."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
