"""``bench similar``: how well and how fast similarity search works.

Three measurements:

* **precision at 1 and at 10** on labelled real images: every galaxy is a query and its
  neighbours are searched among all the others (leave-one-out), in the bundle's embedding;
  chance is what a random ranking would score;
* **query time** over ``n`` vectors drawn like the real images' embeddings (resampled with
  noise), one query at a time, for exact search and for the approximate (FAISS HNSW) index,
  with the approximate index's recall of the exact 10 nearest;
* **"More like this" latency** of the button on the real images' held-out rows: the first
  click (which embeds the test rows) and the clicks after it (search, read and draw 8
  thumbnails).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _median_ms(times: list[float]) -> float:
    return float(np.median(times) * 1000)


def embedding_cloud(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` vectors shaped like a set of embeddings: its rows resampled, plus noise.

    Each vector is a random row of ``base`` plus Gaussian noise of half each dimension's
    spread, so the cloud has the embedding's clusters and correlations at any size.
    """
    rng = np.random.default_rng(seed)
    base = np.asarray(base, dtype=np.float32)
    noise = rng.normal(size=(n, base.shape[1])) * (0.5 * base.std(axis=0))
    return (base[rng.integers(len(base), size=n)] + noise).astype(np.float32)


def _recall(found: list, truth: list, k: int) -> float:
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(found, truth, strict=True)]))


def search_speed(base: np.ndarray, n: int, queries: int = 200, k: int = 10, seed: int = 0
                 ) -> dict[str, Any]:
    """Build and single-query times of exact and approximate search over ``n`` vectors.

    The vectors and queries are drawn like ``base`` (:func:`embedding_cloud`). The
    approximate index's recall of the exact ``k`` nearest is measured on them, and on
    structureless Gaussian vectors of the same width (its worst case: no clusters to follow).

    Returns
    -------
    dict
        ``n``, ``dim``, ``queries``; per method (``exact``, ``approximate``) the build
        seconds and the median and 95th-percentile milliseconds per query;
        ``approximate_recall_at_10`` and ``approximate_recall_at_10_gaussian``.
    """
    from galaxy10.evaluation.similarity import HNSW_SEARCH, NeighbourIndex

    x = embedding_cloud(base, n, seed)
    q = embedding_cloud(base, queries, seed + 1)
    out: dict[str, Any] = {"n": n, "dim": int(x.shape[1]), "queries": queries,
                           "hnsw_ef_search": HNSW_SEARCH}
    found = {}
    for name, approximate in (("exact", False), ("approximate", True)):
        start = time.perf_counter()
        index = NeighbourIndex(x, approximate=approximate)
        build = time.perf_counter() - start
        index.query(q[0], k)  # warm
        times, hits = [], []
        for row in q:
            start = time.perf_counter()
            nn, _ = index.query(row, k)
            times.append(time.perf_counter() - start)
            hits.append(nn[0])
        found[name] = hits
        ms = np.asarray(times) * 1000
        out[name] = {"build_s": build, "query_median_ms": float(np.median(ms)),
                     "query_p95_ms": float(np.percentile(ms, 95))}
    out["approximate_recall_at_10"] = _recall(found["approximate"], found["exact"], k)
    rng = np.random.default_rng(seed + 2)
    g, gq = (rng.normal(size=(m, x.shape[1])).astype(np.float32) for m in (n, queries))
    truth, _ = NeighbourIndex(g, approximate=False).query(gq, k)
    got, _ = NeighbourIndex(g, approximate=True).query(gq, k)
    out["approximate_recall_at_10_gaussian"] = _recall(list(got), list(truth), k)
    return out


