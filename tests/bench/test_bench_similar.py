"""``bench similar``'s parts on small inputs (the figures themselves come from the benchmark)."""

from __future__ import annotations

import numpy as np

from galaxy10.bench.similar import embedding_cloud, format_similar, search_speed


def test_the_cloud_is_shaped_like_its_base():
    base = np.random.default_rng(0).normal(size=(50, 6)) * [1, 2, 3, 4, 5, 6] + 10
    cloud = embedding_cloud(base, 4000, seed=1)
    assert cloud.shape == (4000, 6) and cloud.dtype == np.float32
    np.testing.assert_allclose(cloud.mean(axis=0), base.mean(axis=0), rtol=0.05)
    assert (cloud.std(axis=0) > base.std(axis=0)).all()  # the noise adds spread


def test_search_speed_reports_both_methods_and_recall():
    base = np.random.default_rng(0).normal(size=(40, 8))
    r = search_speed(base, 600, queries=5, seed=0)
    assert r["n"] == 600 and r["dim"] == 8 and r["queries"] == 5
    for method in ("exact", "approximate"):
        assert r[method]["query_median_ms"] > 0 and r[method]["build_s"] >= 0
    assert 0.9 <= r["approximate_recall_at_10"] <= 1.0
    assert 0.0 <= r["approximate_recall_at_10_gaussian"] <= 1.0
    text = format_similar({
        "model": "m/pre.keras", "search": r,
        "real": {"dim": 8, "views": 8, "n_images": 10, "p@1": 0.5, "p@10": 0.4, "chance": 0.1},
        "button": {"test_rows": 4, "first_click_s": 1.0, "click_median_ms": 9.0,
                   "click_p95_ms": 12.0, "clicks": 3}})
    assert "precision at 1 0.500, at 10 0.400 (chance 0.100)" in text
    assert "search over 600 vectors" in text and len(text.splitlines()) == 3


def test_search_memory_runs_each_size_in_its_own_process():
    from galaxy10.bench.similar import format_search_memory, search_memory

    r = search_memory((40, 120, 1), dim=8, k=5)
    small, large, alone = r["sizes"]
    assert (r["dim"], r["k"], r["target_mb"]) == (8, 5, 500)
    assert (small["n"], large["n"]) == (40, 120)
    assert small["neighbours"] == 40 * 5 and large["neighbours"] == 120 * 5
    for s in (small, large):
        assert 0 < s["rss_before_mb"] <= s["peak_rss_mb"] < 500 and s["seconds"] >= 0
    assert alone["n"] == 1 and "no other vector" in alone["error"]  # a failed child is told
    table = format_search_memory(r).splitlines()
    similar = {"model": "m/pre.keras", "search_memory": r, "search": {
        "n": 9, "exact": {"query_median_ms": 1, "query_p95_ms": 2}, "approximate_recall_at_10": 1,
        "approximate": {"query_median_ms": 1, "query_p95_ms": 2, "build_s": 1},
        "approximate_recall_at_10_gaussian": 1},
        "real": {"dim": 8, "views": 8, "n_images": 10, "p@1": 0.5, "p@10": 0.4, "chance": 0.1},
        "button": {"test_rows": 4, "first_click_s": 1.0, "click_median_ms": 9.0,
                   "click_p95_ms": 12.0, "clicks": 3}}
    assert format_similar(similar).splitlines()[3:] == table  # bench similar prints it too
    assert table[0] == "exact leave-one-out search, 8-d vectors, 5 nearest each"
    assert table[2].split()[0] == "40" and table[2].endswith("<= 500 MB ok")
    assert table[4] == "        1 failed: " + alone["error"]
