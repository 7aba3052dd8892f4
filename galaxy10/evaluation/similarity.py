"""Galaxies like this one: nearest neighbours in a bundle's embedding, and the odd ones out.

Vectors (:mod:`galaxy10.modeling.embeddings`) are centred on the indexed set's mean,
optionally reduced by PCA, and scaled to unit length, so that the inner product is the cosine
similarity and the distance shown is ``1 - cosine`` (0: same direction, 2: opposite).
Centring spreads the pooled features, which are all positive after ReLU, over every direction.

Search is exact (cosine distances a block of queries at a time, and a partial sort, so memory
stays bounded) below :data:`EXACT_LIMIT` vectors, where that is fast on two
cores, and goes through an approximate index above it: FAISS's HNSW graph (``faiss-cpu``; see
docs/similarity.md for the choice), which answers in well under a millisecond at any size
once built.

"Odd ones out" are the galaxies least like any class: the lowest cosine similarity to the
nearest class mean (:func:`odd_ones_out`), a first anomaly finder.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.core.errors import Galaxy10Error

EXACT_LIMIT = 1_000_000
"""Vectors up to which search is exact (brute force is fast up to about this many)."""
WORKING_MEMORY_MB = 64
"""Memory (MiB) exact search gives one block of query-by-data distances and their sort."""
HNSW_LINKS = 32
"""Graph links per vector of the approximate index (FAISS's ``M``)."""
HNSW_SEARCH = 128
"""Candidates the approximate index keeps while searching (``efSearch``); more: better recall."""


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


class NeighbourIndex:
    """Cosine nearest-neighbour search over a set of embedding vectors.

    Parameters
    ----------
    vectors : ndarray, shape (n, D)
        The indexed vectors.
    pca : int, optional
        Keep this many principal components (fitted on ``vectors``) before normalising.
    approximate : bool, optional
        Force the approximate index (True) or exact search (False); default: approximate
        above :data:`EXACT_LIMIT` vectors.
    seed : int
        Seeds the PCA's randomised solver.
    """

    def __init__(self, vectors: np.ndarray, *, pca: int | None = None,
                 approximate: bool | None = None, seed: int = 0) -> None:
        x = np.asarray(vectors, dtype=np.float32)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"vectors must be a non-empty (n, D) array, got shape {x.shape}")
        self.mean = x.mean(axis=0)
        self.pca = None
        if pca:
            from sklearn.decomposition import PCA

            self.pca = PCA(n_components=min(int(pca), *x.shape), random_state=seed).fit(x)
        self.unit = self.transform(x)
        self.approximate = len(x) > EXACT_LIMIT if approximate is None else bool(approximate)
        self._faiss = None
        if self.approximate:
            try:
                import faiss
            except ImportError:
                raise Galaxy10Error(f"an approximate index over {len(x):,} vectors needs FAISS, "
                                    "which galaxy10's [scale] extra installs: pip install "
                                    "\"galaxy10[scale]\"") from None

            self._faiss = faiss.IndexHNSWFlat(self.unit.shape[1], HNSW_LINKS,
                                              faiss.METRIC_INNER_PRODUCT)
            self._faiss.hnsw.efSearch = HNSW_SEARCH
            self._faiss.add(self.unit)

    def __len__(self) -> int:
        return len(self.unit)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        """Vectors as the index compares them: centred, PCA-reduced if asked, unit length."""
        x = np.asarray(vectors, dtype=np.float32)
        x = x[None] if x.ndim == 1 else x
        x = self.pca.transform(x) if self.pca is not None else x - self.mean
        return _unit(x)

    def query(self, vectors: np.ndarray, k: int = 8, *, exclude: Sequence[int] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest indexed vectors to each query, nearest first.

        Parameters
        ----------
        vectors : ndarray, shape (q, D) or (D,)
            Query embeddings (as computed for the indexed set, before :meth:`transform`).
        k : int
            Neighbours per query (at most the number indexed, less the excluded).
        exclude : sequence of int, optional
            One indexed position per query never to return for it (the query itself, for
            leave-one-out).

        Returns
        -------
        index : ndarray of int64, shape (q, k)
            Positions in the indexed set.
        distance : ndarray of float32, shape (q, k)
            Cosine distances ``1 - cos``.
        """
        q = self.transform(vectors)
        skip = 0 if exclude is None else 1
        k = int(min(k, len(self) - skip))
        if k < 1:
            raise ValueError("nothing to return: the index holds no other vector")
        want = k + skip
        if self._faiss is not None:
            sims, idx = self._faiss.search(q, want)
        else:
            idx, dist = exact_nearest(q, self.unit, want)
            sims = 1.0 - dist
        idx, sims = idx.astype(np.int64), sims.astype(np.float32)
        if exclude is not None:
            ex = np.asarray(exclude, dtype=np.int64).reshape(-1, 1)
            keep = idx != ex
            # drop the excluded position where it came back, else the last (k+1-th) one
            keep[keep.all(axis=1), -1] = False
            idx = idx[keep].reshape(len(q), k)
            sims = sims[keep].reshape(len(q), k)
        return idx, (1.0 - sims).astype(np.float32)


def exact_nearest(queries: np.ndarray, data: np.ndarray, k: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows of unit-length ``data`` nearest each unit-length query, nearest first.

    The cosine distances ``1 - q.x`` are computed a block of queries at a time
    (scikit-learn's :func:`~sklearn.utils.gen_batches`), each block within
    :data:`WORKING_MEMORY_MB`, so memory stays bounded however many queries there are (a
    leave-one-out over the whole set included). scikit-learn's own blocked cosine distances
    (``pairwise_distances_chunked``) would normalise every data vector again for each block,
    which multiplies the time of a single query over many vectors; these are unit already.
    Equal distances are ordered by position, lower first, also where they straddle the
    ``k``-th place, so the answer does not depend on the block size.

    Returns
    -------
    index : ndarray of int64, shape (q, k)
    distance : ndarray of float32, shape (q, k)
        ``1 - cos``.
    """
    from sklearn.utils import gen_batches

    queries = np.asarray(queries, dtype=np.float32)
    data = np.asarray(data, dtype=np.float32)
    # per distance: itself (4 bytes), the partial sort's position (8) and a tie mask (1)
    rows = max(1, int(WORKING_MEMORY_MB * 2**20) // (16 * max(len(data), 1)))
    index = np.empty((len(queries), int(k)), dtype=np.int64)
    distance = np.empty((len(queries), int(k)), dtype=np.float32)
    for block in gen_batches(len(queries), rows):
        d = queries[block] @ data.T
        np.subtract(1.0, d, out=d)
        index[block], distance[block] = _k_smallest(d, int(k))
    return index, distance


def _k_smallest(d: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``d``, the positions and values of its ``k`` smallest, ties by position."""
    idx = np.argpartition(d, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(d, idx[:, k - 1:k], axis=1)  # argpartition puts the k-th there
    crowded = np.flatnonzero((d <= kth).sum(axis=1) > k)  # ties at the k-th place
    for row in crowded:  # take the lowest positions among them
        below = np.flatnonzero(d[row] < kth[row, 0])
        level = np.flatnonzero(d[row] == kth[row, 0])[:k - len(below)]
        idx[row] = np.concatenate([below, level])
    vals = np.take_along_axis(d, idx, axis=1)
    order = np.lexsort((idx, vals), axis=1)
    return (np.take_along_axis(idx, order, axis=1).astype(np.int64),
            np.take_along_axis(vals, order, axis=1))


def precision_at_k(vectors: np.ndarray, labels: np.ndarray, ks: Sequence[int] = (1, 10), *,
                   pca: int | None = None) -> dict[str, float]:
    """How often a galaxy's nearest neighbours share its class (leave-one-out).

    Each vector is a query; its neighbours are found among all the others. Precision at k is
    the mean fraction of the k nearest with the query's class; ``chance`` is what a random
    ranking would score (the mean share of same-class galaxies among the others).

    Returns
    -------
    dict
        ``p@1``, ``p@10``, ... and ``chance``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    index = NeighbourIndex(vectors, pca=pca, approximate=False)
    kmax = max(ks)
    nn, _ = index.query(vectors, kmax, exclude=np.arange(len(labels)))
    same = labels[nn] == labels[:, None]
    out = {f"p@{k}": float(same[:, :k].mean()) for k in ks}
    counts = np.bincount(labels, minlength=N_CLASSES)
    out["chance"] = float(((counts[labels] - 1) / max(len(labels) - 1, 1)).mean())
    return out


def odd_ones_out(index: NeighbourIndex, labels: np.ndarray, n: int = 10
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``n`` indexed galaxies least like any class.

    Each class is represented by the unit mean of its members' (transformed) vectors; a
    galaxy's typicality is its cosine similarity to the nearest class mean, and the odd ones
    out have the lowest.

    Returns
    -------
    positions : ndarray of int64, shape (n,)
        Oddest first.
    similarity : ndarray of float32, shape (n,)
        Their cosine similarity to the nearest class mean.
    nearest_class : ndarray of int64, shape (n,)
    """
    labels = np.asarray(labels, dtype=np.int64)
    present = np.unique(labels)
    means = _unit(np.stack([index.unit[labels == c].mean(axis=0) for c in present]))
    sims = index.unit @ means.T
    best = sims.max(axis=1)
    order = np.argsort(best, kind="stable")[:int(n)]
    return order.astype(np.int64), best[order].astype(np.float32), present[
        sims[order].argmax(axis=1)].astype(np.int64)


# -- the ``similar`` workflow -----------------------------------------------------------------
@dataclass
class SimilarResult:
    """What ``python -m galaxy10 similar`` prints: neighbours of a query, and odd ones out."""

    data: str
    model: str
    query: str
    embeddings: str
    reused: bool
    neighbours: list[dict[str, Any]] = field(default_factory=list)
    odd: list[dict[str, Any]] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report, one line per galaxy."""
        how = "reused" if self.reused else "computed and stored in"
        out = [f"embeddings of {self.data} by {self.model}: {how} {self.embeddings}"]
        if self.neighbours:
            out.append(f"{len(self.neighbours)} nearest to {self.query} (cosine distance):")
            out += [f"  {i + 1:>3}. row {n['row']:>6}  {n['name']:<28} class {n['label']} "
                    f"{CLASS_NAMES[n['label']]:<34} {n['distance']:.3f}"
                    for i, n in enumerate(self.neighbours)]
        if self.odd:
            out.append(f"{len(self.odd)} odd ones out (lowest similarity to any class mean):")
            out += [f"  {i + 1:>3}. row {o['row']:>6}  {o['name']:<28} class {o['label']} "
                    f"{CLASS_NAMES[o['label']]:<34} nearest class {o['nearest_class']}, "
                    f"similarity {o['similarity']:.3f}" for i, o in enumerate(self.odd)]
        out += [f"figure written to {path}" for path in self.figures]
        return out


def find_similar(data: str | os.PathLike[str], model: str | os.PathLike[str], *,
                 row: int | None = None, image: str | os.PathLike[str] | None = None,
                 k: int = 8, odd: int = 0, pca: int | None = None,
                 gallery: str | os.PathLike[str] | None = None,
                 map_out: str | os.PathLike[str] | None = None, seed: int = 0) -> SimilarResult:
    """Neighbours of one galaxy (a row of ``data`` or an image file) among ``data``'s rows.

    The embeddings of ``data`` are computed once and stored
    (:func:`galaxy10.modeling.embeddings.embed_file`); a row's own vector is reused and the
    row itself left out of its neighbours; an image is embedded with the same views.

    Parameters
    ----------
    data : path-like
        A labelled source (Galaxy10 HDF5, class folders, CSV manifest, Parquet).
    model : path-like
        The ``.keras`` bundle.
    row, image
        The query: at most one (neither: only the odd ones out).
    k : int
        Neighbours to list.
    odd : int
        Odd ones out to list (0: none).
    pca : int, optional
        Principal components kept before the cosine (default: all dimensions).
    gallery, map_out : path-like, optional
        PNG files to write: one neighbour row per class (:func:`neighbour_gallery`), the
        2-D map (:func:`embedding_map`).
    seed : int
        Picks the gallery's galaxies and seeds t-SNE.
    """
    from galaxy10.datasets.labelled import open_labelled
    from galaxy10.modeling.embeddings import embed_file

    if row is not None and image is not None:
        raise Galaxy10Error("give a row or an image to search for, not both")
    emb = embed_file(model, data)
    index = NeighbourIndex(emb.vectors, pca=pca)
    with open_labelled(data) as source:
        names = source.names()
    result = SimilarResult(os.fspath(data), Path(model).name, "", os.fspath(emb.path),
                           emb.reused)
    if row is not None or image is not None:
        if row is not None:
            if not 0 <= row < len(emb.vectors):
                raise Galaxy10Error(f"row {row}: {data} has rows 0-{len(emb.vectors) - 1}")
            query, exclude = emb.vectors[row], [row]
            result.query = f"row {row} ({names[row]}, class {int(emb.labels[row])})"
        else:
            from galaxy10.datasets.images import load_cutout
            from galaxy10.modeling.predict import Predictor

            predictor = Predictor(model)
            _, query = predictor.predict_and_embed(load_cutout(image)[None], views=emb.views)
            exclude = None
            result.query = os.fspath(image)
        nn, dist = index.query(query, k, exclude=exclude)
        result.neighbours = [{"row": int(emb.rows[i]), "name": names[int(emb.rows[i])],
                              "label": int(emb.labels[i]), "distance": float(d)}
                             for i, d in zip(nn[0], dist[0], strict=True)]
    if odd:
        pos, sim, near = odd_ones_out(index, emb.labels, odd)
        result.odd = [{"row": int(emb.rows[i]), "name": names[int(emb.rows[i])],
                       "label": int(emb.labels[i]), "nearest_class": int(c),
                       "similarity": float(s)} for i, s, c in zip(pos, sim, near, strict=True)]
    if gallery or map_out:
        import matplotlib.pyplot as plt

        from galaxy10.reporting.figures import save_figure

        if gallery:
            with open_labelled(data) as source:
                fig = neighbour_gallery(source, emb, seed=seed)
            result.figures.append(os.fspath(save_figure(fig, gallery, dpi=75, colors=256)))
            plt.close(fig)
        if map_out:
            fig = embedding_map(emb.vectors, emb.labels, seed=seed)
            result.figures.append(os.fspath(save_figure(fig, map_out, dpi=90)))
            plt.close(fig)
    return result


# -- pictures ---------------------------------------------------------------------------------
def gallery_queries(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """One random position per class present in ``labels`` (the gallery's query galaxies)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    return np.array([rng.choice(np.flatnonzero(labels == c)) for c in np.unique(labels)],
                    dtype=np.int64)


def neighbour_gallery(source, emb, *, k: int = 6, seed: int = 0, queries=None):
    """A figure: per class, one galaxy (left) and its ``k`` nearest among the others.

    Parameters
    ----------
    source : LabelledImages
        The open source the embeddings describe (:func:`galaxy10.datasets.labelled.open_labelled`).
    emb : Embeddings
        Its embeddings (:func:`galaxy10.modeling.embeddings.embed_file`).
    k : int
        Neighbours per row.
    seed : int
        Picks the query galaxies (:func:`gallery_queries`) when ``queries`` is not given.
    queries : sequence of int, optional
        Positions in ``emb`` to use as queries, one per row.

    Returns
    -------
    matplotlib.figure.Figure
        Each tile titled with its true class (and the cosine distance for neighbours); a
        neighbour of another class than its query is framed in red.
    """
    import matplotlib.pyplot as plt

    queries = gallery_queries(emb.labels, seed) if queries is None else np.asarray(queries)
    index = NeighbourIndex(emb.vectors)
    nn, dist = index.query(emb.vectors[queries], k, exclude=queries)
    fig, axes = plt.subplots(len(queries), k + 1, figsize=(1.6 * (k + 1), 1.75 * len(queries)),
                             squeeze=False)
    for r, q in enumerate(queries):
        positions = [int(q), *nn[r]]
        images = source.read(emb.rows[positions])
        for c, (pos, image) in enumerate(zip(positions, images, strict=True)):
            ax = axes[r, c]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            label = int(emb.labels[pos])
            if c == 0:
                ax.set_title(f"query: {CLASS_NAMES[label]}", fontsize=7, fontweight="bold")
                continue
            ax.set_title(f"{CLASS_NAMES[label]}\n{dist[r, c - 1]:.3f}", fontsize=6)
            if label != int(emb.labels[q]):
                for side in ax.spines.values():
                    side.set_color("#b22222")
                    side.set_linewidth(2)
    fig.tight_layout()
    return fig


def embedding_map(vectors: np.ndarray, labels: np.ndarray, *, seed: int = 0,
                  perplexity: float = 30.0):
    """A figure: the embedding in 2-D by t-SNE (cosine distance), coloured by true class.

    t-SNE (scikit-learn) keeps neighbourhoods, not distances between clusters: read it for
    which classes mix, not for how far apart they are.
    """
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    x = NeighbourIndex(vectors).unit
    xy = TSNE(n_components=2, metric="cosine", init="pca", random_state=seed,
              perplexity=min(perplexity, (len(x) - 1) / 3)).fit_transform(x)
    labels = np.asarray(labels, dtype=np.int64)
    fig, ax = plt.subplots(figsize=(7.5, 6))
    cmap = plt.get_cmap("tab10")
    for c in np.unique(labels):
        ax.scatter(*xy[labels == c].T, s=8, color=cmap(c % 10), label=f"{c} {CLASS_NAMES[c]}")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("The model's embedding in 2-D (t-SNE, cosine), coloured by true class",
                 fontsize=10)
    ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig
