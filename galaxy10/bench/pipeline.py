"""``bench pipeline``: images/s of the NumPy augmentation and of the ``tf.data`` (device)
pipeline, alone and inside one training epoch."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def bench_pipelines(n: int = 2048, sizes: tuple[int, ...] = (64, 128), batch_size: int = 32,
                    seed: int = 0, train_epoch: bool = True) -> dict[str, Any]:
    """images/s of both augmentation paths, alone and inside one training epoch.

    Random uint8 images stand in for the cache (augmentation cost does not depend on the
    pixels). For each side in ``sizes``: the NumPy path
    (:class:`~galaxy10.modeling.batches.AugmentedBatches`) and the ``tf.data`` path
    (:func:`~galaxy10.modeling.device_batches.device_dataset`), both with the default jitter, read
    once end to end (``pipeline_images_per_s``), then one epoch of the modern CNN with the
    profile filters of that size (``epoch_images_per_s``; 64 px: quick/faithful's, 128 px:
    gpu's). This decides whether the CPU recipe may use the device pipeline too.
    """
    from galaxy10.core.quiet import load_keras

    keras = load_keras()

    from galaxy10.core.profiles import get_profile
    from galaxy10.modeling.augment import DEFAULT_JITTER
    from galaxy10.modeling.batches import AugmentedBatches
    from galaxy10.modeling.device_batches import device_dataset
    from galaxy10.modeling.models import build_galaxy_cnn

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    out: dict[str, Any] = {"n": n, "batch_size": batch_size, "jitter": DEFAULT_JITTER,
                           "device": _device_line()}
    for size in sizes:
        x = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
        filters = get_profile("gpu" if size >= 128 else "quick").galaxy_filters
        makers = {"numpy": lambda x=x: AugmentedBatches(x, y, batch_size, seed=seed,
                                                        **DEFAULT_JITTER),
                  "tf.data": lambda x=x: device_dataset(x, y, batch_size, seed=seed,
                                                        **DEFAULT_JITTER)}
        for name, make in makers.items():
            data = make()
            start = time.perf_counter()
            if name == "numpy":
                for i in range(len(data)):
                    data[i]
            else:
                for _ in data:
                    pass
            row = {"pipeline_images_per_s": n / (time.perf_counter() - start)}
            if train_epoch:
                keras.utils.set_random_seed(seed)
                model = build_galaxy_cnn((size, size, 3), filters=filters, seed=seed)
                model.fit(make(), epochs=1, verbose=0, **({"shuffle": False}
                                                           if name == "tf.data" else {}))
                start = time.perf_counter()  # second epoch: compiled, warm
                model.fit(make(), epochs=1, verbose=0, **({"shuffle": False}
                                                           if name == "tf.data" else {}))
                row["epoch_images_per_s"] = n / (time.perf_counter() - start)
            out[f"{size}px_{name}"] = row
    return out


def _device_line() -> str:
    from galaxy10.modeling.device import describe_device

    return describe_device()


def format_pipelines(result: dict[str, Any]) -> str:
    """The table ``bench pipeline`` prints."""
    lines = [f"{result['device']}; {result['n']} images, batch {result['batch_size']}",
             f"{'input':<14} {'pipeline images/s':>18} {'training epoch images/s':>24}"]
    for key, row in result.items():
        if isinstance(row, dict) and "pipeline_images_per_s" in row:
            epoch = row.get("epoch_images_per_s")
            lines.append(f"{key:<14} {row['pipeline_images_per_s']:>18,.0f} "
                         f"{'' if epoch is None else f'{epoch:,.0f}':>24}")
    return "\n".join(lines)
