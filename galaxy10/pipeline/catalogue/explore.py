"""Reading a catalogue back: the table, the pictures of some rows, the confidence extremes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from galaxy10.core.classes import IMAGE_SHAPE, N_CLASSES
from galaxy10.pipeline.catalogue.layout import MARKER, CatalogueError


def read_catalogue(out: str | os.PathLike[str], columns: Sequence[str] | None = None):
    """The catalogue in ``out`` as a pandas DataFrame (every part; ``columns`` to choose)."""
    import pyarrow.dataset as ds

    out = Path(out)
    if not (out / MARKER).is_file():
        raise CatalogueError(f"{out}: not a catalogue galaxy10 made (no {MARKER})")
    return ds.dataset(out, format="parquet").to_table(columns=list(columns) if columns
                                                       else None).to_pandas()


def catalogue_images(rows) -> np.ndarray:
    """The cut-outs of catalogue rows (a DataFrame from :func:`read_catalogue`), in order.

    Pictures are read from their ``file``; HDF5 and Parquet rows from ``source`` at ``row``.
    Returns (k, 256, 256, 3) uint8.
    """
    from galaxy10.datasets.images import load_cutout, to_cutout
    from galaxy10.datasets.parquet import PARQUET_SUFFIXES, decode_blob, read_parquet_rows
    from galaxy10.datasets.reader import Galaxy10File

    out: list[np.ndarray | None] = [None] * len(rows["row"])
    by_source: dict[str, list[tuple[int, int]]] = {}  # each input opened once, not per row
    for i, (file, source, row) in enumerate(zip(rows["file"], rows["source"], rows["row"],
                                                strict=True)):
        if isinstance(file, str) and file:
            out[i] = load_cutout(file)
        else:
            by_source.setdefault(source, []).append((i, int(row)))
    for source, wanted in by_source.items():
        if Path(source).suffix.lower() in PARQUET_SUFFIXES:
            blobs = read_parquet_rows(source, [row for _, row in wanted])
            for (i, _), blob in zip(wanted, blobs, strict=True):
                out[i] = decode_blob(blob, source)
        else:
            with Galaxy10File(source) as f:
                for i, row in wanted:
                    out[i] = to_cutout(f.image(row))
    return np.stack(out) if out else np.empty((0, *IMAGE_SHAPE), np.uint8)


def confidence_extremes(table, per_class: int = 3):
    """The ``per_class`` most and least confident classified rows of every predicted class.

    Returns a DataFrame of those rows with a column ``which`` (``"most"`` or ``"least"``),
    ordered by class, then most confident first.
    """
    import pandas as pd

    done = table[table["class"].notna()]
    parts = []
    for k in range(N_CLASSES):
        rows = done[done["class"] == k].sort_values(["confidence", "id"],
                                                     ascending=[False, True])
        if rows.empty:
            continue
        most = rows.head(per_class).assign(which="most")
        least = rows.drop(most.index).tail(per_class).assign(which="least")
        parts += [most, least]
    return pd.concat(parts) if parts else done.assign(which=[])
