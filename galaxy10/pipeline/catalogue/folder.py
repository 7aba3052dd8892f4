"""The output folder: checked before a run, claimed with its marker, tidied, failures kept.

galaxy10 writes only into a folder that is absent, empty or marked as its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from galaxy10.core.atomic import write_json
from galaxy10.core.files import inside_folder
from galaxy10.pipeline.catalogue.layout import FAILURES, FORMAT, MARKER, CatalogueError
from galaxy10.pipeline.catalogue.parts import part_path
from galaxy10.pipeline.catalogue.plan import Shard


def check_catalogue_out(out: str | os.PathLike[str],
                        inputs: Sequence[str | os.PathLike[str]] = ()) -> str | None:
    """Check that ``out`` may hold a catalogue: absent, empty, or made by galaxy10.

    Returns
    -------
    str or None
        A note to print when ``out`` holds an earlier catalogue (which a run resumes).

    Raises
    ------
    CatalogueError
        If ``out`` is a file, a folder galaxy10 did not make (no :data:`MARKER`), one of the
        inputs or inside an input folder, or cannot be created or written.
    """
    out = Path(out).expanduser()
    for given in inputs:
        with contextlib.suppress(OSError):
            if out.resolve() == Path(given).expanduser().resolve():
                raise CatalogueError(f"{out}: is also an input; choose another --out")
        if inside_folder(out, given):  # the parts would sit among the pictures it reads
            raise CatalogueError(f"{out}: is inside the input folder {given}; choose another "
                                 "--out")
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise CatalogueError(f"{out}: is a file; --out needs a folder for the catalogue")
    if out.is_dir():
        if (out / MARKER).is_file():
            if not os.access(out, os.W_OK | os.X_OK):
                raise CatalogueError(f"{out}: cannot write there (permission denied)")
            return f"resuming the catalogue in {out}"
        if any(out.iterdir()):
            raise CatalogueError(f"{out}: already exists and is not a catalogue galaxy10 made "
                                 f"(no {MARKER} marker); galaxy10 does not write into folders "
                                 "it did not make (choose another --out)")
    folder = out if out.is_dir() else out.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise CatalogueError(f"{out}: cannot create or write the folder (in {folder})")
    return None


def claim_folder(out: Path) -> None:
    """Make ``out`` galaxy10's: the folder, then its marker. A place that passed
    :func:`check_catalogue_out` and still cannot hold a folder (``/proc``, a disk gone
    read-only) is one :class:`CatalogueError` naming it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogueError(f"{out}: cannot create the catalogue folder there "
                             f"({exc.strerror or exc})") from None
    if not (out / MARKER).is_file():
        write_json(out / MARKER, {"galaxy10": "catalogue", "format": FORMAT})


def tidy_folder(out: Path, shards: Sequence[Shard]) -> int:
    """Remove parts and failure records of the planned sources that no planned shard owns
    (another --shard-rows, a file that shrank); parts of other sources stay. Returns the
    number removed."""
    keys = {s.key for s in shards}
    names = {s.name for s in shards}
    removed = 0
    for path in [*out.glob("*.parquet"), *(out / FAILURES).glob("*.json")]:
        stem = path.name.rsplit(".", 1)[0]
        if not stem.startswith(".") and stem.split(".", 1)[0] in keys and stem not in names:
            path.unlink(missing_ok=True)
            removed += 1
    return removed

def record_failure(out: Path, shard: Shard, why: str) -> None:
    """Keep why ``shard`` failed in ``out/_failures/<shard>.json``; the next run retries it."""
    write_json(out / FAILURES / f"{shard.name}.json",
               {"shard": shard.name, "source": shard.source, "start": shard.start,
                "stop": shard.stop, "reason": why})


def read_failed_images(out: Path, shards: Sequence[Shard], limit: int = 100
                       ) -> list[tuple[str, str]]:
    """Up to ``limit`` ``(id, reason)`` of the pictures the parts of ``shards`` could not
    classify (their ``error`` column)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found: list[tuple[str, str]] = []
    for shard in shards:
        table = pq.read_table(part_path(out, shard), columns=["id", "error"])
        bad = table.filter(pc.is_valid(table["error"]))
        found += [(i, e) for i, e in zip(bad["id"].to_pylist(),
                                                   bad["error"].to_pylist(), strict=True)]
        if len(found) >= limit:
            return found[:limit]
    return found
