"""``adapt``: a bundle whose batch-normalisation statistics are those of the user's images.

For cut-outs from another survey or pipeline (other depth, noise, stretch or scale), before
classifying them or labelling them: :func:`adapt_bundle` reads a seeded random sample of the
unlabelled inputs (anything ``classify`` reads), re-estimates the network's
batch-normalisation statistics on them (:func:`galaxy10.modeling.adapt.adapt_batch_norm`),
and saves a new bundle. No label is read and no weight is trained, so it takes seconds to a
minute, and the original bundle is kept as it was.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.classes import CLASS_NAMES

ADAPT_IMAGES = 2000
"""Default sample of the inputs whose statistics are taken: enough for every channel's mean
and variance to settle, few enough to read and run in about a minute on 2 cores."""

FEW_IMAGES = 200
"""Below this many images ``adapt`` warns: ``bench adapt`` measures it on 200 per fold, and
statistics of fewer galaxies follow the few more than the survey."""

KEPT_OUT = ("bundle_version", "kind", "image", "tta", "class_names", "model_file", "scaler",
            "scores", "provenance")
"""Fields of the source bundle's JSON that the adapted bundle does not copy: the first six
``save_bundle`` writes itself (a galaxy bundle has no scaler); the synthetic test's scores
and their provenance describe the network before adaptation."""


@dataclass(frozen=True)
class Adapted:
    """What :func:`adapt_bundle` did."""

    out: Path
    model: Path
    rows: int
    images: int
    skipped: int
    layers: int
    seconds: float
    before: np.ndarray
    after: np.ndarray

    def lines(self) -> list[str]:
        """What ``adapt`` prints: the sample, the layers, and how the guesses moved."""
        rows = "1 input row" if self.rows == 1 else f"{self.rows:,} input rows"
        out = [f"adapted the {self.layers} batch-normalisation layers of {self.model.name} to "
               f"{self.images:,} image{'' if self.images == 1 else 's'} (a seeded sample of "
               f"{rows}"
               + (f"; {self.skipped:,} unreadable or not galaxy cut-outs left out" if
                  self.skipped else "") + f") in {self.seconds:.0f} s",
               "predicted classes on those images, before -> after:"]
        if self.images < FEW_IMAGES:
            out.insert(1, f"warning: statistics of fewer than {FEW_IMAGES} galaxies follow those "
                          "few more than your survey; the adapted bundle may do worse than the "
                          "original: give more images")
        for k, name in enumerate(CLASS_NAMES):
            out.append(f"  {k} {name:<28} {self.before[k]:6.1%} -> {self.after[k]:6.1%}")
        out.append(f"wrote {self.out} (and its .json): give it as --model to classify, "
                   "suggest, predict or the labelling panel")
        return out


def sample_positions(total: int, n: int, seed: int) -> np.ndarray:
    """``min(n, total)`` distinct positions of ``total`` rows, drawn with ``seed``, sorted."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(total, size=min(n, total), replace=False))


def read_sample(inputs: Sequence[str | os.PathLike[str]], predictor, n: int, seed: int
                ) -> tuple[np.ndarray, int, int]:
    """The model input of a seeded sample of the inputs' rows (readable galaxy cut-outs
    only), the rows the inputs hold, and how many sampled rows were left out.

    Raises
    ------
    CatalogueError
        When an input cannot be listed or opened (the message names it).
    """
    from galaxy10.pipeline.catalogue import plan_catalogue
    from galaxy10.pipeline.catalogue.batches import read_batches
    from galaxy10.pipeline.catalogue.layout import CatalogueError

    shards = plan_catalogue(inputs)
    for shard in shards:
        if shard.error is not None:
            raise CatalogueError(shard.error)
    total = sum(shard.rows for shard in shards)
    picks = sample_positions(total, n, seed)
    chosen: list[np.ndarray] = []
    skipped, offset = 0, 0
    for shard in shards:
        wanted = picks[(picks >= offset) & (picks < offset + shard.rows)] - offset
        offset += shard.rows
        if not len(wanted):
            continue
        seen = 0
        for batch in read_batches(shard, 256):
            here = wanted[(wanted >= seen) & (wanted < seen + len(batch.rows))] - seen
            seen += len(batch.rows)
            if not len(here):
                continue
            batch.prepare(predictor.preprocess)
            position = {row: i for i, row in enumerate(batch.ok)}  # row of the batch -> x
            keep = [position[i] for i in here
                    if i in position and batch.checks[i] is None]
            skipped += len(here) - len(keep)
            if keep:
                chosen.append(batch.x[keep])
    if not chosen:
        return np.empty((0, *predictor.config.shape), np.uint8), total, skipped
    return np.concatenate(chosen), total, skipped


