"""The data audit (exact and near duplicates) and duplicate-aware splits."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxy10.cli import main
from galaxy10.datasets import synthetic
from galaxy10.datasets.audit import NEAR_THRESHOLD, audit, duplicate_groups, groups_from_pairs
from galaxy10.datasets.resample import drop_leaks, group_aware_test_split, leaks, make_splits
from galaxy10.datasets.writer import Galaxy10Writer


def test_real_sample_pair_is_found(real_sample, capsys):
    result = audit(real_sample)
    assert result["images"] == 1000
    pair = [g for g in result["groups"] if set(g["names"]) == {"7/11828.jpg", "8/14447.jpg"}]
    assert len(pair) == 1 and pair[0]["kind"] == "exact" and pair[0]["conflicting"]
    assert pair[0]["labels"] == [7, 8]
    # nothing absurd: on these 1,000 images the known pair is the only group
    assert result["exact_groups"] == 1 and result["near_groups"] == 0
    assert result["conflicting_groups"] == 1 and result["duplicate_images"] == 2
    assert main(["audit", str(real_sample), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["groups"][0]["rows"] == pair[0]["rows"]


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def test_planted_duplicates_in_a_synthetic_file(tmp_path, capsys):
    n = 24
    labels = synthetic.make_labels(n, 3)
    images, _ = synthetic.render_rows(labels, 3, np.arange(n))
    images[20] = images[3]  # exact copy, same label
    images[21] = _jpeg(images[5], 60)  # re-encoded copy
    noise = np.random.default_rng(0).integers(-1, 2, size=images[7].shape)
    images[22] = np.clip(images[7].astype(int) + noise, 0, 255)  # +-1 noise copy
    labels = labels.copy()
    labels[20] = labels[3]
    labels[21] = labels[5]
    labels[22] = (labels[7] + 1) % 10  # a conflicting label
    path = tmp_path / "planted.h5"
    with Galaxy10Writer(path, n, source="synthetic") as w:
        w.write(0, images, labels)
    result = audit(path, batch_size=5)  # several batches
    found = {tuple(g["rows"]): g for g in result["groups"]}
    assert set(found) == {(3, 20), (5, 21), (7, 22)}
    assert found[(3, 20)]["kind"] == "exact" and not found[(3, 20)]["conflicting"]
    assert found[(5, 21)]["kind"] == "near"
    assert 0 < found[(5, 21)]["max_distance"] <= NEAR_THRESHOLD
    assert found[(7, 22)]["kind"] == "near" and found[(7, 22)]["conflicting"]
    assert (result["exact_groups"], result["near_groups"], result["conflicting_groups"]) == \
        (1, 2, 1)
    groups = duplicate_groups(path)
    expected = np.arange(n)
    expected[[20, 21, 22]] = [3, 5, 7]
    np.testing.assert_array_equal(groups, expected)
    # threshold 0 keeps exact copies only
    np.testing.assert_array_equal(duplicate_groups(path, threshold=0.0)[[21, 22]], [21, 22])
    assert main(["audit", str(path)]) == 0
    out = capsys.readouterr().out
    assert "exact-duplicate groups      : 1" in out and "CONFLICTING LABELS" in out


def test_audit_errors_are_one_line(tmp_path, capsys):
    assert main(["audit", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not found" in err and len(err.splitlines()) == 1
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "a.jpg").write_bytes(b"not a jpeg")
    assert main(["audit", str(tmp_path)]) == 2
    assert "a.jpg" in capsys.readouterr().err
    assert main(["audit", str(tmp_path), "--threshold", "3"]) == 2
    assert capsys.readouterr().err.startswith("error: argument --threshold: must be at least 0 "
                                              "and below 2")


def test_union_find_merges_chains():
    np.testing.assert_array_equal(groups_from_pairs(6, [(4, 5), (1, 4), (2, 3)]),
                                  [0, 1, 2, 2, 1, 1])


# 50-150 rows, every class at least 5 times, groups drawn with collisions (sizes 1-5 or so)
groups_strategy = st.integers(50, 150).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, n - 1), min_size=n, max_size=n), st.integers(0, 2**16)))


@settings(max_examples=40, deadline=None)
@given(data=groups_strategy)
def test_group_aware_split_never_leaks(data):
    groups, state = np.array(data[0]), data[1]
    labels = np.random.default_rng(state).permutation(np.arange(groups.size) % 10)
    rows = np.arange(labels.size)
    if np.unique(groups).size < 5:  # fewer groups than the 5 folds of test_size=0.2
        with pytest.raises(ValueError, match="groups"):
            group_aware_test_split(rows, labels, groups, random_state=state)
    else:
        train, test = group_aware_test_split(rows, labels, groups, random_state=state)
        assert leaks(train, test, groups) == 0
        assert not set(train) & set(test) and set(train) | set(test) == set(rows)
        assert test.size > 0 and train.size > 0
        if np.bincount(groups).max() <= 5:  # small groups: about the requested share
            assert abs(test.size / rows.size - 0.2) < 0.1
    # drop_leaks repairs any split, leaving its test rows alone
    rng = np.random.default_rng(state)
    test2 = rng.choice(rows, size=rows.size // 5, replace=False)
    train2 = np.setdiff1d(rows, test2)
    kept = drop_leaks(train2, test2, groups)
    assert leaks(kept, test2, groups) == 0
    assert set(kept) == {r for r in train2 if groups[r] not in set(groups[test2])}


def test_leaks_counts_test_images_with_a_copy_in_training():
    groups = np.array([0, 1, 0, 3, 3, 5])
    assert leaks([0, 1], [2, 3, 4], groups) == 1
    assert leaks([0, 3], [2, 4, 5], groups) == 2
    assert leaks([1], [1], groups) == 1  # a row in both sets is its own duplicate


def test_seed_faithful_split_is_unchanged_by_groups():
    labels = np.repeat(np.arange(10), 12)
    a, b = make_splits(labels), make_splits(labels)
    np.testing.assert_array_equal(a.test, b.test)
    groups = np.arange(labels.size)
    groups[a.all_train[:3]] = a.test[:3]  # plant three leaks
    assert leaks(a.all_train, a.test, groups) == 3
    assert leaks(drop_leaks(a.all_train, a.test, groups), a.test, groups) == 0


def _old_near_pairs(thumbs, threshold, block=512):
    """The audit's first implementation: all pairs by blocks of dot products."""
    limit = 2.0 - threshold**2
    pairs = []
    for start in range(0, len(thumbs), block):
        sims = thumbs[start:start + block] @ thumbs[start:].T
        for a, b in zip(*np.nonzero(2.0 * sims >= limit), strict=True):
            if b > a:
                pairs.append((start + int(a), start + int(b),
                              float(np.sqrt(max(2.0 - 2.0 * sims[a, b], 0.0)))))
    return pairs


