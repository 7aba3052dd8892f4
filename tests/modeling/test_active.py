"""One round of the labelling loop: the strategies of ``next_batch`` and ``refit_and_rerank``
(tiny synthetic embeddings, no network)."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.modeling.active import (
    STRATEGIES,
    TYPICAL_FIRST,
    farthest_first,
    next_batch,
    refit_and_rerank,
    typical_picks,
)
from galaxy10.modeling.suggest import margin, rank_suggestions


def _clusters(n: int = 200, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` vectors around ten class centres, and their classes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    return rng.normal(size=(10, d))[y] * 3 + rng.normal(size=(n, d)), y


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_picks_n_distinct_candidates(strategy):
    vectors, y = _clusters()
    got = refit_and_rerank(vectors[:30], y[:30], vectors[30:], 12, strategy=strategy, seed=3)
    assert len(got.order) == len(got.reasons) == 12
    assert len(set(got.order.tolist())) == 12
    assert got.order.min() >= 0 and got.order.max() < 170
    if strategy in ("random", "diversity", "typical"):  # no probe is fitted for them
        assert got.probe is None and got.probs is None
    else:
        assert got.probs.shape == (170, 10)
        np.testing.assert_allclose(got.probs.sum(axis=1), 1.0)


def test_uncertainty_picks_the_smallest_margins():
    probs = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3], [0.5, 0.5]])
    order, reasons = next_batch("uncertainty", np.zeros((4, 2)), 2, probs=probs)
    assert order.tolist() == [3, 1]
    assert reasons == ("uncertainty", "uncertainty")


def test_mix_is_the_suggest_ranking_once_the_typical_start_is_labelled():
    vectors, y = _clusters()
    first = TYPICAL_FIRST
    got = refit_and_rerank(vectors[:first], y[:first], vectors[first:], 10, strategy="mix",
                           seed=5)
    again = rank_suggestions(got.probs, vectors[first:], 10, by="margin", random_share=0.1,
                             seed=5)
    assert got.order.tolist() == again.order.tolist()
    assert set(got.reasons) <= {"uncertain", "diverse", "random"}
    # the probe's uncertainty decides: the most uncertain candidate leads
    assert got.order[0] == int(np.argmin(margin(got.probs)))
    # one label fewer: still the typical start
    early = refit_and_rerank(vectors[:first - 1], y[:first - 1], vectors[first - 1:], 10,
                             strategy="mix", seed=5)
    typical = typical_picks(vectors[first - 1:], vectors[:first - 1], 10, seed=5)
    assert early.order.tolist() == typical.tolist()
    assert early.reasons == ("typical",) * 10


def test_diversity_spreads_away_from_the_labelled_galaxies():
    labelled = np.array([[1.0, 0.0]])
    far, copy, side = [-1.0, 0.0], [-1.0, 0.02], [0.0, 1.0]
    order, reasons = next_batch("diversity", np.array([side, copy, far]), 3, labelled=labelled)
    # the farthest from the labelled one first, then not its near-copy but the other side
    assert order.tolist() == [2, 0, 1]
    assert reasons == ("diversity",) * 3
    # a candidate equal to a labelled galaxy comes last
    assert farthest_first(np.array([[2.0, 0.0], side, far]), labelled, 3)[-1] == 0


def _blobs(sizes: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tight blobs of ``sizes`` points around orthogonal directions, each with one outlier
    just beyond it; the blob of each point (-1 for an outlier)."""
    rng = np.random.default_rng(seed)
    points, blob = [], []
    for b, size in enumerate(sizes):
        centre = np.eye(8)[b] * 10
        points += [centre + rng.normal(scale=0.3, size=(size, 8)),
                   centre[None] + rng.normal(scale=3.0, size=(1, 8))]
        blob += [b] * size + [-1]
    return np.concatenate(points), np.asarray(blob)


