"""Classify a whole catalogue: sharded, resumable Parquet output, in one process or on Dask.

A survey catalogue is too large for one process and one sitting: millions of cut-outs, in
hundreds of HDF5 or Parquet files or in folders of pictures. :func:`classify_catalogue` cuts
the inputs into shards (:func:`plan_catalogue`: a file, or a range of rows of a large one; a
slice of a folder's or a manifest's pictures), classifies each shard with the bundle's
:class:`~galaxy10.modeling.predict.Predictor` and
:func:`~galaxy10.modeling.verdict.judge` (calibrated confidence, "not sure", "not a galaxy
cut-out"), and writes one Parquet part per shard into the output folder, atomically.

The output folder is a Parquet data set (``pandas.read_parquet(OUT)`` reads it whole;
files starting with ``.`` or ``_`` are not parts):

``OUT/.galaxy10-catalogue``
    the marker that says galaxy10 made the folder; no other folder is ever written into.
``OUT/<source>-<hash>.<start>-<stop>.parquet``
    one part per shard, one row per input row (:data:`COLUMNS`). Its schema metadata
    (key ``galaxy10_catalogue``) records the shard's identity (the input's path, size and
    modification time, or a digest of the pictures' names, sizes and times), the bundle's
    SHA-256, the views and the batch size, and the shard's counts.
``OUT/_failures/<shard>.json``
    a shard that could not be read, and why (retried by the next run).
``OUT/_summary.json``
    the last run's summary: class fractions, "not sure" fraction, failures, speed.

Resuming is checked, not assumed: a part is kept only when its recorded identity equals the
shard's as planned now, with the same bundle and settings, and its row count matches; every
other shard is (re)done. Since a part appears only once complete, a run killed at any moment
(SIGKILL included) leaves complete parts and at most the shards in flight to redo, and the
rerun writes the same bytes an uninterrupted run would have.

The work is spread with Dask: in this process for one worker, a local cluster of worker
processes sized to the cores (``dask.distributed.LocalCluster``), or any running cluster
(``scheduler="tcp://host:8786"``; inputs, bundle and output folder must then be on a file
system every worker sees). :func:`classify_shard` is the whole per-shard work, a plain
importable function; each worker process loads the bundle once (:func:`load_predictor`
caches it by path and hash) and holds one batch of images at a time, so its memory does not
grow with the catalogue.

The package's modules, in the order a run uses them: :mod:`.layout` (the folder's files and
the parts' columns), :mod:`.plan` (shards and the job), :mod:`.batches` (a shard's pictures,
read ahead), :mod:`.parts` (a part's table and record), :mod:`.shard` (one shard's work),
:mod:`.folder` (the output folder), :mod:`.cluster` (Dask), :mod:`.run` (the workflow) and
:mod:`.explore` (reading a catalogue back). What a user imports is re-exported here.
"""

from galaxy10.modeling.digest import bundle_hash  # the job's identity
from galaxy10.pipeline.catalogue.cluster import (
    WORKER_MALLOC_TRIM_THRESHOLD,
    local_cluster,
    quiet_dask,
)
from galaxy10.pipeline.catalogue.explore import (
    catalogue_images,
    confidence_extremes,
    read_catalogue,
)
from galaxy10.pipeline.catalogue.folder import check_catalogue_out
from galaxy10.pipeline.catalogue.layout import (
    BATCH_SIZE,
    COLUMNS,
    FAILURES,
    FORMAT,
    MARKER,
    META_KEY,
    SHARD_ROWS,
    SUMMARY,
    CatalogueError,
)
from galaxy10.pipeline.catalogue.parts import part_is_current, part_path, part_record
from galaxy10.pipeline.catalogue.plan import (
    Job,
    Shard,
    input_kind,
    plan_catalogue,
    read_catalogue_manifest,
)
from galaxy10.pipeline.catalogue.run import CatalogueResult, classify_catalogue
from galaxy10.pipeline.catalogue.shard import classify_shard, load_predictor

__all__ = [
    "BATCH_SIZE", "COLUMNS", "FAILURES", "FORMAT", "MARKER", "META_KEY", "SHARD_ROWS",
    "SUMMARY", "WORKER_MALLOC_TRIM_THRESHOLD", "CatalogueError", "CatalogueResult", "Job",
    "Shard", "bundle_hash", "catalogue_images", "check_catalogue_out", "classify_catalogue",
    "classify_shard", "confidence_extremes", "input_kind", "load_predictor", "local_cluster",
    "part_is_current", "part_path", "part_record", "plan_catalogue", "quiet_dask",
    "read_catalogue", "read_catalogue_manifest",
]
