"""Parquet files of encoded images, the layout the Hugging Face hub stores image data sets in.

The Hugging Face copy of Galaxy10 DECaLS (``matthieulel/galaxy10_decals``) is a set of Parquet
files with an ``image`` column of encoded JPEG/PNG bytes and a ``label`` column (uint8).
``datasets`` writes the image as a struct ``{bytes, path}`` and describes the columns in the
file's schema metadata (key ``huggingface``); a copy written by other tools may lack that
metadata, or hold the bytes in a plain binary column. :func:`parquet_layout` recognises all of
these from the file's footer alone, and :func:`iter_parquet` streams any range of rows in
batches (:meth:`pyarrow.parquet.ParquetFile.iter_batches` over the row groups that hold
them), so memory holds one batch of encoded images however large the file.

Pixels are decoded by :func:`galaxy10.datasets.images.load_cutout`, exactly as image files
are: a Parquet file and the folder of the same pictures read the same cut-outs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galaxy10.core.classes import N_CLASSES
from galaxy10.core.errors import GalaxyDataError, ImageError

__all__ = ["PARQUET_SUFFIXES", "ParquetBatch", "ParquetLayout", "check_unique_ids",
           "decode_blob", "iter_parquet", "parquet_layout", "read_labels", "read_parquet_rows"]

PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
"""File name endings read as Parquet files."""

IMAGE_NAMES: tuple[str, ...] = ("image", "img", "image_bytes", "jpeg", "png", "bytes")
"""Column names tried, in order, for the encoded image when the metadata does not say."""
LABEL_NAMES: tuple[str, ...] = ("label", "labels", "ans")
ID_NAMES: tuple[str, ...] = ("id", "id_str", "objid", "object_id")


@dataclass(frozen=True)
class ParquetLayout:
    """Where a Parquet file keeps its images, labels and ids (from its footer).

    Attributes
    ----------
    image : str
        The column of encoded images.
    nested : bool
        The column is a struct with a ``bytes`` field (the Hugging Face ``Image`` feature),
        not plain binary.
    label, id : str or None
        The integer label column and the id column, when there are such columns.
    num_rows : int
    row_groups : tuple of int
        Rows in each row group, in file order.
    huggingface : bool
        The file carries the Hugging Face schema metadata.
    """

    image: str
    nested: bool
    label: str | None
    id: str | None
    num_rows: int
    row_groups: tuple[int, ...]
    huggingface: bool

    def groups_for(self, start: int, stop: int) -> tuple[list[int], int]:
        """The row groups holding rows ``start:stop``, and the first row of the first one."""
        groups, first, offset = [], None, 0
        for g, n in enumerate(self.row_groups):
            if offset < stop and offset + n > start:
                groups.append(g)
                first = offset if first is None else first
            offset += n
        return groups, start if first is None else first


def _open(path: Path):
    import pyarrow.parquet as pq

    if not path.is_file():
        raise GalaxyDataError(path, "not found (expected a Parquet file of encoded images)")
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError...  # noqa: BLE001
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GalaxyDataError(path, f"not a readable Parquet file ({text})") from None


def _huggingface_features(schema) -> dict | None:
    meta = schema.metadata or {}
    raw = meta.get(b"huggingface")
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    features = (info.get("info") or {}).get("features") if isinstance(info, dict) else None
    return features if isinstance(features, dict) else None


def _is_image_type(t) -> bool:
    import pyarrow as pa

    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return True
    return pa.types.is_struct(t) and any(
        t.field(i).name == "bytes" and (pa.types.is_binary(t.field(i).type)
                                        or pa.types.is_large_binary(t.field(i).type))
        for i in range(t.num_fields))


def parquet_layout(path: str | os.PathLike[str]) -> ParquetLayout:
    """Find the image, label and id columns of a Parquet file from its footer.

    The Hugging Face metadata names the ``Image`` and ``ClassLabel`` columns when present;
    otherwise the image column is the first binary (or ``{bytes, ...}`` struct) column among
    :data:`IMAGE_NAMES`, then any such column, and the label the first integer column among
    :data:`LABEL_NAMES`.

    Raises
    ------
    GalaxyDataError
        If the file is missing, not Parquet, or has no column of encoded images (named).
    """
    import pyarrow as pa

    path = Path(path)
    pf = _open(path)
    schema = pf.schema_arrow
    types = {name: schema.field(name).type for name in schema.names}
    features = _huggingface_features(schema)
    image = label = None
    if features:
        image = next((n for n, f in features.items() if isinstance(f, dict)
                      and f.get("_type") == "Image" and n in types), None)
        label = next((n for n, f in features.items() if isinstance(f, dict)
                      and f.get("_type") == "ClassLabel" and n in types), None)
    if image is None:
        candidates = [n for n in IMAGE_NAMES if n in types and _is_image_type(types[n])]
        candidates += [n for n in schema.names if _is_image_type(types[n])]
        image = candidates[0] if candidates else None
    if image is None or not _is_image_type(types[image]):
        found = ", ".join(f"{n} ({t})" for n, t in types.items()) or "no columns"
        raise GalaxyDataError(path, "has no column of encoded images (binary, or a struct "
                                    f"with a 'bytes' field, as the Hugging Face Image feature "
                                    f"writes; found: {found})")
    if label is None:
        label = next((n for n in LABEL_NAMES if n in types and pa.types.is_integer(types[n])),
                     None)
    elif not pa.types.is_integer(types[label]):  # a ClassLabel the metadata names
        raise GalaxyDataError(path, f"label column '{label}' holds {types[label]} values, not "
                                    f"whole class numbers 0-{N_CLASSES - 1}")
    ident = next((n for n in ID_NAMES if n in types and n not in (image, label)), None)
    meta = pf.metadata
    return ParquetLayout(image=image, nested=pa.types.is_struct(types[image]), label=label,
                         id=ident, num_rows=int(meta.num_rows),
                         row_groups=tuple(int(meta.row_group(g).num_rows)
                                          for g in range(meta.num_row_groups)),
                         huggingface=features is not None)


def read_labels(path: str | os.PathLike[str], layout: ParquetLayout) -> np.ndarray | None:
    """The label column as int64, -1 where a cell is empty; None when there is no such column.

    Only that column is read. Every label given must be a class 0-9: a file whose labels mean
    something else is refused here rather than scored or classified against the wrong classes.

    Raises
    ------
    GalaxyDataError
        Naming the file and the column, how many labels are outside 0-9 and the first row.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if layout.label is None:
        return None
    path = Path(path)
    try:
        column = pq.read_table(path, columns=[layout.label]).column(0)
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors name no file
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GalaxyDataError(path, f"cannot read the label column '{layout.label}' ({text})"
                              ) from None
    given = pc.is_valid(column).to_numpy(zero_copy_only=False)
    labels = column.cast(pa.int64(), safe=False).fill_null(-1).to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(given & ((labels < 0) | (labels >= N_CLASSES)))
    if bad.size:
        raise GalaxyDataError(path, f"label column '{layout.label}' has {bad.size:,} label(s) "
                                    f"outside 0-{N_CLASSES - 1} (first at row {bad[0]}: "
                                    f"{column[int(bad[0])].as_py()})")
    return labels


