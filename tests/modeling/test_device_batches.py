"""The gpu profile: its tf.data batches (the NumPy augmentation, the same images), and one epoch
of it on the CPU."""

from __future__ import annotations

import numpy as np
import pytest

from galaxy10.core.profiles import CHOICES, get_profile


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


@pytest.mark.parametrize("jitter", ["none", "default", "robust", "full"])
def test_tf_data_and_numpy_batches_give_the_same_images_for_a_seed(jitter):
    from galaxy10.modeling.augment import JITTERS
    from galaxy10.modeling.batches import AugmentedBatches
    from galaxy10.modeling.device_batches import device_dataset

    x, y = _images(11, 20), np.arange(11) % 4
    weights = np.linspace(0.5, 2.0, 11, dtype=np.float32)
    data = device_dataset(x, y, 4, seed=9, sample_weight=weights, **JITTERS[jitter])
    ref = AugmentedBatches(x, y, 4, seed=9, sample_weight=weights, **JITTERS[jitter])
    for _ in range(2):  # two epochs: a new order and new draws each, the same in both paths
        got = [tuple(t.numpy() for t in batch) for batch in data]
        want = [ref[i] for i in range(len(ref))]
        assert len(got) == len(want) == 3
        for (images, labels, w), (ref_images, ref_labels, ref_w) in zip(got, want, strict=True):
            assert images.dtype == np.float32
            assert np.array_equal(images, ref_images.astype(np.float32))  # every pixel
            assert np.array_equal(labels, ref_labels) and np.array_equal(w, ref_w)
        ref.on_epoch_end()
    other = [b[0].numpy() for b in device_dataset(x, y, 4, seed=10, **JITTERS[jitter])]
    if jitter != "none":  # another seed, other images
        assert not np.array_equal(other[0], got[0][0])


def test_device_dataset_epochs_differ_and_reruns_repeat():
    from galaxy10.modeling.device_batches import device_dataset

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
