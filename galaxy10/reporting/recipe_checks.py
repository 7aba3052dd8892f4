"""The results page's table of recipe choices re-checked blind: ``bench select``'s nested
records (``reports/reference/recipe_selection.json``), each candidate against the recipe its
run listed first, on inner folds that no outer test image is in."""

from __future__ import annotations

from typing import Any

import numpy as np

from galaxy10.modeling.shifts import SURVEY_SHIFT
from galaxy10.reporting.markdown import fmt, mean_sd


def recipe_checks_markdown(selection: dict[str, Any]) -> list[str]:
    """``bench select``'s nested records (``nested_*`` in ``recipe_selection.json``): for each
    candidate against the first (the recipe of its run), the inner-fold effect of the choice
    it turns back, on images the benchmark's outer folds then test, and what choosing this
    way scored there."""
    records = {k: v for k, v in sorted(selection.items())
               if k.startswith("nested_") and isinstance(v, dict) and v.get("folds")}
    if not records:
        return []
    out = ["### Recipe choices re-checked blind (`bench select`)", "",
           "Each row compares a candidate with the recipe its run listed first (the shipped "
           "recipe of that run; in brackets, each one's augmentation and changed settings), "
           "on inner folds made of each outer fold's *training* images only (grouped like the "
           "outer folds: in a region record, whole sky cells held out), none of which the "
           "outer fold then tests. The "
           "difference is first − candidate, mean ± sd over the outer folds (positive: the "
           "first recipe's choice helps), also under the other export's look "
           f"(*{SURVEY_SHIFT}*). The last column is what choosing between the two this way "
           "scored on the outer test images.", "",
           "| record | first | candidate | folds | inner: first | inner: candidate | "
           "first − candidate | under the other export | chosen (first / candidate) | "
           "nested estimate |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, record in records.items():
        names = _order(record)
        first, folds = names[0], record["folds"]
        for name in names[1:]:
            mine = [row["inner"][first]["mean"] for row in folds]
            theirs = [row["inner"][name]["mean"] for row in folds]
            shift = [row["inner"][first][SURVEY_SHIFT] - row["inner"][name][SURVEY_SHIFT]
                     for row in folds]
            chosen = record.get("chosen", {})
            partial = "" if record.get("complete", True) else " (stopped early)"
            cands = record["candidates"]
            out.append(
                f"| `{key}` | {_recipe(first, cands[first])} | {_recipe(name, cands[name])} | "
                f"{len(folds)}{partial} | "
                f"{fmt(_mean(mine))} | {fmt(_mean(theirs))} | "
                f"{_diff(mine, theirs)} | {_diff(shift, [0.0] * len(shift))} | "
                f"{chosen.get(first, 0)} / {chosen.get(name, 0)} | "
                f"{mean_sd(record['nested']['balanced_accuracy'])} |")
    for key, record in records.items():
        about = "; ".join(f"{n}: {c['about']}" for n, c in record["candidates"].items())
        prov = record.get("provenance") or {}
        out += ["", f"`{key}`: {about} ({record['cv']}; inner {record['inner_folds']}-fold; "
                    f"profile {record['profile']}; commit {prov.get('commit', '?')}, "
                    f"{prov.get('wall_minutes', 0):.0f} min)."]
    return out


def _order(record: dict[str, Any]) -> list[str]:
    """The record's candidates, the one its run listed first (the recipe of the time) first:
    by its ``order``; a record without one (its keys sorted by the JSON file) ran the
    ``shipped`` candidate first."""
    names = list(record.get("order") or record["candidates"])
    if "order" not in record and "shipped" in names:
        names.remove("shipped")
        names.insert(0, "shipped")
    return names


def _recipe(name: str, candidate: dict[str, Any]) -> str:
    """A candidate's name with its augmentation and overrides, as its record keeps them."""
    changes = "".join(f", {k} {v}" for k, v in candidate.get("overrides", {}).items())
    scratch = "" if candidate.get("pretrained", True) else ", from scratch"
    jitter = candidate["jitter"]
    augmentation = "flips and rotations only" if jitter == "none" else f"{jitter} augmentation"
    return f"{name} ({augmentation}{changes}{scratch})"


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _diff(a: list[float], b: list[float]) -> str:
    """``mean ± sd`` over folds of ``a - b``, signed, and how many folds are above zero."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    sd = float(d.std(ddof=1)) if d.size > 1 else 0.0
    return f"{d.mean():+.3f} ± {sd:.3f} ({int((d > 0).sum())} of {d.size} folds above 0)"
