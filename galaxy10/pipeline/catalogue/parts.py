"""The Parquet part of a shard: its Arrow schema and table, its path, its record.

A part's schema metadata records the shard's identity and the job's settings, which is what
decides whether a rerun may keep it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.pipeline.catalogue.batches import Batch
from galaxy10.pipeline.catalogue.layout import META_KEY
from galaxy10.pipeline.catalogue.plan import Job, Shard


def arrow_schema(embedding_width: int | None):
    """The Arrow schema of a part (:data:`~galaxy10.pipeline.catalogue.layout.COLUMNS`), with an
    ``embedding`` column of ``embedding_width`` floats unless None."""
    import pyarrow as pa

    fields = [("id", pa.string()), ("source", pa.string()), ("row", pa.int64()),
              ("file", pa.string()), ("label", pa.int16()), ("class", pa.int8()),
              ("class_name", pa.string()), ("confidence", pa.float32()),
              ("top3_classes", pa.list_(pa.int8(), 3)),
              ("top3_probs", pa.list_(pa.float32(), 3)), ("flag", pa.string()),
              ("not_sure", pa.bool_()), ("not_a_cutout", pa.bool_()), ("reason", pa.string()),
              ("error", pa.string()), ("model", pa.string()), ("bundle_hash", pa.string())]
    if embedding_width is not None:
        fields.append(("embedding", pa.list_(pa.float32(), embedding_width)))
    return pa.schema(fields)


def part_summary(table) -> dict[str, Any]:
    """A part's counts, from its Arrow table."""
    import pyarrow.compute as pc

    from galaxy10.modeling.verdict import NOT_A_CUTOUT, OK

    classes = table["class"].drop_null().to_numpy().astype(np.int64)
    flags = table["flag"]
    return {"rows": table.num_rows, "classified": len(classes),
            "failed": table.num_rows - table["error"].null_count,
            "class_counts": np.bincount(classes, minlength=N_CLASSES).tolist(),
            "not_sure": int(pc.sum(table["not_sure"]).as_py() or 0),
            "not_a_cutout": int(pc.sum(pc.equal(flags, NOT_A_CUTOUT)).as_py() or 0),
            "ok": int(pc.sum(pc.equal(flags, OK)).as_py() or 0)}


def batch_columns(batch: Batch, probs: np.ndarray | None, emb: np.ndarray | None,
                   threshold: float | None, width: int | None) -> dict[str, Any]:
    """One batch's rows as NumPy columns (``valid``: the rows classified; the other rows'
    values are placeholders, stored as nulls), with an ``embedding`` of ``width`` unless
    None."""
    from galaxy10.modeling.verdict import judge_batch

    n, ok = len(batch.rows), np.asarray(batch.ok, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    valid[ok] = True
    cols: dict[str, Any] = {"valid": valid, "row": np.asarray(batch.rows, dtype=np.int64),
                            "label": np.asarray(batch.labels, dtype=np.int16)}
    top3_classes, top3_probs = np.zeros((n, 3), np.int8), np.zeros((n, 3), np.float32)
    flags, reasons = np.full(n, None, dtype=object), np.full(n, None, dtype=object)
    not_sure = np.zeros(n, dtype=bool)
    if len(ok):
        verdicts = judge_batch(probs, threshold, [batch.checks[i] for i in ok])
        top3_classes[ok], top3_probs[ok] = verdicts.top3_classes, verdicts.top3_probs
        flags[ok], reasons[ok], not_sure[ok] = verdicts.flags, verdicts.reasons, verdicts.not_sure
    cols.update(top3_classes=top3_classes, top3_probs=top3_probs, flag=flags, reason=reasons,
                not_sure=not_sure)
    if width is not None:
        cols["embedding"] = np.zeros((n, width), dtype=np.float32)
        if emb is not None:
            cols["embedding"][ok] = emb
    return cols


def part_table(shard: Shard, job: Job, batches: list[dict[str, Any]], ids: list[str],
                files: list[str | None], errors: list[str | None], width: int | None):
    """The Arrow table of a part, in :func:`arrow_schema`, from its batches' columns."""
    import pyarrow as pa

    from galaxy10.modeling.verdict import NOT_A_CUTOUT

    def stack(name: str) -> np.ndarray:
        return np.concatenate([b[name] for b in batches]) if batches else np.zeros(0)

    schema = arrow_schema(width if job.embeddings else None)
    types = {f.name: f.type for f in schema}
    valid = stack("valid").astype(bool)
    missing = pa.array(~valid)
    classes = stack("top3_classes").reshape(-1, 3).astype(np.int8)
    probs = stack("top3_probs").reshape(-1, 3).astype(np.float32)
    labels = stack("label").astype(np.int16)
    flags = stack("flag")

    def fixed(values: np.ndarray, name: str):
        return pa.FixedSizeListArray.from_arrays(
            pa.array(values.ravel(), type=types[name].value_type),
            type=types[name], mask=missing)

    n = len(valid)
    arrays = {
        "id": pa.array(ids, type=pa.string()),
        "source": pa.array([shard.source] * n, type=pa.string()),
        "row": pa.array(stack("row").astype(np.int64)),
        "file": pa.array(files, type=pa.string()),
        "label": pa.array(labels, mask=labels < 0),
        "class": pa.array(classes[:, 0], mask=~valid),
        "class_name": pa.array(np.asarray(CLASS_NAMES, dtype=object)[classes[:, 0]],
                               type=pa.string(), mask=~valid),
        "confidence": pa.array(probs[:, 0], mask=~valid),
        "top3_classes": fixed(classes, "top3_classes"),
        "top3_probs": fixed(probs, "top3_probs"),
        "flag": pa.array(flags, type=pa.string()),
        "not_sure": pa.array(stack("not_sure").astype(bool), mask=~valid),
        "not_a_cutout": pa.array(flags == NOT_A_CUTOUT, mask=~valid),
        "reason": pa.array(stack("reason"), type=pa.string()),
        "error": pa.array(errors, type=pa.string()),
        "model": pa.array([job.model_name] * n, type=pa.string()),
        "bundle_hash": pa.array([job.bundle_hash] * n, type=pa.string())}
    if job.embeddings:
        arrays["embedding"] = fixed(stack("embedding").astype(np.float32), "embedding")
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def part_path(out: str | os.PathLike[str], shard: Shard) -> Path:
    """Where ``shard``'s part goes in the output folder ``out``."""
    return Path(out) / f"{shard.name}.parquet"

def part_record(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The metadata a part was written with (identity, job, counts), or None if unreadable."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
        record = json.loads((meta.metadata or {})[META_KEY])
        record["num_rows"] = int(meta.num_rows)
        return record
    except Exception:  # noqa: BLE001 - a part that cannot be read is simply redone
        return None


def part_is_current(out: str | os.PathLike[str], shard: Shard, job: Job) -> dict | None:
    """The part's record when it holds ``shard`` as planned now, by ``job``'s settings."""
    record = part_record(part_path(out, shard))
    if (record is None or record.get("identity") != shard.identity
            or record.get("job") != job.identity() or record.get("num_rows") != shard.rows):
        return None
    return record
