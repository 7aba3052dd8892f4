"""Where galaxies lie on the sky: every real image's position, sky cells and footprints.

Survey depth, seeing and sky noise change across the DECaLS footprint, and the official
``Galaxy10_DECals.h5`` is not in random sky order within a class: its first rows of each class
come mostly from one region near the equator. A model measured inside one patch of sky may do
worse on galaxies from elsewhere, so galaxy10 keeps every real image's position and can group
images by region:

* the official file has ``ra`` and ``dec`` columns of its own;
* an image folder's CSV manifest may give ``ra`` and ``dec`` columns, or an ``h5_row``
  column (the image's row in the official file, as the real sample's manifest does), which is
  joined with the published table of every image's position
  (:func:`galaxy10.core.paths.default_coordinates`);
* :func:`sky_cells` bins positions into cells of about 15 degrees of RA by 10 of Dec, and
  :func:`region_groups` makes the groups a region-held-out cross-validation keeps together
  (cells, joined with any duplicate groups that straddle them).

Everything here is NumPy in, NumPy out, except the two readers, which raise
:class:`~galaxy10.core.errors.GalaxyDataError` naming the file and the fault.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.errors import GalaxyDataError

SKY_CELL_DEG: tuple[float, float] = (15.0, 10.0)
"""Width in RA and height in Dec (degrees) of a sky cell: a region-held-out fold's unit."""

SOUTH_CAP_RA: tuple[float, float] = (90.0, 270.0)
"""RA outside this range is counted as the south galactic cap in DECaLS' footprint (its two
caps are separated in RA: the north cap lies between 90 and 270 degrees)."""

_RA_NAMES, _DEC_NAMES, _ROW_NAMES = ("ra",), ("dec",), ("h5_row",)


@dataclass(frozen=True)
class SkyPositions:
    """Right ascension and declination (degrees) of every row of a data set.

    Attributes
    ----------
    ra, dec : ndarray of float64, shape (N,)
        RA in [0, 360), Dec in [-90, 90].
    origin : str
        Where they came from, for reports (``"the file's ra/dec"``, ``"the manifest's ra,
        dec columns"``, ``"Galaxy10_coord.csv joined on h5_row"``).
    """

    ra: np.ndarray
    dec: np.ndarray
    origin: str

    def __len__(self) -> int:
        return len(self.ra)


def check_positions(ra: np.ndarray, dec: np.ndarray, where: str | os.PathLike[str],
                    what: str = "row") -> tuple[np.ndarray, np.ndarray]:
    """``ra`` and ``dec`` as float64, refused when not finite or out of range.

    Raises
    ------
    GalaxyDataError
        Naming ``where`` and the first bad ``what`` (row, line): RA outside [0, 360] or Dec
        outside [-90, 90], or a missing value.
    """
    ra = np.asarray(ra, dtype=np.float64).reshape(-1)
    dec = np.asarray(dec, dtype=np.float64).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(ra) | ~np.isfinite(dec) | (ra < 0) | (ra > 360)
                         | (dec < -90) | (dec > 90))
    if bad.size:
        i = int(bad[0])
        raise GalaxyDataError(where, f"{bad.size:,} position(s) missing or out of range (first: "
                                     f"{what} {i}, RA {ra[i]!r}, Dec {dec[i]!r}; RA must lie in "
                                     "0-360 and Dec in -90-90 degrees)")
    return np.mod(ra, 360.0), dec


def _column(fieldnames: list[str], names: tuple[str, ...]) -> str | None:
    """The first header among ``fieldnames`` that matches one of ``names`` (any case)."""
    lowered = {name.strip().lower(): name for name in fieldnames}
    return next((lowered[n] for n in names if n in lowered), None)


