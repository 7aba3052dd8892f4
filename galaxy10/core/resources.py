"""What this process has used: its peak resident memory.

The memory benchmark and the catalogue's workers report the same figure, measured one way.
"""

from __future__ import annotations

import sys


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
