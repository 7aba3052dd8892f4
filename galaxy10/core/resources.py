"""What this process has used (its peak resident memory) and what it may use (its limits).

The memory benchmark and the catalogue's workers report the same figure, measured one way.
The limits are the soft ``ulimit``s a shell or a batch system set: ``ulimit -f`` (the largest
file this process may write) and ``ulimit -v`` (its address space). Commands check them
before the work they would stop, so a limit is one line, not a crash half-way.
"""

from __future__ import annotations

import sys

TENSORFLOW_ADDRESS_SPACE = 3 * 2**30
"""Address space (bytes) under which TensorFlow is not started: it reserves about two
gigabytes of address space on import and aborts in C++ (SIGABRT, no Python error) when a
thread pool cannot get its stacks, which a smaller ``ulimit -v`` makes certain."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB, since it started its program.

    Linux's ``ru_maxrss`` keeps the high-water mark of the process that forked this one (the
    memory it had at the fork survives ``exec``), so a benchmark or a worker started from a
    large process (a test session with TensorFlow loaded) would report that process's memory.
    ``VmHWM`` belongs to the current program only; ``ru_maxrss`` is the fallback elsewhere
    (bytes on macOS, KiB on other systems), and NaN where there is neither (Windows).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def soft_limit(name: str) -> int | None:
    """This process's soft limit ``RLIMIT_<name>`` in bytes, or None when there is none."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    try:
        soft, _ = resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))
    except (AttributeError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)


def check_tensorflow_address_space() -> None:
    """Refuse to start TensorFlow under a ``ulimit -v`` it cannot start in.

    Raises
    ------
    ResourceLimitError
        When the address-space limit is below :data:`TENSORFLOW_ADDRESS_SPACE`; the message
        names the limit and what to raise it to.
    """
    limit = soft_limit("AS")
    if limit is not None and limit < TENSORFLOW_ADDRESS_SPACE:
        from galaxy10.core.errors import ResourceLimitError

        raise ResourceLimitError(
            f"this process may use {limit / 1e9:.1f} GB of address space (ulimit -v), and "
            f"TensorFlow needs about {TENSORFLOW_ADDRESS_SPACE / 1e9:.1f} GB to start: raise it "
            f"(ulimit -v {TENSORFLOW_ADDRESS_SPACE // 1024} or unlimited)")
