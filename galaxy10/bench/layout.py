"""``bench layout``: the reader's speed over four HDF5 layouts.

Contiguous, per-image chunks, per-image gzip, h5py's automatic gzip chunks: one random image,
a bulk read of 150 random rows, a full pass. The figure to watch is
``ratio_bulk_default_vs_per_image_gzip``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

LAYOUTS: dict[str, dict[str, Any]] = {
    "contiguous": {},
    "per_image_chunks": {"chunks": "image"},
    "per_image_gzip": {"chunks": "image", "compression": "gzip", "compression_opts": 4,
                       "shuffle": True},
    "default_gzip": {"chunks": True, "compression": "gzip", "compression_opts": 4,
                     "shuffle": True},
}
"""h5py ``create_dataset`` options of each layout; ``"image"`` means ``(1, H, W, 3)``."""


def write_layouts(folder: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray
                  ) -> dict[str, Path]:
    """Write ``images`` and ``labels`` once per layout of :data:`LAYOUTS` into ``folder``.

    Returns the file of each layout by name. The files are scratch files of the benchmark
    and the tests, so they are written directly (not atomically).
    """
    import h5py

    folder = Path(folder)
    paths = {}
    for name, options in LAYOUTS.items():
        opts = dict(options)
        if opts.get("chunks") == "image":
            opts["chunks"] = (1, *images.shape[1:])
        path = folder / f"{name}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("images", data=images, **opts)
            f.create_dataset("ans", data=labels.astype(np.uint8))
        paths[name] = path
    return paths


def _read_runs_default_cache(path: Path, rows: np.ndarray) -> None:
    """The reader before it was chunk-aware: HDF5's 1 MiB cache, one read per run of rows."""
    import h5py

    unique = np.unique(rows)
    breaks = np.flatnonzero(np.diff(unique) != 1) + 1
    with h5py.File(path, "r") as f:
        ds = f["images"]
        out = np.empty((unique.size, *ds.shape[1:]), dtype=np.uint8)
        pos = 0
        for run in np.split(unique, breaks):
            start, stop = int(run[0]), int(run[-1]) + 1
            ds.read_direct(out, np.s_[start:stop], np.s_[pos:pos + stop - start])
            pos += stop - start


def _best_of(repeats: int, action) -> float:
    """Fastest of ``repeats`` timed calls: the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def _time_layout(path: Path, rows: np.ndarray, singles: np.ndarray, repeats: int = 3
                 ) -> dict[str, Any]:
    from galaxy10.datasets.reader import Galaxy10File

    path.read_bytes()  # every layout starts from the operating system's page cache
    with Galaxy10File(path) as f:
        layout = f.layout()
        f.image(int(singles[0]))  # open the dataset's B-tree before timing
        times = []
        for i in singles:
            start = time.perf_counter()
            f.image(int(i))
            times.append(time.perf_counter() - start)

    def bulk() -> None:
        with Galaxy10File(path) as f:  # a fresh file each time: an empty chunk cache
            f.read(rows)

    def full_pass() -> None:
        with Galaxy10File(path) as f:
            for _ in f.iter_file_order(np.arange(len(f)), batch_size=64):
                pass

    return {"chunks": layout["chunks"], "compression": layout["compression"],
            "file_mb": path.stat().st_size / 1e6, "image_ms": float(np.median(times) * 1000),
            "bulk_150_s": _best_of(repeats, bulk),
            "bulk_150_before_s": _best_of(1, lambda: _read_runs_default_cache(path, rows)),
            "pass_s": _best_of(repeats, full_pass)}


def bench_layout(n: int = 300, seed: int = 0, singles: int = 60,
                 folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Time the reader on :data:`LAYOUTS`, each holding the same ``n`` synthetic images.

    Parameters
    ----------
    n : int, default 300
        Images per file (rendering takes about 7 ms each).
    seed : int, default 0
        Seed of the synthetic images and of the random rows.
    singles : int, default 60
        Random single-image reads whose median is reported.
    folder : path-like, optional
        Where to write the files (default: a temporary folder, removed afterwards).

    Returns
    -------
    dict
        One entry per layout (see the module docstring) and
        ``ratio_bulk_default_vs_per_image_gzip``.
    """
    from galaxy10.datasets import synthetic

    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    labels = synthetic.make_labels(n, seed)
    images, _ = synthetic.render_rows(labels, seed, np.arange(n))
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(150, n), replace=False)
    single_rows = rng.integers(0, n, size=singles)
    with tempfile.TemporaryDirectory(prefix="galaxy10-layout-", dir=folder) as tmp:
        paths = write_layouts(tmp, images, labels)
        results: dict[str, Any] = {"n": n, "seed": seed, "bulk_rows": int(rows.size)}
        for name, path in paths.items():
            results[name] = _time_layout(path, rows, single_rows)
    results["ratio_bulk_default_vs_per_image_gzip"] = (
        results["default_gzip"]["bulk_150_s"] / results["per_image_gzip"]["bulk_150_s"])
    results["ratio_bulk_before_default_vs_per_image_gzip"] = (
        results["default_gzip"]["bulk_150_before_s"] / results["per_image_gzip"]["bulk_150_s"])
    return results


def format_layout(results: dict[str, Any]) -> str:
    """The layout benchmark as a text table."""
    lines = [f"{'layout':<18} {'chunks':<18} {'MB':>6} {'image(i)':>9} {'bulk 150':>9} "
             f"{'before':>9} {'full pass':>9}"]
    for name in LAYOUTS:
        r = results[name]
        chunks = "contiguous" if r["chunks"] is None else str(tuple(r["chunks"]))
        lines.append(f"{name:<18} {chunks:<18} {r['file_mb']:>6.1f} {r['image_ms']:>7.2f}ms "
                     f"{r['bulk_150_s']:>8.3f}s {r['bulk_150_before_s']:>8.3f}s "
                     f"{r['pass_s']:>8.3f}s")
    lines.append(f"bulk read of {results['bulk_rows']} random rows, default gzip chunks / "
                 f"per-image gzip chunks: {results['ratio_bulk_default_vs_per_image_gzip']:.2f}x "
                 f"(before chunk-aware reading: "
                 f"{results['ratio_bulk_before_default_vs_per_image_gzip']:.1f}x)")
    return "\n".join(lines)
