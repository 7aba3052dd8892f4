"""The gpu profile: its device-side (tf.data) augmentation, and one epoch of it on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.core.profiles import CHOICES, get_profile
from galaxy10.modeling.augment import dihedral


def test_gpu_profile_is_a_choice_with_its_recipe():
    from galaxy10.cli import build_parser

    p = get_profile("gpu")
    assert "gpu" in CHOICES
    assert p.galaxy_size == 128 and len(p.galaxy_filters) == 5 and p.galaxy_epochs >= 40
    assert p.augment_on_device and p.mixed_precision
    assert build_parser().parse_args(["train", "--data", "x.h5", "--out", "m.keras",
                                      "--profile", "gpu"]).profile == "gpu"


def _images(n: int = 6, size: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_device_views_are_the_eight_flips_and_rotations_and_seeded():
    import tensorflow as tf

    from galaxy10.modeling.device_batches import augment_batch

    x = _images(12)
    seen = set()
    for s in range(4):
        out = augment_batch(tf.constant(x, tf.float32), tf.constant([0, s], tf.int64),
                            zoom=(1.0, 1.0)).numpy()
        for k in range(len(x)):
            match = [v for v in range(8) if np.abs(out[k] - dihedral(x[k:k + 1], v)[0]).max() < 0.01]
            assert match, f"image {k} is not a flip/rotation of its input"
            seen.add(match[0])
    assert len(seen) >= 6  # the draws cover the views, not only some
    again = augment_batch(tf.constant(x, tf.float32), tf.constant([0, 3], tf.int64),
                          zoom=(0.75, 1.33), brightness=(0.6, 1.6), colour=0.1).numpy()
    same = augment_batch(tf.constant(x, tf.float32), tf.constant([0, 3], tf.int64),
                         zoom=(0.75, 1.33), brightness=(0.6, 1.6), colour=0.1).numpy()
    assert np.array_equal(again, same) and again.min() >= 0 and again.max() <= 255


def test_device_zoom_matches_the_numpy_zoom():
    import tensorflow as tf

    from galaxy10.modeling.augment import jitter_zoom
    from galaxy10.modeling.device_batches import augment_batch

    x = _images(4, 32)
    for factor in (0.75, 1.3):
        ref = jitter_zoom(x, np.random.default_rng(0), (factor, factor)).astype(np.float32)
        out = augment_batch(tf.constant(x, tf.float32), tf.constant([1, 2], tf.int64),
                            zoom=(factor, factor)).numpy()
        for k in range(len(x)):  # the same zoom, seen through one of the 8 views
            best = min(np.abs(out[k] - dihedral(ref[k:k + 1], v)[0]).mean() for v in range(8))
            assert best < 1.0, (factor, k, best)  # grey levels; noise images differ by ~85


def test_device_dataset_epochs_differ_and_reruns_repeat():
    from galaxy10.modeling.device_batches import device_dataset, supports

    x, y = _images(10), np.arange(10) % 3
    make = lambda: device_dataset(x, y, 4, seed=5, zoom=(0.8, 1.2), brightness=(0.7, 1.4),  # noqa: E731
                                  colour=0.1, sample_weight=np.ones(10))
    first, second = [b[0].numpy() for b in make()], [b[0].numpy() for b in make()]
    assert [len(b) for b in first] == [4, 4, 2]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    data = make()
    one, two = [b[1].numpy() for b in data], [b[1].numpy() for b in data]
    assert sorted(np.concatenate(one)) == sorted(y) and not all(
        np.array_equal(a, b) for a, b in zip(one, two, strict=True))  # reshuffled per epoch
    assert supports({"zoom": (0.8, 1.2)}) and not supports({"blur": (0.5, 1.0)})
    targets = np.eye(3, dtype=np.float32)[y]  # one-hot targets (label smoothing) pass through
    got = np.concatenate([b[1].numpy() for b in device_dataset(x, targets, 4, shuffle=False)])
    assert got.dtype == np.float32 and np.array_equal(got, targets)


@pytest.mark.slow
def test_gpu_profile_trains_one_epoch_on_the_cpu_through_tf_data(tmp_path):
    import keras

    from galaxy10.datasets import synthetic
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.device import describe_device
    from galaxy10.modeling.train import train_galaxy

    data = synthetic.generate(tmp_path / "tiny.h5", n=120, seed=3, progress=False)
    profile = get_profile("gpu").with_overrides(galaxy_size=32, galaxy_epochs=1,
                                                small_data_epochs=1, batch_size=16,
                                                galaxy_filters=[4, 8, 8, 8, 8])
    with Galaxy10File(data) as f:
        model, config, history = train_galaxy(f, np.arange(len(f)), profile, seed=0,
                                              cache_dir=tmp_path / "cache")
    assert history["input_pipeline"] == "tf.data (device)"
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    assert config.size == 32 and model.output.dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # no GPU here: no float16
    assert describe_device().startswith("device: CPU")
