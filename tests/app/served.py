"""Helpers for the served-page tests: ``python -m galaxy10 app`` run as a user would, from this
checkout, and a free port (both :mod:`galaxy10.bench.browser`'s, which the benchmark uses).

Imported by the tests beside it (``from served import ...``), like ``tests/conftest.py``'s helpers.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from galaxy10.bench.browser import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: F401 - re-exported
from galaxy10.bench.browser import AppProcess as _PackageAppProcess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def chromium_path() -> str:
    """Debian's chromium, for Playwright (the served-page tests import this fixture)."""
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it with apt)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def answers(port: int, ip: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``ip:port``."""
    try:
        with socket.create_connection((ip, port), timeout=1):
            return True
    except OSError:
        return False


class AppProcess(_PackageAppProcess):
    """The package's :class:`~galaxy10.bench.browser.AppProcess`, run from this checkout."""

    def __init__(self, args: list[str], tmpdir: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(args, tmpdir, env={"PYTHONPATH": str(ROOT), **(env or {})}, cwd=ROOT)