def class_shares(probs: np.ndarray) -> np.ndarray:
    """The share of images predicted as each class (argmax), shape (10,)."""
    counts = np.bincount(np.asarray(probs).argmax(axis=1), minlength=len(CLASS_NAMES))
    return counts / max(1, len(probs))


def adapt_bundle(model: str | os.PathLike[str], inputs: Sequence[str | os.PathLike[str]],
                 out: str | os.PathLike[str], *, images: int = ADAPT_IMAGES, seed: int = 0,
                 progress: bool = True) -> Adapted:
    """Save a copy of bundle ``model`` adapted to the inputs' images (AdaBN), as ``out``.

    Parameters
    ----------
    model : path-like
        A modern-CNN bundle (``.keras`` with its JSON).
    inputs : sequence of path-like
        What ``classify`` reads: Galaxy10 ``.h5``, ``.parquet``, CSV manifests, folders of
        images, image files. Labels, where they have them, are not read.
    out : path-like
        The new bundle's ``.keras`` file (its JSON beside it); written atomically.
    images : int
        Rows sampled from the inputs (all of them when they hold fewer).
    seed : int
        Seed of the sample: the same inputs and seed give the same bundle.
    progress : bool
        Say on stderr what it is doing.

    Returns
    -------
    Adapted

    Raises
    ------
    Galaxy10Error
        When the bundle is a seed CNN (no batch normalisation), an input cannot be read, or
        no sampled row is a readable galaxy cut-out.
    """
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.modeling.adapt import VIEWS, adapt_batch_norm
    from galaxy10.modeling.bundle import read_bundle_json, save_bundle
    from galaxy10.modeling.predict import Predictor

    clock = time.perf_counter()
    predictor = Predictor(model)
    if predictor.kind != "galaxy":
        raise Galaxy10Error(f"{model}: a '{predictor.kind}' bundle has no batch-normalisation "
                            "layer to adapt; adapt a modern-CNN bundle")
    if progress:
        print(f"reading a sample of up to {images:,} images...", file=sys.stderr, flush=True)
    x, rows, skipped = read_sample(inputs, predictor, images, seed)
    if not len(x):
        raise Galaxy10Error(f"{', '.join(map(os.fspath, inputs))}: none of the {skipped:,} "
                            "sampled rows is a readable galaxy cut-out; nothing to adapt to")
    before = predictor.predict_proba(x, preprocessed=True)
    if progress:
        print(f"re-estimating the batch-normalisation statistics on {len(x):,} images x "
              f"{VIEWS} views...", file=sys.stderr, flush=True)
    layers = adapt_batch_norm(predictor.model, x)
    after = predictor.predict_proba(x, preprocessed=True)
    params = read_bundle_json(model)
    step: dict[str, Any] = {
        "stage": "adapt", "method": "AdaBN: batch-normalisation statistics re-estimated",
        "inputs": [os.fspath(Path(p).expanduser().resolve()) for p in inputs],
        "input_rows": int(rows), "images": int(len(x)), "skipped": int(skipped),
        "views": VIEWS, "seed": int(seed), "from": os.fspath(Path(model).resolve()),
        "calibration": "kept from the bundle before adaptation"}
    extra = {k: v for k, v in params.items() if k not in KEPT_OUT}
    extra["lineage"] = [*params.get("lineage", []), step]
    path = save_bundle(predictor.model, out, kind="galaxy", config=predictor.config,
                       tta=predictor.tta, **extra)
    return Adapted(out=Path(path), model=Path(model), rows=int(rows), images=int(len(x)),
                   skipped=int(skipped), layers=layers, seconds=time.perf_counter() - clock,
                   before=class_shares(before), after=class_shares(after))
