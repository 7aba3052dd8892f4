"""How the generated results pages write a number: three decimals, "–" where none."""

from __future__ import annotations

from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    """``value`` with ``digits`` decimals, or "–" for None (a figure a run did not measure)."""
    return "–" if value is None else f"{value:.{digits}f}"


def mean_sd(summary: dict[str, Any]) -> str:
    """A ``{"mean", "sd"}`` summary over folds as ``mean ± sd``."""
    return f"{fmt(summary['mean'])} ± {fmt(summary['sd'])}"
