"""The served page, started as a user starts it, for headless Chromium to drive.

:class:`AppProcess` runs ``python -m galaxy10 app ...`` in a subprocess with a ``TMPDIR`` of
its own and reads the address it announces; :data:`CHROMIUM` and :data:`CHROMIUM_ARGS` are how
Playwright launches Debian's chromium (``apt install chromium``), and :func:`missing_browser`
says, in one line, what of the two is not installed. Used by
:func:`galaxy10.bench.clicks.bench_browser_clicks` and by the served-page tests
(``tests/app/served.py``). Playwright itself is imported by its callers, lazily.
"""

from __future__ import annotations

import importlib.util
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's chromium, which Playwright launches (``executable_path``)."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
"""Chromium's switches: headless in a container, nothing fetched from outside."""
SERVING = re.compile(r"Serving the (?:galaxy button|labelling panel) at (http://\S+) "
                     r"\(Ctrl-C to stop\)")
"""The line ``app`` prints once the page is served (its URL, token included)."""


def missing_browser() -> str | None:
    """What driving the page in a browser lacks, and how to install it; None when nothing.

    Returns
    -------
    str or None
        E.g. ``"needs playwright (pip install playwright) and chromium (apt install
        chromium)"``; cheap: nothing is imported or started.
    """
    lacking = []
    if importlib.util.find_spec("playwright") is None:
        lacking.append("playwright (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        lacking.append(f"chromium at {CHROMIUM} (apt install chromium)")
    return f"needs {' and '.join(lacking)}" if lacking else None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sigint_as_at_a_terminal() -> None:  # pragma: no cover - runs in the child
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class AppProcess:
    """``python -m galaxy10 app ...`` in a subprocess, with its own ``TMPDIR``.

    Parameters
    ----------
    args : list of str
        The ``app`` command's arguments (``--port`` included: see :func:`free_port`).
    tmpdir : Path
        Its ``TMPDIR`` (made here): where Voilà's runtime files go, and are removed from.
    env : dict, optional
        More environment variables.
    cwd : path-like, optional
        Its working directory (default: this process's).
    """

    def __init__(self, args: list[str], tmpdir: Path, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None) -> None:
        self.tmpdir = tmpdir
        tmpdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "galaxy10", "app", *args], cwd=cwd,
            env=dict(os.environ, TMPDIR=str(tmpdir), **(env or {})),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            # as at a terminal: a shell's background job (CI, `make test &`) ignores SIGINT,
            # and a child inherits that; Ctrl-C must reach the app as it reaches a user's
            preexec_fn=_sigint_as_at_a_terminal)
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append),
                         daemon=True).start()

    @staticmethod
    def _pump(stream, put: Callable[[str], None]) -> None:
        for line in stream:
            put(line)

    def url(self, timeout: float = 120) -> str:
        """The URL the command announces (waits for its line, at most ``timeout`` seconds).

        Raises
        ------
        RuntimeError
            When the command ends, or says nothing of the kind, first (with its stderr).
        """
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    time.sleep(0.2)  # the last of stderr
                    raise RuntimeError(f"app ended ({self.proc.returncode}) before serving: "
                                       f"{''.join(self.stderr).strip()}") from None
                continue
            match = SERVING.fullmatch(line.strip())
            if match:
                return match.group(1)
        raise RuntimeError(f"no 'Serving' line within {timeout} s; stderr: "
                           f"{''.join(self.stderr)}")

    def stop(self, sig: int, timeout: float = 120) -> int:
        """Send ``sig`` and return the exit status."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
