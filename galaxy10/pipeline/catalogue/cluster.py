"""Dask for a catalogue run: a local cluster or a running scheduler, quiet, with progress.

Every shard is one Dask task (:func:`~galaxy10.pipeline.catalogue.shard.classify_shard`);
its progress comes back to the client as worker events.

Every wait on another machine is bounded by one ``timeout`` and ends in one line naming the
scheduler: reaching it and its Dask handshake (:func:`probe_scheduler`; a port where
something else listens answers no handshake, and Dask's own connect would wait for it for
ever), its first worker, a run during which it has no worker, and a connection lost mid-run
(:class:`SchedulerLost`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from galaxy10.core.errors import ModelError
from galaxy10.pipeline.catalogue.layout import CatalogueError, failure_reason
from galaxy10.pipeline.catalogue.plan import Job, Shard
from galaxy10.pipeline.catalogue.shard import classify_shard

DEFAULT_TIMEOUT = 30.0
"""Seconds a run waits on a Dask scheduler (to answer, for a first worker, to come back)
before it gives up: Dask's own connect timeout."""
SCHEMES = ("tcp", "tls", "ws", "wss")
"""The address schemes a Dask scheduler listens on across machines."""


class SchedulerLost(CatalogueError):
    """The scheduler went away, or kept no worker, in the middle of a run; the shards not yet
    done are not the inputs' fault, and a rerun carries on with them."""


def scheduler_address(text: str) -> str:
    """Check that ``text`` is a Dask scheduler's address, ``[SCHEME://]HOST:PORT``.

    Parameters
    ----------
    text : str
        The address as given (``tcp://head:8786``; without a scheme Dask reads TCP).

    Returns
    -------
    str
        ``text``, unchanged.

    Raises
    ------
    CatalogueError
        If the scheme is not one of :data:`SCHEMES`, or the host or the port (1-65535) is
        missing or malformed: one line, before anything connects.
    """
    usage = "give tcp://HOST:PORT, e.g. tcp://head:8786"
    shown = repr(text) if len(text) <= 60 else repr(text[:57] + "...")
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
        if "/" in text:
            raise CatalogueError(f"{shown} is not a Dask scheduler address ({usage})")
    if scheme.lower() not in SCHEMES:
        raise CatalogueError(f"{shown} is not a Dask scheduler address: unknown scheme "
                             f"{scheme + '://'!r} (Dask listens on {', '.join(SCHEMES)}; "
                             f"{usage})")
    host, colon, port = rest.removesuffix("/").rpartition(":")
    if host.startswith("[") and host.endswith("]"):  # IPv6, [::1]:8786
        host = host[1:-1].replace(":", "")
    if not colon or not host or not all(c.isascii() and (c.isalnum() or c in "-._")
                                               for c in host):
        raise CatalogueError(f"{shown} is not a Dask scheduler address: no HOST:PORT "
                             f"({usage})")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise CatalogueError(f"{shown} is not a Dask scheduler address: {port!r} is not a "
                             "port number (1-65535)")
    return text


