"""Atomic file writes: write to a temporary file beside the target, then rename.

A killed process or a failed write therefore leaves either the previous complete file or
nothing at the final path, never a half-written one. ``os.replace`` is atomic on POSIX and
Windows when source and target are on the same file system, which is why the temporary file
lives in the target's own folder.

A process killed outright (SIGKILL, power loss) cannot remove its temporary file. Temporary
names therefore carry the host and process id of their writer, and the next write to the same
target removes the leftovers of writers on this host that no longer run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
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
        A fresh path in the target's folder, named ``.<name>.<host>-<pid>.<random>.tmp<suffix>``.
        Whatever is written there becomes ``target`` on success, and is removed on any
        exception, ``KeyboardInterrupt`` included.
    """
    target = Path(target)
    suffix = target.suffix if suffix is None else suffix
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.{_writer_tag()}.",
                                        suffix=f".tmp{suffix}", dir=target.parent)
    except OSError as exc:  # name the file the user asked for, not a temporary name
        raise OSError(exc.errno, f"cannot write here ({exc.strerror or exc})",
                      os.fspath(target)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as h5py and Keras want to create the file themselves
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _host_tag() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def _writer_tag(pid: int | None = None) -> str:
    return f"{_host_tag()}-{os.getpid() if pid is None else pid}"


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove temporary files of ``target`` left by killed writers on this host.

    Only files named by :func:`atomic_path` for this target, written on this host by a
    process id that no longer exists, are removed; a writer still running keeps its file.
    Returns the removed paths.
    """
    target = Path(target)
    pattern = re.compile(re.escape(f".{target.name}.{_host_tag()}-") + r"(\d+)\.[^.]+\.tmp")
    removed = []
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = pattern.match(path.name)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill(pid, 0) would signal it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True  # unknown: keep the file
    return True


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
