"""What a catalogue folder holds: its files, the parts' columns, the format version.

The constants every other module of the catalogue package shares, its error, and the
one-line reason a failure is recorded with.
"""

from __future__ import annotations

from galaxy10.core.errors import Galaxy10Error

FORMAT = 1
"""Version of the part layout; parts of another version are redone."""
MARKER = ".galaxy10-catalogue"
FAILURES = "_failures"
SUMMARY = "_summary.json"
META_KEY = b"galaxy10_catalogue"
SHARD_ROWS = 5000
"""Default rows per shard: a few minutes of work on one core, so a crash costs little."""
BATCH_SIZE = 256
COLUMNS: tuple[str, ...] = (
    "id", "source", "row", "file", "label", "class", "class_name", "confidence",
    "top3_classes", "top3_probs", "flag", "not_sure", "not_a_cutout", "reason", "error",
    "model", "bundle_hash")
"""The columns of every part, in order (plus ``embedding`` with ``embeddings=True``).

``id``: the manifest's or the Parquet file's id, else ``<file name>:<row>`` for HDF5 and
Parquet rows and ``<folder name>/<relative path>`` for pictures in a folder; ``source``: the
input file or folder (resolved); ``row``: the row in it (the picture's position in the
listing); ``file``: the picture file, for pictures; ``label``: the input's own label, when it
has one; ``class``, ``class_name``, ``confidence``: the most probable class and its calibrated
probability; ``top3_classes``, ``top3_probs``; ``flag``: ``ok``, ``not sure`` or ``not a galaxy
cut-out`` (:func:`galaxy10.modeling.verdict.judge`), ``reason`` saying why; ``not_sure``: the
confidence is below the bundle's threshold; ``not_a_cutout``: the picture fails the cut-out
check; ``error``: why the row could not be classified (its other columns are then empty).
"""
IMAGES_KIND = "images"


class CatalogueError(Galaxy10Error):
    """A catalogue job that cannot start: a missing input, an output folder not galaxy10's."""

def failure_reason(exc: BaseException) -> str:
    """The one line a failure is recorded with: galaxy10's own fault text, the system's
    message for an OS error, else the exception's first line."""
    fault = getattr(exc, "fault", None)
    if fault:
        return str(fault)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
