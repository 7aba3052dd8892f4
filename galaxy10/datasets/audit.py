"""Data audit: exact and near-duplicate images, and duplicates whose labels disagree.

The real Galaxy10 DECaLS file holds at least one image twice: rows 11828 ("Unbarred Loose
Spiral") and 14447 ("Edge-on without Bulge") are the same pixels. A split that puts one copy
in training and the other in test leaks, and a pair with two labels is label noise. This
module finds such groups so that splits can keep each group on one side
(:func:`galaxy10.datasets.resample.group_aware_test_split`).

Method
------
* Exact duplicates: identical decoded pixels, found by a BLAKE2b digest of each image.
* Near duplicates (re-encoded, re-scaled or slightly noisy copies): each image becomes a
  32 x 32 grey thumbnail (area averaging), minus its mean, scaled to unit length; two images
  are near duplicates when the Euclidean distance between their thumbnails is at most
  :data:`NEAR_THRESHOLD`. The distance is 0 for identical pictures and at most 2, and does
  not depend on brightness or contrast (a re-stretched copy keeps its thumbnail).
* Groups: the connected components of both relations (``scipy.sparse.csgraph``), so A~B and
  B~C put A, B and C in one group.

Threshold: :data:`NEAR_THRESHOLD` sits above the distance of every re-encoded copy the
project expects to meet (JPEG down to quality 50, a little pixel noise) with a margin, and well
below the distance between distinct galaxies, which shrinks as a file holds more images.
Mirrored or rotated copies are farther apart than that and are not detected. The measured
distances it was chosen from are in ``docs/data.md``.

Memory: pixels are streamed ``batch_size`` images at a time; what is kept per image is its
digest and its thumbnail (32 x 32 float32, 4 KB), whatever the image size. The pairs are
searched by scikit-learn's radius-neighbour graph in blocks, never as all N x N distances.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.errors import Galaxy10Error

logger = logging.getLogger(__name__)

NEAR_THRESHOLD = 0.12
"""Largest thumbnail distance of two near duplicates (see the module docstring)."""
THUMB_SIZE = 32
"""Side of the grey thumbnail compared for near duplicates."""
NEAR_MARGIN = 1e-4
"""Added to the squared threshold for the candidate search, far above float32 rounding."""
WORKING_MEMORY_MB = 64
"""Memory (MiB) the candidate search gives one block of pairwise distances."""


def thumbnails(images: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """Mean-free, unit-length grey thumbnails of ``images``.

    Parameters
    ----------
    images : ndarray of uint8, shape (k, H, W, 3)
    size : int, default 32

    Returns
    -------
    ndarray of float32, shape (k, size * size)
        A flat image (no contrast at all) becomes the zero vector, whose dot product with
        anything is 0, so :func:`near_pairs` never pairs it (exact copies are still found by
        their digests).
    """
    import cv2

    out = np.empty((len(images), size * size), dtype=np.float32)
    for i, image in enumerate(images):
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
        out[i] = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).ravel()
    out -= out.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 1e-6)
    out[norms[:, 0] <= 1e-6] = 0.0
    return out


def pixel_digests(images: np.ndarray) -> list[bytes]:
    """A 16-byte BLAKE2b digest of each image's shape and pixels (equal iff pixels equal)."""
    return [hashlib.blake2b(np.ascontiguousarray(im).tobytes() + repr(im.shape).encode(),
                            digest_size=16).digest() for im in images]