def real_precision(model: str | os.PathLike[str], real: str | os.PathLike[str]
                   ) -> tuple[dict[str, Any], np.ndarray]:
    """Leave-one-out precision at 1 and 10 of the bundle's embedding on labelled images.

    Returns the figures and the embedding vectors (which the search timing resamples).
    """
    from galaxy10.core.classes import CLASS_NAMES
    from galaxy10.evaluation.similarity import NeighbourIndex, precision_at_k
    from galaxy10.modeling.embeddings import embed_file

    start = time.perf_counter()
    emb = embed_file(model, real)
    seconds = time.perf_counter() - start
    result: dict[str, Any] = precision_at_k(emb.vectors, emb.labels, (1, 10))
    vectors = emb.vectors
    labels = emb.labels.astype(np.int64)
    nn, _ = NeighbourIndex(emb.vectors, approximate=False).query(
        emb.vectors, 10, exclude=np.arange(len(labels)))
    same = labels[nn] == labels[:, None]
    result["p@10_per_class"] = {CLASS_NAMES[c]: float(same[labels == c].mean())
                                for c in np.unique(labels)}
    result.update(n_images=len(labels), dim=int(emb.vectors.shape[1]), views=emb.views,
                  embed_s=seconds, embeddings_reused=emb.reused)
    return result, vectors


def click_latency(model: str | os.PathLike[str], data: str | os.PathLike[str],
                  clicks: int = 30, seed: int = 0) -> dict[str, Any]:
    """"More like this" click-to-neighbours times of the button on ``data``'s test rows."""
    from galaxy10.app.widget import button_from_model

    button = button_from_model(model, seed=seed, data=data)
    button.show_random()
    start = time.perf_counter()
    button.more.click()  # embeds the test rows (or reads them back)
    first = time.perf_counter() - start
    times = []
    for _ in range(clicks):
        button.show_random()
        start = time.perf_counter()
        button.more.click()
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1000
    return {"test_rows": int(button.rows.size), "clicks": clicks, "first_click_s": first,
            "click_median_ms": float(np.median(ms)), "click_p95_ms": float(np.percentile(ms, 95))}


def bench_similar(model: str | os.PathLike[str], real: str | os.PathLike[str] | None = None,
                  *, n: int = 100_000, queries: int = 200, clicks: int = 30, seed: int = 0,
                  say=print) -> dict[str, Any]:
    """All three measurements (see the module) for one bundle; the ``similar`` record."""
    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.modeling.digest import bundle_hash

    model = Path(model)
    result: dict[str, Any] = {"model": os.fspath(model), "bundle_hash": bundle_hash(model)}
    with tempfile.TemporaryDirectory() as tmp:
        real_h5 = labelled_images_h5(real, tmp)
        say(f"precision at 1 and 10 on {real_h5} (leave-one-out)...")
        result["real"], vectors = real_precision(model, real_h5)
        say(f"'More like this' on the held-out rows of {real_h5}...")
        result["button"] = click_latency(model, real_h5, clicks=clicks, seed=seed)
    say(f"search over {n:,} vectors shaped like those embeddings...")
    result["search"] = search_speed(vectors, n, queries=queries, seed=seed)
    return result


def format_similar(r: dict[str, Any]) -> str:
    """``bench similar``'s lines."""
    real, s, b = r["real"], r["search"], r["button"]
    return "\n".join([
        f"similarity in {Path(r['model']).name} ({real['dim']}-d, {real['views']} views), "
        f"{real['n_images']:,} real images, leave-one-out: precision at 1 {real['p@1']:.3f}, "
        f"at 10 {real['p@10']:.3f} (chance {real['chance']:.3f})",
        f"search over {s['n']:,} vectors, one query: exact {s['exact']['query_median_ms']:.1f}"
        f" ms (p95 {s['exact']['query_p95_ms']:.1f}); approximate "
        f"{s['approximate']['query_median_ms']:.2f} ms (p95 "
        f"{s['approximate']['query_p95_ms']:.2f}, built in {s['approximate']['build_s']:.1f} s, "
        f"recall at 10 {s['approximate_recall_at_10']:.3f}; on Gaussian noise "
        f"{s['approximate_recall_at_10_gaussian']:.3f})",
        f"'More like this' over {b['test_rows']} test rows: first click {b['first_click_s']:.1f}"
        f" s (embeds them), then median {b['click_median_ms']:.0f} ms, p95 "
        f"{b['click_p95_ms']:.0f} ms over {b['clicks']} clicks"])
