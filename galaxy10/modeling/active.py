"""Active labelling: which unlabelled galaxies to reveal next, and the probe that learns from
each batch of labels.

One round of the labelling loop is :func:`refit_and_rerank`: a linear probe
(:func:`galaxy10.modeling.probe.fit_linear_probe`) refitted on the frozen network's embeddings
of the galaxies labelled so far, then the unlabelled candidates ranked with it
(:func:`next_batch`). A labelling panel calls it after every few labels; ``bench active``
(:mod:`galaxy10.bench.active`) calls it at every batch of its simulation, and times it over
100,000 candidates.

The strategies (:data:`STRATEGIES`) are

``random``
    uniformly at random (seeded): the baseline every label curve so far used;
``uncertainty``
    the smallest margins (top-1 minus top-2 probability) of the probe's probabilities;
``diversity``
    greedy k-centre on the L2-normalised embeddings, continued from the labelled galaxies
    (:func:`farthest_first`): each pick is the candidate farthest from everything labelled or
    picked so far; it needs no probe;
``typical``
    the most typical galaxy of each of the largest clusters no label covers yet
    (:func:`typical_picks`, TypiClust: Hacohen, Dekel & Weinshall 2022): for the first few
    dozen labels, when a probe is too weak to say what it is unsure of, dense and common
    galaxies teach it more than outliers (which k-centre finds first); it needs no probe;
``mix``
    what the labelling panel does (:func:`mix_ranking`): ``typical`` picks for the first
    :data:`TYPICAL_FIRST` labels, then what ``suggest`` does by default
    (:func:`galaxy10.modeling.suggest.rank_suggestions`): margin, k-centre within each
    predicted class's most uncertain candidates, class caps and a 10% random share.

Only the labels given are used: nothing here sees a candidate's label, which is what lets the
benchmark hide the real sample's labels and reveal them one batch at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

STRATEGIES: tuple[str, ...] = ("random", "uncertainty", "diversity", "typical", "mix")
"""The ways :func:`next_batch` picks the galaxies to label next."""
NEEDS_PROBE: frozenset[str] = frozenset({"uncertainty", "mix"})
"""The strategies that rank by the probe's probabilities (the others need no refit)."""
MIX_RANDOM_SHARE = 0.1
"""The random share of ``mix``: ``suggest``'s default ``--random-share``."""
TYPICAL_FIRST = 50
"""Labels below which ``mix`` picks typical galaxies (:func:`typical_picks`) rather than
uncertain ones: about five per class, the low-budget regime where TypiClust's authors found
typicality beats uncertainty, and where a probe on so few labels is unsure for the wrong
reasons."""
_CHUNK = 8192
"""Candidates per block when measuring their distance to the labelled galaxies."""
TYPICALITY_NEIGHBOURS = 20
"""Neighbours whose mean distance measures a galaxy's typicality (TypiClust's 20)."""
TYPICALITY_REFERENCE = 2000
"""Most members of a cluster whose typicality is measured, and against which (a seeded
sample of a larger cluster: its densest part stays the densest)."""
EXACT_KMEANS_UP_TO = 10_000
"""Galaxies up to which :func:`typical_picks` clusters them all with k-means; a larger set is
clustered by mini-batch k-means on a seeded sample of that many, and every galaxy joins its
nearest centre, which keeps a re-rank over 100,000 candidates within seconds."""


@dataclass(frozen=True)
class Reranked:
    """One round of :func:`refit_and_rerank`.

    ``order`` indexes the candidates, best first; ``reasons`` says why each was picked;
    ``probs`` are the probe's probabilities of every candidate (None when the strategy needs
    no probe); ``probe`` is the fitted probe (None without one, or with fewer than two
    classes labelled); ``fit_seconds`` and ``rank_seconds`` time the two steps.
    """

    order: np.ndarray
    reasons: tuple[str, ...]
    probs: np.ndarray | None
    probe: Any | None
    fit_seconds: float
    rank_seconds: float


