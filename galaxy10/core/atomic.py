"""Atomic file writes: write to a temporary file beside the target, then rename.

A killed process or a failed write therefore leaves either the previous complete file or
nothing at the final path, never a half-written one. ``os.replace`` is atomic on POSIX and
Windows when source and target are on the same file system, which is why the temporary file
lives in the target's own folder.

A process killed outright (SIGKILL, power loss) cannot remove its temporary file. Temporary
names therefore carry the host and process id of their writer, and the next write to the same
target removes the leftovers of writers on this host that no longer run.

Two processes writing the same target would each finish with a complete file, but the first
one's would be silently replaced. :func:`target_lock` is the advisory lock that prevents it:
a lock file ``.<name>.lock`` beside the target, held with the ``filelock`` library for as long
as the writer runs (``flock`` on POSIX, ``msvcrt`` on Windows, an exclusively created file where
neither exists); the operating system releases the first two when the writer ends, however it
ends.
"""

from __future__ import annotations

import contextlib
import errno
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

    Raises
    ------
    OSError
        A write that failed for lack of room (:data:`NO_ROOM`: the file size limit, a full
        disk, a quota) is raised again naming ``target`` and why (:func:`no_room_reason`),
        whoever wrote: h5py, Keras and NumPy name no file or the temporary one.
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
    except OSError as exc:
        if exc.errno not in NO_ROOM:
            raise
        # h5py, zipfile (Keras) and NumPy say "File too large" without a file, or name
        # the temporary one: name the file the user asked for, and why there is no room
        raise OSError(exc.errno, no_room_reason(exc.errno), os.fspath(target)) from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


NO_ROOM = frozenset({errno.EFBIG, errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
"""Error numbers of a write that failed for lack of room: the file size limit (or the file
system's largest file), a full disk, a used-up quota."""


def no_room_reason(number: int) -> str:
    """Why a write failed with ``number`` (one of :data:`NO_ROOM`), in words for one line."""
    from galaxy10.core.files import format_bytes
    from galaxy10.core.resources import soft_limit

    if number == errno.EFBIG:
        largest = soft_limit("FSIZE")
        if largest is not None:
            return (f"file size limit reached while writing it (ulimit -f: at most "
                    f"{format_bytes(largest)} per file); nothing was written")
        return "too large for its file system; nothing was written"
    if number == errno.ENOSPC:
        return "no space left on the device while writing it; nothing was written"
    return "disk quota exceeded while writing it; nothing was written"


class TargetLockedError(OSError):
    """Another process holds the lock of the target (:func:`target_lock`)."""

    def __init__(self, target: Path, holder: str) -> None:
        super().__init__(errno.EWOULDBLOCK, f"another process{holder} is writing it now",
                         os.fspath(target))
        self.target = target
        self.holder = holder


def _lock_path(target: Path) -> Path:
    folder = target.parent.resolve()
    return folder / f".{target.name}.lock"


@contextlib.contextmanager
def target_lock(target: str | os.PathLike[str], *, blocking: bool = False) -> Iterator[Path]:
    """Hold the advisory write lock of ``target`` for the duration of the block.

    Parameters
    ----------
    target : path-like
        The file about to be written; its folder must exist.
    blocking : bool, default False
        Wait for another holder to finish (for short read-modify-write updates such as the
        metrics store) instead of raising.

    Yields
    ------
    Path
        The lock file, ``.<name>.lock`` beside the target. Where the lock is the operating
        system's, it holds the writer's process id (for the refusal's message) and is
        removed when the block ends, while still held: ``filelock`` (4.x) then ignores a lock
        a waiter took on the removed file (its link count is 0) and tries the current one.

    Raises
    ------
    TargetLockedError
        If another process holds the lock and ``blocking`` is False; it names that
        process's id when it can.
    """
    import filelock

    target = Path(target)
    lock = _lock_path(target)
    held = filelock.FileLock(lock, timeout=-1 if blocking else 0)
    try:
        held.acquire()
    except filelock.Timeout:
        raise TargetLockedError(target, _lock_holder(lock)) from None
    native = False
    try:
        # a soft lock's file is its own owner record, and removing it is that lock's release
        native = not isinstance(held, filelock.SoftFileLock) and _write_holder(lock)
        yield lock
    finally:
        try:
            if native:
                with contextlib.suppress(OSError):  # Windows: filelock removes it on release
                    os.unlink(lock)
        finally:
            held.release()


def _write_holder(lock: Path) -> bool:
    """Write this process's id into a held OS lock's file; whether it is one.

    An OS lock's file is empty, or holds the id of a holder that was killed; a soft lock's
    file is that lock's own record (an id, then more lines) and is left alone.
    """
    try:
        with open(lock, "rb") as fh:
            text = fh.read(64).decode("ascii", errors="replace").strip()
        if text and not text.isdigit():
            return False
        fd = os.open(lock, os.O_WRONLY | os.O_TRUNC)
    except OSError:  # Windows: the locked byte refuses other handles
        return True
    try:
        with contextlib.suppress(OSError):
            os.write(fd, f"{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return True


def _lock_holder(lock: Path) -> str:
    """`` (pid 123)`` from a held lock file (its first line), or an empty string."""
    try:
        with open(lock, "rb") as fh:
            text = fh.read(32).decode("ascii", errors="replace").strip().split("\n")[0]
    except OSError:
        return ""
    return f" (pid {text})" if text.isdigit() else ""


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
