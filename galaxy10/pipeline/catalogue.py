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
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.atomic import atomic_path, write_json
from galaxy10.core.classes import CLASS_NAMES, IMAGE_SHAPE, N_CLASSES
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError, ImageError, ModelError
from galaxy10.modeling.digest import bundle_hash  # the job's identity (re-exported)

logger = logging.getLogger(__name__)

FORMAT = 1
"""Version of the part layout; parts of another version are redone."""
MARKER = ".galaxy10-catalogue"
FAILURES = "_failures"
SUMMARY = "_summary.json"
META_KEY = b"galaxy10_catalogue"
SHARD_ROWS = 5000
"""Default rows per shard: a few minutes of work on one core, so a crash costs little."""
BATCH_SIZE = 256
COLUMNS: tuple[str, ...] = (
    "id", "source", "row", "file", "label", "class", "class_name", "confidence",
    "top3_classes", "top3_probs", "flag", "not_sure", "not_a_cutout", "reason", "error",
    "model", "bundle_hash")
"""The columns of every part, in order (plus ``embedding`` with ``embeddings=True``).

``id``: the manifest's or the Parquet file's id, else ``<file name>:<row>`` for HDF5 and
Parquet rows and ``<folder name>/<relative path>`` for pictures in a folder; ``source``: the
input file or folder (resolved); ``row``: the row in it (the picture's position in the
listing); ``file``: the picture file, for pictures; ``label``: the input's own label, when it
has one; ``class``, ``class_name``, ``confidence``: the most probable class and its calibrated
probability; ``top3_classes``, ``top3_probs``; ``flag``: ``ok``, ``not sure`` or ``not a galaxy
cut-out`` (:func:`galaxy10.modeling.verdict.judge`), ``reason`` saying why; ``not_sure``: the
confidence is below the bundle's threshold; ``not_a_cutout``: the picture fails the cut-out
check; ``error``: why the row could not be classified (its other columns are then empty).
"""
_IMAGE_INPUT = "images"


class CatalogueError(Galaxy10Error):
    """A catalogue job that cannot start: a missing input, an output folder not galaxy10's."""


# -- shards -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Shard:
    """A unit of work: rows ``start:stop`` of one input, written as one part.

    Attributes
    ----------
    kind : {"hdf5", "parquet", "images"}
    source : str
        The HDF5 or Parquet file, the folder or the manifest (resolved); ``""`` for image
        files given one by one.
    key : str
        A file-name-safe name of the source; all parts of a source start with it.
    start, stop : int
    identity : dict
        What must be unchanged for a written part to be reused (JSON-able).
    files, ids, labels : tuples
        For ``images`` shards: the picture files, their ids and labels (-1: none).
    error : str or None
        Why the input could not be listed or opened; such a shard is only recorded.
    """

    kind: str
    source: str
    key: str
    start: int
    stop: int
    identity: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    labels: tuple[int, ...] = ()
    error: str | None = None

    @property
    def name(self) -> str:
        """The part's name without ``.parquet``: ``<key>.<start>-<stop>``."""
        if self.error is not None:
            return f"{self.key}.unreadable"
        return f"{self.key}.{self.start:09d}-{self.stop:09d}"

    @property
    def rows(self) -> int:
        return self.stop - self.start


def _key(path: Path | str, label: str) -> str:
    digest = hashlib.sha256(os.fspath(path).encode()).hexdigest()[:8]
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", label).strip("_")[:40] or "input"
    return f"{stem}-{digest}"


