"""``bench classify``: a catalogue classified end to end, in one process and on local Dask.

On a generated catalogue (synthetic galaxies tiled to ``n`` images, in ``shards`` HDF5 files
under their own names, so every image has its own id), on the CPU cores only:

* the model's forward pass alone (preprocessed batches, the same batch size), with one view
  and with the 8 test-time views, timed just before and just after each end-to-end run it
  is compared with: a shared machine's speed drifts over the minutes of the benchmark, so
  each ratio is taken against the mean of its own two timings, and both are recorded
  (``forward_before_after``);
* :func:`~galaxy10.pipeline.catalogue.classify_catalogue` end to end in one process (read,
  preprocess, forward, verdict, write), with one view over the whole catalogue and with 8
  views over its first ``tta_shards`` shards; the figure to watch is
  ``end_to_end_vs_forward``;
* the same job on a local Dask cluster of ``k`` workers of one thread each, for each ``k`` in
  ``cores``: images/s, speed-up over one worker, each worker's peak memory, and the cluster's
  start-up (workers importing TensorFlow and loading the bundle); ``dask_vs_single``
  compares the cluster on every core with the single process on the same cores, and
  ``default_vs_forward`` the run ``classify`` makes by default (one worker per core)
  with the forward pass alone.

Timed runs start warm (the bundle already loaded where they run) so that they measure
classification, not start-up, which is reported on its own.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def make_catalogue(folder: str | os.PathLike[str], n: int, shards: int, seed: int = 0,
                   unique: int = 1000, progress: bool = False) -> list[Path]:
    """``n`` images in ``shards`` Galaxy10 files (the last one may be shorter).

    ``min(unique, rows per shard)`` synthetic galaxies are rendered once and tiled into one
    file of a shard's rows; the shards are hard links to it (copies where links fail) under
    their own names, so the catalogue's ids (``shard_007.h5:123``) are all different while
    the disk holds one shard. A shorter last shard is its own file.
    """
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.writer import Galaxy10Writer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = math.ceil(n / shards)
    base = synthetic.generate(folder / "unique.h5", n=min(unique, rows), seed=seed,
                              progress=progress)

    def tiled(path: Path, count: int) -> Path:
        with Galaxy10File(base) as f, Galaxy10Writer(path, count, f.image_shape,
                                                     source="synthetic") as w:
            for start in range(0, count, 256):
                idx = np.arange(start, min(start + 256, count)) % len(f)
                w.write(start, f.read(idx), f.labels[idx])
        return path

    full = tiled(folder / "tile.h5", rows)
    paths = []
    for k in range(shards):
        count = min(rows, n - k * rows)
        if count <= 0:
            break
        path = folder / f"shard_{k:03d}.h5"
        if count < rows:
            tiled(path, count)
        else:
            try:
                os.link(full, path)
            except OSError:
                import shutil

                shutil.copyfile(full, path)
        paths.append(path)
    return paths


def _hide_gpus() -> None:
    """CPU only, here and in the worker processes this process starts."""
    from galaxy10.core.quiet import load_tensorflow

    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    tf = load_tensorflow()

    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):  # already initialised: it saw the variable, or no GPU
        pass


def _forward(predictor, images: np.ndarray, views: int, batch_size: int,
             seconds: float = 10.0, at_most: int | None = None) -> float:
    """Images/s of the forward pass alone (test-time views included) on preprocessed input,
    over ``seconds`` (long enough to average a shared machine's jitter) or ``at_most``
    images (never more than the catalogue timed against it), whichever comes first; at
    least one batch."""
    x = predictor.preprocess(images[:batch_size])
    predictor.predict_proba(x, batch_size, preprocessed=True, views=views, calibrated=False)
    done, start = 0, time.perf_counter()
    while done == 0 or (time.perf_counter() - start < seconds
                        and (at_most is None or done < at_most)):
        predictor.predict_proba(x, batch_size, preprocessed=True, views=views,
                                calibrated=False)
        done += len(x)
    return done / (time.perf_counter() - start)


class _Runs:
    """What every timed run of :func:`bench_classify` shares: the bundle, its catalogue, a
    sample for the forward pass alone, and the forward-pass timings taken around each run."""

    def __init__(self, model, predictor, sample: np.ndarray, inputs: list, warm_input: list,
                 tmp: Path, batch_size: int, n: int) -> None:
        self.model, self.predictor, self.sample = model, predictor, sample
        self.inputs, self.warm_input, self.tmp = inputs, warm_input, tmp
        self.batch_size, self.n = batch_size, n
        self.windows: dict[str, list[float]] = {"1": [], "8": []}

    def bracketed(self, views: int, run: Callable[[], Any]) -> tuple[Any, list[float]]:
        """``run()`` between two timings of the forward pass alone with ``views``: the
        ratio to it is then taken on the machine as it ran, not minutes apart."""
        pair = [_forward(self.predictor, self.sample, views, self.batch_size, at_most=self.n)]
        result = run()
        pair.append(_forward(self.predictor, self.sample, views, self.batch_size, at_most=self.n))
        self.windows[str(views)] += pair
        return result, pair

    def timed(self, name: str, paths, views: int, **kwargs) -> tuple[float, Any]:
        """Images per second of one catalogue classification, and its result."""
        from galaxy10.pipeline.catalogue import classify_catalogue

        start = time.perf_counter()
        result = classify_catalogue(paths, self.tmp / name, self.model, views=views,
                                    batch_size=self.batch_size, progress=False, **kwargs)
        seconds = time.perf_counter() - start
        if result.failed or result.done != result.shards:
            raise RuntimeError(f"{name}: {result.lines()}")
        return result.images / seconds, result

    def timed_dask(self, name: str, workers: int, threads: int) -> dict[str, Any]:
        """A local cluster of ``workers`` processes of ``threads`` TensorFlow threads,
        every worker warm before the clock starts."""
        import distributed

        from galaxy10.core.resources import peak_rss_mb
        from galaxy10.pipeline.catalogue import classify_catalogue, local_cluster, quiet_dask

        start = time.perf_counter()
        with quiet_dask(), local_cluster(workers, threads=threads,
                                         env={"CUDA_VISIBLE_DEVICES": "-1"}
                                         ) as cluster, distributed.Client(cluster) as client:
            address = cluster.scheduler_address
            classify_catalogue(self.warm_input[:workers], self.tmp / f"warm-{name}", self.model,
                               scheduler=address, threads=threads, shard_rows=self.batch_size,
                               progress=False)
            # every worker warm, not only those the warm-up's shards happened to go to
            client.run(_load_bundle, os.fspath(Path(self.model).resolve()), threads)
            startup = time.perf_counter() - start
            (rate, _), pair = self.bracketed(1, lambda: self.timed(
                f"dask-{name}", self.inputs, 1, scheduler=address, threads=threads))
            peaks = client.run(peak_rss_mb)
        return {"workers": workers, "threads": threads, "images_per_s": rate,
                "startup_s": startup, "peak_rss_mb_per_worker": max(peaks.values()),
                "forward_before_after": pair}


def bench_classify(model: str | os.PathLike[str], n: int = 100_000, shards: int = 10, *,
                   cores: Sequence[int] | None = None, batch_size: int = 256,
                   tta_shards: int = 1, workdir: str | os.PathLike[str] | None = None,
                   seed: int = 0, say: Callable[[str], None] = lambda line: None
                   ) -> dict[str, Any]:
    """Measure the catalogue classification as the module says; return the figures.

    Parameters
    ----------
    model : path-like
        The bundle to classify with.
    n, shards : int
        Size of the generated catalogue and its number of files.
    cores : sequence of int, optional
        Local Dask cluster sizes (workers of one thread) to time; default 1, 2, 4, ... up to
        and including this machine's cores.
    tta_shards : int, default 1
        Shards classified end to end with 8 views (8 times the work of one view).
    workdir : path-like, optional
        Where the catalogue and the outputs are made (a temporary folder inside it, removed
        afterwards); default the system's temporary folder.
    """
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.predict import Predictor
    from galaxy10.pipeline.catalogue import classify_catalogue
    from galaxy10.pipeline.catalogue.cluster import default_workers

    _hide_gpus()
    available = default_workers()
    if not cores:
        cores = sorted({*(2**i for i in range(int(math.log2(available)) + 1)), available})
    cores = [k for k in cores if k <= available] or [1]
    out: dict[str, Any] = {"images": n, "shards": shards, "batch_size": batch_size,
                           "cores_available": available}
    with tempfile.TemporaryDirectory(dir=workdir, prefix="bench-classify-") as tmp:
        tmp = Path(tmp)
        say(f"making a catalogue of {n:,} images in {shards} files...")
        inputs = make_catalogue(tmp / "catalogue", n, shards, seed=seed)
        warm_input = make_catalogue(tmp / "warm", batch_size * max(cores), max(cores),
                                    seed=seed + 1, unique=batch_size)
        predictor = Predictor(model)
        out["model"] = {"name": predictor.name, "input": list(predictor.config.shape),
                        "tta_views": predictor.views}
        with Galaxy10File(inputs[0]) as f:
            sample = f.read(np.arange(min(batch_size, len(f))))
        runs = _Runs(model, predictor, sample, inputs, warm_input, tmp, batch_size, n)
        classify_catalogue(warm_input[:1], tmp / "warm-1", model, workers=1, progress=False)
        e2e = _single_process(runs, tta_shards, out, say)
        dask = _dask_runs(runs, cores, e2e, out, say)
        out["forward_images_per_s"] = {v: float(np.mean(w)) for v, w in runs.windows.items()}
        _speedups(out, dask, cores, e2e, available)
    return out


def _single_process(runs: _Runs, tta_shards: int, out: dict[str, Any],
                    say: Callable[[str], None]) -> dict[str, float]:
    """End to end in one process, with 1 view and with 8; its figures go into ``out``."""
    e2e, around = {}, {}
    for views, paths in ((1, runs.inputs), (8, runs.inputs[:tta_shards])):
        (e2e[str(views)], result), around[str(views)] = runs.bracketed(
            views, lambda v=views, p=paths: runs.timed(f"single-{v}", p, v, workers=1))
        if views == 1:
            single = result
        say(f"end to end, one process, {views} view(s) ({len(paths)} file(s)): "
            f"{e2e[str(views)]:.0f} images/s; forward pass alone before / after: "
            + " / ".join(f"{r:.0f}" for r in around[str(views)]))
    out["end_to_end_images_per_s"] = e2e
    out["forward_before_after"] = around
    out["end_to_end_vs_forward"] = {v: e2e[v] / float(np.mean(around[v])) for v in e2e}
    out["single_process_peak_rss_mb"] = single.peak_rss_mb
    return e2e


def _dask_runs(runs: _Runs, cores: list[int], e2e: dict[str, float], out: dict[str, Any],
               say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Local Dask clusters of each size in ``cores`` (and one worker of every core)."""
    dask: dict[str, dict[str, Any]] = {}
    for k in cores:
        dask[str(k)] = runs.timed_dask(str(k), k, 1)
        say(f"local Dask, {k} worker(s) of 1 thread: {dask[str(k)]['images_per_s']:.0f} "
            f"images/s, peak {dask[str(k)]['peak_rss_mb_per_worker']:.0f} MB per worker, "
            f"start-up {dask[str(k)]['startup_s']:.0f} s; forward pass alone before / "
            "after: " + " / ".join(f"{r:.0f}" for r in dask[str(k)]["forward_before_after"]))
    if max(cores) > 1:  # Dask's own cost: one worker using every core, as one process does
        one = runs.timed_dask("one-worker", 1, max(cores))
        out["dask_one_worker"] = one
        out["dask_one_worker_vs_single"] = one["images_per_s"] / e2e["1"]
        say(f"local Dask, 1 worker of {max(cores)} threads: {one['images_per_s']:.0f} "
            f"images/s ({out['dask_one_worker_vs_single']:.2f} of one process)")
    out["dask"] = dask
    return dask


def _speedups(out: dict[str, Any], dask: dict[str, dict[str, Any]], cores: list[int],
              e2e: dict[str, float], available: int) -> None:
    """The ratios between the runs, and the peak memory per worker, into ``out``."""
    first = dask[str(cores[0])]["images_per_s"] / cores[0]
    out["speedup_vs_one_core"] = {k: d["images_per_s"] / first for k, d in dask.items()}
    top = str(max(cores))
    out["dask_vs_single"] = dask[top]["images_per_s"] / e2e["1"]
    out["dask_cores_compared"] = int(top)
    if str(available) in dask:  # classify's default: one worker of one thread per core
        out["default_workers"] = available
        default = dask[str(available)]
        out["default_vs_forward"] = (default["images_per_s"]
                                     / float(np.mean(default["forward_before_after"])))
    out["peak_rss_mb_per_worker"] = max(
        d["peak_rss_mb_per_worker"] for d in [*dask.values(), out.get("dask_one_worker", {})]
        if d)


def _load_bundle(model: str, threads: int = 1) -> bool:
    """On a worker: load the bundle as its shards will (once per process)."""
    from galaxy10.pipeline.catalogue import bundle_hash, load_predictor

    load_predictor(model, bundle_hash(model), threads)
    return True


def format_classify(r: dict[str, Any]) -> str:
    """``bench classify``'s table: images/s of each way, and the ratios the targets name."""
    f, e = r["forward_images_per_s"], r["end_to_end_images_per_s"]
    ba = r.get("forward_before_after")  # records from before it was timed at both ends lack it
    lines = [f"catalogue: {r['images']:,} images in {r['shards']} shards, model "
             f"{r['model']['name']} ({'x'.join(map(str, r['model']['input']))}), batch "
             f"{r['batch_size']}, {r['cores_available']} cores",
             "| measure | 1 view | 8 views |", "|---|---|---|",
             f"| forward pass alone, images/s{' (mean of every timing)' if ba else ''} "
             f"| {f['1']:.0f} | {f['8']:.0f} |",
             *([f"| forward pass alone, just before / after the one-process run | "
                f"{' | '.join('{:.0f} / {:.0f}'.format(*ba[v]) for v in ('1', '8'))} |"]
               if ba else []),
             f"| end to end, one process, images/s | {e['1']:.0f} | {e['8']:.0f} |",
             f"| end to end / forward | {r['end_to_end_vs_forward']['1']:.2f} | "
             f"{r['end_to_end_vs_forward']['8']:.2f} |", "",
             "| local Dask workers (1 thread each) | images/s | speed-up | peak MB per worker "
             "| start-up s |", "|---|---|---|---|---|"]
    for k, d in r["dask"].items():
        lines.append(f"| {k} | {d['images_per_s']:.0f} | {r['speedup_vs_one_core'][k]:.2f} | "
                     f"{d['peak_rss_mb_per_worker']:.0f} | {d['startup_s']:.0f} |")
    lines.append(f"local Dask on {r['dask_cores_compared']} cores / one process on the same "
                 f"cores: {r['dask_vs_single']:.2f}")
    if "default_vs_forward" in r:
        lines.append(f"end to end as classify runs by default ({r['default_workers']} workers) "
                     f"/ forward pass alone, 1 view: {r['default_vs_forward']:.2f}")
    one = r.get("dask_one_worker")
    if one:
        lines.append(f"local Dask, 1 worker of {one['threads']} threads / one process: "
                     f"{r['dask_one_worker_vs_single']:.2f} ({one['images_per_s']:.0f} images/s,"
                     f" peak {one['peak_rss_mb_per_worker']:.0f} MB)")
    return "\n".join(lines)
