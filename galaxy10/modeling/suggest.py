"""Which galaxies to label next: uncertainty, diversity, random picks, class balance.

Pure NumPy functions behind ``python -m galaxy10 suggest``
(:mod:`galaxy10.pipeline.suggest`). A label is worth most where the model is unsure, but the
most uncertain galaxies are often near-copies of each other and of one confusing class pair;
so the ranking (:func:`rank_suggestions`)

1. scores every candidate's uncertainty from its calibrated probabilities (:func:`margin`,
   the top-1 minus top-2 probability, low is unsure; or :func:`entropy`, high is unsure);
2. keeps, per predicted class, the most uncertain candidates as a pool;
3. picks from the pool by greedy k-centre on the L2-normalised embeddings
   (:func:`k_centre`): each pick is the candidate farthest from every pick so far, so the
   picks spread over the embedding instead of piling up in one corner;
4. caps each predicted class at its fair share plus ``slack`` while other classes still
   have candidates;
5. adds a share of uniformly random candidates (seeded), which keeps the labelled set an
   unbiased sample in part and finds what the model is confidently wrong about.

Each pick carries its reason: ``uncertain`` (among the most uncertain candidates that
uncertainty alone would have picked), ``diverse`` (taken from further down the pool to
spread the picks) or ``random``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

By = Literal["margin", "entropy"]
BY: tuple[str, ...] = ("margin", "entropy")
"""The uncertainty scores :func:`rank_suggestions` knows."""
POOL = 5
"""Default pool per class, in multiples of the class's cap: room for k-centre to spread."""
SLACK = 1
"""Default picks a predicted class may take beyond its fair share."""
REASONS = ("uncertain", "diverse", "random")


@dataclass(frozen=True)
class Suggestions:
    """The ranked picks: ``order`` indexes the candidates, best first; ``reasons`` says why
    each was picked (one of :data:`REASONS`)."""

    order: np.ndarray
    reasons: tuple[str, ...]