def near_pairs(thumbs: np.ndarray, threshold: float = NEAR_THRESHOLD
               ) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, distance)``, ``i < j``, of thumbnails at most ``threshold`` apart.

    The distance is ``sqrt(2 - 2 a.b)`` (the Euclidean distance of unit thumbnails), the dot
    product in float32. scikit-learn's
    :meth:`~sklearn.neighbors.NearestNeighbors.radius_neighbors_graph` finds the candidates
    by brute force, a block of rows at a time, so memory holds the pairs found, not the
    N x N distances; its radius is a little wider than ``threshold``, and each candidate is
    then decided by the dot product, so rounding at the threshold (at 0 above all) decides
    as the dot product always has. A zero thumbnail (a flat image) has a dot product of 0
    with everything: it is left out of the graph and paired only where ``threshold``
    reaches ``sqrt(2)``. Pairs come in row order.
    """
    from sklearn import config_context
    from sklearn.neighbors import NearestNeighbors

    n = len(thumbs)
    limit = np.float32(2.0 - threshold**2)  # |a - b|^2 = 2 - 2 a.b for unit vectors
    flat = ~np.any(thumbs, axis=1)
    rows = np.flatnonzero(~flat)
    i = j = np.empty(0, dtype=np.int64)
    if len(rows) > 1:
        # cosine distance 1 - a.b = |a - b|^2 / 2; blocks of at most WORKING_MEMORY_MB
        index = NearestNeighbors(radius=(threshold**2 + NEAR_MARGIN) / 2, metric="cosine",
                                 algorithm="brute").fit(thumbs[rows] if flat.any() else thumbs)
        with config_context(working_memory=WORKING_MEMORY_MB):
            graph = index.radius_neighbors_graph(mode="connectivity").tocoo()  # not itself
        upper = graph.row < graph.col
        i, j = rows[graph.row[upper]], rows[graph.col[upper]]
    if flat.any() and limit <= 0:  # a dot product of 0 is close enough
        a = np.repeat(np.flatnonzero(flat), n)
        b = np.tile(np.arange(n), int(flat.sum()))
        once = (a != b) & ((b > a) | ~flat[b])  # a pair of two flat rows once
        a, b = a[once], b[once]
        i, j = np.concatenate([i, np.minimum(a, b)]), np.concatenate([j, np.maximum(a, b)])
    sims = np.concatenate([np.einsum("ij,ij->i", thumbs[i[s:s + 8192]], thumbs[j[s:s + 8192]])
                           for s in range(0, len(i), 8192)] + [np.empty(0, np.float32)])
    keep = 2.0 * sims >= limit
    order = np.lexsort((j[keep], i[keep]))
    return [(int(a), int(b), float(np.sqrt(max(2.0 - 2.0 * float(c), 0.0))))
            for a, b, c in zip(i[keep][order], j[keep][order], sims[keep][order], strict=True)]


def groups_from_pairs(n: int, pairs: list[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """Connected components of ``n`` rows linked by ``pairs`` (SciPy's ``csgraph``).

    Returns
    -------
    ndarray of int64, shape (n,)
        The group id of each row: the smallest row of its group, so a row without a
        duplicate is its own group and ids are stable.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    links = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(links), dtype=np.int8), (links[:, 0], links[:, 1])),
                       shape=(n, n))
    _, component = connected_components(graph, directed=False)
    first = np.full(component.max(initial=-1) + 1, n, dtype=np.int64)
    np.minimum.at(first, component, np.arange(n, dtype=np.int64))
    return first[component]


@dataclass
class _Scan:
    labels: np.ndarray
    names: list[str]
    digests: list[bytes]
    thumbs: np.ndarray


def _batches(source: Path, batch_size: int) -> tuple[np.ndarray, list[str],
                                                     Iterator[np.ndarray]]:
    """Labels, names and an iterator of image batches (in row order) of ``source``."""
    from galaxy10.datasets.labelled import open_labelled

    images = open_labelled(source)

    def read() -> Iterator[np.ndarray]:
        with images:
            for _, batch in images.iter_batches(batch_size=batch_size):
                yield batch

    return images.labels, images.names(), read()


def _scan(source: str | os.PathLike[str], batch_size: int, progress: bool = False) -> _Scan:
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise Galaxy10Error(f"--batch-size: must be at least 1, got {batch_size}")
    labels, names, batches = _batches(Path(source), batch_size)
    digests: list[bytes] = []
    thumbs = []
    with tqdm(total=len(labels), disable=not progress, unit="img", desc="duplicates") as bar:
        for images in batches:
            digests += pixel_digests(images)
            thumbs.append(thumbnails(images))
            bar.update(len(images))
            logger.info("audit: %d of %d images fingerprinted", len(digests), len(labels))
    return _Scan(labels, names, digests, np.concatenate(thumbs))


def _check_threshold(threshold: float) -> float:
    if not 0.0 <= threshold < 2.0:
        raise Galaxy10Error(f"--threshold: must be in [0, 2), got {threshold}")
    return float(threshold)


def _exact_pairs(digests: list[bytes]) -> list[tuple[int, int]]:
    first: dict[bytes, int] = {}
    pairs = []
    for row, digest in enumerate(digests):
        if digest in first:
            pairs.append((first[digest], row))
        else:
            first[digest] = row
    return pairs