def _old_groups(n, pairs):
    """The audit's first implementation: union-find, the smallest row as the root."""
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)])


@pytest.mark.parametrize("threshold", [0.0, NEAR_THRESHOLD, 0.3])
def test_the_graph_gives_the_groups_the_union_find_gave(threshold):
    from galaxy10.datasets.audit import _exact_pairs, near_pairs

    rng = np.random.default_rng(3)
    n = 700
    thumbs = rng.normal(size=(n, 64)).astype(np.float32)
    copies = rng.choice(n, size=(120, 2), replace=False)  # a -> b, some in chains
    for a, b in copies:
        thumbs[b] = thumbs[a] + rng.normal(scale=rng.uniform(0.0, 0.03), size=64)
    thumbs[[10, 11, 500]] = 0.0  # flat images: never near anything
    thumbs /= np.maximum(np.linalg.norm(thumbs, axis=1, keepdims=True), 1e-12)
    digests = [bytes([i % 256, i // 256]) for i in range(n)]
    for a, b in copies[:15]:  # exact copies found by their digests
        digests[b] = digests[a]
    digests[11] = digests[10]

    new = near_pairs(thumbs, threshold)
    old = _old_near_pairs(thumbs, threshold)
    assert [p[:2] for p in new] == [p[:2] for p in old] and len(new) > 30 * (threshold > 0)
    np.testing.assert_allclose([p[2] for p in new], [p[2] for p in old], atol=1e-3)
    links = _exact_pairs(digests) + [p[:2] for p in new]
    groups = groups_from_pairs(n, links)
    np.testing.assert_array_equal(groups, _old_groups(n, links))
    assert groups[11] == 10 and groups[500] == 500


def test_flat_thumbnails_pair_with_everything_only_from_sqrt_2():
    from galaxy10.datasets.audit import near_pairs

    thumbs = np.zeros((5, 8), dtype=np.float32)
    thumbs[[0, 2, 3], [0, 1, 2]] = 1.0  # three orthogonal: sqrt(2) apart; rows 1, 4 flat
    for threshold in (1.0, 1.41, 1.5):
        new, old = near_pairs(thumbs, threshold), _old_near_pairs(thumbs, threshold)
        assert [p[:2] for p in new] == [p[:2] for p in old]
    assert len(near_pairs(thumbs, 1.5)) == 10 and near_pairs(thumbs, 1.41) == []
