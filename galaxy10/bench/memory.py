"""``bench memory``: peak RSS and wall time of each data path, each in a fresh subprocess.

* (a) the original's way: read all ``images`` into memory, then select and preprocess;
* (b) the package's seed-faithful preprocessing of the undersampled rows, streamed;
* (c) all rows to 64 px grey and to 128 px RGB, streamed into the uint8 cache.

Each child runs ``python -m galaxy10.bench.memory PATH DATA CACHE_DIR`` and prints its figures
as one ``RESULT {json}`` line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from galaxy10.core.resources import peak_rss_mb


# -- memory paths (each runs in its own process) --------------------------------------------
def _path_original(data: str, cache_dir: str) -> dict[str, Any]:
    """(a) The original: read every image into memory, then undersample and preprocess."""
    import h5py

    from galaxy10.datasets.resample import make_splits
    from galaxy10.modeling.preprocess import seed_features

    with h5py.File(data, "r") as f:
        images = f["images"][()]  # the whole file, as the original did
        labels = f["ans"][()]
    splits = make_splits(labels)
    rows = np.concatenate([splits.seed_train, splits.test])
    selected = images[rows]  # the original's copy of the kept rows
    feats = seed_features(selected)
    return {"images": int(rows.size), "result_shape": list(feats.shape)}


def _path_seed_streamed(data: str, cache_dir: str) -> dict[str, Any]:
    """(b) The package's seed-faithful features of the undersampled rows, streamed."""
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import make_splits
    from galaxy10.modeling.preprocess import seed_features_from_file

    with Galaxy10File(data) as f:
        splits = make_splits(f.labels)
        rows = np.concatenate([splits.seed_train, splits.test])
        feats = seed_features_from_file(f, rows)
    return {"images": int(rows.size), "result_shape": list(feats.shape)}


def _path_cache(data: str, cache_dir: str, size: int, color: str) -> dict[str, Any]:
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.cache import cached_images
    from galaxy10.modeling.preprocess import ImageConfig

    with Galaxy10File(data) as f:
        arr = cached_images(f, ImageConfig(size=size, color=color), cache_dir=cache_dir)
        return {"images": int(len(arr)), "result_shape": list(arr.shape)}


MEMORY_PATHS = {
    "a_original_load_all": lambda d, c: _path_original(d, c),
    "b_seed_streamed": lambda d, c: _path_seed_streamed(d, c),
    "c_all_64px_grey_cache": lambda d, c: _path_cache(d, c, 64, "grey"),
    "c_all_128px_rgb_cache": lambda d, c: _path_cache(d, c, 128, "rgb"),
}


def _worker(name: str, data: str, cache_dir: str) -> None:
    """Entry point of the child process: run one path, print its figures as JSON."""
    baseline = peak_rss_mb()
    start = time.perf_counter()
    out = MEMORY_PATHS[name](data, cache_dir)
    seconds = time.perf_counter() - start
    out.update(seconds=seconds, peak_rss_mb=peak_rss_mb(), rss_before_mb=baseline,
               images_per_s=out["images"] / seconds)
    print("RESULT " + json.dumps(out))


def bench_memory(data: str | os.PathLike[str], paths: list[str] | None = None) -> dict[str, Any]:
    """Run each memory path in a fresh subprocess and collect its figures."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="galaxy10-bench-") as cache_dir:
        for name in paths or list(MEMORY_PATHS):
            proc = subprocess.run([sys.executable, "-m", "galaxy10.bench.memory", name, os.fspath(data),
                                   cache_dir], capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                results[name] = {"error": (proc.stderr.strip().splitlines() or ["?"])[-1],
                                 "returncode": proc.returncode}
            else:
                results[name] = json.loads(line[0][7:])
    return results


def format_memory(results: dict[str, Any]) -> str:
    """The memory benchmark as a text table, with the targets checked."""
    lines = [f"{'path':<26} {'images':>7} {'peak RSS':>10} {'wall':>8} {'images/s':>9}"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:<26} failed: {r['error']}")
            continue
        lines.append(f"{name:<26} {r['images']:>7,} {r['peak_rss_mb']:>8,.0f}MB "
                     f"{r['seconds']:>7.1f}s {r['images_per_s']:>9,.0f}")
    a = results.get("a_original_load_all", {}).get("peak_rss_mb")
    if a:
        for name, r in results.items():
            if name != "a_original_load_all" and "peak_rss_mb" in r:
                lines.append(f"  {name}: peak RSS {r['peak_rss_mb'] / a:.2f} x (a)")
    return "\n".join(lines)


if __name__ == "__main__":  # the memory benchmark's child process
    _worker(*sys.argv[1:4])
