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

:func:`search_memory` measures a fourth figure on its own (it needs neither a bundle nor real
images): the peak memory of an exact leave-one-out search over every vector, each size in a
fresh process, against :data:`SEARCH_MEMORY_TARGET_MB`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SEARCH_MEMORY_SIZES = (17_736, 100_000)
"""Vectors searched: the real file's images, and a catalogue of 100,000."""
SEARCH_MEMORY_DIM = 128
"""Embedding width: the modern CNN's last convolution, as in the shipped bundle."""
SEARCH_MEMORY_TARGET_MB = 500
"""Peak memory a leave-one-out search should stay under (a laptop, a free Colab runtime)."""


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
                  memory_sizes: tuple[int, ...] = SEARCH_MEMORY_SIZES, say=print
                  ) -> dict[str, Any]:
    """All four measurements (see the module) for one bundle; the ``similar`` record.

    ``memory_sizes`` are the sizes of :func:`search_memory`, at the bundle's embedding width
    (none: not measured).
    """
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
    if memory_sizes:
        say(f"peak memory of a leave-one-out search over {', '.join(map(str, memory_sizes))} "
            "vectors, each in a fresh process...")
        result["search_memory"] = search_memory(memory_sizes, dim=int(vectors.shape[1]),
                                                seed=seed)
    return result


def format_similar(r: dict[str, Any]) -> str:
    """``bench similar``'s lines."""
    real, s, b = r["real"], r["search"], r["button"]
    memory = [format_search_memory(r["search_memory"])] if "search_memory" in r else []
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
        f"{b['click_p95_ms']:.0f} ms over {b['clicks']} clicks", *memory])


def _search_memory_child(n: int, dim: int, k: int, seed: int) -> None:
    """One size, in a fresh process: the figures as a ``RESULT {json}`` line."""
    from galaxy10.core.resources import peak_rss_mb
    from galaxy10.evaluation.similarity import NeighbourIndex

    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    index = NeighbourIndex(vectors, approximate=False)
    index.query(vectors[:2], k)  # scikit-learn's modules are loaded before the baseline
    before = peak_rss_mb()
    start = time.perf_counter()
    nn, _ = index.query(vectors, k, exclude=np.arange(n))
    seconds = time.perf_counter() - start
    print("RESULT " + json.dumps({"n": n, "dim": dim, "k": k, "seconds": seconds,
                                  "peak_rss_mb": peak_rss_mb(), "rss_before_mb": before,
                                  "neighbours": int(nn.size)}), flush=True)


def search_memory(sizes: tuple[int, ...] = SEARCH_MEMORY_SIZES, dim: int = SEARCH_MEMORY_DIM,
                  k: int = 10, seed: int = 0) -> dict[str, Any]:
    """Peak memory of an exact leave-one-out search over ``n`` vectors, for each size.

    Every vector is a query and its ``k`` nearest are found among all the others, as
    precision at k does on the real images. Each size runs in a fresh Python process, so its
    peak is the search's own and not an earlier, larger size's. The vectors are Gaussian:
    memory does not depend on their values.

    Returns
    -------
    dict
        ``dim``, ``k``, ``target_mb`` and ``sizes``: per size, ``n``, ``seconds``,
        ``peak_rss_mb`` (the whole process), ``rss_before_mb`` (the same process with its
        vectors and index, before the search), or ``error`` where the child failed.
    """
    results = []
    for n in sizes:
        code = (f"from galaxy10.bench.similar import _search_memory_child; "
                f"_search_memory_child({int(n)}, {int(dim)}, {int(k)}, {int(seed)})")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not line:
            results.append({"n": int(n), "returncode": proc.returncode,
                            "error": (proc.stderr.strip().splitlines() or ["?"])[-1]})
        else:
            results.append(json.loads(line[0][len("RESULT "):]))
    return {"dim": int(dim), "k": int(k), "target_mb": SEARCH_MEMORY_TARGET_MB,
            "sizes": results}


def format_search_memory(r: dict[str, Any]) -> str:
    """The leave-one-out memory benchmark as a table, each peak against the target."""
    lines = [f"exact leave-one-out search, {r['dim']}-d vectors, {r['k']} nearest each",
             f"{'vectors':>9} {'peak RSS':>10} {'before':>9} {'search':>9} {'wall':>8}  target",
             ]
    for s in r["sizes"]:
        if "error" in s:
            lines.append(f"{s['n']:>9,} failed: {s['error']}")
            continue
        ok = "ok" if s["peak_rss_mb"] <= r["target_mb"] else "OVER"
        lines.append(f"{s['n']:>9,} {s['peak_rss_mb']:>8,.0f}MB {s['rss_before_mb']:>7,.0f}MB "
                     f"{s['peak_rss_mb'] - s['rss_before_mb']:>7,.0f}MB {s['seconds']:>7.1f}s  "
                     f"<= {r['target_mb']} MB {ok}")
    return "\n".join(lines)