def probe_scheduler(address: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Reach the scheduler at ``address``, shake hands and ask who it is, within ``timeout``.

    Dask's own connect bounds the TCP connection only; a port where something else listens
    (a web server) accepts it and never answers the handshake. This does the same
    handshake under one bound, in a thread of its own (a notebook's event loop runs in the
    calling thread).

    Returns
    -------
    dict
        The scheduler's identity (``type``, ``n_workers``, ``workers``...).

    Raises
    ------
    CatalogueError
        Naming ``address`` and the wait: nothing accepts the connection, no Dask handshake
        comes, what answers is not a Dask scheduler (a worker's address).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect

    async def ask() -> dict:
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    where = f"cannot reach the Dask scheduler at {address}"
    hint = "check the address, or wait longer with --timeout"
    with ThreadPoolExecutor(1, thread_name_prefix="galaxy10-probe") as pool:
        # Dask's connect gives up at `timeout`; the margin leaves its OSError the first word
        # when nothing accepts the connection, so that the reasons stay apart
        answer = pool.submit(asyncio.run, asyncio.wait_for(ask(), timeout + 1.0))
        try:
            identity = answer.result()
        except TimeoutError:
            raise CatalogueError(f"{where}: it accepted the connection but gave no Dask "
                                 f"handshake within {timeout:g} s (is that the scheduler's "
                                 f"port?); {hint}") from None
        except OSError as exc:
            why = _system_reason(exc) or _socket_reason(address) or failure_reason(exc)
            raise CatalogueError(f"{where}: no connection within {timeout:g} s ({why}); "
                                 f"{hint}") from None
        except Exception as exc:  # noqa: BLE001 - any garbled answer is not a scheduler
            raise CatalogueError(f"{where}: what answers there is not a Dask scheduler "
                                 f"({failure_reason(exc)}); {hint}") from None
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise CatalogueError(f"{where}: what answers there is a Dask {kind or 'peer'}, not a "
                             "scheduler; give the scheduler's address")
    return identity


def _system_reason(exc: BaseException) -> str | None:
    """The system's words at the bottom of Dask's chain of connection errors
    (``Connection refused``, ``Name or service not known``), else None."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    return None


def _root_reason(exc: BaseException) -> str:
    """:func:`_system_reason`, else ``exc``'s own words."""
    return _system_reason(exc) or failure_reason(exc)


def _socket_reason(address: str) -> str | None:
    """The system's words for one plain TCP connection to ``address`` (``tcp://host:port``),
    or None when it connects or the address is of another kind.

    On a busy machine Dask's retries can end in its own time-out, whose chain no longer holds
    the refusal each attempt met; one attempt of our own recovers it.
    """
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        return None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2.0):
            return None
    except OSError as exc:
        return exc.strerror or None


def _lost_reason(exc: BaseException) -> str:
    """Why a connection to the scheduler failed, in the system's words when there are
    some (``Connection reset by peer``), else that it was lost."""
    why = _root_reason(exc)
    return why if why and "<" not in why and "\n" not in why else "the connection was lost"


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
    period at shutdown, at INFO and WARNING, and a client that lost its scheduler logs its
    attempts to reconnect as ERROR with a traceback (and asyncio a result fetch given up
    on that fails later); a catalogue run prints its progress
    bar and its summary, or its one line (:class:`SchedulerLost`), only. Under ``-v`` (root
    logger at INFO or finer) they all show.
    """
    import distributed  # noqa: F401 - importing it sets its loggers' levels: first

    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    # Dask's configuration gives some of its loggers levels of their own (distributed.client);
    # asyncio's logs a result fetch given up on (a lost worker's) that fails afterwards
    logs = [logging.getLogger("distributed"), logging.getLogger("asyncio")] + [
        log for name, log in list(logging.root.manager.loggerDict.items())
        if name.startswith("distributed.") and isinstance(log, logging.Logger) and log.level]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None, threads: int | None,
                timeout: float = DEFAULT_TIMEOUT):
    """A Dask client of the scheduler at ``scheduler``, else of a new local cluster of
    ``workers`` processes (:func:`local_cluster`), with Dask's lines kept quiet.

    A scheduler is checked (:func:`scheduler_address`), reached (:func:`probe_scheduler`)
    and waited on for its first worker, each within ``timeout`` seconds; so is every later
    connection Dask opens while the client lives.
    """
    import dask
    import distributed

    with quiet_dask(), contextlib.ExitStack() as stack:
        if scheduler:
            scheduler_address(scheduler)
            stack.enter_context(dask.config.set({"distributed.comm.timeouts.connect":
                                                 f"{timeout}s"}))
            probe_scheduler(scheduler, timeout)
            try:
                client = distributed.Client(scheduler, timeout=timeout)
            except (OSError, TimeoutError) as exc:
                raise CatalogueError(f"cannot reach the Dask scheduler at {scheduler} "
                                     f"({failure_reason(exc)})") from None
            stack.callback(client.close)
            try:
                client.wait_for_workers(1, timeout=timeout)
            except TimeoutError:
                raise CatalogueError(
                    f"the Dask scheduler at {scheduler} has no workers: none joined within "
                    f"{timeout:g} s (start them with `dask worker {scheduler}`, or wait longer "
                    "with --timeout)") from None
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
    with warnings.catch_warnings():
        # the scheduler's HTTP server (health and metrics routes, no dashboard) moves to a
        # free port when 8787 is taken, a Jupyter server's or another cluster's: not the user's
        # business, though Dask warns about it
        warnings.filterwarnings("ignore", message="Port .* is already in use",
                                category=UserWarning)
        with dask.config.set({spawn: WORKER_MALLOC_TRIM_THRESHOLD}), distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=silence, env=worker_env) as cluster:
            yield cluster


def run_on_dask(client, pending: Sequence[Shard], job: Job, progress: Callable[[str, int], None],
                on_done: Callable[[Shard, dict | None, BaseException | None], None],
                timeout: float = DEFAULT_TIMEOUT) -> int:
    """Submit every pending shard to ``client``'s workers; report each as it completes.

    Raises
    ------
    SchedulerLost
        When the connection to the scheduler is lost (Dask then cancels every shard not yet
        done), or the scheduler has had no worker for ``timeout`` seconds; the shards
        reported so far stay done.
    """
    import uuid

    topic = f"galaxy10-catalogue-{uuid.uuid4().hex}"
    client.subscribe_topic(topic, lambda event: progress(event[1]["shard"], event[1]["n"]))
    by_key = {}
    for shard in pending:
        future = client.submit(classify_shard, shard, job, DaskProgress(topic),
                               key=f"classify-{shard.name}-{uuid.uuid4().hex[:8]}", pure=False)
        by_key[future.key] = (future, shard)
    n_workers = len(client.scheduler_info().get("workers", {}))
    try:
        for future, report, exc in _results(client, [f for f, _ in by_key.values()], timeout):
            shard = by_key[future.key][1]
            if exc is None:
                on_done(shard, report, None)
            elif isinstance(exc, ModelError):
                raise exc
            elif future.status != "error":  # it did not fail on a worker: its result was lost
                raise SchedulerLost(f"the Dask scheduler at {client.scheduler.address} went "
                                    f"away ({_lost_reason(exc)})") from None
            else:  # a shard's failure is recorded
                on_done(shard, None, exc)
    finally:
        with contextlib.suppress(Exception):  # a client that lost its scheduler may refuse
            client.unsubscribe_topic(topic)
            client.cancel([f for f, _ in by_key.values() if not f.done()])
    return n_workers


def _results(client, futures: list, timeout: float) -> Iterator[tuple[Any, Any, Any]]:
    """``(future, result, None)`` or ``(future, None, exception)`` as each finishes, watching
    the scheduler while none does.

    A future that Dask cancelled (it does so to every future when the connection to the
    scheduler is lost) or a scheduler without a worker for ``timeout`` seconds ends the
    wait with :class:`SchedulerLost`. A result lost with its worker is waited for again
    (Dask computes it again), never blocked on.
    """
    import distributed

    address = client.scheduler.address
    left = set(futures)
    idle_since = None
    step = min(1.0, timeout)
    while left:
        waiting = [f for f in left if f.status == "pending"]
        if waiting:  # a TimeoutError, or Dask cancelled some (a lost connection): see below
            with contextlib.suppress(Exception):
                distributed.wait(waiting, timeout=step, return_when="FIRST_COMPLETED")
        else:
            time.sleep(step)
        if any(f.cancelled() for f in left):
            raise SchedulerLost(f"the Dask scheduler at {address} went away (the connection "
                                "was lost)")
        got = 0
        for future in [f for f in left if f.status in ("finished", "error")]:
            try:
                outcome = (future, future.result(timeout=step), None)
            except TimeoutError as exc:
                if future.status != "error":
                    continue  # its worker went away with it: computed again, or no worker
                outcome = (future, None, exc)
            except Exception as exc:  # noqa: BLE001 - the consumer tells the kinds apart
                outcome = (future, None, exc)
            left.discard(future)
            got += 1
            yield outcome
        if got or not left:
            idle_since = None
            continue
        try:
            workers = client.nthreads()
        except Exception as exc:  # noqa: BLE001 - whatever Dask raises, it has no answer
            raise SchedulerLost(f"the Dask scheduler at {address} went away "
                                f"({_lost_reason(exc)})") from None
        if workers:
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > timeout:
            raise SchedulerLost(f"the Dask scheduler at {address} has had no workers for "
                                f"{timeout:g} s")
