"""Recording benchmark figures: merged into ``reports/benchmarks.json`` with the machine.

A figure always says where it was measured (:func:`galaxy10.reporting.metrics.machine`), and a
benchmark that failed somewhere records nothing (:class:`BenchmarkError`), so earlier figures
are never replaced by error entries.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from galaxy10.core.errors import Galaxy10Error
from galaxy10.reporting.metrics import machine, update_metrics


def record(section: str, values: dict[str, Any], path: str | os.PathLike[str] | None = None
           ) -> Path:
    """Merge ``values`` (with the machine's description) into ``reports/benchmarks.json``.

    Raises
    ------
    BenchmarkError
        If any measurement in ``values`` failed (an ``"error"`` entry): earlier figures are
        kept rather than replaced by error entries.
    """
    from galaxy10.core.paths import get_reports_home

    failed = _failures(values)
    if failed:
        raise BenchmarkError(f"{section} benchmark failed ({'; '.join(failed[:3])}); "
                             "nothing recorded, earlier figures are kept")
    path = Path(path) if path else get_reports_home() / "benchmarks.json"
    return update_metrics(path, section, {"machine": machine(),
                                          "measured": time.strftime("%Y-%m-%d %H:%M"), **values})


class BenchmarkError(Galaxy10Error):
    """A benchmark could not measure something; its figures are not recorded."""


def _failures(values: Any, where: str = "") -> list[str]:
    """``"name: error"`` for every nested dict that carries an ``"error"`` entry."""
    if not isinstance(values, dict):
        return []
    if "error" in values:
        return [f"{where or 'run'}: {values['error']}"]
    return [f for key, value in values.items() for f in _failures(value, str(key))]
