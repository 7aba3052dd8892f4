"""The synthetic generator: schema, class balance, determinism, atomic writes, plausibility."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from galaxy10.core.classes import IMAGE_SHAPE, N_CLASSES, REAL_CLASS_COUNTS
from galaxy10.datasets import synthetic
from galaxy10.datasets.reader import METADATA_FIELDS, Galaxy10File

N = 30


def _read_all(path: Path) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    with Galaxy10File(path) as f:
        meta = {name: f.metadata(name) for name in METADATA_FIELDS}
        return f.read(np.arange(len(f))), f.labels.copy(), meta


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small synthetic file shared by the read-only tests."""
    path = tmp_path_factory.mktemp("synth") / "synth.h5"
    return synthetic.generate(path, n=N, seed=3, chunk_size=64, progress=False)


# -- class balance ------------------------------------------------------------------------
def test_class_counts_full_preset_is_the_real_balance() -> None:
    counts = synthetic.class_counts(synthetic.PRESETS["full"])
    assert counts.tolist() == list(REAL_CLASS_COUNTS)


@pytest.mark.parametrize("n", [1, 7, 10, 11, 23, 49, 50, 51, 200, 265, 1774, 4434, 9999])
def test_class_counts_sum_to_n_and_cover_every_class(n: int) -> None:
    counts = synthetic.class_counts(n)
    assert counts.shape == (N_CLASSES,)
    assert counts.sum() == n
    assert (counts >= 0).all()
    floor = 5 if n >= 50 else 1 if n >= N_CLASSES else 0
    assert counts.min() >= floor
    # proportional: within one image of the exact share, or of the floor, except the largest
    # classes, which give up what the floor needs
    exact = np.asarray(REAL_CLASS_COUNTS) * n / sum(REAL_CLASS_COUNTS)
    given = int(np.clip(floor - np.floor(exact), 0, None).sum())
    assert np.abs(counts - np.maximum(exact, floor)).max() < 2 + given


def test_tiny_preset_runs_the_seed_faithful_split() -> None:
    from galaxy10.datasets.resample import make_splits

    counts = synthetic.class_counts(synthetic.PRESETS["tiny"])
    assert counts.min() == 5 and counts.sum() == 200
    labels = np.repeat(np.arange(N_CLASSES), counts)
    splits = make_splits(labels)
    assert len(splits.test) == 10 and len(splits.seed_train) == 40  # 5 of each class kept
    # the real balance otherwise: within one image of the plain rounding
    exact = np.floor(np.asarray(REAL_CLASS_COUNTS) * 200 / sum(REAL_CLASS_COUNTS))
    assert np.all(counts[counts > 5] >= exact[counts > 5] - 1)


def test_class_counts_rejects_empty_sets() -> None:
    with pytest.raises(ValueError):
        synthetic.class_counts(0)


def test_presets() -> None:
    assert synthetic.PRESETS == {"full": 17736, "medium": 4434, "small": 1774, "tiny": 200}


def test_make_labels_is_seeded_shuffled_and_prefix_representative() -> None:
    labels = synthetic.make_labels(1774, seed=0)
    assert np.bincount(labels, minlength=N_CLASSES).tolist() == \
        synthetic.class_counts(1774).tolist()
    assert np.array_equal(labels, synthetic.make_labels(1774, seed=0))
    assert not np.array_equal(labels, synthetic.make_labels(1774, seed=1))
    assert not np.array_equal(labels, np.sort(labels))
    prefix = np.bincount(labels[:100], minlength=N_CLASSES)
    expected = np.asarray(REAL_CLASS_COUNTS) * 100 / sum(REAL_CLASS_COUNTS)
    assert np.abs(prefix - expected).max() <= 2


# -- the file -----------------------------------------------------------------------------
def test_generated_file_has_the_galaxy10_schema(generated: Path) -> None:
    images, labels, meta = _read_all(generated)
    with Galaxy10File(generated) as f:
        assert f.source == "synthetic"
        assert f.image_shape == IMAGE_SHAPE
        assert f.class_counts().tolist() == synthetic.class_counts(N).tolist()
        attrs = f.attrs
    assert images.shape == (N, *IMAGE_SHAPE) and images.dtype == np.uint8
    assert int(attrs["seed"]) == 3
    assert attrs["preset"] == "custom"
    assert attrs["generator_version"] == synthetic.GENERATOR_VERSION
    assert np.array_equal(labels, synthetic.make_labels(N, 3))
    assert np.allclose(meta["pxscale"], 0.262)
    assert ((meta["redshift"] > 0) & (meta["redshift"] < 0.25)).all()
    assert ((meta["ra"] >= 0) & (meta["ra"] < 360)).all()
    assert ((meta["dec"] >= -20) & (meta["dec"] <= 35)).all()


