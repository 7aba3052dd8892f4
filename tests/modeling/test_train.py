"""Training recipe of the modern CNN: the learning rate decays over the epoch budget."""

import numpy as np
import pytest

from galaxy10.modeling.train import train_galaxy_cnn


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


def test_label_smoothing_trains_on_softened_targets():
    from galaxy10.core.quiet import load_keras

    keras = load_keras()
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(40, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 4)
    losses = {}
    for smoothing in (0.0, 0.3):
        model, history = train_galaxy_cnn(x, y, epochs=1, patience=1, batch_size=16,
                                          label_smoothing=smoothing,
                                          build_kwargs={"filters": (4, 8)})
        probs = model.predict(x[:8], verbose=0)
        hard = float(np.mean(-np.log(probs[np.arange(8), y[:8]])))
        smooth = float(np.mean(-np.sum((0.7 * np.eye(10)[y[:8]] + 0.03) * np.log(probs), 1)))
        losses[smoothing] = (model.evaluate(x[:8], np.eye(10)[y[:8]] if smoothing else y[:8],
                                            verbose=0)[0], hard, smooth)
        assert len(history["loss"]) == 1 and "val_loss" in history
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert losses[0.0][0] == pytest.approx(losses[0.0][1], rel=1e-3)  # the hard loss
    assert losses[0.3][0] == pytest.approx(losses[0.3][2], rel=1e-3)  # the smoothed one


def test_training_on_the_validation_split_too_uses_every_image():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, size=(60, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)
    steps = {}
    for everything in (False, True):
        model, history = train_galaxy_cnn(x, y, epochs=1, batch_size=10, average_last=1,
                                          train_on_validation=everything,
                                          build_kwargs={"filters": (4, 8)})
        steps[everything] = int(model.optimizer.iterations.numpy())
        assert history["trained_on_validation"] is everything
        assert len(history["val_rows"]) == 10  # still carved out, and reported
    assert steps == {False: 5, True: 6}  # 50 or all 60 images, in batches of 10
    with pytest.raises(ValueError, match="needs average_last"):
        train_galaxy_cnn(x, y, epochs=1, batch_size=10, train_on_validation=True,
                         build_kwargs={"filters": (4, 8)})


def test_zoom_and_photometric_jitter_are_seeded_and_keep_pixels_valid():
    from galaxy10.modeling.augment import jitter_photometry, jitter_zoom
    from galaxy10.modeling.batches import AugmentedBatches

    x = np.zeros((8, 32, 32, 3), dtype=np.uint8)
    x[:, 12:20, 12:20] = 200  # a bright centred square
    zoomed = jitter_zoom(x, np.random.default_rng(1), (2.0, 2.0))
    assert zoomed.shape == x.shape and zoomed.dtype == np.uint8
    assert (zoomed[..., 0] > 100).sum() > 3 * (x[..., 0] > 100).sum()  # twice as wide
    grey = jitter_zoom(x[..., :1], np.random.default_rng(1), (0.75, 0.75))  # borders: sky
    assert grey.shape == (8, 32, 32, 1) and (grey > 100).sum() < (x[..., :1] > 100).sum()
    bright = jitter_photometry(x, np.random.default_rng(1), (0.5, 2.0), 0.1)
    assert bright.dtype == np.float32 and bright.min() >= 0 and bright.max() <= 255
    assert len(np.unique(bright[:, 16, 16, 0])) > 1  # each image gets its own gain
    batches = [AugmentedBatches(x, np.arange(8), 4, seed=3, zoom=(0.8, 1.25),
                                brightness=(0.6, 1.6), colour=0.1) for _ in range(2)]
    np.testing.assert_array_equal(batches[0][1][0], batches[1][1][0])
    plain = AugmentedBatches(x, np.arange(8), 4, seed=3, augment=False, zoom=(0.8, 1.25),
                             brightness=(0.6, 1.6))
    np.testing.assert_array_equal(plain[0][0], x[:4])  # augment=False turns every jitter off
