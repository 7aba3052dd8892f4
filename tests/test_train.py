"""Training recipe of the modern CNN: the learning rate decays over the epoch budget."""

import numpy as np
import pytest

from galaxy10.train import train_galaxy_cnn


def test_learning_rate_decays_to_a_floor_over_the_budget():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)
    model, history = train_galaxy_cnn(x, y, epochs=3, patience=3, batch_size=16,
                                      learning_rate=2e-3, build_kwargs={"filters": (4, 8)})
    steps = int(model.optimizer.iterations.numpy())
    lr = float(model.optimizer.learning_rate.numpy())
    assert steps == 3 * 4  # 50 training rows (10 kept for validation) in batches of 16
    assert lr == pytest.approx(2e-3 * 0.05, rel=1e-3)  # cosine reaches alpha at the budget's end
    assert len(history["loss"]) == 3
