"""The ranking behind ``suggest``: uncertainty order, k-centre spread, random share, class
balance."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.modeling.suggest import (
    class_caps,
    entropy,
    k_centre,
    margin,
    rank_suggestions,
    uncertainty,
)


def peaked(top: np.ndarray, second: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """Probabilities (n, 10) with ``p1`` on class ``top``, ``p2`` on ``second``, rest even."""
    n = len(top)
    probs = np.repeat(((1 - p1 - p2) / 8)[:, None], 10, axis=1)
    probs[np.arange(n), top] = p1
    probs[np.arange(n), second] = p2
    return probs


def test_margin_and_entropy_order_the_unsure_first():
    probs = np.array([[0.9, 0.1] + [0] * 8, [0.5, 0.5] + [0] * 8, [0.6, 0.3, 0.1] + [0] * 7])
    assert margin(probs) == pytest.approx([0.8, 0.0, 0.3])
    assert entropy(np.full((1, 10), 0.1)) == pytest.approx([np.log(10)])
    assert entropy(probs)[0] == pytest.approx(-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)))
    assert list(np.argsort(-uncertainty(probs, "margin"))) == [1, 2, 0]
    assert list(np.argsort(-uncertainty(probs, "entropy"))) == [2, 1, 0]
    with pytest.raises(ValueError, match="by must be"):
        uncertainty(probs, "variance")


def test_uncertainty_alone_picks_the_smallest_margins_in_order():
    rng = np.random.default_rng(0)
    p1 = rng.uniform(0.3, 0.9, 200)
    probs = peaked(np.zeros(200, int), np.ones(200, int), p1, (1 - p1) * 0.8)
    picks = rank_suggestions(probs, None, 10, random_share=0.0, slack=100)
    expected = np.argsort(margin(probs), kind="stable")[:10]
    assert list(picks.order) == list(expected)
    assert picks.reasons == ("uncertain",) * 10


def test_k_centre_spreads_picks_over_planted_clusters():
    rng = np.random.default_rng(1)
    centres = np.eye(16)[:5] * 10
    points = np.concatenate([c + rng.normal(0, 0.1, (40, 16)) for c in centres])
    picks = k_centre(points, 5)
    assert sorted(p // 40 for p in picks) == [0, 1, 2, 3, 4]


def test_diversity_takes_one_per_cluster_where_uncertainty_would_take_one_cluster():
    rng = np.random.default_rng(2)
    n = 250
    cluster = np.repeat(np.arange(5), 50)
    emb = np.eye(8)[cluster] * 5 + rng.normal(0, 0.05, (n, 8))
    p1 = np.where(cluster == 0, 0.40, 0.45) + rng.uniform(0, 0.01, n)  # cluster 0: most unsure
    probs = peaked(np.zeros(n, int), np.ones(n, int), p1, 0.35 * np.ones(n))
    plain = rank_suggestions(probs, None, 5, random_share=0.0, slack=100)
    assert set(cluster[plain.order]) == {0}
    spread = rank_suggestions(probs, emb, 5, random_share=0.0, slack=100, pool=100)
    assert sorted(cluster[spread.order]) == [0, 1, 2, 3, 4]
    assert spread.reasons[0] == "uncertain" and "diverse" in spread.reasons


@pytest.mark.parametrize(("n", "share", "expected"), [(50, 0.1, 5), (10, 0.25, 2), (7, 0.0, 0),
                                                      (7, 1.0, 7)])
def test_random_share_is_exact_and_seeded(n, share, expected):
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(10), 300)
    emb = rng.normal(size=(300, 6))
    first = rank_suggestions(probs, emb, n, random_share=share, seed=5)
    assert first.reasons.count("random") == expected
    assert len(first.order) == n == len(set(first.order.tolist()))
    again = rank_suggestions(probs, emb, n, random_share=share, seed=5)
    assert list(first.order) == list(again.order)
    if expected:
        other = rank_suggestions(probs, emb, n, random_share=share, seed=6)
        drawn = {int(i) for i, r in zip(first.order, first.reasons, strict=True) if r == "random"}
        drawn6 = {int(i) for i, r in zip(other.order, other.reasons, strict=True) if r == "random"}
        assert drawn != drawn6


def test_no_class_takes_more_than_its_share_while_others_have_candidates():
    rng = np.random.default_rng(4)
    n = 400
    top = np.where(np.arange(n) < 300, 2, rng.integers(0, 10, n))  # class 2: most rows
    p1 = np.where(top == 2, 0.35, 0.6)  # and the most uncertain ones
    probs = peaked(top, (top + 1) % 10, p1, 0.3 * np.ones(n))
    emb = rng.normal(size=(n, 8))
    classes = len(np.unique(top))
    for embeddings in (None, emb):
        picks = rank_suggestions(probs, embeddings, 20, random_share=0.0, slack=1)
        counts = np.bincount(top[picks.order], minlength=10)
        assert counts[2] <= int(np.ceil(20 / classes)) + 1
        assert counts.sum() == 20


def test_caps_are_lifted_when_only_one_class_has_candidates_left():
    probs = peaked(np.array([0] * 30 + [1] * 2), np.array([1] * 30 + [0] * 2),
                   np.full(32, 0.5), np.full(32, 0.3))
    assert class_caps(probs.argmax(1), 10, slack=0) == {0: 5, 1: 5}
    for embeddings in (None, np.random.default_rng(5).normal(size=(32, 4))):
        picks = rank_suggestions(probs, embeddings, 10, random_share=0.0, slack=0)
        assert np.bincount(probs.argmax(1)[picks.order], minlength=2).tolist() == [8, 2]


def test_bad_arguments_are_refused():
    probs = np.full((3, 10), 0.1)
    with pytest.raises(ValueError, match="n must be 1 to 3"):
        rank_suggestions(probs, None, 4)
    with pytest.raises(ValueError, match="random_share"):
        rank_suggestions(probs, None, 2, random_share=float("nan"))