def margin(probs: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability of each row of ``probs`` (n, classes); 0 is a tie."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape[1] < 2:
        return np.ones(len(probs))
    top2 = -np.partition(-probs, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of ``probs`` (n, classes); zeros count as 0."""
    probs = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(axis=1)


def uncertainty(probs: np.ndarray, by: By = "margin") -> np.ndarray:
    """How unsure the model is of each row, higher is less sure: ``-margin`` or ``entropy``."""
    if by == "margin":
        return -margin(probs)
    if by == "entropy":
        return entropy(probs)
    raise ValueError(f"by must be one of {', '.join(BY)}, got {by!r}")


def normalise(embeddings: np.ndarray) -> np.ndarray:
    """Rows of ``embeddings`` scaled to unit L2 length (a zero row stays zero)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.where(norms > 0, norms, 1.0)


def k_centre(points: np.ndarray, k: int, first: int = 0,
             allowed: Callable[[list[int]], np.ndarray] | None = None) -> list[int]:
    """Greedy k-centre: ``k`` row indices of ``points``, each farthest from those before.

    Parameters
    ----------
    points : ndarray (n, d)
        The vectors (already normalised, when cosine geometry is meant).
    k : int
        How many to pick (at most n).
    first : int, default 0
        The first pick (the caller's most uncertain candidate).
    allowed : callable, optional
        ``allowed(picks)``: a boolean mask of the rows that may be picked next (the class
        caps). Ties go to the lowest index.

    Returns
    -------
    list of int
        The picks in order; fewer than ``k`` when ``allowed`` refuses every row left.
    """
    points = np.asarray(points, dtype=np.float64)
    n = len(points)
    picks: list[int] = []
    if n == 0 or k <= 0:
        return picks
    distance = np.full(n, np.inf)
    open_ = np.ones(n, dtype=bool)
    nxt = first
    while True:
        picks.append(nxt)
        open_[nxt] = False
        distance = np.minimum(distance, np.linalg.norm(points - points[nxt], axis=1))
        mask = open_ if allowed is None else open_ & allowed(picks)
        if len(picks) >= k or not mask.any():
            return picks
        nxt = int(np.argmax(np.where(mask, distance, -1.0)))


def class_caps(predicted: np.ndarray, n: int, slack: int = SLACK) -> dict[int, int]:
    """The most picks each predicted class may take: ``ceil(n / classes) + slack``.

    ``classes`` counts the predicted classes among the candidates; a class with fewer
    candidates than its cap leaves its room to the others (:func:`rank_suggestions` lifts
    the caps once only capped classes have candidates left).
    """
    classes = np.unique(predicted)
    if len(classes) == 0:
        return {}
    cap = math.ceil(n / len(classes)) + max(0, int(slack))
    return {int(c): cap for c in classes}


def _pool(score: np.ndarray, predicted: np.ndarray, caps: dict[int, int], pool: int
          ) -> np.ndarray:
    """Indices of each class's ``pool * cap`` most uncertain candidates, most uncertain
    first overall (ties: lowest index)."""
    keep = []
    for c, cap in caps.items():
        rows = np.flatnonzero(predicted == c)
        rows = rows[np.argsort(-score[rows], kind="stable")]
        keep.append(rows[:max(1, pool) * cap])
    chosen = np.concatenate(keep) if keep else np.empty(0, dtype=np.int64)
    return chosen[np.argsort(-score[chosen], kind="stable")]


def _capped(predicted: np.ndarray, caps: dict[int, int], order: np.ndarray, k: int,
            embeddings: np.ndarray | None) -> list[int]:
    """``k`` picks among ``order`` (candidate indices, most uncertain first) under the class
    caps, each cap lifted once only full classes have rows left: by k-centre on
    ``embeddings``, else in ``order``."""
    cls = predicted[order]
    classes = np.asarray(sorted(caps))
    cap = np.asarray([caps[c] for c in classes])
    where = np.searchsorted(classes, cls)  # each row's class, as a position in `classes`

    def allowed(picks: list[int]) -> np.ndarray:
        open_ = np.ones(len(order), dtype=bool)
        open_[picks] = False
        counts = np.bincount(where[picks], minlength=len(classes))
        left = np.bincount(where[open_], minlength=len(classes))
        room = (counts < cap) & (left > 0)
        if not room.any():  # only full classes have rows left: the caps are lifted
            return np.ones(len(order), dtype=bool)
        return room[where]

    if embeddings is None:
        picks: list[int] = []
        while len(picks) < min(k, len(order)):
            mask = allowed(picks)
            mask[picks] = False
            picks.append(int(np.argmax(mask)))  # the most uncertain row allowed
        return [int(order[i]) for i in picks]
    picks = k_centre(normalise(embeddings[order]), k, first=0, allowed=allowed)
    return [int(order[i]) for i in picks]


def rank_suggestions(probs: np.ndarray, embeddings: np.ndarray | None, n: int, *,
                     by: By = "margin", random_share: float = 0.1, seed: int = 0,
                     pool: int = POOL, slack: int = SLACK) -> Suggestions:
    """Rank ``n`` candidates for labelling (see the module's description).

    Parameters
    ----------
    probs : ndarray (m, classes)
        Calibrated probabilities of the m candidates (the unlabelled rows).
    embeddings : ndarray (m, d) or None
        Their embedding vectors; None ranks by uncertainty alone (no diversity step).
    n : int
        How many to suggest, 1 to m.
    by : {"margin", "entropy"}
        The uncertainty score.
    random_share : float, default 0.1
        Share of the ``n`` picks drawn uniformly at random from the candidates left
        (``round(n * random_share)`` of them), with ``seed``.
    seed : int, default 0
        Seed of the random picks.
    pool : int, default :data:`POOL`
        Each class's most uncertain candidates k-centre chooses among, in multiples of its cap.
    slack : int, default :data:`SLACK`
        Picks a predicted class may take beyond its fair share while others have candidates.

    Returns
    -------
    Suggestions
        ``order`` (n candidate indices, random picks spread evenly among the others) and the
        reason of each.
    """
    probs = np.asarray(probs, dtype=np.float64)
    m = len(probs)
    if not 1 <= n <= m:
        raise ValueError(f"n must be 1 to {m} (the candidates), got {n}")
    if not 0.0 <= random_share <= 1.0:  # NaN too
        raise ValueError(f"random_share must be in [0, 1], got {random_share}")
    if embeddings is not None and len(embeddings) != m:
        raise ValueError(f"{len(embeddings)} embeddings for {m} candidates")
    n_random = int(round(n * random_share))
    n_active = n - n_random
    score = uncertainty(probs, by)
    predicted = probs.argmax(axis=1)
    caps = class_caps(predicted, n_active, slack)
    active = (_capped(predicted, caps, _pool(score, predicted, caps, pool), n_active,
                      embeddings) if n_active else [])
    if len(active) < n_active:  # the pools ran out: the rest by uncertainty, uncapped
        taken = set(active)
        active += [int(i) for i in np.argsort(-score, kind="stable") if int(i) not in taken
                   ][:n_active - len(active)]
    plain = set(_capped(predicted, caps, np.argsort(-score, kind="stable"), n_active, None)
                if n_active else [])
    reasons = ["uncertain" if i in plain else "diverse" for i in active]
    rest = np.setdiff1d(np.arange(m), np.asarray(active, dtype=np.int64))
    rng = np.random.default_rng(seed)
    drawn = [int(i) for i in rng.choice(rest, size=n_random, replace=False)] if n_random else []
    keys = [(j + 0.5) / max(n_active, 1) for j in range(n_active)] + \
           [(j + 0.5) / n_random for j in range(n_random)]
    merged = sorted(range(n), key=lambda j: (keys[j], j >= n_active))
    picks = active + drawn
    reasons += ["random"] * n_random
    return Suggestions(np.asarray([picks[j] for j in merged], dtype=np.int64),
                       tuple(reasons[j] for j in merged))