def fit_probe(vectors: np.ndarray, labels: np.ndarray, seed: int = 0) -> Any | None:
    """The linear probe on the labelled ``vectors``, or None while they hold one class only
    (a regression needs two; :func:`probe_probabilities` then answers that class)."""
    from galaxy10.modeling.probe import fit_linear_probe

    labels = np.asarray(labels, dtype=np.int64)
    if len(np.unique(labels)) < 2:
        return None
    return fit_linear_probe(vectors, labels, seed=seed)


def probe_probabilities(probe: Any | None, labels: np.ndarray, vectors: np.ndarray,
                        n_classes: int = 10) -> np.ndarray:
    """Probabilities of all ``n_classes`` for ``vectors``: the probe's, or (with no probe) a
    certainty of the one class in ``labels`` (uniform when ``labels`` is empty)."""
    from galaxy10.modeling.probe import probe_proba

    if probe is not None:
        return probe_proba(probe, vectors, n_classes)
    out = np.full((len(vectors), n_classes), 1.0 / n_classes)
    if len(labels):
        out[:] = 0.0
        out[:, int(np.asarray(labels)[0])] = 1.0
    return out


def farthest_first(candidates: np.ndarray, centres: np.ndarray, k: int) -> np.ndarray:
    """Greedy k-centre continued from ``centres``: ``k`` candidate indices, each the one
    farthest (L2, on unit-length rows) from every centre and every earlier pick.

    With no centres the first pick is candidate 0. Ties go to the lowest index.
    """
    from galaxy10.modeling.suggest import normalise

    points = normalise(candidates)
    square = np.einsum("ij,ij->i", points, points)  # 1, or 0 for a zero row
    distance = np.full(len(points), np.inf)
    if len(centres):
        known = normalise(centres)
        known_square = np.einsum("ij,ij->i", known, known)
        for lo in range(0, len(points), _CHUNK):  # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b
            block = (square[lo:lo + _CHUNK, None] + known_square[None, :]
                     - 2.0 * (points[lo:lo + _CHUNK] @ known.T))
            distance[lo:lo + _CHUNK] = np.sqrt(np.clip(block.min(axis=1), 0, None))
    picks: list[int] = []
    open_ = np.ones(len(points), dtype=bool)
    for _ in range(min(k, len(points))):
        nxt = int(np.argmax(np.where(open_, distance, -1.0)))
        picks.append(nxt)
        open_[nxt] = False
        nearest = np.sqrt(np.clip(square + square[nxt] - 2.0 * (points @ points[nxt]), 0,
                                  None))
        distance = np.minimum(distance, nearest)
    return np.asarray(picks, dtype=np.int64)