def _file_identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": os.fspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _ranges(n: int, size: int, align: int = 1) -> list[tuple[int, int]]:
    size = max(align, -(-size // align) * align)
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def _hdf5_shards(path: Path, shard_rows: int) -> list[Shard]:
    from galaxy10.datasets.reader import Galaxy10File

    key, source = _key(path, path.stem), os.fspath(path)
    try:
        with Galaxy10File(path) as f:
            n, align = len(f), int(f.layout()["rows_per_chunk"])
        ident = _file_identity(path)
    except (GalaxyDataError, OSError) as exc:
        return [Shard("hdf5", source, key, 0, 0, error=_reason(exc))]
    return [Shard("hdf5", source, key, lo, hi, {"kind": "hdf5", **ident, "start": lo, "stop": hi})
            for lo, hi in _ranges(n, shard_rows, align if align <= shard_rows else 1)]


def _parquet_shards(path: Path, shard_rows: int) -> list[Shard]:
    from galaxy10.datasets.parquet import parquet_layout

    key, source = _key(path, path.stem), os.fspath(path)
    try:
        layout = parquet_layout(path)
        ident = _file_identity(path)
    except (GalaxyDataError, OSError) as exc:
        return [Shard("parquet", source, key, 0, 0, error=_reason(exc))]
    if layout.num_rows == 0:
        return [Shard("parquet", source, key, 0, 0, error="holds no rows")]
    cuts, lo, offset = [], 0, 0
    for n in layout.row_groups:  # whole row groups per shard where they fit
        if offset > lo and offset + n - lo > shard_rows:
            cuts.append((lo, offset))
            lo = offset
        offset += n
        while offset - lo > shard_rows and n > shard_rows:
            cuts.append((lo, lo + shard_rows))
            lo += shard_rows
    if offset > lo:
        cuts.append((lo, offset))
    return [Shard("parquet", source, key, a, b,
                  {"kind": "parquet", **ident, "start": a, "stop": b}) for a, b in cuts]


def _image_shards(source: str, key: str, files: Sequence[Path], ids: Sequence[str],
                  labels: Sequence[int], shard_rows: int) -> list[Shard]:
    shards = []
    for lo, hi in _ranges(len(files), shard_rows):
        digest = hashlib.sha256()
        for f, i, y in zip(files[lo:hi], ids[lo:hi], labels[lo:hi], strict=True):
            try:
                st = f.stat()
                facts = f"{st.st_size}\t{st.st_mtime_ns}"
            except OSError:
                facts = "missing"
            digest.update(f"{os.fspath(f)}\t{i}\t{y}\t{facts}\n".encode())
        shards.append(Shard(_IMAGE_INPUT, source, key, lo, hi,
                            {"kind": _IMAGE_INPUT, "source": source, "start": lo, "stop": hi,
                             "files_sha256": digest.hexdigest()},
                            tuple(os.fspath(f) for f in files[lo:hi]), tuple(ids[lo:hi]),
                            tuple(int(y) for y in labels[lo:hi])))
    return shards


def _folder_shards(folder: Path, shard_rows: int) -> list[Shard]:
    from galaxy10.datasets.images import IMAGE_SUFFIXES

    key, source = _key(folder, folder.name), os.fspath(folder)
    files = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(root) / n for n in names
                  if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES]
    files.sort(key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        return [Shard(_IMAGE_INPUT, source, key, 0, 0, error="holds no images ("
                      + ", ".join(sorted(IMAGE_SUFFIXES)) + ")")]
    ids = [f"{folder.name}/{p.relative_to(folder).as_posix()}" for p in files]
    return _image_shards(source, key, files, ids, [-1] * len(files), shard_rows)


def read_catalogue_manifest(path: str | os.PathLike[str]
                            ) -> tuple[list[Path], list[str], list[int]]:
    """The pictures a CSV manifest lists: ``path`` (or ``file``), optional ``id`` and ``label``.

    Paths are relative to the manifest's folder; without an ``id`` column a picture's id is
    its path as written.

    Raises
    ------
    GalaxyDataError
        Naming the manifest and the first bad line (no path column, an empty path, a label
        that is not a whole number in 0-9, a repeated id).
    """
    path = Path(path)
    files, ids, labels, seen = [], [], [], set()
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            column = next((c for c in ("path", "file") if c in fields), None)
            if column is None:
                raise GalaxyDataError(path, "CSV manifest needs a 'path' (or 'file') column "
                                            f"(found: {fields})")
            for row in reader:
                line = reader.line_num
                name = (row.get(column) or "").strip()
                if not name:
                    raise GalaxyDataError(path, f"line {line}: the path is empty")
                ident = (row.get("id") or "").strip() or name
                if ident in seen:
                    raise GalaxyDataError(path, f"line {line}: id {ident!r} appears twice")
                seen.add(ident)
                label = (row.get("label") or "").strip()
                if label and not (label.isdigit() and int(label) < N_CLASSES):
                    raise GalaxyDataError(path, f"line {line}: label {label[:40]!r} is not a "
                                                f"class 0-{N_CLASSES - 1}")
                files.append(path.parent / name)
                ids.append(ident)
                labels.append(int(label) if label else -1)
    except UnicodeDecodeError:
        raise GalaxyDataError(path, "not a UTF-8 CSV manifest") from None
    except csv.Error as exc:
        raise GalaxyDataError(path, f"not valid CSV ({exc})") from None
    if not files:
        raise GalaxyDataError(path, "CSV manifest lists no images")
    return files, ids, labels


def _manifest_shards(path: Path, shard_rows: int) -> list[Shard]:
    key, source = _key(path, path.stem), os.fspath(path)
    try:
        files, ids, labels = read_catalogue_manifest(path)
    except (GalaxyDataError, OSError) as exc:
        return [Shard(_IMAGE_INPUT, source, key, 0, 0, error=_reason(exc))]
    return _image_shards(source, key, files, ids, labels, shard_rows)


def _reason(exc: BaseException) -> str:
    fault = getattr(exc, "fault", None)
    if fault:
        return str(fault)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def input_kind(path: str | os.PathLike[str]) -> str:
    """How an input is read: ``hdf5``, ``parquet``, ``manifest``, ``folder`` or ``image``.

    Raises
    ------
    CatalogueError
        If the path does not exist or is none of these (one line naming it).
    """
    from galaxy10.datasets.images import IMAGE_SUFFIXES
    from galaxy10.datasets.labelled import HDF5_SUFFIXES
    from galaxy10.datasets.parquet import PARQUET_SUFFIXES

    path = Path(path)
    if path.is_dir():
        return "folder"
    if not path.exists():
        raise CatalogueError(f"{path}: not found")
    suffix = path.suffix.lower()
    for kind, suffixes in (("hdf5", HDF5_SUFFIXES), ("parquet", PARQUET_SUFFIXES),
                           ("manifest", (".csv",)), ("image", tuple(IMAGE_SUFFIXES))):
        if suffix in suffixes:
            return kind
    raise CatalogueError(f"{path}: not a catalogue input (expected a Galaxy10 .h5 file, a "
                         ".parquet file of encoded images, a CSV manifest, a folder of "
                         "images or an image file)")


def plan_catalogue(inputs: Sequence[str | os.PathLike[str]], shard_rows: int = SHARD_ROWS
                   ) -> list[Shard]:
    """Cut the inputs into shards, in input order; an input that cannot be read is one
    shard with its ``error`` (recorded; the others go on).

    HDF5 files are cut into ranges of ``shard_rows`` (rounded to whole chunks), Parquet
    files at row-group boundaries, folders (read recursively, in path order) and manifests
    into slices of ``shard_rows`` pictures; image files given one by one form one list.
    Only the labels, footers and listings are read here.

    Raises
    ------
    CatalogueError
        If an input does not exist, is not a kind of input, or is given twice, or two
        inputs share a name (their ids would collide), before anything is read.
    """
    if shard_rows < 1:
        raise ValueError("shard_rows must be at least 1")
    if not inputs:
        raise CatalogueError("no inputs given")
    kinds = [(Path(p).expanduser().resolve(), input_kind(p)) for p in inputs]
    seen: dict[Path, str] = {}
    names: dict[str, Path] = {}
    for (path, kind), given in zip(kinds, inputs, strict=True):
        if path in seen:
            raise CatalogueError(f"{given}: given twice")
        seen[path] = kind
        if kind in ("hdf5", "parquet", "folder"):  # their ids start with the name
            label = path.name + ("/" if kind == "folder" else "")
            if label in names:
                raise CatalogueError(f"{given}: another input is also named {path.name!r} "
                                     f"({names[label]}); their ids would collide, rename one")
            names[label] = path
    shards: list[Shard] = []
    loose = [(path, given) for (path, kind), given in zip(kinds, inputs, strict=True)
             if kind == "image"]
    for path, kind in kinds:
        if kind == "hdf5":
            shards += _hdf5_shards(path, shard_rows)
        elif kind == "parquet":
            shards += _parquet_shards(path, shard_rows)
        elif kind == "manifest":
            shards += _manifest_shards(path, shard_rows)
        elif kind == "folder":
            shards += _folder_shards(path, shard_rows)
    if loose:
        shards += _image_shards("", "files", [p for p, _ in loose],
                                [os.fspath(g) for _, g in loose], [-1] * len(loose),
                                shard_rows)
    return shards


# -- the job ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What every shard of a run shares: the output folder, the bundle and the settings.

    ``threads`` is the number of TensorFlow threads a worker uses (None: TensorFlow's
    default, every core).
    """

    out: str
    model: str
    bundle_hash: str
    model_name: str
    views: int
    embeddings: bool = False
    batch_size: int = BATCH_SIZE
    threads: int | None = None

    def identity(self) -> dict[str, Any]:
        """The settings a part must have been written with to be reused."""
        return {"format": FORMAT, "bundle_hash": self.bundle_hash, "views": self.views,
                "embeddings": self.embeddings, "batch_size": self.batch_size}


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


# -- one shard --------------------------------------------------------------------------------
@dataclass
class _Batch:
    """One batch of a shard's rows: as read (``images``), then as prepared (``x``, ``checks``).

    For HDF5 inputs ``images`` is a view of a buffer the reader reuses for the next batch:
    :meth:`prepare` turns it into what the rest of the work needs and lets go of it.
    """

    rows: np.ndarray
    ids: list[str]
    labels: list[int]
    images: list[np.ndarray | None] | np.ndarray | None
    errors: list[str | None]
    files: list[str | None]
    checks: list[str | None] = field(default_factory=list)
    ok: list[int] = field(default_factory=list)
    x: np.ndarray | None = None

    def prepare(self, preprocess: Callable[[np.ndarray], np.ndarray] | None = None) -> _Batch:
        """Run the cut-out check (:func:`~galaxy10.modeling.verdict.cutout_check`, at 256 px)
        on every picture read, and ``preprocess`` (the predictor's) on them all at once;
        then drop the pictures, so that only the small model input stays in memory.

        ``ok`` lists the positions of the pictures read; ``x`` is their model input, in that
        order (None without ``preprocess``, or when none was read).
        """
        from galaxy10.datasets.images import to_cutout
        from galaxy10.modeling.verdict import cutout_checks

        images = self.images if self.images is not None else []
        self.ok = [i for i, img in enumerate(images) if img is not None]
        whole = isinstance(images, np.ndarray)  # read as one array, none missing
        self.checks = [None] * len(images)
        if whole and images.shape[1:] == IMAGE_SHAPE:
            self.checks = cutout_checks(images)
        elif self.ok:
            found = cutout_checks([images[i] if images[i].shape == IMAGE_SHAPE
                                   else to_cutout(images[i]) for i in self.ok])
            for i, why in zip(self.ok, found, strict=True):
                self.checks[i] = why
        if preprocess is not None and self.ok:
            self.x = preprocess(images if whole else np.stack([images[i] for i in self.ok]))
        self.images = None
        return self


def _prefetch(batches: Iterator[_Batch],
              preprocess: Callable[[np.ndarray], np.ndarray] | None = None
              ) -> Iterator[_Batch]:
    """``batches``, each read and prepared (:meth:`_Batch.prepare`) in a thread while the
    caller uses the one before.

    Reading, decoding, the cut-out check and the preprocessing overlap with the model's
    forward pass (OpenCV, HDF5 reads and TensorFlow release the GIL); at most two prepared
    batches and the one being read are in memory. An error in the thread is raised here, at
    the batch where it happened.
    """
    import queue

    slot: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    end = object()

    def work() -> None:
        try:
            for batch in batches:
                item = batch.prepare(preprocess)
                while not stop.is_set():
                    try:
                        slot.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slot.put(end)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            slot.put(exc)
        finally:
            with contextlib.suppress(Exception):
                batches.close()  # type: ignore[attr-defined]

    thread = threading.Thread(target=work, name="galaxy10-catalogue-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = slot.get()
            if item is end:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            slot.get_nowait()
        thread.join()


def _check_unchanged(shard: Shard) -> None:
    if shard.kind == _IMAGE_INPUT:
        return  # each picture is read afresh; its digest was taken when planning
    now = _file_identity(Path(shard.source))
    if any(now[k] != shard.identity.get(k) for k in ("size", "mtime_ns")):
        raise GalaxyDataError(shard.source, "changed since the job was planned (size or "
                                            "modification time); run again")


def _read_batches(shard: Shard, batch_size: int) -> Iterator[_Batch]:
    """The shard's rows in batches, each picture decoded or its error recorded."""
    from galaxy10.datasets.images import load_cutout

    name = Path(shard.source).name
    if shard.kind == "hdf5":
        from galaxy10.datasets.reader import Galaxy10File

        with Galaxy10File(shard.source) as f:
            # one buffer for the whole shard: a batch's pictures are prepared (and let go)
            # before the next batch is read into it
            buffer = np.empty((min(batch_size, shard.rows), *f.image_shape), np.uint8)
            for lo in range(shard.start, shard.stop, batch_size):
                rows = np.arange(lo, min(lo + batch_size, shard.stop))
                images: list[np.ndarray | None] | np.ndarray
                errors: list[str | None]
                try:
                    images = f.read_range(rows[0], rows[-1] + 1, out=buffer[:len(rows)])
                    errors = [None] * len(rows)
                except GalaxyDataError:  # a damaged chunk: find the rows it spoils
                    images, errors = [], []
                    for r in rows:
                        try:
                            images.append(f.image(int(r)))
                            errors.append(None)
                        except GalaxyDataError as exc:
                            images.append(None)
                            errors.append(_reason(exc))
                yield _Batch(rows, [f"{name}:{r}" for r in rows],
                             f.labels[rows].astype(int).tolist(), images, errors,
                             [None] * len(rows))
    elif shard.kind == "parquet":
        from galaxy10.datasets.parquet import decode_blob, iter_parquet

        for b in iter_parquet(shard.source, shard.start, shard.stop, batch_size):
            images, errors = [], []
            for blob, r in zip(b.blobs, b.rows, strict=True):
                try:
                    images.append(decode_blob(blob, f"{name} row {r}"))
                    errors.append(None)
                except ImageError as exc:
                    images.append(None)
                    errors.append(exc.fault)
            ids = b.ids if b.ids is not None else [f"{name}:{r}" for r in b.rows]
            labels = (b.labels.tolist() if b.labels is not None else [-1] * len(b.rows))
            yield _Batch(b.rows, ids, labels, images, errors, [None] * len(b.rows))
    else:
        for lo in range(0, shard.rows, batch_size):
            hi = min(lo + batch_size, shard.rows)
            images, errors = [], []
            for path in shard.files[lo:hi]:
                try:
                    images.append(load_cutout(path))
                    errors.append(None)
                except (ImageError, OSError) as exc:
                    images.append(None)
                    errors.append(_reason(exc))
            yield _Batch(np.arange(shard.start + lo, shard.start + hi), list(shard.ids[lo:hi]),
                         list(shard.labels[lo:hi]), images, errors, list(shard.files[lo:hi]))


def _arrow_schema(embedding_width: int | None):
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


def _summary(table) -> dict[str, Any]:
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


def _batch_columns(batch: _Batch, probs: np.ndarray | None, emb: np.ndarray | None,
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


def _part_table(shard: Shard, job: Job, batches: list[dict[str, Any]], ids: list[str],
                files: list[str | None], errors: list[str | None], width: int | None):
    """The Arrow table of a part, in :func:`_arrow_schema`, from its batches' columns."""
    import pyarrow as pa

    from galaxy10.modeling.verdict import NOT_A_CUTOUT

    def stack(name: str) -> np.ndarray:
        return np.concatenate([b[name] for b in batches]) if batches else np.zeros(0)

    schema = _arrow_schema(width if job.embeddings else None)
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
    _check_unchanged(shard)
    batches: list[dict[str, Any]] = []
    ids: list[str] = []
    files: list[str | None] = []
    errors: list[str | None] = []
    width = predictor.embedding_width if job.embeddings else None
    for batch in _prefetch(_read_batches(shard, job.batch_size), predictor.preprocess):
        probs = emb = None
        if batch.ok:
            if job.embeddings:
                probs, emb = predictor.predict_and_embed(batch.x, job.batch_size,
                                                         preprocessed=True, views=job.views)
            else:
                probs = predictor.predict_proba(batch.x, job.batch_size, preprocessed=True,
                                                views=job.views)
        batches.append(_batch_columns(batch, probs, emb, predictor.threshold, width))
        ids += batch.ids
        files += batch.files
        errors += batch.errors
        if progress is not None:
            progress(shard.name, len(batch.rows))
    table = _part_table(shard, job, batches, ids, files, errors, width)
    summary = _summary(table)
    meta = {"identity": shard.identity, "job": job.identity(), "shard": shard.name,
            "model": job.model_name, "summary": summary}
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta, sort_keys=True)})
    target = part_path(job.out, shard)
    with atomic_path(target, suffix=".parquet") as tmp:
        pq.write_table(table, tmp)
    return {"name": shard.name, "part": os.fspath(target), **summary,
            "seconds": time.perf_counter() - started, "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


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


# -- the output folder ------------------------------------------------------------------------
def check_catalogue_out(out: str | os.PathLike[str],
                        inputs: Sequence[str | os.PathLike[str]] = ()) -> str | None:
    """Check that ``out`` may hold a catalogue: absent, empty, or made by galaxy10.

    Returns
    -------
    str or None
        A note to print when ``out`` holds an earlier catalogue (which a run resumes).

    Raises
    ------
    CatalogueError
        If ``out`` is a file, a folder galaxy10 did not make (no :data:`MARKER`), one of the
        inputs, or cannot be created or written.
    """
    out = Path(out).expanduser()
    for given in inputs:
        with contextlib.suppress(OSError):
            if out.resolve() == Path(given).expanduser().resolve():
                raise CatalogueError(f"{out}: is also an input; choose another --out")
    if out.is_file() or (out.exists() and not out.is_dir()):
        raise CatalogueError(f"{out}: is a file; --out needs a folder for the catalogue")
    if out.is_dir():
        if (out / MARKER).is_file():
            if not os.access(out, os.W_OK | os.X_OK):
                raise CatalogueError(f"{out}: cannot write there (permission denied)")
            return f"resuming the catalogue in {out}"
        if any(out.iterdir()):
            raise CatalogueError(f"{out}: already exists and is not a catalogue galaxy10 made "
                                 f"(no {MARKER} marker); galaxy10 does not write into folders "
                                 "it did not make (choose another --out)")
    folder = out if out.is_dir() else out.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise CatalogueError(f"{out}: cannot create or write the folder (in {folder})")
    return None


def _claim(out: Path) -> None:
    """Make ``out`` galaxy10's: the folder, then its marker. A place that passed
    :func:`check_catalogue_out` and still cannot hold a folder (``/proc``, a disk gone
    read-only) is one :class:`CatalogueError` naming it."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CatalogueError(f"{out}: cannot create the catalogue folder there "
                             f"({exc.strerror or exc})") from None
    if not (out / MARKER).is_file():
        write_json(out / MARKER, {"galaxy10": "catalogue", "format": FORMAT})


def _tidy(out: Path, shards: Sequence[Shard]) -> int:
    """Remove parts and failure records of the planned sources that no planned shard owns
    (another --shard-rows, a file that shrank); parts of other sources stay. Returns the
    number removed."""
    keys = {s.key for s in shards}
    names = {s.name for s in shards}
    removed = 0
    for path in [*out.glob("*.parquet"), *(out / FAILURES).glob("*.json")]:
        stem = path.name.rsplit(".", 1)[0]
        if not stem.startswith(".") and stem.split(".", 1)[0] in keys and stem not in names:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


# -- running ----------------------------------------------------------------------------------
@dataclass
class CatalogueResult:
    """What a run did, and the catalogue's totals (every planned shard, earlier runs' too).

    ``failed_shards`` lists ``(shard, reason)`` for shards that could not be read;
    ``failed_examples`` up to 100 ``(id, reason)`` of pictures that could not be (all of
    them are in the parts' ``error`` column).
    """

    out: Path
    shards: int
    skipped: int
    done: int
    images: int
    classified: int
    class_counts: list[int]
    not_sure: int
    not_a_cutout: int
    failed_images: int
    failed_shards: list[tuple[str, str]]
    failed_examples: list[tuple[str, str]]
    seconds: float
    images_this_run: int
    workers: int | str
    peak_rss_mb: float = float("nan")

    @property
    def failed(self) -> bool:
        """Whether any shard or picture could not be classified."""
        return bool(self.failed_shards) or self.failed_images > 0

    @property
    def class_fractions(self) -> list[float]:
        """Share of each class among the classified pictures."""
        return [c / self.classified if self.classified else 0.0 for c in self.class_counts]

    @property
    def images_per_s(self) -> float:
        """Pictures classified by this run per second of its wall time."""
        return self.images_this_run / self.seconds if self.seconds else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``_summary.json``), with the fractions and speed."""
        d = asdict(self)
        d["out"] = os.fspath(self.out)
        n = self.classified or 1
        d.update(class_fractions=self.class_fractions, images_per_s=self.images_per_s,
                 not_sure_fraction=self.not_sure / n,
                 not_a_cutout_fraction=self.not_a_cutout / n)
        return d

    def lines(self) -> list[str]:
        """The summary a person reads: totals, class fractions, flags, failures."""
        out = [f"catalogue {self.out}: {self.images:,} images in {self.shards} shard(s); "
               f"{self.done} classified now, {self.skipped} already done"
               + (f" ({self.images_this_run:,} images in {self.seconds:.0f} s, "
                  f"{self.images_per_s:.0f} images/s, {self.workers} worker(s))"
                  if self.images_this_run else "")]
        if self.classified:
            out.append("class fractions: " + ", ".join(
                f"{k} {CLASS_NAMES[k]} {f:.1%}" for k, f in enumerate(self.class_fractions)))
            out.append(f"not sure: {self.not_sure / self.classified:.1%}; not a galaxy "
                       f"cut-out: {self.not_a_cutout / self.classified:.1%} of "
                       f"{self.classified:,} classified")
        if self.failed:
            out.append(f"failures: {len(self.failed_shards)} shard(s) and "
                       f"{self.failed_images:,} image(s) could not be read (the images' "
                       "reasons are in the parts' 'error' column)")
            out += [f"  {name}: {why}" for name, why in
                    (self.failed_shards + self.failed_examples)[:10]]
        return out


class _Progress:
    """Images done per shard, shown on one tqdm bar; safe to call from Dask's event thread."""

    def __init__(self, bar, sizes: dict[str, int]) -> None:
        self.bar, self.sizes, self.seen = bar, sizes, dict.fromkeys(sizes, 0)
        self.lock = threading.Lock()

    def __call__(self, name: str, n: int) -> None:
        with self.lock:
            if name not in self.seen:
                return
            new = min(self.seen[name] + int(n), self.sizes[name])
            self.bar.update(new - self.seen[name])
            self.seen[name] = new

    def finish(self, name: str) -> None:
        self(name, self.sizes.get(name, 0))


class _DaskProgress:
    """``progress`` for a shard on a Dask worker: an event the client subscribed to."""

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def __call__(self, name: str, n: int) -> None:
        from distributed import get_worker

        with contextlib.suppress(ValueError):  # not on a worker (a test calling it)
            get_worker().log_event(self.topic, {"shard": name, "n": int(n)})


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def quiet_dask() -> Iterator[None]:
    """Keep Dask's start, stop and connection lines off the terminal, unless logging at INFO.

    ``distributed`` logs every worker start and stop, and a worker killed after its grace
    period at shutdown, at INFO and WARNING; a catalogue run prints its progress bar and its
    summary only. Under ``-v`` (root logger at INFO or finer) they all show.
    """
    import distributed  # noqa: F401 - importing it sets its loggers' levels: first

    if logging.getLogger().getEffectiveLevel() <= logging.INFO:
        yield
        return
    log = logging.getLogger("distributed")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        log.setLevel(level)


@contextlib.contextmanager
def _client(workers: int, scheduler: str | None, threads: int | None):
    with quiet_dask():
        with _connect(workers, scheduler, threads) as client:
            yield client


@contextlib.contextmanager
def _connect(workers: int, scheduler: str | None, threads: int | None):
    import distributed

    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout=10)
        except (OSError, TimeoutError) as exc:
            raise CatalogueError(f"cannot reach the Dask scheduler at {scheduler} "
                                 f"({_reason(exc)})") from None
        try:
            yield client
        finally:
            client.close()
        return
    with local_cluster(workers, threads) as cluster, distributed.Client(cluster) as client:
        yield client


WORKER_MALLOC_TRIM_THRESHOLD = 2**26
"""Bytes glibc may keep freed in a worker before it hands memory back to the system.

Dask's nanny sets 64 kB (``distributed.nanny.pre-spawn-environ``) so that a worker's memory
shows as freed at once; a catalogue worker frees and re-takes its batch buffers (tens of MB)
for every batch, and at 64 kB each of them comes back as fresh pages from the kernel. The
memory a worker holds stays bounded by its batches either way.
"""


@contextlib.contextmanager
def local_cluster(workers: int, threads: int | None = None,
                  env: dict[str, str] | None = None) -> Iterator[Any]:
    """A ``distributed.LocalCluster`` of ``workers`` processes set up for classifying.

    One Dask thread per worker (a worker classifies one shard at a time, its TensorFlow
    using ``threads`` threads), TensorFlow's C++ lines off, and
    :data:`WORKER_MALLOC_TRIM_THRESHOLD`; ``env`` adds to the workers' environment.
    ``classify`` and ``bench classify`` both start their clusters here.

    Unless logging at INFO, the workers log nothing below CRITICAL: on a busy machine a
    worker can send its heartbeat to a scheduler that is closing at the end of the run, and
    ``distributed`` logs that as an ERROR with a traceback (dask/distributed#7105). A run's
    own summary reports every shard that failed, so the workers' lines add nothing to it.
    """
    import dask
    import distributed

    worker_env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
    silence = logging.ERROR
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        silence = logging.CRITICAL
        worker_env["DASK_LOGGING__DISTRIBUTED"] = "critical"  # the workers' own lines
    if threads:
        worker_env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads))
    worker_env.update(env or {})
    spawn = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
    with dask.config.set({spawn: WORKER_MALLOC_TRIM_THRESHOLD}), distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=silence, env=worker_env) as cluster:
        yield cluster


