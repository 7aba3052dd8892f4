"""The catalogue workflow: plan, skip what is done, classify the rest, sum up.

:func:`classify_catalogue` is the one function that the CLI, the notebook and the benchmark
call.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.atomic import write_json
from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.core.errors import Galaxy10Error, ModelError
from galaxy10.modeling.digest import bundle_hash
from galaxy10.pipeline.catalogue.cluster import (
    DEFAULT_TIMEOUT,
    SchedulerLost,
    dask_client,
    default_workers,
    run_on_dask,
    scheduler_address,
)
from galaxy10.pipeline.catalogue.folder import (
    check_catalogue_out,
    claim_folder,
    read_failed_images,
    record_failure,
    tidy_folder,
)
from galaxy10.pipeline.catalogue.layout import (
    BATCH_SIZE,
    FAILURES,
    SHARD_ROWS,
    SUMMARY,
    CatalogueError,
    failure_reason,
)
from galaxy10.pipeline.catalogue.parts import part_is_current
from galaxy10.pipeline.catalogue.plan import Job, Shard, plan_catalogue
from galaxy10.pipeline.catalogue.shard import classify_shard, load_predictor

logger = logging.getLogger(__name__)

@dataclass
class CatalogueResult:
    """What a run did, and the catalogue's totals (every planned shard, earlier runs' too).

    ``failed_shards`` lists ``(shard, reason)`` for shards that could not be read;
    ``failed_examples`` up to 100 ``(id, reason)`` of pictures that could not be (all of
    them are in the parts' ``error`` column).
    """

    out: Path
    shards: int
    skipped: int
    done: int
    images: int
    classified: int
    class_counts: list[int]
    not_sure: int
    not_a_cutout: int
    failed_images: int
    failed_shards: list[tuple[str, str]]
    failed_examples: list[tuple[str, str]]
    seconds: float
    images_this_run: int
    workers: int | str
    peak_rss_mb: float = float("nan")

    @property
    def failed(self) -> bool:
        """Whether any shard or picture could not be classified."""
        return bool(self.failed_shards) or self.failed_images > 0

    @property
    def class_fractions(self) -> list[float]:
        """Share of each class among the classified pictures."""
        return [c / self.classified if self.classified else 0.0 for c in self.class_counts]

    @property
    def images_per_s(self) -> float:
        """Pictures classified by this run per second of its wall time."""
        return self.images_this_run / self.seconds if self.seconds else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``_summary.json``), with the fractions and speed."""
        d = asdict(self)
        d["out"] = os.fspath(self.out)
        n = self.classified or 1
        d.update(class_fractions=self.class_fractions, images_per_s=self.images_per_s,
                 not_sure_fraction=self.not_sure / n,
                 not_a_cutout_fraction=self.not_a_cutout / n)
        return d

    def lines(self) -> list[str]:
        """The summary a person reads: totals, class fractions, flags, failures."""
        out = [f"catalogue {self.out}: {self.images:,} images in {self.shards} shard(s); "
               f"{self.done} classified now, {self.skipped} already done"
               + (f" ({self.images_this_run:,} images in {self.seconds:.0f} s, "
                  f"{self.images_per_s:.0f} images/s, {self.workers} worker(s))"
                  if self.images_this_run else "")]
        if self.classified:
            out.append("class fractions: " + ", ".join(
                f"{k} {CLASS_NAMES[k]} {f:.1%}" for k, f in enumerate(self.class_fractions)))
            out.append(f"not sure: {self.not_sure / self.classified:.1%}; not a galaxy "
                       f"cut-out: {self.not_a_cutout / self.classified:.1%} of "
                       f"{self.classified:,} classified")
        if self.failed:
            out.append(f"failures: {len(self.failed_shards)} shard(s) and "
                       f"{self.failed_images:,} image(s) could not be read (the images' "
                       "reasons are in the parts' 'error' column)")
            out += [f"  {name}: {why}" for name, why in
                    (self.failed_shards + self.failed_examples)[:10]]
        return out


class ShardProgress:
    """Images done per shard, shown on one tqdm bar; safe to call from Dask's event thread."""

    def __init__(self, bar, sizes: dict[str, int]) -> None:
        self.bar, self.sizes, self.seen = bar, sizes, dict.fromkeys(sizes, 0)
        self.lock = threading.Lock()

    def __call__(self, name: str, n: int) -> None:
        with self.lock:
            if name not in self.seen:
                return
            new = min(self.seen[name] + int(n), self.sizes[name])
            self.bar.update(new - self.seen[name])
            self.seen[name] = new

    def finish(self, name: str) -> None:
        """Count the rest of shard ``name`` as done (its part is written)."""
        self(name, self.sizes.get(name, 0))

def classify_catalogue(inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                       model: str | os.PathLike[str] | None = None, *,
                       workers: int | None = None, scheduler: str | None = None,
                       embeddings: bool = False, views: int | None = None,
                       shard_rows: int = SHARD_ROWS, batch_size: int = BATCH_SIZE,
                       threads: int | None = None, progress: bool = True,
                       timeout: float = DEFAULT_TIMEOUT) -> CatalogueResult:
    """Classify every picture of ``inputs`` into a Parquet catalogue in ``out``; resumable.

    Parameters
    ----------
    inputs : sequence of path-like
        Galaxy10 HDF5 files (any chunk layout), Parquet files with an encoded-image column
        (the Hugging Face layout, with or without its metadata), CSV manifests (``path``,
        optional ``id`` and ``label``), folders of pictures (read recursively) and picture
        files.
    out : path-like
        The catalogue folder: new, empty, or an earlier catalogue (resumed).
    model : path-like, optional
        The bundle (default ``models/galaxy_cnn.keras``, :func:`~galaxy10.core.paths.find_models_home`).
    workers : int, optional
        Worker processes on this machine (default: one per core); 1 runs in this process.
        Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); its workers do the work.
    embeddings : bool, default False
        Also store the network's penultimate-layer vector (``embedding``).
    views : int, optional
        Flip/rotation views to average, 1-8 (default: the bundle's, 8 with test-time
        augmentation); the calibration was fitted with the bundle's.
    shard_rows : int, default :data:`SHARD_ROWS`
        Rows per shard: the work redone after a crash is at most one shard per worker.
    batch_size : int, default :data:`BATCH_SIZE`
        Pictures in memory at once per worker (and the model's batch).
    threads : int, optional
        TensorFlow threads per worker process (default: the cores shared out among a local
        cluster's workers; TensorFlow's own choice in this process and on a scheduler's
        workers).
    progress : bool, default True
        Show a progress bar (images/s, time left).
    timeout : float, default :data:`~galaxy10.pipeline.catalogue.cluster.DEFAULT_TIMEOUT`
        Seconds to wait on the scheduler: to answer, for its first worker, while it has no
        worker mid-run, and to come back after a lost connection.

    Returns
    -------
    CatalogueResult
        Counts and fractions over the whole catalogue; also written to ``out/part_summary.json``.

    Raises
    ------
    CatalogueError, ModelError
        Before any work: a missing input, an output folder galaxy10 did not make, a bundle
        that is missing or broken, a malformed scheduler address, a Dask scheduler that
        cannot be reached or has no worker within ``timeout``. During the run: the
        scheduler went away (the message says how many shards are done; a rerun carries on).
    """

    from galaxy10.core.paths import find_models_home
    from galaxy10.modeling.bundle import read_bundle

    started = time.perf_counter()
    out = Path(out).expanduser()
    model = Path(model) if model else find_models_home() / "galaxy_cnn.keras"
    if not model.is_file():
        raise ModelError(model, "model file not found; train one with notebooks/04_cnn.ipynb "
                                "or `python -m galaxy10 train`")
    views = read_bundle(model).views if views is None else int(views)
    _check_settings(views, workers, batch_size, shard_rows, scheduler, timeout)
    check_catalogue_out(out, inputs)
    shards = plan_catalogue(inputs, shard_rows)
    local = not scheduler
    workers = workers or default_workers()
    in_process = local and workers == 1
    cores = default_workers()
    if threads is None and local and not in_process:
        threads = max(1, cores // workers)
    model = model.resolve()
    job = Job(os.fspath(out.resolve()), os.fspath(model), bundle_hash(model), model.stem,
              views, embeddings, batch_size, threads)
    records: dict[str, dict] = {}
    pending = []
    for shard in shards:
        if shard.error is not None:
            continue
        record = part_is_current(out, shard, job) if out.is_dir() else None
        if record is not None:
            records[shard.name] = record["summary"]
        else:
            pending.append(shard)
    stack = contextlib.ExitStack()
    client = None
    if pending and in_process:  # fail now, in one line, if the bundle does not load
        load_predictor(job.model, job.bundle_hash, job.threads)
    elif pending:  # connect (or start the local cluster) before anything is written
        client = stack.enter_context(dask_client(workers, scheduler, job.threads, timeout))
    with stack:
        return _run(out, shards, pending, records, job, client, started,
                    "" if local else " (scheduler)", progress, timeout)


def _check_settings(views: int, workers: int | None, batch_size: int, shard_rows: int,
                    scheduler: str | None, timeout: float) -> None:
    """Refuse, in one :class:`CatalogueError`, a setting no run can use."""
    if not 1 <= views <= 8:
        raise CatalogueError(f"views must be 1 to 8 (the flip/rotation views), got {views}")
    if workers is not None and workers < 1:
        raise CatalogueError(f"workers must be at least 1, got {workers}")
    if batch_size < 1 or shard_rows < 1:
        raise CatalogueError("batch size and shard rows must be at least 1")
    if not timeout > 0:  # NaN too
        raise CatalogueError(f"timeout must be more than 0 seconds, got {timeout}")
    if scheduler:
        scheduler_address(scheduler)


def _left_over(lost: SchedulerLost, out: Path, shards: Sequence[Shard],
               records: dict[str, dict], job: Job) -> str:
    """The one line for a run whose scheduler went away: how many shards are done (their
    parts are in ``out``, those a worker finished after the client lost it included), which
    are left, and that a rerun carries on."""
    left = [s.name for s in shards if s.error is None and s.name not in records
            and part_is_current(out, s, job) is None]
    done = sum(s.error is None for s in shards) - len(left)
    named = ", ".join(left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
    return (f"{lost}: {done} of {len(shards)} shard(s) are done, their parts "
            f"in {out}; {len(left)} left ({named}): run the same command again to carry on "
            "from there")


def _run(out: Path, shards: Sequence[Shard], pending: Sequence[Shard],
         records: dict[str, dict], job: Job, client, started: float, where: str,
         progress: bool, timeout: float = DEFAULT_TIMEOUT) -> CatalogueResult:
    """Do the pending shards (in this process without ``client``), then sum up every
    planned shard's counts into the result and ``part_summary.json``."""
    from tqdm.auto import tqdm

    claim_folder(out)
    tidy_folder(out, shards)
    failures: list[tuple[str, str]] = []
    for shard in shards:
        if shard.error is not None:
            failures.append((shard.name, f"{shard.source}: {shard.error}"))
            record_failure(out, shard, shard.error)
        elif shard.name in records:
            (out / FAILURES / f"{shard.name}.json").unlink(missing_ok=True)
    skipped = len(records)
    total = sum(s.rows for s in shards if s.error is None)
    peak = [float("nan")]
    done_now: list[Shard] = []

    def on_done(shard: Shard, report: dict | None, exc: BaseException | None) -> None:
        if report is not None:
            records[shard.name] = {k: report[k] for k in ("rows", "classified", "failed",
                                                          "class_counts", "not_sure",
                                                          "not_a_cutout", "ok")}
            peak[0] = float(np.nanmax([peak[0], report["peak_rss_mb"]]))
            (out / FAILURES / f"{shard.name}.json").unlink(missing_ok=True)
            done_now.append(shard)
            bar_progress.finish(shard.name)
        else:
            why = failure_reason(exc)
            failures.append((shard.name, f"{shard.source}: {why}"))
            record_failure(out, shard, why)
            logger.warning("%s: %s", shard.name, why)

    with tqdm(total=total, initial=total - sum(s.rows for s in pending), unit="img",
              desc=f"classify ({len(pending)} of {len(shards)} shards to do)",
              disable=not progress, smoothing=0.1) as bar:
        bar_progress = ShardProgress(bar, {s.name: s.rows for s in pending})
        used = 1
        if pending and client is None:
            for shard in pending:
                try:
                    report = classify_shard(shard, job, bar_progress)
                except ModelError:
                    raise
                except (Galaxy10Error, OSError) as exc:
                    on_done(shard, None, exc)
                else:
                    on_done(shard, report, None)
        elif pending:
            try:
                used = run_on_dask(client, pending, job, bar_progress, on_done, timeout)
            except SchedulerLost as exc:
                raise CatalogueError(_left_over(exc, out, shards, records, job)) from None
    counts = np.zeros(N_CLASSES, dtype=np.int64)
    totals = dict.fromkeys(("rows", "classified", "failed", "not_sure", "not_a_cutout"), 0)
    for record in records.values():
        counts += np.asarray(record["class_counts"], dtype=np.int64)
        for k in totals:
            totals[k] += int(record[k])
    examples = (read_failed_images(out, [s for s in shards if s.name in records])
                if totals["failed"] else [])
    result = CatalogueResult(
        out=out, shards=len(shards), skipped=skipped, done=len(done_now), images=totals["rows"],
        classified=totals["classified"], class_counts=counts.tolist(),
        not_sure=totals["not_sure"], not_a_cutout=totals["not_a_cutout"],
        failed_images=totals["failed"], failed_shards=failures, failed_examples=examples,
        seconds=time.perf_counter() - started,
        images_this_run=sum(s.rows for s in done_now),
        workers=f"{used}{where}" if pending else 0,
        peak_rss_mb=peak[0])
    write_json(out / SUMMARY, result.to_dict())
    return result
