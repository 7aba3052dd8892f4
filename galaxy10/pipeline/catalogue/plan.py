"""Planning a catalogue job: the inputs cut into shards, and the settings they share.

Only labels, footers and listings are read here; a shard records what must be unchanged for
its part to be reused.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from galaxy10.core.classes import N_CLASSES, label_number
from galaxy10.core.errors import GalaxyDataError
from galaxy10.core.identity import file_stamp
from galaxy10.pipeline.catalogue.layout import (
    BATCH_SIZE,
    FORMAT,
    IMAGES_KIND,
    SHARD_ROWS,
    CatalogueError,
    failure_reason,
)


@dataclass(frozen=True, eq=False)
class Shard:
    """A unit of work: rows ``start:stop`` of one input, written as one part.

    Attributes
    ----------
    kind : {"hdf5", "parquet", "images"}
    source : str
        The HDF5 or Parquet file, the folder or the manifest (resolved); ``""`` for image
        files given one by one.
    key : str
        A file-name-safe name of the source; all parts of a source start with it.
    start, stop : int
    identity : dict
        What must be unchanged for a written part to be reused (JSON-able).
    files, ids, labels : tuples
        For ``images`` shards: the picture files, their ids and labels (-1: none).
    error : str or None
        Why the input could not be listed or opened; such a shard is only recorded.
    """

    kind: str
    source: str
    key: str
    start: int
    stop: int
    identity: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    labels: tuple[int, ...] = ()
    error: str | None = None

    @property
    def name(self) -> str:
        """The part's name without ``.parquet``: ``<key>.<start>-<stop>``."""
        if self.error is not None:
            return f"{self.key}.unreadable"
        return f"{self.key}.{self.start:09d}-{self.stop:09d}"

    @property
    def rows(self) -> int:
        """How many input rows the shard covers."""
        return self.stop - self.start