def _csv_rows(path: Path, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a small CSV file (a byte-order mark is allowed)."""
    from galaxy10.core.files import unreadable_reason

    why = unreadable_reason(path, what=what)
    if why:
        raise GalaxyDataError(path, why)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            return list(reader.fieldnames or []), rows
    except UnicodeDecodeError:
        raise GalaxyDataError(path, f"not a UTF-8 {what}") from None
    except csv.Error as exc:
        raise GalaxyDataError(path, f"not valid CSV ({exc})") from None
    except OSError as exc:
        raise GalaxyDataError(path, f"cannot be read ({exc.strerror or exc})") from None


def _floats(rows: list[dict[str, str]], column: str, path: Path, first_line: int = 2
            ) -> np.ndarray:
    """The ``column`` of every row as float64; a value that is not a number names its line."""
    out = np.empty(len(rows), dtype=np.float64)
    for i, row in enumerate(rows):
        text = (row.get(column) or "").strip()
        try:
            out[i] = float(text)
        except ValueError:
            raise GalaxyDataError(path, f"line {i + first_line}: {column} {text[:40]!r} is not "
                                        "a number") from None
    return out


def read_coordinates(path: str | os.PathLike[str]) -> SkyPositions:
    """The published position of every image of the official file, by h5 row.

    The table (``Galaxy10_coord.csv``) has one row per h5 row in order: an index column, then
    ``RA`` and ``DEC`` in degrees (its ``redshift`` column is a copy of ``DEC`` and is not
    read).

    Raises
    ------
    GalaxyDataError
        If the file is missing or unreadable, lacks the RA/DEC columns, its index is not
        0, 1, 2, ... in order, or a position is not a number or out of range.
    """
    path = Path(path)
    fieldnames, rows = _csv_rows(path, "CSV table of positions")
    ra_col, dec_col = _column(fieldnames, _RA_NAMES), _column(fieldnames, _DEC_NAMES)
    if ra_col is None or dec_col is None or not rows:
        raise GalaxyDataError(path, "needs an index column and the columns RA and DEC, one row "
                                    f"per image (found: {fieldnames or 'no header'}, "
                                    f"{len(rows):,} rows)")
    index = _floats(rows, fieldnames[0], path)
    if not np.array_equal(index, np.arange(len(rows))):
        first = int(np.flatnonzero(index != np.arange(len(rows)))[0])
        raise GalaxyDataError(path, f"line {first + 2}: index {index[first]:g}, expected "
                                    f"{first} (one row per h5 row, in order)")
    ra, dec = check_positions(_floats(rows, ra_col, path), _floats(rows, dec_col, path), path,
                              what="h5 row")
    return SkyPositions(ra, dec, f"{path.name} joined on h5_row")


def manifest_positions(manifest: str | os.PathLike[str],
                       coordinates: str | os.PathLike[str] | None = None
                       ) -> SkyPositions | None:
    """The position of every image a CSV manifest lists, in its row order, when it has any.

    From the manifest's own ``ra`` and ``dec`` columns (degrees) when it has them; else, when
    it has an ``h5_row`` column (the image's row in the official file), from the table of
    published positions (``coordinates``, default
    :func:`galaxy10.core.paths.default_coordinates`); else None.

    Parameters
    ----------
    coordinates : path-like, optional
        The table of positions by h5 row. Given, it must be readable; by default an absent
        table means "no positions" (the team's copy lies beside the checkout only).

    Raises
    ------
    GalaxyDataError
        Naming the manifest (a position that is not a number or out of range, an h5 row
        outside the table) or the table (unreadable, malformed).
    """
    from galaxy10.core.paths import default_coordinates

    manifest = Path(manifest)
    fieldnames, rows = _csv_rows(manifest, "CSV manifest")
    ra_col, dec_col = _column(fieldnames, _RA_NAMES), _column(fieldnames, _DEC_NAMES)
    if ra_col is not None and dec_col is not None:
        ra, dec = check_positions(_floats(rows, ra_col, manifest),
                                  _floats(rows, dec_col, manifest), manifest, what="data row")
        return SkyPositions(ra, dec, f"the manifest's {ra_col}, {dec_col} columns")
    row_col = _column(fieldnames, _ROW_NAMES)
    if row_col is None:
        if coordinates is not None:
            raise GalaxyDataError(manifest, f"has neither ra and dec columns nor an h5_row "
                                            f"column to join with {coordinates}")
        return None
    table = Path(coordinates) if coordinates is not None else default_coordinates()
    if coordinates is None and not table.is_file():
        return None
    published = read_coordinates(table)
    h5_rows = _floats(rows, row_col, manifest)
    bad = np.flatnonzero((h5_rows != np.floor(h5_rows)) | (h5_rows < 0)
                         | (h5_rows >= len(published)))
    if bad.size:
        i = int(bad[0])
        raise GalaxyDataError(manifest, f"line {i + 2}: {row_col} {h5_rows[i]:g} is not a row of "
                                        f"{table} (0-{len(published) - 1})")
    idx = h5_rows.astype(np.int64)
    return SkyPositions(published.ra[idx], published.dec[idx], published.origin)


def published_positions(coordinates: str | os.PathLike[str] | None = None
                        ) -> SkyPositions | None:
    """The whole data set's positions (:func:`read_coordinates`): of ``coordinates`` when
    given, else of the default table (:func:`galaxy10.core.paths.default_coordinates`), or
    None when that is absent (it lies beside the team's checkouts only)."""
    from galaxy10.core.paths import default_coordinates

    if coordinates is None and not default_coordinates().is_file():
        return None
    return read_coordinates(coordinates if coordinates is not None else default_coordinates())


def sky_cells(ra: np.ndarray, dec: np.ndarray,
              size: tuple[float, float] = SKY_CELL_DEG) -> np.ndarray:
    """The sky cell of every position: ``size`` degrees of RA by Dec, numbered from (0, -90).

    Cells are equal in coordinates, not in area; at the survey's declinations (-20 to +85
    degrees for DECaLS and its northern extensions) that is close enough for grouping.
    """
    width, height = size
    n_ra = int(math.ceil(360.0 / width))
    ra_bin = np.minimum(np.floor(np.mod(np.asarray(ra, np.float64), 360.0) / width), n_ra - 1)
    dec_bin = np.floor((np.clip(np.asarray(dec, np.float64), -90.0, 90.0) + 90.0) / height)
    return (dec_bin * n_ra + ra_bin).astype(np.int64)


def region_groups(ra: np.ndarray, dec: np.ndarray, duplicates: np.ndarray | None = None,
                  size: tuple[float, float] = SKY_CELL_DEG) -> np.ndarray:
    """Groups for a region-held-out split: sky cells, joined where duplicates straddle them.

    Two images share a group when they lie in one sky cell, or when they are (near)
    duplicates (``duplicates``: a group id per row, as
    :func:`galaxy10.datasets.audit.duplicate_groups` gives): a copy of a test image in
    another cell would otherwise leak into training. The groups are the connected
    components of that relation (:func:`scipy.sparse.csgraph.connected_components`),
    numbered 0, 1, 2, ...
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    cells = np.unique(sky_cells(ra, dec, size), return_inverse=True)[1]
    n = len(cells)
    if duplicates is None:
        return cells.astype(np.int64)
    dups = np.unique(np.asarray(duplicates), return_inverse=True)[1]
    # a bipartite graph: image i -- cell node, image i -- duplicate-group node
    n_cells = int(cells.max()) + 1
    rows = np.concatenate([np.arange(n), np.arange(n)])
    cols = np.concatenate([n + cells, n + n_cells + dups])
    size_all = n + n_cells + int(dups.max()) + 1
    graph = coo_matrix((np.ones(2 * n, dtype=np.int8), (rows, cols)), shape=(size_all, size_all))
    labels = connected_components(graph, directed=False)[1][:n]
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def footprint(ra: np.ndarray, dec: np.ndarray,
              size: tuple[float, float] = SKY_CELL_DEG) -> dict[str, Any]:
    """Where a set of positions lies: counts, cap shares, Dec quantiles and occupied cells."""
    ra, dec = np.asarray(ra, np.float64), np.asarray(dec, np.float64)
    south = (ra < SOUTH_CAP_RA[0]) | (ra > SOUTH_CAP_RA[1])
    return {"n": int(len(ra)),
            "south_cap_share": float(south.mean()) if len(ra) else math.nan,
            "dec_below_5_share": float((dec < 5.0).mean()) if len(ra) else math.nan,
            "dec_quantiles": {str(q): float(np.quantile(dec, q)) if len(dec) else math.nan
                              for q in (0.05, 0.5, 0.95)},
            "cells": int(len(np.unique(sky_cells(ra, dec, size)))),
            "cell_deg": list(size)}


def format_footprint(fp: dict[str, Any]) -> str:
    """One line on a :func:`footprint`: the shares and cells a reader compares across sets."""
    q = fp["dec_quantiles"]
    width, height = fp["cell_deg"]
    return (f"{fp['south_cap_share']:.0%} in the south galactic cap (RA < "
            f"{SOUTH_CAP_RA[0]:.0f} or > {SOUTH_CAP_RA[1]:.0f} deg), {fp['dec_below_5_share']:.0%}"
            f" at Dec < 5 deg; Dec median {q['0.5']:.1f} (5-95%: {q['0.05']:.1f} to "
            f"{q['0.95']:.1f}); {fp['cells']} sky cells of {width:g} x {height:g} deg")