def check_unique_ids(path: str | os.PathLike[str], layout: ParquetLayout) -> None:
    """Refuse a file whose id column names one picture twice, as a CSV manifest is refused.

    A catalogue's rows are found again by their id; two rows with one id would be
    indistinguishable in its output. Only the id column is read.

    Raises
    ------
    GalaxyDataError
        Naming the file, the column, the repeated id and the rows that carry it.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if layout.id is None:
        return
    path = Path(path)
    column = pq.read_table(path, columns=[layout.id]).column(0)
    if len(pc.unique(column)) == len(column):
        return
    first: dict[object, int] = {}
    for row, value in enumerate(column.to_pylist()):
        if value in first:
            shown = str(value)[:40]
            raise GalaxyDataError(path, f"id column '{layout.id}': id {shown!r} appears twice "
                                        f"(rows {first[value]} and {row})")
        first[value] = row


@dataclass
class ParquetBatch:
    """One batch of rows of a Parquet file, images still encoded.

    Attributes
    ----------
    rows : ndarray of int64
        Row numbers in the file.
    blobs : list of bytes or None
        The encoded images (None where the cell is empty).
    labels : ndarray of int64, or None
        The label column's values (-1 where empty); None when the file has no labels.
    ids : list of str, or None
        The id column's values as text; None when the file has no id column.
    """

    rows: np.ndarray
    blobs: list[bytes | None]
    labels: np.ndarray | None
    ids: list[str] | None


def _batch(layout: ParquetLayout, record_batch, first_row: int, lo: int, hi: int
           ) -> ParquetBatch:
    col = record_batch.column(layout.image)
    if layout.nested:
        col = col.field("bytes")
    blobs = col.slice(lo, hi - lo).to_pylist()
    labels = ids = None
    if layout.label is not None:
        values = record_batch.column(layout.label).slice(lo, hi - lo).to_pylist()
        labels = np.array([-1 if v is None else int(v) for v in values], dtype=np.int64)
    if layout.id is not None:
        values = record_batch.column(layout.id).slice(lo, hi - lo).to_pylist()
        ids = ["" if v is None else str(v) for v in values]
    return ParquetBatch(np.arange(first_row + lo, first_row + hi, dtype=np.int64), blobs,
                        labels, ids)


def iter_parquet(path: str | os.PathLike[str], start: int = 0, stop: int | None = None,
                 batch_size: int = 256, layout: ParquetLayout | None = None
                 ) -> Iterator[ParquetBatch]:
    """Stream rows ``start:stop`` of a Parquet file in batches of at most ``batch_size``.

    Only the row groups holding those rows are read, and only the image, label and id
    columns; memory holds one batch of encoded images (and pyarrow's buffer of one row
    group's column chunk) at a time.

    Raises
    ------
    GalaxyDataError
        If the file cannot be opened or a row group cannot be read (named).
    """
    path = Path(path)
    layout = layout or parquet_layout(path)
    stop = layout.num_rows if stop is None else min(int(stop), layout.num_rows)
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if start >= stop:
        return
    groups, row = layout.groups_for(start, stop)
    columns = [c for c in (layout.image, layout.label, layout.id) if c is not None]
    pf = _open(path)
    try:
        for rb in pf.iter_batches(batch_size=batch_size, row_groups=groups, columns=columns):
            lo, hi = max(start - row, 0), min(stop - row, rb.num_rows)
            if lo < hi:
                yield _batch(layout, rb, row, lo, hi)
            row += rb.num_rows
            if row >= stop:
                break
    except GalaxyDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors name no file
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise GalaxyDataError(path, f"cannot read rows {start}-{stop - 1} ({text})") from None
    finally:
        pf.close()


def read_parquet_rows(path: str | os.PathLike[str], rows: Sequence[int] | np.ndarray,
                      layout: ParquetLayout | None = None) -> list[bytes | None]:
    """The encoded images of ``rows`` (any order, repeats allowed), reading only their groups."""
    path = Path(path)
    layout = layout or parquet_layout(path)
    idx = np.asarray(rows, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= layout.num_rows):
        raise IndexError(f"row indices must be in 0-{layout.num_rows - 1}")
    starts = np.cumsum((0, *layout.row_groups))
    group_of = np.searchsorted(starts, idx, side="right") - 1
    out: list[bytes | None] = [None] * idx.size
    pf = _open(path)
    try:
        for g in np.unique(group_of):
            col = pf.read_row_group(int(g), columns=[layout.image]).column(0)
            if layout.nested:
                col = col.combine_chunks().field("bytes")
            for k in np.flatnonzero(group_of == g):
                out[k] = col[int(idx[k] - starts[g])].as_py()
    finally:
        pf.close()
    return out


def decode_blob(blob: bytes | None, name: str) -> np.ndarray:
    """One encoded image as a (256, 256, 3) uint8 cut-out; ``name`` labels its errors.

    Raises
    ------
    ImageError
        If the cell is empty or the bytes are not a readable picture.
    """
    from galaxy10.datasets.images import load_cutout

    if not blob:
        raise ImageError(name, "no image bytes in this row")
    return load_cutout(bytes(blob), name)
