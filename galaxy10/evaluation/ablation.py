"""Which ingredient of the modern CNN helps, and by how much (an ablation study).

Each variant changes one thing of the full recipe (colour, input size, all data, jitter,
augmentation, test-time augmentation) and is trained with the same budget and seed. They are
scored on a validation split carved from the training rows, never on the test set, so the
ablation can run in notebook 04 without touching the held-out images.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from galaxy10.core.profiles import Profile
from galaxy10.datasets.reader import Galaxy10File
from galaxy10.datasets.resample import Splits
from galaxy10.evaluation.evaluate import balanced_accuracy
from galaxy10.modeling.preprocess import ImageConfig


@dataclass(frozen=True)
class Variant:
    """One recipe: preprocessing, training rows, augmentation, test-time augmentation."""

    name: str
    color: str = "rgb"
    scale: float = 1.0               #: input side as a fraction of the profile's size
    rows: str = "all_train"          #: "all_train" or "seed_train" (undersampled)
    augment: bool = True
    jitter: bool = True              #: zoom and brightness/colour jitter (with ``augment``)
    tta: bool = True


VARIANTS: tuple[Variant, ...] = (
    Variant("full recipe"),
    Variant("grey instead of colour", color="grey"),
    Variant("half the input size", scale=0.5),
    Variant("undersampled rows only", rows="seed_train"),
    Variant("no zoom or brightness jitter", jitter=False),
    Variant("no augmentation", augment=False),
    Variant("no test-time augmentation", tta=False),
)


def run_ablation(galaxies: Galaxy10File, splits: Splits, profile: Profile, *, seed: int = 0,
                 val_fraction: float = 0.2, cache_dir: str | os.PathLike[str] | None = None,
                 variants: tuple[Variant, ...] = VARIANTS) -> list[dict[str, Any]]:
    """Train every variant and score it on a validation split of the training rows.

    The recipe's numbers come from ``profile``: input size and crop, filters, batch size,
    patience, and ``ablation_epochs`` epochs per variant.

    Returns one dict per variant: ``name``, ``balanced_accuracy``, ``accuracy``,
    ``delta_vs_full`` (balanced accuracy minus the full recipe's), ``n_train``, ``seconds``.
    """
    from sklearn.model_selection import train_test_split

    from galaxy10.modeling.augment import predict_tta
    from galaxy10.modeling.cache import cached_images
    from galaxy10.modeling.train import train_galaxy_cnn

    labels = galaxies.labels
    rest, val = train_test_split(splits.all_train, test_size=val_fraction, random_state=seed,
                                 stratify=labels[splits.all_train])
    rest, val = np.sort(rest), np.sort(val)
    seed_rest = np.sort(np.intersect1d(splits.seed_train, rest))
    y_val = labels[val].astype(np.int64)
    trained: dict[tuple, Any] = {}
    results = []
    for v in variants:
        config = ImageConfig(size=max(16, int(profile.galaxy_size * v.scale)), color=v.color,
                             crop=profile.galaxy_crop)
        rows = rest if v.rows == "all_train" else seed_rest
        key = (config, v.rows, v.augment, v.jitter)
        start = time.perf_counter()
        if key not in trained:  # "no TTA" reuses the full recipe's model
            x = cached_images(galaxies, config, rows, cache_dir=cache_dir)
            model, _ = train_galaxy_cnn(x, labels[rows].astype(np.int64),
                                        epochs=profile.ablation_epochs,
                                        patience=profile.galaxy_patience, seed=seed,
                                        batch_size=profile.batch_size, augment=v.augment,
                                        jitter=None if v.jitter else {},
                                        build_kwargs={"filters": profile.galaxy_filters})
            trained[key] = model
        x_val = cached_images(galaxies, config, val, cache_dir=cache_dir)
        model = trained[key]
        probs = predict_tta(model, x_val, views=8 if v.tta else 1)
        pred = probs.argmax(axis=1)
        results.append({"name": v.name, "balanced_accuracy": balanced_accuracy(y_val, pred),
                        "accuracy": float((pred == y_val).mean()), "n_train": int(rows.size),
                        "input": list(config.shape), "seconds": time.perf_counter() - start})
    full = results[0]["balanced_accuracy"]
    for r in results:
        r["delta_vs_full"] = r["balanced_accuracy"] - full
    return results

