"""One shard's whole work, as a plain importable function a Dask worker runs.

:func:`classify_shard` loads the bundle once per process (:func:`load_predictor`), reads the
shard's batches, classifies them and writes its part atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from galaxy10.core.atomic import atomic_path
from galaxy10.core.errors import ModelError
from galaxy10.core.resources import peak_rss_mb
from galaxy10.modeling.digest import bundle_hash
from galaxy10.pipeline.catalogue.batches import check_unchanged, prefetch, read_batches
from galaxy10.pipeline.catalogue.layout import META_KEY
from galaxy10.pipeline.catalogue.parts import batch_columns, part_path, part_summary, part_table
from galaxy10.pipeline.catalogue.plan import Job, Shard


@lru_cache(maxsize=2)
def load_predictor(model: str, digest: str, threads: int | None = None):
    """The bundle's :class:`~galaxy10.modeling.predict.Predictor`, loaded once per process.

    Workers call this for every shard; the cache (keyed by path and hash) makes it load once.
    ``threads`` sets TensorFlow's threads when this process has not started it yet, and GPU
    memory is taken as needed, so that the workers of one machine can share its GPU.

    Raises
    ------
    ModelError
        If the bundle on this machine is not the one the job was planned with.
    """
    from galaxy10.core.quiet import load_tensorflow

    if digest != bundle_hash(model):
        raise ModelError(model, "this bundle differs from the one the job started with (it "
                                "changed, or this worker sees another file at that path)")
    # several workers may share a GPU: each takes the memory it needs, not all of it (read
    # when TensorFlow first sets its GPUs up, so it works after the import too)
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    tf = load_tensorflow()
    if threads:
        with contextlib.suppress(RuntimeError):  # already running: keep its threads
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(min(2, int(threads)))
    from galaxy10.modeling.predict import Predictor

    return Predictor(model)

def classify_shard(shard: Shard, job: Job, progress: Callable[[str, int], None] | None = None
                   ) -> dict[str, Any]:
    """Classify one shard and write its part (atomically); return its report.

    Every row of the shard gets a row in the part, in order: the classification, or the
    reason it failed (``error``). Pure apart from the part it writes: the same shard and
    job give the same bytes in any process.

    Parameters
    ----------
    shard, job : Shard, Job
    progress : callable (shard name, images), optional
        Called after each batch with its number of images.

    Returns
    -------
    dict
        ``name``, ``part`` (path), the shard's counts (``rows``, ``classified``, ``failed``,
        ``class_counts``, ``not_sure``, ``not_a_cutout``, ``ok``), ``seconds`` and
        ``peak_rss_mb`` (the worker process's peak resident memory so far).

    Raises
    ------
    GalaxyDataError
        If the input cannot be opened or changed since planning (the shard fails; its
        rows are not written).
    ModelError
        If the bundle cannot be loaded or is not the job's.
    """
    import pyarrow.parquet as pq

    started = time.perf_counter()
    predictor = load_predictor(job.model, job.bundle_hash, job.threads)
    check_unchanged(shard)
    batches: list[dict[str, Any]] = []
    ids: list[str] = []
    files: list[str | None] = []
    errors: list[str | None] = []
    width = predictor.embedding_width if job.embeddings else None
    for batch in prefetch(read_batches(shard, job.batch_size), predictor.preprocess):
        probs = emb = None
        if batch.ok:
            if job.embeddings:
                probs, emb = predictor.predict_and_embed(batch.x, job.batch_size,
                                                         preprocessed=True, views=job.views)
            else:
                probs = predictor.predict_proba(batch.x, job.batch_size, preprocessed=True,
                                                views=job.views)
        batches.append(batch_columns(batch, probs, emb, predictor.threshold, width))
        ids += batch.ids
        files += batch.files
        errors += batch.errors
        if progress is not None:
            progress(shard.name, len(batch.rows))
    table = part_table(shard, job, batches, ids, files, errors, width)
    summary = part_summary(table)
    meta = {"identity": shard.identity, "job": job.identity(), "shard": shard.name,
            "model": job.model_name, "summary": summary}
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True)})
    target = part_path(job.out, shard)
    with atomic_path(target, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return {"name": shard.name, "part": os.fspath(target), **summary,
            "seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}
