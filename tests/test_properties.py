"""Property-based tests (hypothesis) of resampling and preprocessing invariants, and of the
checks of labels and profile overrides."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from galaxy10.core.profiles import settings as profile_settings
from galaxy10.datasets.resample import class_weights, make_splits, split_indices, undersample_indices
from galaxy10.modeling.augment import dihedral
from galaxy10.modeling.preprocess import ImageConfig, fit_minmax, seed_features, transform

counts_strategy = st.lists(st.integers(5, 60), min_size=10, max_size=10)


def labels_from(counts, seed):
    labels = np.repeat(np.arange(10), counts).astype(np.uint8)
    return np.random.default_rng(seed).permutation(labels)


@settings(max_examples=40, deadline=None)
@given(counts=counts_strategy, seed=st.integers(0, 2**16), state=st.integers(0, 2**16))
def test_undersampling_balances_to_the_smallest_class(counts, seed, state):
    labels = labels_from(counts, seed)
    rows = undersample_indices(labels, random_state=state)
    assert rows.dtype == np.int64 and np.unique(rows).size == rows.size
    assert rows.min() >= 0 and rows.max() < labels.size
    np.testing.assert_array_equal(np.bincount(labels[rows], minlength=10), [min(counts)] * 10)
    np.testing.assert_array_equal(rows, undersample_indices(labels, random_state=state))


@settings(max_examples=40, deadline=None)
@given(counts=counts_strategy, seed=st.integers(0, 2**16), state=st.integers(0, 2**16))
def test_split_is_stratified_disjoint_and_deterministic(counts, seed, state):
    labels = labels_from(counts, seed)
    rows = np.arange(labels.size)
    train, test = split_indices(rows, labels, random_state=state)
    assert not set(train) & set(test) and len(train) + len(test) == labels.size
    expected = np.array(counts) * 0.2
    assert np.all(np.abs(np.bincount(labels[test], minlength=10) - expected) <= 1.0)
    again = split_indices(rows, labels, random_state=state)
    np.testing.assert_array_equal(test, again[1])
    splits = make_splits(labels, undersample_state=state, split_state=state)
    assert set(splits.all_train) == set(rows) - set(splits.test)


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 500), min_size=10, max_size=10).filter(lambda c: sum(c) > 0))
def test_class_weights_equalise_total_weight(counts):
    labels = np.repeat(np.arange(10), counts)
    w = class_weights(labels)
    present = sum(1 for c in counts if c)
    assert sorted(w) == list(range(10))
    for k, c in enumerate(counts):
        # each present class carries n / (classes present) in total; absent classes weigh 0
        assert w[k] * c == pytest.approx(labels.size / present) if c else w[k] == 0.0


image_batches = st.tuples(st.integers(1, 3), st.integers(8, 80), st.integers(8, 80)).flatmap(
    lambda s: arrays(np.uint8, (s[0], s[1], s[2], 3)))


@settings(max_examples=40, deadline=None)
@given(images=image_batches, size=st.integers(8, 48), color=st.sampled_from(["rgb", "grey",
                                                                             "seed-grey"]),
       crop=st.floats(0.2, 1.0), interpolation=st.sampled_from(["linear", "area"]))
def test_transform_shapes_dtypes_and_ranges(images, size, color, crop, interpolation):
    config = ImageConfig(size=size, color=color, crop=crop, interpolation=interpolation)
    out = transform(images, config)
    assert out.shape == (len(images), size, size, config.channels) and out.dtype == np.uint8
    # resizing interpolates: values stay within the input's range
    assert out.min() >= images.min() and out.max() <= images.max()
    np.testing.assert_array_equal(out, transform(images, config))


@settings(max_examples=30, deadline=None)
@given(images=image_batches)
def test_seed_features_and_minmax_range(images):
    feats = seed_features(images)
    assert feats.shape == (len(images), 4096) and feats.dtype == np.uint8
    scaled = fit_minmax(feats).transform(feats.astype(np.float64))
    assert scaled.min() >= -1e-12 and scaled.max() <= 1.0 + 1e-12  # float rounding only


@settings(max_examples=30, deadline=None)
@given(images=arrays(np.uint8, st.tuples(st.integers(1, 2), st.just(6), st.just(6),
                                           st.sampled_from([1, 3]))))
def test_dihedral_views_are_the_eight_symmetries(images):
    views = [dihedral(images, v) for v in range(8)]
    for v in views:
        assert v.shape == images.shape
        np.testing.assert_array_equal(np.sort(v, axis=None), np.sort(images, axis=None))
    np.testing.assert_array_equal(views[0], images)
    # four rotations bring an image back
    np.testing.assert_array_equal(dihedral(dihedral(dihedral(views[1], 1), 1), 1), images)


# The 8 views of the asymmetric image 1..9, written out by hand: rotations by 90 degrees
# counter-clockwise (views 0-3), then the same rotations mirrored left-right (views 4-7).
DIHEDRAL_VIEWS = [
    [[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[3, 6, 9], [2, 5, 8], [1, 4, 7]],
    [[9, 8, 7], [6, 5, 4], [3, 2, 1]], [[7, 4, 1], [8, 5, 2], [9, 6, 3]],
    [[3, 2, 1], [6, 5, 4], [9, 8, 7]], [[9, 6, 3], [8, 5, 2], [7, 4, 1]],
    [[7, 8, 9], [4, 5, 6], [1, 2, 3]], [[1, 4, 7], [2, 5, 8], [3, 6, 9]],
]


@pytest.mark.parametrize("view", range(8))
def test_each_dihedral_view_is_the_expected_symmetry(view):
    image = np.arange(1, 10, dtype=np.uint8).reshape(3, 3)
    batch = np.stack([image, image + 100])[..., None].repeat(2, axis=-1)  # (2, 3, 3, 2)
    batch[..., 1] += 10  # channels stay with their pixel
    out = dihedral(batch, view)
    want = np.array(DIHEDRAL_VIEWS[view], dtype=np.uint8)
    np.testing.assert_array_equal(out[0, ..., 0], want)
    np.testing.assert_array_equal(out[1, ..., 0], want + 100)
    np.testing.assert_array_equal(out[..., 1], out[..., 0] + 10)
    assert len({np.asarray(v).tobytes() for v in DIHEDRAL_VIEWS}) == 8


@settings(max_examples=200, deadline=None)
@given(label=st.text(st.characters(blacklist_categories=("Cs",),
                                   blacklist_characters="\r\n,\"\x00"), max_size=6)
       | st.sampled_from(["\u00b2", "\u0663", "\uff13", "\u2460", "+3", "++3", "-1", " 7 ",
                          "10"]))
def test_every_manifest_reader_takes_a_class_or_refuses_the_line(tmp_path_factory, label):
    """Any text in a label cell: a class 0-9 written in ASCII digits, or one line naming the
    manifest and the line, in the training reader and the catalogue reader alike."""
    from galaxy10.core.errors import GalaxyDataError
    from galaxy10.datasets.labelled import read_manifest
    from galaxy10.pipeline.catalogue import read_catalogue_manifest

    path = tmp_path_factory.mktemp("m") / "m.csv"
    path.write_text(f"file,label\na.png,{label}\n", encoding="utf-8")
    text = label.strip()
    valid = re.fullmatch(r"\+?[0-9]+", text) is not None and 0 <= int(text) <= 9
    for read in (read_manifest, lambda p: read_catalogue_manifest(p)[2]):
        try:
            result = read(path)
        except GalaxyDataError as exc:
            assert not valid or not text
            assert str(exc).startswith(f"{path}: line 2: label") and "\n" not in str(exc)
            continue
        got = result[0][1] if read is read_manifest else result[0]
        assert valid and got == int(text) or not text and got == -1


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(n for n, k in profile_settings().items() if k in (int, float))),
       value=st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=True,
                                                               allow_infinity=True)))
def test_an_override_is_in_range_or_one_profile_error(name, value):
    """A notebook's override of any number: a profile whose numbers are finite and within
    RANGES, or a ProfileError; never NaN, a negative epoch count or a 10**12 batch."""
    import math

    from galaxy10.core.errors import ProfileError
    from galaxy10.core.profiles import RANGES, get_profile

    try:
        profile = get_profile("quick").with_overrides(**{name: value})
    except ProfileError as exc:
        assert "\n" not in str(exc) and name in str(exc)
        return
    got = getattr(profile, name)
    assert math.isfinite(got)
    if name in RANGES:
        assert RANGES[name][0] <= got <= RANGES[name][1]
    assert profile.size_fault() is None