def _run_dask(client, pending: Sequence[Shard], job: Job, progress: _Progress,
              on_done: Callable[[Shard, dict | None, BaseException | None], None]) -> int:
    """Submit every pending shard to ``client``'s workers; report each as it completes."""
    import uuid

    import distributed

    topic = f"galaxy10-catalogue-{uuid.uuid4().hex}"
    client.subscribe_topic(topic, lambda event: progress(event[1]["shard"], event[1]["n"]))
    by_key = {}
    for shard in pending:
        future = client.submit(classify_shard, shard, job, _DaskProgress(topic),
                               key=f"classify-{shard.name}-{uuid.uuid4().hex[:8]}", pure=False)
        by_key[future.key] = (future, shard)
    n_workers = len(client.scheduler_info().get("workers", {}))
    try:
        for future in distributed.as_completed([f for f, _ in by_key.values()]):
            shard = by_key[future.key][1]
            try:
                report = future.result()
            except ModelError:
                raise
            except Exception as exc:  # noqa: BLE001 - a shard's failure is recorded
                on_done(shard, None, exc)
            else:
                on_done(shard, report, None)
    finally:
        client.unsubscribe_topic(topic)
        for future, _ in by_key.values():
            future.cancel()
    return n_workers


def classify_catalogue(inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
                       model: str | os.PathLike[str] | None = None, *,
                       workers: int | None = None, scheduler: str | None = None,
                       embeddings: bool = False, views: int | None = None,
                       shard_rows: int = SHARD_ROWS, batch_size: int = BATCH_SIZE,
                       threads: int | None = None, progress: bool = True) -> CatalogueResult:
    """Classify every picture of ``inputs`` into a Parquet catalogue in ``out``; resumable.

    Parameters
    ----------
    inputs : sequence of path-like
        Galaxy10 HDF5 files (any chunk layout), Parquet files with an encoded-image column
        (the Hugging Face layout, with or without its metadata), CSV manifests (``path``,
        optional ``id`` and ``label``), folders of pictures (read recursively) and picture
        files.
    out : path-like
        The catalogue folder: new, empty, or an earlier catalogue (resumed).
    model : path-like, optional
        The bundle (default ``models/galaxy_cnn.keras``, :func:`~galaxy10.core.paths.find_models_home`).
    workers : int, optional
        Worker processes on this machine (default: one per core); 1 runs in this process.
        Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``); its workers do the work.
    embeddings : bool, default False
        Also store the network's penultimate-layer vector (``embedding``).
    views : int, optional
        Flip/rotation views to average, 1-8 (default: the bundle's, 8 with test-time
        augmentation); the calibration was fitted with the bundle's.
    shard_rows : int, default :data:`SHARD_ROWS`
        Rows per shard: the work redone after a crash is at most one shard per worker.
    batch_size : int, default :data:`BATCH_SIZE`
        Pictures in memory at once per worker (and the model's batch).
    threads : int, optional
        TensorFlow threads per worker process (default: the cores shared out among a local
        cluster's workers; TensorFlow's own choice in this process and on a scheduler's
        workers).
    progress : bool, default True
        Show a progress bar (images/s, time left).

    Returns
    -------
    CatalogueResult
        Counts and fractions over the whole catalogue; also written to ``out/_summary.json``.

    Raises
    ------
    CatalogueError, ModelError
        Before any work: a missing input, an output folder galaxy10 did not make, a bundle
        that is missing or broken, a Dask scheduler that cannot be reached.
    """

    from galaxy10.core.paths import find_models_home
    from galaxy10.modeling.bundle import read_params

    started = time.perf_counter()
    out = Path(out).expanduser()
    model = Path(model) if model else find_models_home() / "galaxy_cnn.keras"
    if not model.is_file():
        raise ModelError(model, "model file not found; train one with notebooks/04_cnn.ipynb "
                                "or `python -m galaxy10 train`")
    params = read_params(model)
    views = (8 if params.get("tta") else 1) if views is None else int(views)
    if not 1 <= views <= 8:
        raise CatalogueError(f"views must be 1 to 8 (the flip/rotation views), got {views}")
    if workers is not None and workers < 1:
        raise CatalogueError(f"workers must be at least 1, got {workers}")
    if batch_size < 1 or shard_rows < 1:
        raise CatalogueError("batch size and shard rows must be at least 1")
    check_catalogue_out(out, inputs)
    shards = plan_catalogue(inputs, shard_rows)
    local = not scheduler
    workers = workers or _default_workers()
    in_process = local and workers == 1
    cores = _default_workers()
    if threads is None and local and not in_process:
        threads = max(1, cores // workers)
    model = model.resolve()
    job = Job(os.fspath(out.resolve()), os.fspath(model), bundle_hash(model), model.stem,
              views, embeddings, batch_size, threads)
    records: dict[str, dict] = {}
    pending = []
    for shard in shards:
        if shard.error is not None:
            continue
        record = part_is_current(out, shard, job) if out.is_dir() else None
        if record is not None:
            records[shard.name] = record["summary"]
        else:
            pending.append(shard)
    stack = contextlib.ExitStack()
    client = None
    if pending and in_process:  # fail now, in one line, if the bundle does not load
        load_predictor(job.model, job.bundle_hash, job.threads)
    elif pending:  # connect (or start the local cluster) before anything is written
        client = stack.enter_context(_client(workers, scheduler, job.threads))
    with stack:
        return _run(out, shards, pending, records, job, client, started,
                    "" if local else " (scheduler)", progress)


def _run(out: Path, shards: Sequence[Shard], pending: Sequence[Shard],
         records: dict[str, dict], job: Job, client, started: float, where: str,
         progress: bool) -> CatalogueResult:
    """Do the pending shards (in this process without ``client``), then sum up every
    planned shard's counts into the result and ``_summary.json``."""
    from tqdm.auto import tqdm

    _claim(out)
    _tidy(out, shards)
    failures: list[tuple[str, str]] = []
    for shard in shards:
        if shard.error is not None:
            failures.append((shard.name, f"{shard.source}: {shard.error}"))
            _record_failure(out, shard, shard.error)
        elif shard.name in records:
            (out / FAILURES / f"{shard.name}.json").unlink(missing_ok=True)
    skipped = len(records)
    total = sum(s.rows for s in shards if s.error is None)
    peak = [float("nan")]
    done_now: list[Shard] = []

    def on_done(shard: Shard, report: dict | None, exc: BaseException | None) -> None:
        if report is not None:
            records[shard.name] = {k: report[k] for k in ("rows", "classified", "failed",
                                                          "class_counts", "not_sure",
                                                          "not_a_cutout", "ok")}
            peak[0] = float(np.nanmax([peak[0], report["peak_rss_mb"]]))
            (out / FAILURES / f"{shard.name}.json").unlink(missing_ok=True)
            done_now.append(shard)
            bar_progress.finish(shard.name)
        else:
            why = _reason(exc)
            failures.append((shard.name, f"{shard.source}: {why}"))
            _record_failure(out, shard, why)
            logger.warning("%s: %s", shard.name, why)

    with tqdm(total=total, initial=total - sum(s.rows for s in pending), unit="img",
              desc=f"classify ({len(pending)} of {len(shards)} shards to do)",
              disable=not progress, smoothing=0.1) as bar:
        bar_progress = _Progress(bar, {s.name: s.rows for s in pending})
        used = 1
        if pending and client is None:
            for shard in pending:
                try:
                    report = classify_shard(shard, job, bar_progress)
                except ModelError:
                    raise
                except (Galaxy10Error, OSError) as exc:
                    on_done(shard, None, exc)
                else:
                    on_done(shard, report, None)
        elif pending:
            used = _run_dask(client, pending, job, bar_progress, on_done)
    counts = np.zeros(N_CLASSES, dtype=np.int64)
    totals = dict.fromkeys(("rows", "classified", "failed", "not_sure", "not_a_cutout"), 0)
    for record in records.values():
        counts += np.asarray(record["class_counts"], dtype=np.int64)
        for k in totals:
            totals[k] += int(record[k])
    examples = (_failed_images(out, [s for s in shards if s.name in records])
                if totals["failed"] else [])
    result = CatalogueResult(
        out=out, shards=len(shards), skipped=skipped, done=len(done_now), images=totals["rows"],
        classified=totals["classified"], class_counts=counts.tolist(),
        not_sure=totals["not_sure"], not_a_cutout=totals["not_a_cutout"],
        failed_images=totals["failed"], failed_shards=failures, failed_examples=examples,
        seconds=time.perf_counter() - started,
        images_this_run=sum(s.rows for s in done_now),
        workers=f"{used}{where}" if pending else 0,
        peak_rss_mb=peak[0])
    write_json(out / SUMMARY, result.to_dict())
    return result


def _record_failure(out: Path, shard: Shard, why: str) -> None:
    write_json(out / FAILURES / f"{shard.name}.json",
               {"shard": shard.name, "source": shard.source, "start": shard.start,
                "stop": shard.stop, "reason": why})


def _failed_images(out: Path, shards: Sequence[Shard], limit: int = 100
                   ) -> list[tuple[str, str]]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found: list[tuple[str, str]] = []
    for shard in shards:
        table = pq.read_table(part_path(out, shard), columns=["id", "error"])
        bad = table.filter(pc.is_valid(table["error"]))
        found += [(i, e) for i, e in zip(bad["id"].to_pylist(),
                                                   bad["error"].to_pylist(), strict=True)]
        if len(found) >= limit:
            return found[:limit]
    return found


# -- reading a catalogue back -----------------------------------------------------------------
def read_catalogue(out: str | os.PathLike[str], columns: Sequence[str] | None = None):
    """The catalogue in ``out`` as a pandas DataFrame (every part; ``columns`` to choose)."""
    import pyarrow.dataset as ds

    out = Path(out)
    if not (out / MARKER).is_file():
        raise CatalogueError(f"{out}: not a catalogue galaxy10 made (no {MARKER})")
    return ds.dataset(out, format="parquet").to_table(columns=list(columns) if columns
                                                       else None).to_pandas()


def catalogue_images(rows) -> np.ndarray:
    """The cut-outs of catalogue rows (a DataFrame from :func:`read_catalogue`), in order.

    Pictures are read from their ``file``; HDF5 and Parquet rows from ``source`` at ``row``.
    Returns (k, 256, 256, 3) uint8.
    """
    from galaxy10.datasets.images import load_cutout, to_cutout
    from galaxy10.datasets.parquet import PARQUET_SUFFIXES, decode_blob, read_parquet_rows
    from galaxy10.datasets.reader import Galaxy10File

    out = []
    for file, source, row in zip(rows["file"], rows["source"], rows["row"], strict=True):
        if isinstance(file, str) and file:
            out.append(load_cutout(file))
        elif Path(source).suffix.lower() in PARQUET_SUFFIXES:
            out.append(decode_blob(read_parquet_rows(source, [int(row)])[0], source))
        else:
            with Galaxy10File(source) as f:
                out.append(to_cutout(f.image(int(row))))
    return np.stack(out) if out else np.empty((0, *IMAGE_SHAPE), np.uint8)


def confidence_extremes(table, per_class: int = 3):
    """The ``per_class`` most and least confident classified rows of every predicted class.

    Returns a DataFrame of those rows with a column ``which`` (``"most"`` or ``"least"``),
    ordered by class, then most confident first.
    """
    import pandas as pd

    done = table[table["class"].notna()]
    parts = []
    for k in range(N_CLASSES):
        rows = done[done["class"] == k].sort_values(["confidence", "id"],
                                                     ascending=[False, True])
        if rows.empty:
            continue
        most = rows.head(per_class).assign(which="most")
        least = rows.drop(most.index).tail(per_class).assign(which="least")
        parts += [most, least]
    return pd.concat(parts) if parts else done.assign(which=[])
