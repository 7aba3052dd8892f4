"""Cosine neighbour search, precision at k and the odd ones out, on small made-up vectors."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.evaluation.similarity import (
    NeighbourIndex,
    odd_ones_out,
    precision_at_k,
)


def clusters(n_per: int = 30, classes: int = 4, dim: int = 16, spread: float = 0.3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    labels = np.repeat(np.arange(classes), n_per)
    return (centres[labels] + rng.normal(scale=spread, size=(len(labels), dim))).astype(
        np.float32), labels


@pytest.mark.parametrize("approximate", [False, True])
def test_a_galaxys_nearest_neighbour_is_itself(approximate):
    x, _ = clusters()
    nn, dist = NeighbourIndex(x, approximate=approximate).query(x, 3)
    np.testing.assert_array_equal(nn[:, 0], np.arange(len(x)))
    assert np.abs(dist[:, 0]).max() < 1e-5 and (np.diff(dist, axis=1) >= -1e-6).all()


def test_exact_and_approximate_agree_on_a_small_set():
    x = np.random.default_rng(1).normal(size=(3000, 24)).astype(np.float32)
    exact = NeighbourIndex(x, approximate=False)
    approx = NeighbourIndex(x, approximate=True)
    assert not exact.approximate and approx.approximate
    e_nn, e_d = exact.query(x[:100], 10, exclude=np.arange(100))
    a_nn, a_d = approx.query(x[:100], 10, exclude=np.arange(100))
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(a_nn, e_nn, strict=True)])
    assert recall >= 0.95
    np.testing.assert_allclose(a_d[:, 0], e_d[:, 0], atol=1e-5)
    assert not (e_nn == np.arange(100)[:, None]).any()


def test_cosine_ignores_length_and_distance_is_one_minus_cosine():
    x = np.array([[1, 0], [0, 1], [-1, 0.1], [5, 0.2]], dtype=np.float32)
    index = NeighbourIndex(x)
    index.mean[:] = 0  # compare the raw directions
    index.unit = index.transform(x)
    nn, dist = index.query([10, 0], 4)
    assert list(nn[0]) == [0, 3, 1, 2]
    np.testing.assert_allclose(dist[0, 0], 0, atol=1e-6)
    np.testing.assert_allclose(dist[0, 2], 1, atol=1e-6)


def test_pca_keeps_the_neighbours_of_separated_classes():
    x, labels = clusters(dim=32)
    index = NeighbourIndex(x, pca=4)
    assert index.unit.shape == (len(x), 4)
    nn, _ = index.query(x, 5, exclude=np.arange(len(x)))
    assert (labels[nn] == labels[:, None]).all()


def test_precision_at_k_against_chance():
    x, labels = clusters()
    p = precision_at_k(x, labels)
    assert p["p@1"] == 1.0 and p["p@10"] == 1.0
    assert p["chance"] == pytest.approx(29 / 119)
    rng = np.random.default_rng(0)
    noise = precision_at_k(rng.normal(size=(400, 8)), np.arange(400) % 4)
    assert abs(noise["p@10"] - noise["chance"]) < 0.08


def test_the_odd_one_out_is_the_one_like_no_class():
    x, labels = clusters(seed=2)
    x[17] = np.random.default_rng(5).normal(size=x.shape[1]) * 3  # like none of them
    pos, sim, near = odd_ones_out(NeighbourIndex(x), labels, n=3)
    assert pos[0] == 17 and sim[0] < sim[1] <= sim[2]
    assert near.shape == (3,)


def test_bad_vectors_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        NeighbourIndex(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="no other vector"):
        NeighbourIndex(np.ones((1, 4))).query(np.ones(4), 3, exclude=[0])


def _reference(queries, data, k):
    """Brute force in float64: every distance, fully sorted, ties by position."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    x = data / np.linalg.norm(data, axis=1, keepdims=True)
    dist = 1 - q.astype(np.float64) @ x.astype(np.float64).T
    order = np.lexsort((np.broadcast_to(np.arange(len(x)), dist.shape), dist), axis=1)[:, :k]
    return order, np.take_along_axis(dist, order, axis=1)


@pytest.mark.parametrize("memory_mb", [64, 0.01])  # one block; blocks of two queries
def test_exact_search_matches_brute_force_in_blocks_of_any_size(monkeypatch, memory_mb):
    from galaxy10.evaluation import similarity

    monkeypatch.setattr(similarity, "WORKING_MEMORY_MB", memory_mb)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(600, 32)).astype(np.float32)
    index = NeighbourIndex(x, approximate=False)
    nn, dist = index.query(x, 10, exclude=np.arange(len(x)))
    ref, ref_dist = _reference(index.unit, index.unit, 11)
    ref = np.array([r[r != i][:10] for i, r in enumerate(ref)])  # leave one out
    np.testing.assert_array_equal(nn, ref)
    np.testing.assert_allclose(dist, np.sort(ref_dist, axis=1)[:, 1:], atol=1e-5)
    few, _ = index.query(x[:5], 4)
    np.testing.assert_array_equal(few, _reference(index.unit[:5], index.unit, 4)[0])


def test_equal_distances_are_ordered_by_position_even_at_the_kth_place():
    from galaxy10.evaluation.similarity import _k_smallest

    d = np.array([[0.5, 0.2, 0.5, 0.1, 0.5, 0.9],
                  [0.3, 0.3, 0.3, 0.3, 0.3, 0.3],
                  [0.7, 0.6, 0.5, 0.4, 0.3, 0.2]], dtype=np.float32)
    idx, vals = _k_smallest(d, 3)
    np.testing.assert_array_equal(idx, [[3, 1, 0], [0, 1, 2], [5, 4, 3]])
    np.testing.assert_array_equal(vals, np.take_along_axis(d, idx, axis=1))
    # NumPy's partial sort alone picks later ones among the 20 equal here
    row = np.r_[np.full(20, 0.9), np.full(20, 0.3), 0.1].astype(np.float32)[None]
    idx, _ = _k_smallest(row, 3)
    np.testing.assert_array_equal(idx, [[40, 20, 21]])