def _key(path: Path | str, label: str) -> str:
    digest = hashlib.sha256(os.fspath(path).encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_")[:40] or "input"
    return f"{stem}-{digest}"


def file_identity(path: Path) -> dict[str, Any]:
    """What says a file is unchanged since planning: its path, size and modification time."""
    return {"path": os.fspath(path), **file_stamp(path).to_dict()}


def _ranges(n: int, size: int, align: int = 1) -> list[tuple[int, int]]:
    size = max(align, -(-size // align) * align)
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _hdf5_shards(path: Path, shard_rows: int) -> list[Shard]:
    from galaxy10.datasets.reader import Galaxy10File

    key, source = _key(path, path.stem), os.fspath(path)
    try:
        with Galaxy10File(path) as f:
            n, align = len(f), int(f.layout()["rows_per_chunk"])
        ident = file_identity(path)
    except (GalaxyDataError, OSError) as exc:
        return [Shard("hdf5", source, key, 0, 0, error=failure_reason(exc))]
    return [Shard("hdf5", source, key, lo, hi, {"kind": "hdf5", **ident, "start": lo, "stop": hi})
            for lo, hi in _ranges(n, shard_rows, align if align <= shard_rows else 1)]


def _parquet_shards(path: Path, shard_rows: int) -> list[Shard]:
    from galaxy10.datasets.parquet import check_unique_ids, parquet_layout, read_labels

    key, source = _key(path, path.stem), os.fspath(path)
    try:
        layout = parquet_layout(path)
        read_labels(path, layout)  # labels outside 0-9 and repeated ids: refused, as in a manifest
        check_unique_ids(path, layout)
        ident = file_identity(path)
    except (GalaxyDataError, OSError) as exc:
        return [Shard("parquet", source, key, 0, 0, error=failure_reason(exc))]
    if layout.num_rows == 0:
        return [Shard("parquet", source, key, 0, 0, error="holds no rows")]
    cuts, lo, offset = [], 0, 0
    for n in layout.row_groups:  # whole row groups per shard where they fit
        if offset > lo and offset + n - lo > shard_rows:
            cuts.append((lo, offset))
            lo = offset
        offset += n
        while offset - lo > shard_rows and n > shard_rows:
            cuts.append((lo, lo + shard_rows))
            lo += shard_rows
    if offset > lo:
        cuts.append((lo, offset))
    return [Shard("parquet", source, key, a, b,
                  {"kind": "parquet", **ident, "start": a, "stop": b}) for a, b in cuts]


def _image_shards(source: str, key: str, files: Sequence[Path], ids: Sequence[str],
                  labels: Sequence[int], shard_rows: int) -> list[Shard]:
    shards = []
    for lo, hi in _ranges(len(files), shard_rows):
        digest = hashlib.sha256()
        for f, i, y in zip(files[lo:hi], ids[lo:hi], labels[lo:hi], strict=True):
            try:
                stamp = file_stamp(f)
                facts = f"{stamp.size}\t{stamp.mtime_ns}"
            except OSError:
                facts = "missing"
            digest.update(f"{os.fspath(f)}\t{i}\t{y}\t{facts}\n".encode())
        shards.append(Shard(IMAGES_KIND, source, key, lo, hi,
                            {"kind": IMAGES_KIND, "source": source, "start": lo, "stop": hi,
                             "files_sha256": digest.hexdigest()},
                            tuple(os.fspath(f) for f in files[lo:hi]), tuple(ids[lo:hi]),
                            tuple(int(y) for y in labels[lo:hi])))
    return shards


def _folder_shards(folder: Path, shard_rows: int) -> list[Shard]:
    from galaxy10.datasets.images import IMAGE_SUFFIXES

    key, source = _key(folder, folder.name), os.fspath(folder)
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(root) / n for n in names
                  if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES]
    files.sort(key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        return [Shard(IMAGES_KIND, source, key, 0, 0, error="holds no images ("
                      + ", ".join(sorted(IMAGE_SUFFIXES)) + ")")]
    ids = [f"{folder.name}/{p.relative_to(folder).as_posix()}" for p in files]
    return _image_shards(source, key, files, ids, [-1] * len(files), shard_rows)


def read_catalogue_manifest(path: str | os.PathLike[str]
                            ) -> tuple[list[Path], list[str], list[int]]:
    """The pictures a CSV manifest lists: ``path`` (or ``file``), optional ``id`` and ``label``.

    Paths are relative to the manifest's folder; without an ``id`` column a picture's id is
    its path as written.

    Raises
    ------
    GalaxyDataError
        Naming the manifest and the first bad line (no path column, an empty path, a label
        that is not a whole number in 0-9, a repeated id).
    """
    from galaxy10.core.files import csv_rows

    path = Path(path)
    files, ids, labels, seen = [], [], [], set()
    column = None

    def header(fields: list[str]) -> str | None:
        nonlocal column
        column = next((c for c in ("path", "file") if c in fields), None)
        return None if column else ("CSV manifest needs a 'path' (or 'file') column "
                                    f"(found: {fields})")

    for line, row in csv_rows(path, what="CSV manifest", header=header):
        name = (row.get(column) or "").strip()
        if not name:
            raise GalaxyDataError(path, f"line {line}: the path is empty")
        ident = (row.get("id") or "").strip() or name
        if ident in seen:
            raise GalaxyDataError(path, f"line {line}: id {ident!r} appears twice")
        seen.add(ident)
        label = (row.get("label") or "").strip()
        number = label_number(label) if label else -1
        if label and (number is None or not 0 <= number < N_CLASSES):
            raise GalaxyDataError(path, f"line {line}: label {label[:40]!r} is not a "
                                        f"class 0-{N_CLASSES - 1}")
        files.append(path.parent / name)
        ids.append(ident)
        labels.append(number)
    if not files:
        raise GalaxyDataError(path, "CSV manifest lists no images")
    return files, ids, labels


def _manifest_shards(path: Path, shard_rows: int) -> list[Shard]:
    key, source = _key(path, path.stem), os.fspath(path)
    try:
        files, ids, labels = read_catalogue_manifest(path)
    except (GalaxyDataError, OSError) as exc:
        return [Shard(IMAGES_KIND, source, key, 0, 0, error=failure_reason(exc))]
    return _image_shards(source, key, files, ids, labels, shard_rows)

def input_kind(path: str | os.PathLike[str]) -> str:
    """How an input is read: ``hdf5``, ``parquet``, ``manifest``, ``folder`` or ``image``.

    Raises
    ------
    CatalogueError
        If the path does not exist or is none of these (one line naming it).
    """
    from galaxy10.datasets.images import IMAGE_SUFFIXES
    from galaxy10.datasets.labelled import HDF5_SUFFIXES
    from galaxy10.datasets.parquet import PARQUET_SUFFIXES

    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise CatalogueError(f"{path}: not found")
    suffix = path.suffix.lower()
    for kind, suffixes in (("hdf5", HDF5_SUFFIXES), ("parquet", PARQUET_SUFFIXES),
                           ("manifest", (".csv",)), ("image", tuple(IMAGE_SUFFIXES))):
        if suffix in suffixes:
            return kind
    raise CatalogueError(f"{path}: not a catalogue input (expected a Galaxy10 .h5 file, a "
                         ".parquet file of encoded images, a CSV manifest, a folder of "
                         "images or an image file)")


def plan_catalogue(inputs: Sequence[str | os.PathLike[str]], shard_rows: int = SHARD_ROWS
                   ) -> list[Shard]:
    """Cut the inputs into shards, in input order; an input that cannot be read is one
    shard with its ``error`` (recorded; the others go on).

    HDF5 files are cut into ranges of ``shard_rows`` (rounded to whole chunks), Parquet
    files at row-group boundaries, folders (read recursively, in path order) and manifests
    into slices of ``shard_rows`` pictures; image files given one by one form one list.
    Only the labels, footers and listings are read here.

    Raises
    ------
    CatalogueError
        If an input does not exist, is not a kind of input, or is given twice, or two
        inputs share a name (their ids would collide), before anything is read.
    """
    if shard_rows < 1:
        raise ValueError("shard_rows must be at least 1")
    if not inputs:
        raise CatalogueError("no inputs given")
    kinds = [(Path(p).expanduser().resolve(), input_kind(p)) for p in inputs]
    seen: dict[Path, str] = {}
    names: dict[str, Path] = {}
    for (path, kind), given in zip(kinds, inputs, strict=True):
        if path in seen:
            raise CatalogueError(f"{given}: given twice")
        seen[path] = kind
        if kind in ("hdf5", "parquet", "folder"):  # their ids start with the name
            label = path.name + ("/" if kind == "folder" else "")
            if label in names:
                raise CatalogueError(f"{given}: another input is also named {path.name!r} "
                                     f"({names[label]}); their ids would collide, rename one")
            names[label] = path
    shards: list[Shard] = []
    loose = [(path, given) for (path, kind), given in zip(kinds, inputs, strict=True)
             if kind == "image"]
    for path, kind in kinds:
        if kind == "hdf5":
            shards += _hdf5_shards(path, shard_rows)
        elif kind == "parquet":
            shards += _parquet_shards(path, shard_rows)
        elif kind == "manifest":
            shards += _manifest_shards(path, shard_rows)
        elif kind == "folder":
            shards += _folder_shards(path, shard_rows)
    if loose:
        shards += _image_shards("", "files", [p for p, _ in loose],
                                [os.fspath(g) for _, g in loose], [-1] * len(loose),
                                shard_rows)
    return shards


@dataclass(frozen=True)
class Job:
    """What every shard of a run shares: the output folder, the bundle and the settings.

    ``threads`` is the number of TensorFlow threads a worker uses (None: TensorFlow's
    default, every core).
    """

    out: str
    model: str
    bundle_hash: str
    model_name: str
    views: int
    embeddings: bool = False
    batch_size: int = BATCH_SIZE
    threads: int | None = None

    def identity(self) -> dict[str, Any]:
        """The settings a part must have been written with to be reused."""
        return {"format": FORMAT, "bundle_hash": self.bundle_hash, "views": self.views,
                "embeddings": self.embeddings, "batch_size": self.batch_size}