def duplicate_groups(source: str | os.PathLike[str], threshold: float = NEAR_THRESHOLD,
                     batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """Group id of every row of ``source``: rows with the same id are (near) duplicates.

    Parameters
    ----------
    source : path-like
        A Galaxy10 ``.h5`` file, a folder of class folders ``0``-``9`` (or with a
        ``manifest.csv``), or a CSV manifest; rows follow the file or the listing's order
        (:func:`galaxy10.datasets.labelled.open_labelled`).
    threshold : float, default :data:`NEAR_THRESHOLD`
        Near-duplicate distance; 0 keeps exact duplicates only.
    batch_size : int, default 256
        Images decoded at once.
    progress : bool, default False
        Show a progress bar over the images.

    Returns
    -------
    ndarray of int64, shape (N,)
        The smallest row of each row's group (a row without duplicates: itself); pass it as
        ``groups`` to :func:`galaxy10.datasets.resample.group_aware_test_split` and
        :func:`galaxy10.datasets.resample.leaks`.
    """
    scan = _scan(source, batch_size, progress)
    threshold = _check_threshold(threshold)
    pairs = _exact_pairs(scan.digests) + [(a, b) for a, b, _ in near_pairs(scan.thumbs,
                                                                          threshold)]
    return groups_from_pairs(len(scan.labels), pairs)


def audit(source: str | os.PathLike[str], threshold: float | None = None,
          batch_size: int = 256) -> dict[str, Any]:
    """Find exact and near-duplicate groups in ``source`` and those with conflicting labels.

    Parameters
    ----------
    source : path-like
        As for :func:`duplicate_groups`.
    threshold : float, optional
        Near-duplicate distance; default :data:`NEAR_THRESHOLD`.
    batch_size : int, default 256

    Returns
    -------
    dict
        ``source``, ``images``, ``threshold``, the counts ``exact_groups``, ``near_groups``
        (groups linked by at least one near, not exact, pair), ``conflicting_groups``
        (groups whose members carry more than one label) and ``duplicate_images`` (rows in
        any group), and ``groups``: one entry per group of two or more rows, with ``rows``,
        ``names``, ``labels``, ``kind`` ("exact" or "near"), ``max_distance`` (largest
        thumbnail distance of a linking pair, 0 for exact) and ``conflicting``.
    """
    from galaxy10.core.classes import CLASS_NAMES

    threshold = _check_threshold(NEAR_THRESHOLD if threshold is None else threshold)
    scan = _scan(source, batch_size)
    exact = _exact_pairs(scan.digests)
    near = near_pairs(scan.thumbs, threshold)
    ids = groups_from_pairs(len(scan.labels), exact + [(a, b) for a, b, _ in near])
    exact_ids = groups_from_pairs(len(scan.labels), exact)
    worst: dict[int, float] = {}
    for a, _, d in near:
        worst[int(ids[a])] = max(worst.get(int(ids[a]), 0.0), d)
    groups = []
    for gid in np.unique(ids):
        rows = np.flatnonzero(ids == gid)
        if rows.size < 2:
            continue
        is_exact = np.unique(exact_ids[rows]).size == 1
        labels = sorted({int(scan.labels[r]) for r in rows})
        groups.append({
            "rows": rows.tolist(), "names": [scan.names[r] for r in rows],
            "labels": [int(scan.labels[r]) for r in rows],
            "classes": [CLASS_NAMES[int(scan.labels[r])] for r in rows],
            "kind": "exact" if is_exact else "near",
            "max_distance": 0.0 if is_exact else round(worst.get(int(gid), 0.0), 4),
            "conflicting": len(labels) > 1})
    exact_groups = sum(1 for ids_ in np.unique(exact_ids, return_counts=True)[1] if ids_ > 1)
    return {"source": os.fspath(source), "images": int(len(scan.labels)),
            "threshold": threshold, "exact_groups": int(exact_groups),
            "near_groups": sum(g["kind"] == "near" for g in groups),
            "conflicting_groups": sum(g["conflicting"] for g in groups),
            "duplicate_images": sum(len(g["rows"]) for g in groups), "groups": groups}


def format_audit(result: dict[str, Any]) -> str:
    """The audit as text: the counts, then one line per group."""
    lines = [f"{result['source']}: {result['images']:,} images",
             f"  exact-duplicate groups      : {result['exact_groups']}",
             f"  near-duplicate groups       : {result['near_groups']} "
             f"(thumbnail distance <= {result['threshold']:g})",
             f"  conflicting-label groups    : {result['conflicting_groups']}",
             f"  images in duplicate groups  : {result['duplicate_images']}"]
    for g in result["groups"]:
        members = ", ".join(f"{name} [{label} {cls}]" for name, label, cls in
                            zip(g["names"], g["labels"], g["classes"], strict=True))
        flag = "  CONFLICTING LABELS" if g["conflicting"] else ""
        extra = "" if g["kind"] == "exact" else f", distance <= {g['max_distance']:.3f}"
        lines.append(f"  {g['kind']}{extra}: {members}{flag}")
    return "\n".join(lines)
