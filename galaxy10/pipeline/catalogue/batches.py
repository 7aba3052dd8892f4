"""Reading one shard's pictures in batches, each decoded and checked in a thread ahead.

A batch holds its pictures only until they are prepared (cut-out check, model input), so a
worker's memory is one batch, whatever the shard's size.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galaxy10.core.classes import IMAGE_SHAPE
from galaxy10.core.errors import GalaxyDataError, ImageError
from galaxy10.core.identity import file_stamp
from galaxy10.pipeline.catalogue.layout import IMAGES_KIND, failure_reason
from galaxy10.pipeline.catalogue.plan import Shard


@dataclass
class Batch:
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

    def prepare(self, preprocess: Callable[[np.ndarray], np.ndarray] | None = None) -> Batch:
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


def prefetch(batches: Iterator[Batch],
              preprocess: Callable[[np.ndarray], np.ndarray] | None = None
              ) -> Iterator[Batch]:
    """``batches``, each read and prepared (:meth:`Batch.prepare`) in a thread while the
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


def check_unchanged(shard: Shard) -> None:
    """Refuse an HDF5 or Parquet input whose size or modification time moved since planning.

    Raises
    ------
    GalaxyDataError
        Naming the input; the shard fails and a rerun plans it afresh.
    """
    if shard.kind == IMAGES_KIND:
        return  # each picture is read afresh; its digest was taken when planning
    if not file_stamp(shard.source).matches(shard.identity):
        raise GalaxyDataError(shard.source, "changed since the job was planned (size or "
                                            "modification time); run again")


def read_batches(shard: Shard, batch_size: int) -> Iterator[Batch]:
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
                            errors.append(failure_reason(exc))
                yield Batch(rows, [f"{name}:{r}" for r in rows],
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
            yield Batch(b.rows, ids, labels, images, errors, [None] * len(b.rows))
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
                    errors.append(failure_reason(exc))
            yield Batch(np.arange(shard.start + lo, shard.start + hi), list(shard.ids[lo:hi]),
                         list(shard.labels[lo:hi]), images, errors, list(shard.files[lo:hi]))
