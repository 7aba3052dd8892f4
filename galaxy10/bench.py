"""Benchmarks: commands that print figures (never timed unit tests).

* ``memory``: peak RSS and wall time of each data path, each in a fresh subprocess:
  (a) the original's way (read all ``images`` into memory, then select and preprocess);
  (b) the package's seed-faithful preprocessing of the undersampled rows, streamed;
  (c) all rows to 64 px grey and to 128 px RGB, streamed into the uint8 cache.
* ``inference``: batch inference images/s of the saved models.
* ``button``: click-to-result latency of the prediction button (model warm).

Results are printed as a table and merged into ``reports/benchmarks.json`` with a description
of the machine, so a figure always says where it was measured.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def machine() -> dict[str, Any]:
    """Cores, memory and software of this machine, stored with every benchmark."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = float("nan")
    return {"cpu_cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "platform": platform.platform()}


def record(section: str, values: dict[str, Any], path: str | os.PathLike[str] | None = None
           ) -> Path:
    """Merge ``values`` (with the machine's description) into ``reports/benchmarks.json``."""
    from galaxy10.paths import get_reports_home
    from galaxy10.report import update_metrics

    path = Path(path) if path else get_reports_home() / "benchmarks.json"
    return update_metrics(path, section, {"machine": machine(),
                                          "measured": time.strftime("%Y-%m-%d %H:%M"), **values})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# -- memory paths (each runs in its own process) --------------------------------------------
def _path_original(data: str, cache_dir: str) -> dict[str, Any]:
    """(a) The original: read every image into memory, then undersample and preprocess."""
    import h5py

    from galaxy10.preprocess import seed_features
    from galaxy10.resample import make_splits

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
    from galaxy10.preprocess import seed_features_from_file
    from galaxy10.reader import Galaxy10File
    from galaxy10.resample import make_splits

    with Galaxy10File(data) as f:
        splits = make_splits(f.labels)
        rows = np.concatenate([splits.seed_train, splits.test])
        feats = seed_features_from_file(f, rows)
    return {"images": int(rows.size), "result_shape": list(feats.shape)}


def _path_cache(data: str, cache_dir: str, size: int, color: str) -> dict[str, Any]:
    from galaxy10.cache import cached_images
    from galaxy10.preprocess import ImageConfig
    from galaxy10.reader import Galaxy10File

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
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    out = MEMORY_PATHS[name](data, cache_dir)
    seconds = time.perf_counter() - start
    out.update(seconds=seconds, peak_rss_mb=_peak_rss_mb(), rss_before_mb=baseline,
               images_per_s=out["images"] / seconds)
    print("RESULT " + json.dumps(out))


def bench_memory(data: str | os.PathLike[str], paths: list[str] | None = None) -> dict[str, Any]:
    """Run each memory path in a fresh subprocess and collect its figures."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="galaxy10-bench-") as cache_dir:
        for name in paths or list(MEMORY_PATHS):
            proc = subprocess.run([sys.executable, "-m", "galaxy10.bench", name, os.fspath(data),
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


# -- inference and the button -----------------------------------------------------------------
def bench_inference(models_dir: str | os.PathLike[str] | None = None, n: int = 512,
                    batch_size: int = 256) -> dict[str, Any]:
    """Batch inference images/s of each saved model, on its own input and end to end."""
    from galaxy10.paths import get_models_home
    from galaxy10.predict import Predictor

    folder = get_models_home(models_dir)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, size=(n, 256, 256, 3), dtype=np.uint8)
    out = {}
    for name in ("seed_cnn", "galaxy_cnn"):
        path = folder / f"{name}.keras"
        if not path.is_file():
            out[name] = {"error": f"{path} not found (run notebook 04 first)"}
            continue
        pred = Predictor(path)
        x = pred.preprocess(images)
        pred.model.predict_on_batch(x[:batch_size])  # warm up
        start = time.perf_counter()
        for i in range(0, n, batch_size):
            pred.model.predict_on_batch(x[i:i + batch_size])
        model_only = n / (time.perf_counter() - start)
        start = time.perf_counter()
        pred.predict_proba(images, batch_size=batch_size)
        end_to_end = n / (time.perf_counter() - start)
        out[name] = {"model_images_per_s": model_only, "end_to_end_images_per_s": end_to_end,
                     "tta_views": 8 if pred.tta else 1, "input": list(x.shape[1:])}
    return out


def bench_button(model_path: str | os.PathLike[str] | None = None, clicks: int = 50,
                 overlay: bool = False) -> dict[str, Any]:
    """Click-to-result latency of the button (median, p95) and single-image predict time.

    ``overlay`` turns on the Grad-CAM "show where the model looked" toggle first.
    """
    from galaxy10.widget import button_from_model

    button = button_from_model(model_path, seed=0)
    button.show_map.value = bool(overlay)
    button.show_random()  # warm: first call builds the TensorFlow graph
    times = []
    for _ in range(clicks):
        start = time.perf_counter()
        button.button.click()
        times.append(time.perf_counter() - start)
    image = button.galaxies.image(int(button.rows[0]))
    single = []
    for _ in range(clicks):
        start = time.perf_counter()
        button.predictor.predict_proba(image[None])
        single.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {"model": button.predictor.name, "clicks": clicks,
            "click_median_ms": float(np.median(ms)), "click_p95_ms": float(np.percentile(ms, 95)),
            "predict_one_median_ms": float(np.median(single) * 1000),
            "tta_views": 8 if button.predictor.tta else 1, "overlay": bool(overlay)}


if __name__ == "__main__":  # the memory benchmark's child process
    _worker(*sys.argv[1:4])
