"""The metrics store: one reader and one writer for ``metrics.json`` and ``benchmarks.json``.

A run's numbers live in JSON files made of named sections (``eda``, ``cnn``, ``evaluation``,
``bench_accuracy_faithful``...). Each notebook or benchmark writes only its own section, so
rerunning one step updates its numbers without losing the others'. Every figure in docs/results.md
is read back from these files through :func:`read_metrics`.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from galaxy10.core.atomic import write_json

logger = logging.getLogger(__name__)


def read_metrics(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The sections recorded in the JSON file at ``path``; empty when it does not exist yet.

    Raises
    ------
    Galaxy10Error
        If the file exists but is not a JSON object (one line naming the file).
    """
    from galaxy10.core.errors import Galaxy10Error

    path = Path(path)
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Galaxy10Error(f"{path}: not a readable metrics file ({exc})") from None
    if not isinstance(doc, dict):
        raise Galaxy10Error(f"{path}: not a metrics file (expected a JSON object of sections)")
    return doc


def update_metrics(path: str | os.PathLike[str], section: str, values: dict[str, Any]) -> Path:
    """Merge ``values`` into ``section`` of the JSON file at ``path`` (atomic rewrite).

    A file that is not valid JSON is moved aside to ``<name>.corrupt`` (never silently
    dropped) and a new file is started. The read, merge and write happen under the file's
    lock (:func:`galaxy10.core.atomic.target_lock`, waiting for another writer), so two
    commands finishing together both keep their section.
    """
    from galaxy10.core.atomic import target_lock

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with target_lock(path, blocking=True):
        try:
            doc = read_metrics(path)
        except Exception:  # noqa: BLE001 - any unreadable file is kept aside, not lost
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            logger.warning("%s was not valid JSON; moved to %s", path, aside)
            doc = {}
        doc[section] = values
        return write_json(path, doc)


# -- where a figure came from ------------------------------------------------------------------
_CODE_PATHS = ("galaxy10", "notebooks", "pyproject.toml", "environment.yml")


def code_commit(package: str | os.PathLike[str] | None = None) -> str | None:
    """Which galaxy10 code made a figure: its checkout's commit, else the installed version.

    Only the git repository that holds galaxy10's own source counts (``package``: the folder
    of the ``galaxy10`` package, default the one imported here): a working folder that happens
    to be in another repository (a user's project, with galaxy10 installed in its venv) says
    nothing about galaxy10's code. In galaxy10's checkout (an editable install, or the package
    on ``PYTHONPATH``): the short commit, ``+dirty`` when its code has changes; otherwise
    ``galaxy10==<version>`` of the installed distribution; None when neither is known.
    """
    import subprocess

    source = Path(package) if package else Path(__file__).resolve().parents[1]
    root = source.resolve().parent
    try:
        marker = (root / "pyproject.toml").read_text(encoding="utf-8")
        if 'name = "galaxy10"' not in marker:
            raise OSError("not galaxy10's checkout")
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, text=True,
                             capture_output=True, check=True, timeout=10).stdout.strip()
        if Path(top).resolve() != root:
            raise OSError("galaxy10's folder is inside another repository")
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, check=True, timeout=10).stdout.strip()
        # only what decides the numbers: the package, the notebooks and the dependencies
        # (reports/ is written by the run itself; edits to README or docs/ change nothing)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                *_CODE_PATHS],
                               cwd=root, text=True, capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return _installed_version()
    return head + ("+dirty" if dirty.strip() else "")


def _installed_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"galaxy10=={version('galaxy10')}"
    except PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """Cores, memory and software of this machine, stored with every benchmark and long run."""
    import platform

    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = float("nan")
    return {"cpu_cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "platform": platform.platform()}


def provenance(started: float) -> dict[str, Any]:
    """Where and when a long measurement ran: commit, machine, wall time (``started``: a
    ``time.time()`` taken at its start), so a figure quoted later says what produced it."""
    import time

    return {"commit": code_commit(), "machine": machine(),
            "wall_minutes": round((time.time() - started) / 60, 1),
            "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
