"""The official Galaxy10 DECaLS release, and the record that says a file is it.

A file is called real Galaxy10 DECaLS data only when galaxy10 knows it is: its SHA-256 matched
the published one. Hashing 2.7 GB takes a while, so when :func:`galaxy10.datasets.fetch.fetch`
(or ``info``) has verified a file, it leaves a record beside it, ``<name>.sha256.json``, with
the checksum and the file's size and modification time; :func:`is_verified_release` trusts
the record only while the file still has that size and time. Any other HDF5 file without
galaxy10's own ``galaxy10_source`` attribute is "an HDF5 file in the Galaxy10 layout",
whatever its name or size.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from galaxy10.core.identity import file_sha256, file_stamp


@dataclass(frozen=True)
class RemoteFile:
    """A downloadable file: where it lives and how to recognise it."""

    name: str
    url: str
    sha256: str
    size: int


GALAXY10_DECALS = RemoteFile(
    name="Galaxy10_DECals.h5",
    url="https://zenodo.org/records/10845026/files/Galaxy10_DECals.h5",
    sha256="19aefc477c41bb7f77ff07599a6b82a038dc042f889a111b0d4d98bb755c1571",
    size=2_735_267_419,
)
"""The official Galaxy10 DECaLS release (astroNN), 17,736 images."""

RECORD_SUFFIX = ".sha256.json"
"""A verified file ``X`` has its record in ``X.sha256.json``."""


def record_path(path: str | os.PathLike[str]) -> Path:
    """Where the verification record of ``path`` is kept."""
    path = Path(path)
    return path.with_name(path.name + RECORD_SUFFIX)


def is_verified_release(path: str | os.PathLike[str], remote: RemoteFile | None = None) -> bool:
    """True if a record says ``path`` has ``remote``'s checksum, and the file is unchanged since.

    ``remote`` defaults to :data:`GALAXY10_DECALS`. Reads the small record only, never the
    file; False for anything unusual (no record, a record that is not JSON, another checksum,
    a file since replaced or touched).
    """
    remote = remote or GALAXY10_DECALS
    path = Path(path)
    try:
        stamp = file_stamp(path)
        record = json.loads(record_path(path).read_text(encoding="utf-8"))
        return (isinstance(record, dict) and record.get("sha256") == remote.sha256
                and stamp.size == remote.size and stamp.matches(record))
    except (OSError, ValueError):
        return False


def write_record(path: str | os.PathLike[str], sha256: str) -> Path | None:
    """Record that ``path`` has the checksum ``sha256`` (just verified); None if it cannot.

    Best effort: a read-only folder only means the file is hashed again next time.
    """
    from galaxy10.core.atomic import write_json

    path = Path(path)
    try:
        return write_json(record_path(path), {
            "sha256": sha256, **file_stamp(path).to_dict(),
            "verified_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    except OSError:
        return None


def verify_release(path: str | os.PathLike[str], remote: RemoteFile | None = None,
                   say=None) -> bool:
    """True if ``path`` is ``remote`` (default :data:`GALAXY10_DECALS`): by its record, else
    by hashing it (then recorded).

    Only a file of exactly ``remote.size`` bytes is hashed; ``say`` (a print-like callable)
    is told before a hash starts, since 2.7 GB take a while.
    """
    remote = remote or GALAXY10_DECALS
    path = Path(path)
    if is_verified_release(path, remote):
        return True
    with contextlib.suppress(OSError):
        if not path.is_file() or path.stat().st_size != remote.size:
            return False
        if say is not None:
            say(f"checking the SHA-256 of {path} ({remote.size / 1e9:.1f} GB)...")
        if file_sha256(path) == remote.sha256:
            write_record(path, remote.sha256)
            return True
    return False