def typical_picks(candidates: np.ndarray, labelled: np.ndarray, n: int, seed: int = 0
                  ) -> np.ndarray:
    """``n`` candidate indices, each the most typical galaxy of a large cluster that no label
    covers yet (TypiClust, Hacohen, Dekel & Weinshall 2022, "Active learning on a budget").

    The labelled and candidate galaxies (L2-normalised) are cut by k-means into as many
    clusters as labels there will be (labelled + ``n``; :data:`EXACT_KMEANS_UP_TO` says how
    a large set is clustered). Each pick takes the cluster with the
    fewest labelled galaxies and picks, the largest first, and from it the candidate whose
    :data:`TYPICALITY_NEIGHBOURS` nearest members lie closest on average (the inverse of that
    mean distance is its typicality). With few labels this beats picks by uncertainty, whose
    probe is still poor, and by k-centre, which favours outliers; with many, uncertainty wins.

    Parameters
    ----------
    candidates : ndarray (m, d)
        The unlabelled galaxies' embeddings.
    labelled : ndarray (l, d)
        The labelled galaxies' embeddings (may be empty).
    n : int
        How many to pick, 1 to m.
    seed : int
        Seed of the k-means and of the reference samples.

    Returns
    -------
    ndarray of int64
        ``n`` distinct candidate indices, in the order picked.
    """
    import warnings

    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neighbors import NearestNeighbors

    from galaxy10.modeling.suggest import normalise

    m = len(candidates)
    if not 1 <= n <= m:
        raise ValueError(f"n must be 1 to {m} (the candidates), got {n}")
    points = normalise(np.concatenate([np.asarray(labelled, dtype=np.float64).reshape(
        -1, candidates.shape[1]), np.asarray(candidates, dtype=np.float64)]))
    known = len(points) - m
    k = min(known + n, len(points))
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings():  # copies (blank cut-outs) make fewer distinct clusters
        warnings.simplefilter("ignore", ConvergenceWarning)
        if len(points) <= EXACT_KMEANS_UP_TO:
            clusters = KMeans(k, n_init=1, random_state=seed).fit_predict(points)
        else:
            sample = rng.choice(len(points), size=EXACT_KMEANS_UP_TO, replace=False)
            clusters = MiniBatchKMeans(k, n_init=1, batch_size=4096, random_state=seed
                                       ).fit(points[sample]).predict(points)
    size = np.bincount(clusters, minlength=k)
    covered = np.bincount(clusters[:known], minlength=k)
    left = size - covered  # candidates not picked yet, per cluster
    taken = np.zeros(len(points), dtype=bool)
    taken[:known] = True
    picks: list[int] = []
    for _ in range(n):
        order = np.lexsort((-size, covered))  # fewest labels first, then the largest
        chosen = int(order[left[order] > 0][0])
        members = np.flatnonzero(clusters == chosen)
        free = members[~taken[members]]
        if len(free) > TYPICALITY_REFERENCE:
            free = np.sort(rng.choice(free, size=TYPICALITY_REFERENCE, replace=False))
        reference = members if len(members) <= TYPICALITY_REFERENCE else \
            rng.choice(members, size=TYPICALITY_REFERENCE, replace=False)
        neighbours = min(TYPICALITY_NEIGHBOURS, len(reference) - 1)
        if neighbours < 1:
            best = int(free[0])
        else:  # one more neighbour: a member is its own nearest
            found = NearestNeighbors(n_neighbors=neighbours + 1).fit(points[reference])
            distance, _ = found.kneighbors(points[free])
            best = int(free[np.argmin(distance[:, 1:].mean(axis=1))])
        taken[best] = True
        covered[chosen] += 1
        left[chosen] -= 1
        picks.append(best - known)
    return np.asarray(picks, dtype=np.int64)


def next_batch(strategy: str, candidates: np.ndarray, n: int, *,
               labelled: np.ndarray | None = None, probs: np.ndarray | None = None,
               seed: int = 0) -> tuple[np.ndarray, tuple[str, ...]]:
    """The ``n`` candidates to label next by ``strategy`` (see the module's description).

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGIES`.
    candidates : ndarray (m, d)
        The unlabelled galaxies' embeddings.
    n : int
        How many to pick, 1 to m.
    labelled : ndarray (l, d), optional
        The labelled galaxies' embeddings (``diversity`` spreads away from them, ``typical``
        covers their clusters first).
    probs : ndarray (m, classes), optional
        The probe's probabilities of the candidates; required by ``uncertainty`` and ``mix``.
    seed : int, default 0
        Seed of the random picks (``random``, and ``mix``'s random share) and of
        ``typical``'s clustering.

    Returns
    -------
    order : ndarray of int64
        ``n`` candidate indices, best first.
    reasons : tuple of str
        Why each was picked (the strategy's name; ``mix`` gives ``suggest``'s reasons).
    """
    m = len(candidates)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if not 1 <= n <= m:
        raise ValueError(f"n must be 1 to {m} (the candidates), got {n}")
    if strategy in NEEDS_PROBE and probs is None:
        raise ValueError(f"strategy {strategy!r} ranks by the probe's probabilities: give probs")
    if strategy == "random":
        order = np.random.default_rng(seed).choice(m, size=n, replace=False).astype(np.int64)
    elif strategy == "uncertainty":
        from galaxy10.modeling.suggest import margin

        order = np.argsort(margin(probs), kind="stable")[:n].astype(np.int64)
    elif strategy == "diversity":
        centres = np.empty((0, candidates.shape[1])) if labelled is None else labelled
        order = farthest_first(candidates, centres, n)
    elif strategy == "typical":
        centres = np.empty((0, candidates.shape[1])) if labelled is None else labelled
        order = typical_picks(candidates, centres, n, seed)
    else:
        centres = np.empty((0, candidates.shape[1])) if labelled is None else labelled
        return mix_ranking(candidates, centres, probs, n, seed=seed)
    return order, (strategy,) * n