def test_typical_picks_cover_the_largest_clusters_with_their_densest_galaxies():
    """TypiClust: one pick per cluster, the largest first, never an outlier; a cluster a
    label covers already comes after the uncovered ones."""
    points, blob = _blobs([60, 40, 30, 20])
    order, reasons = next_batch("typical", points, 4, seed=0)
    assert reasons == ("typical",) * 4
    assert blob[order].tolist() == [0, 1, 2, 3]
    # the pick of blob 0 lies nearer its blob's mean than most of the blob does
    members = points[blob == 0]
    spread = np.linalg.norm(members - members.mean(axis=0), axis=1)
    assert np.linalg.norm(points[order[0]] - members.mean(axis=0)) <= np.median(spread)
    # with blob 0 labelled, its cluster is covered: the picks go to the others first
    covered = typical_picks(points[blob != 0], points[blob == 0][:1], 3, seed=0)
    assert sorted(blob[blob != 0][covered].tolist()) == [1, 2, 3]


def test_typical_picks_follow_their_seed_and_take_every_candidate_once():
    points, _ = _blobs([25, 15, 10])
    a = typical_picks(points, np.empty((0, 8)), 8, seed=4)
    assert a.tolist() == typical_picks(points, np.empty((0, 8)), 8, seed=4).tolist()
    every = typical_picks(points, np.empty((0, 8)), len(points), seed=4)
    assert sorted(every.tolist()) == list(range(len(points)))


def test_typical_picks_take_copies_quietly():
    """Identical embeddings (blank cut-outs) make fewer distinct clusters than asked: every
    candidate is still picked once, and no warning reaches the user."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picks = typical_picks(np.ones((5, 4)), np.ones((3, 4)), 5, seed=0)
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


def test_typical_picks_cluster_large_sets_in_mini_batches(monkeypatch):
    """Beyond EXACT_KMEANS_UP_TO galaxies the clustering is mini-batch k-means, and large
    clusters are measured on a sample; the picks are still distinct and seeded."""
    import galaxy10.modeling.active as active

    monkeypatch.setattr(active, "EXACT_KMEANS_UP_TO", 50)
    monkeypatch.setattr(active, "TYPICALITY_REFERENCE", 20)
    points, blob = _blobs([60, 40, 30, 20])
    a = typical_picks(points, np.empty((0, 8)), 4, seed=1)
    assert a.tolist() == typical_picks(points, np.empty((0, 8)), 4, seed=1).tolist()
    assert len(set(a.tolist())) == 4 and -1 not in blob[a].tolist()


def test_random_picks_follow_their_seed():
    vectors = np.zeros((50, 3))
    a, _ = next_batch("random", vectors, 10, seed=1)
    b, _ = next_batch("random", vectors, 10, seed=1)
    c, _ = next_batch("random", vectors, 10, seed=2)
    assert a.tolist() == b.tolist() != c.tolist()


def test_one_class_labelled_needs_no_regression():
    """After a cold start of one class the probe cannot be fitted: it answers that class."""
    vectors, _ = _clusters()
    got = refit_and_rerank(vectors[:5], np.full(5, 7), vectors[5:], 4, strategy="uncertainty")
    assert got.probe is None
    assert (got.probs.argmax(axis=1) == 7).all()
    assert len(got.order) == 4


def test_bad_requests_are_refused():
    vectors, y = _clusters(40)
    with pytest.raises(ValueError, match="strategy must be one of"):
        next_batch("greedy", vectors, 2)
    with pytest.raises(ValueError, match="n must be 1 to 40"):
        next_batch("random", vectors, 41)
    with pytest.raises(ValueError, match="give probs"):
        next_batch("mix", vectors, 2)
    with pytest.raises(ValueError, match="3 labelled vectors for 2 labels"):
        refit_and_rerank(vectors[:3], y[:2], vectors, 2)


def test_farthest_first_measures_true_distances_with_zero_rows():
    """A zero embedding (a blank cut-out) is 1 from every unit vector, not sqrt(2)."""
    candidates = np.array([[0.0, 0.0], [-1.0, 0.0], [0.6, 0.8]])
    labelled = np.array([[1.0, 0.0]])
    # distances to the labelled one: 1, 2 and about 0.89; then from the picks
    assert farthest_first(candidates, labelled, 3).tolist() == [1, 0, 2]
    rng = np.random.default_rng(0)
    points, centres = rng.normal(size=(40, 5)), rng.normal(size=(3, 5))
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    known = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    first = int(farthest_first(points, centres, 1)[0])
    gaps = np.linalg.norm(unit[:, None] - known[None], axis=2).min(axis=1)
    assert first == int(np.argmax(gaps))
