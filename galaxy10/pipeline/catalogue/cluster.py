"""Dask for a catalogue run: a local cluster or a running scheduler, quiet, with progress.

Every shard is one Dask task (:func:`~galaxy10.pipeline.catalogue.shard.classify_shard`);
its progress comes back to the client as worker events.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from galaxy10.core.errors import ModelError
from galaxy10.pipeline.catalogue.layout import CatalogueError, failure_reason
from galaxy10.pipeline.catalogue.plan import Job, Shard
from galaxy10.pipeline.catalogue.shard import classify_shard


class DaskProgress:
    """``progress`` for a shard on a Dask worker: an event the client subscribed to."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def __call__(self, name: str, n: int) -> None:
        from distributed import get_worker

        with contextlib.suppress(ValueError):  # not on a worker (a test calling it)
            get_worker().log_event(self.topic, {"shard": name, "n": int(n)})


def default_workers() -> int:
    """The cores this process may run on: a local run's default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def quiet_dask() -> Iterator[None]:
    """Keep Dask's start, stop and connection lines off the terminal, unless logging at INFO.

    ``distributed`` logs every worker start and stop, and a worker killed after its grace
    period at shutdown, at INFO and WARNING; a catalogue run prints its progress bar and its
    summary only. Under ``-v`` (root logger at INFO or finer) they all show.
    """
    import distributed  # noqa: F401 - importing it sets its loggers' levels: first

    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None, threads: int | None):
    """A Dask client of the scheduler at ``scheduler``, else of a new local cluster of
    ``workers`` processes (:func:`local_cluster`), with Dask's lines kept quiet."""
    import distributed

    with quiet_dask(), contextlib.ExitStack() as stack:
        if scheduler:
            try:
                client = distributed.Client(scheduler, timeout=10)
            except (OSError, TimeoutError) as exc:
                raise CatalogueError(f"cannot reach the Dask scheduler at {scheduler} "
                                     f"({failure_reason(exc)})") from None
            stack.callback(client.close)
        else:  # closed in reverse: the client, then its cluster
            cluster = stack.enter_context(local_cluster(workers, threads))
            client = stack.enter_context(distributed.Client(cluster))
        yield client


WORKER_MALLOC_TRIM_THRESHOLD = 2**26
"""Bytes glibc may keep freed in a worker before it hands memory back to the system.

Dask's nanny sets 64 kB (``distributed.nanny.pre-spawn-environ``) so that a worker's memory
shows as freed at once; a catalogue worker frees and re-takes its batch buffers (tens of MB)
for every batch, and at 64 kB each of them comes back as fresh pages from the kernel. The
memory a worker holds stays bounded by its batches either way.
"""


@contextlib.contextmanager
def local_cluster(workers: int, threads: int | None = None,
                  env: dict[str, str] | None = None) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of ``workers`` processes set up for classifying.

    One Dask thread per worker (a worker classifies one shard at a time, its TensorFlow
    using ``threads`` threads), TensorFlow's C++ lines off, and
    :data:`WORKER_MALLOC_TRIM_THRESHOLD`; ``env`` adds to the workers' environment.
    ``classify`` and ``bench classify`` both start their clusters here.

    Unless logging at INFO, the workers log nothing below CRITICAL: on a busy machine a
    worker can send its heartbeat to a scheduler that is closing at the end of the run, and
    ``distributed`` logs that as an ERROR with a traceback (dask/distributed#7105). A run's
    own summary reports every shard that failed, so the workers' lines add nothing to it.
    """
    import dask
    import distributed

    worker_env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
    silence = logging.ERROR
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        silence = logging.CRITICAL
        worker_env["DASK_LOGGING__DISTRIBUTED"] = "critical"  # the workers' own lines
    if threads:
        worker_env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads))
    worker_env.update(env or {})
    spawn = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with dask.config.set({spawn: WORKER_MALLOC_TRIM_THRESHOLD}), distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=silence, env=worker_env) as cluster:
        yield cluster


def run_on_dask(client, pending: Sequence[Shard], job: Job, progress: Callable[[str, int], None],
              on_done: Callable[[Shard, dict | None, BaseException | None], None]) -> int:
    """Submit every pending shard to ``client``'s workers; report each as it completes."""
    import uuid

    import distributed

    topic = f"galaxy10-catalogue-{uuid.uuid4().hex}"
    client.subscribe_topic(topic, lambda event: progress(event[1]["shard"], event[1]["n"]))
    by_key = {}
    for shard in pending:
        future = client.submit(classify_shard, shard, job, DaskProgress(topic),
                               key=f"classify-{shard.name}-{uuid.uuid4().hex[:8]}", pure=False)
        by_key[future.key] = (future, shard)
    n_workers = len(client.scheduler_info().get("workers", {}))
    try:
        for future in distributed.as_completed([f for f, _ in by_key.values()]):
            shard = by_key[future.key][1]
            try:
                report = future.result()
            except ModelError:
                raise
            except Exception as exc:  # noqa: BLE001 - a shard's failure is recorded
                on_done(shard, None, exc)
            else:
                on_done(shard, report, None)
    finally:
        client.unsubscribe_topic(topic)
        for future, _ in by_key.values():
            future.cancel()
    return n_workers