def mix_ranking(candidates: np.ndarray, labelled: np.ndarray, probs: np.ndarray, n: int, *,
                by: str = "margin", random_share: float = MIX_RANDOM_SHARE, seed: int = 0
                ) -> tuple[np.ndarray, tuple[str, ...]]:
    """``mix``: the labelling panel's ranking of ``n`` candidates.

    With fewer than :data:`TYPICAL_FIRST` labelled galaxies, :func:`typical_picks` (reason
    ``typical``); from then on ``suggest``'s ranking,
    :func:`galaxy10.modeling.suggest.rank_suggestions` by ``probs`` (``by`` and
    ``random_share`` as there).

    Returns
    -------
    order : ndarray of int64
        ``n`` candidate indices, best first.
    reasons : tuple of str
        Why each was picked.
    """
    from galaxy10.modeling.suggest import rank_suggestions

    if len(labelled) < TYPICAL_FIRST:
        return typical_picks(candidates, labelled, n, seed), ("typical",) * n
    picks = rank_suggestions(probs, candidates, n, by=by,  # type: ignore[arg-type]
                             random_share=random_share, seed=seed)
    return picks.order, picks.reasons


def refit_and_rerank(labelled: np.ndarray, labels: np.ndarray, candidates: np.ndarray, n: int,
                     *, strategy: str = "mix", seed: int = 0) -> Reranked:
    """One round of the labelling loop: refit the linear probe on the labels so far, then rank
    the unlabelled candidates for labelling.

    This is the step a labelling panel runs after every few clicks, and the one
    ``bench active`` simulates and times: on the frozen network's embeddings only, so it takes
    seconds where a fine-tune takes minutes.

    Parameters
    ----------
    labelled : ndarray (l, d)
        Embeddings of the galaxies labelled so far (the frozen pre-trained network's,
        :meth:`galaxy10.modeling.predict.Predictor.predict_and_embed`).
    labels : ndarray of int (l,)
        Their labels, 0-9.
    candidates : ndarray (m, d)
        Embeddings of the unlabelled galaxies.
    n : int
        How many to suggest, 1 to m.
    strategy : str, default "mix"
        One of :data:`STRATEGIES`; ``mix`` is the panel's ranking. ``random``,
        ``diversity`` and ``typical`` fit no probe.
    seed : int, default 0
        Seed of the probe's regression and of the random picks.

    Returns
    -------
    Reranked
        The picks (``order``, ``reasons``), the candidates' probabilities and the probe (for
        the panel's top-3 guesses), and the seconds of the refit and of the ranking.
    """
    labelled = np.asarray(labelled, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if len(labelled) != len(labels):
        raise ValueError(f"{len(labelled)} labelled vectors for {len(labels)} labels")
    start = time.perf_counter()
    probe = probs = None
    if strategy in NEEDS_PROBE:
        probe = fit_probe(labelled, labels, seed)
    fitted = time.perf_counter()
    if strategy in NEEDS_PROBE:
        probs = probe_probabilities(probe, labels, candidates)
    order, reasons = next_batch(strategy, candidates, n, labelled=labelled, probs=probs,
                                seed=seed)
    return Reranked(order, reasons, probs, probe, fitted - start, time.perf_counter() - fitted)
