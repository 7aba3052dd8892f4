"""File identity: the SHA-256 of a file's bytes, and the cheap stamp that says it is unchanged.

One definition of each, for every record that says what a file was: the release record
(:mod:`galaxy10.datasets.release`), the preprocessed caches (:mod:`galaxy10.modeling.cache`),
stored embeddings (:mod:`galaxy10.modeling.embeddings`), a bundle's digest
(:mod:`galaxy10.modeling.digest`) and a catalogue's plan
(:mod:`galaxy10.pipeline.catalogue.plan`). Hashing reads the whole file (2.7 GB for the real
release), so a record keeps the hash only where it must name the content (a published
checksum, a bundle's identity) and otherwise trusts the file's :class:`FileStamp`: its size
and modification time in nanoseconds, as ``make`` and ``git`` do. Cheap to import.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_BLOCK = 1 << 22


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of the file at ``path`` (pooch's ``file_hash``, read in chunks)."""
    import pooch

    return pooch.file_hash(os.fspath(path), alg="sha256")


def files_sha256(paths: Iterable[str | os.PathLike[str]]) -> str:
    """The SHA-256 hex digest of the files' bytes one after the other.

    For a digest that names several files at once (a bundle is its ``.keras`` and its
    ``.json``); for one file it equals :func:`file_sha256`.
    """
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as fh:
            for block in iter(lambda f=fh: f.read(_BLOCK), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileStamp:
    """What says a file is unchanged without reading it: its size and modification time.

    Two stamps compare equal when both numbers are equal; :meth:`matches` compares with the
    ``size`` and ``mtime_ns`` keys of a stored record, the form every record writes
    (:meth:`to_dict`).
    """

    size: int
    mtime_ns: int

    def to_dict(self) -> dict[str, int]:
        """``{"size": ..., "mtime_ns": ...}``, as records store it."""
        return {"size": self.size, "mtime_ns": self.mtime_ns}

    def matches(self, record: Any) -> bool:
        """True if ``record`` (a mapping, e.g. read from JSON) holds this size and time."""
        return (isinstance(record, dict) and record.get("size") == self.size
                and record.get("mtime_ns") == self.mtime_ns)


def file_stamp(path: str | os.PathLike[str]) -> FileStamp:
    """The :class:`FileStamp` of the file at ``path`` (``OSError`` if it cannot be stat'ed)."""
    st = os.stat(path)
    return FileStamp(int(st.st_size), int(st.st_mtime_ns))


def settled_stamp(path: str | os.PathLike[str]) -> FileStamp:
    """The stamp of a file just written, moved one microsecond back so that it stays unique.

    Many systems give file times only as fine as the kernel's clock tick (milliseconds), so
    a file rewritten with the same size within the tick in which it was written would keep
    its stamp. Setting the modification time of a file galaxy10 has just written one
    microsecond before the one the system gave it means any later write, which gets the
    system's time again, changes the stamp. Use only on files galaxy10 owns (a cache).
    """
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 1000))
    return file_stamp(path)


def stamps_total(paths: Iterable[str | os.PathLike[str]]) -> FileStamp:
    """One stamp for several files: their total size and newest modification time (0 for none).

    For a source made of many files (a folder of images), where a file added, removed,
    resized or rewritten changes the total or the newest time.
    """
    stamps = [file_stamp(p) for p in paths]
    return FileStamp(sum(s.size for s in stamps), max((s.mtime_ns for s in stamps), default=0))
