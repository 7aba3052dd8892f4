"""Helpers for the served-page tests: a free port, and ``python -m galaxy10 app`` run as a user would.

Imported by the tests beside it (``from served import ...``), like ``tests/conftest.py``'s helpers.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVING = re.compile(r"Serving the (?:galaxy button|labelling panel) at (http://\S+) "
                     r"\(Ctrl-C to stop\)")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def chromium_path() -> str:
    """Debian's chromium, for Playwright (the served-page tests import this fixture)."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it with apt)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port: int, ip: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``ip:port``."""
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


def _sigint_as_at_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class AppProcess:
    """``python -m galaxy10 app ...`` in a subprocess, with its own ``TMPDIR``."""

    def __init__(self, args: list[str], tmpdir: Path, env: dict[str, str] | None = None) -> None:
        self.tmpdir = tmpdir
        tmpdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "galaxy10", "app", *args], cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmpdir), **(env or {})),
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
        """The URL the command announces (waits for the line)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no 'Serving' line within {timeout} s; stderr: "
                                 f"{''.join(self.stderr)}") from None
        match = SERVING.fullmatch(line.strip())
        assert match, line
        return match.group(1)

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