def test_preset_name_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(synthetic.PRESETS, "tiny", 12)
    path = synthetic.generate(tmp_path / "t.h5", preset="tiny", progress=False)
    with Galaxy10File(path) as f:
        assert len(f) == 12
        assert f.attrs["preset"] == "tiny"


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="preset"):
        synthetic.generate(tmp_path / "x.h5", preset="huge", progress=False)
    with pytest.raises(ValueError):
        synthetic.generate(tmp_path / "x.h5", n=0, progress=False)
    with pytest.raises(ValueError):
        synthetic.render_galaxy(10, np.random.default_rng(0))
    assert list(tmp_path.iterdir()) == []


# -- determinism --------------------------------------------------------------------------
def test_same_seed_gives_identical_bytes_whatever_the_chunk_size(
        generated: Path, tmp_path: Path) -> None:
    images, labels, meta = _read_all(generated)
    again = synthetic.generate(tmp_path / "again.h5", n=N, seed=3, chunk_size=7,
                               progress=False)
    images2, labels2, meta2 = _read_all(again)
    assert np.array_equal(labels, labels2)
    assert images.tobytes() == images2.tobytes()
    for name in METADATA_FIELDS:
        assert np.array_equal(meta[name], meta2[name])


def test_a_different_seed_gives_different_images(generated: Path, tmp_path: Path) -> None:
    images, _, _ = _read_all(generated)
    other, _, _ = _read_all(synthetic.generate(tmp_path / "o.h5", n=N, seed=4,
                                               progress=False))
    assert not np.array_equal(images, other)


def test_rows_can_be_rendered_alone(generated: Path) -> None:
    images, labels, _ = _read_all(generated)
    rows = np.array([17, 2])
    alone, meta = synthetic.render_rows(labels[rows], 3, rows)
    assert np.array_equal(alone, images[rows])
    assert meta["pxscale"].shape == (2,)
    single = synthetic.render_galaxy(int(labels[5]), synthetic.row_rng(3, 5))
    assert np.array_equal(single, images[5])


@pytest.mark.slow
def test_parallel_workers_give_identical_bytes(generated: Path, tmp_path: Path) -> None:
    images, labels, _ = _read_all(generated)
    par, labels2, _ = _read_all(synthetic.generate(tmp_path / "p.h5", n=N, seed=3,
                                                   chunk_size=8, workers=2, progress=False))
    assert np.array_equal(labels, labels2)
    assert images.tobytes() == par.tobytes()


# -- atomic writes ------------------------------------------------------------------------
def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    synthetic.generate(tmp_path / "a.h5", n=12, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]


def test_a_failure_mid_generation_keeps_the_earlier_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = synthetic.generate(tmp_path / "a.h5", n=12, seed=0, progress=False)
    before = path.read_bytes()
    real_render = synthetic._render
    calls = {"n": 0}

    def flaky(label, rng):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("render failed")
        return real_render(label, rng)

    monkeypatch.setattr(synthetic, "_render", flaky)
    with pytest.raises(RuntimeError, match="render failed"):
        synthetic.generate(path, n=20, seed=1, chunk_size=4, progress=False)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.h5"]


# -- the pictures are plausible -----------------------------------------------------------
def _samples(label: int, k: int = 4) -> np.ndarray:
    return np.stack([synthetic.render_galaxy(label, synthetic.row_rng(11, 1000 * label + i))
                     for i in range(k)]).astype(np.float64)


def test_images_look_like_cut_outs(generated: Path) -> None:
    images, _, _ = _read_all(generated)
    images = images.astype(np.float64)
    assert 5 < np.median(images) < 60  # dark sky with a pedestal, like the real cut-outs
    assert images.std(axis=(1, 2, 3)).min() > 2  # sky noise, not a flat background
    centre = images[:, 120:136, 120:136].mean(axis=(1, 2, 3))
    corners = np.concatenate([images[:, :24, :24], images[:, :24, -24:],
                              images[:, -24:, :24], images[:, -24:, -24:]], axis=1)
    assert (centre > np.median(corners, axis=(1, 2, 3)) + 10).all()
    assert images.max() > 200


def test_bulges_are_redder_than_discs() -> None:
    def red_minus_blue(label: int) -> float:
        centre = _samples(label)[:, 112:144, 112:144]
        return float((centre[..., 0] - centre[..., 2]).mean())

    smooth = np.mean([red_minus_blue(c) for c in (2, 3)])
    discs = np.mean([red_minus_blue(c) for c in (6, 8)])
    assert smooth > discs + 5
