"""Training batches for Keras: read a batch, augment it, hand it over.

Reads only one batch at a time from an array or a read-only memory-mapped cache, so training
never holds a float copy of the data set. The augmentation itself is :mod:`galaxy10.modeling.augment`.
"""

from __future__ import annotations

import numpy as np

from galaxy10.core.quiet import load_keras
from galaxy10.modeling.augment import augment_batch, batch_rng

keras = load_keras()


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """The order of ``n`` training rows in epoch ``epoch`` (both input pipelines use it)."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


class AugmentedBatches(keras.utils.PyDataset):
    """Batches of uint8 images (an array or a read-only memmap) with random dihedral views.

    Reads only one batch at a time from ``x``, so a memory-mapped cache never becomes a float
    copy in memory. The shuffle order and the views are drawn from ``seed`` and the epoch.
    Optional ``zoom`` (factor range), source (``gamma``, ``noise``, ``blur``, ``jpeg``,
    ``contrast``) and
    ``brightness``/``colour`` jitters are drawn the same way
    (:func:`~galaxy10.modeling.augment.augment_batch`).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int = 32, *, seed: int = 0,
                 augment: bool = True, shuffle: bool = True,
                 sample_weight: np.ndarray | None = None,
                 zoom: tuple[float, float] | None = None,
                 brightness: tuple[float, float] | None = None, colour: float = 0.0,
                 gamma: tuple[float, float] | None = None,
                 noise: tuple[float, float] | None = None,
                 blur: tuple[float, float] | None = None,
                 jpeg: tuple[int, int] | None = None,
                 contrast: tuple[float, float] | None = None) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.x, self.y = x, np.asarray(y)
        self.batch_size, self.seed = batch_size, seed
        self.augment, self.shuffle = augment, shuffle
        self.zoom, self.brightness, self.colour = zoom, brightness, colour
        self.source = {"gamma": gamma, "noise": noise, "blur": blur, "jpeg": jpeg,
                       "contrast": contrast}
        self.sample_weight = sample_weight
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self) -> np.ndarray:
        return epoch_order(len(self.y), self.seed, self.epoch, self.shuffle)

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, i: int):
        rows = np.sort(self._order[i * self.batch_size:(i + 1) * self.batch_size])
        images = np.asarray(self.x[rows])
        if self.augment:
            images = augment_batch(images, batch_rng(self.seed, self.epoch, i), zoom=self.zoom,
                                   brightness=self.brightness, colour=self.colour, **self.source)
        if self.sample_weight is None:
            return images, self.y[rows]
        return images, self.y[rows], self.sample_weight[rows]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._order = self._make_order()


class RowView:
    """A lazy view of rows ``rows`` of ``x`` (avoids copying a memmap's training rows)."""

    def __init__(self, x: np.ndarray, rows: np.ndarray) -> None:
        self.x, self.rows = x, rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        return self.x[self.rows[i]]
