"""'not sure' and 'not a galaxy cut-out': photos, blank frames and noise never get a class."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.modeling.verdict import (
    NOT_A_CUTOUT,
    NOT_SURE,
    OK,
    assess,
    cutout_check,
    judge,
    judge_batch,
)


def _not_galaxies() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_sample_image

    from galaxy10.datasets.images import to_cutout

    rng = np.random.default_rng(0)
    return {"china.jpg": to_cutout(load_sample_image("china.jpg")),
            "flower.jpg": to_cutout(load_sample_image("flower.jpg")),
            "blank black": np.zeros((256, 256, 3), np.uint8),
            "blank grey": np.full((256, 256, 3), 128, np.uint8),
            "uniform noise": rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)}


@pytest.mark.parametrize("name", list(_not_galaxies()))
def test_photos_blank_frames_and_noise_are_flagged_by_the_predictor(name, model_bundle):
    from galaxy10.modeling.predict import Predictor

    verdict = assess(Predictor(model_bundle["model"]), _not_galaxies()[name])[0]
    assert verdict.flag == NOT_A_CUTOUT, verdict.reason
    assert not verdict.confident


def test_synthetic_galaxies_pass_the_cutout_check(model_bundle):
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(model_bundle["data"]) as f:
        images = f.read(np.arange(len(f)))
    assert [cutout_check(img) for img in images] == [None] * len(images)


def test_no_real_galaxy_of_the_sample_is_rejected(real_sample):
    from galaxy10.datasets.images import load_cutout

    files = sorted(real_sample.glob("*/*.jpg"))
    assert len(files) == 1000
    rejected = [f.name for f in files if cutout_check(load_cutout(f)) is not None]
    assert rejected == []


def test_threshold_turns_a_low_probability_into_not_sure():
    galaxy_like = np.zeros((256, 256, 3), np.uint8) + 30
    galaxy_like[118:138, 118:138] = 200
    probs = np.full(10, 0.05, np.float32)
    probs[3] = 0.55
    assert judge(probs, galaxy_like, threshold=0.6).flag == NOT_SURE
    assert judge(probs, galaxy_like, threshold=0.5).flag == OK
    assert judge(probs, galaxy_like, threshold=None).flag == OK  # old bundle: no threshold
    assert [k for k, _ in judge(probs).top3][0] == 3


def test_a_batch_gets_the_verdicts_of_its_pictures_one_by_one():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(10), size=40).astype(np.float32)
    probs[5] = probs[6]  # ties keep the same order
    threshold = float(np.median(probs.max(axis=1)))
    probs[7] = 0.0
    probs[7, 2] = np.float32(threshold)  # exactly at the threshold: sure
    checked = [None] * 40
    checked[6] = checked[9] = "bright border (120/255): not dark sky"
    batch = judge_batch(probs, threshold, checked)
    for i, p in enumerate(probs):
        one = judge(p, threshold=threshold, checked=checked[i])
        assert (batch.flags[i], batch.reasons[i]) == (one.flag, one.reason)
        assert list(zip(batch.top3_classes[i].tolist(), batch.top3_probs[i].tolist(),
                        strict=True)) == one.top3
        assert batch.not_sure[i] == (one.top3[0][1] < threshold)
    assert set(batch.flags) == {OK, NOT_SURE, NOT_A_CUTOUT}
    assert batch.flags[7] == OK
    assert list(judge_batch(probs, None).flags) == [OK] * 40


def test_predict_json_prints_top3_flag_and_model(model_bundle, tmp_path, capsys):
    from PIL import Image

    from galaxy10.cli import main
    from galaxy10.datasets.reader import Galaxy10File

    photo = tmp_path / "china.png"
    Image.fromarray(_not_galaxies()["china.jpg"]).save(photo)
    with Galaxy10File(model_bundle["data"]) as f:
        galaxy = tmp_path / "galaxy.png"
        Image.fromarray(f.image(0)).save(galaxy)
    assert main(["predict", str(photo), str(galaxy), "--model", str(model_bundle["model"]),
                 "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["image"] for r in lines] == [str(photo), str(galaxy)]
    assert lines[0]["flag"] == NOT_A_CUTOUT and lines[1]["flag"] != NOT_A_CUTOUT
    for r in lines:
        assert r["model"] == "galaxy_cnn" and len(r["top3"]) == 3
        probs = [t["probability"] for t in r["top3"]]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    assert main(["predict", str(photo), "--model", str(model_bundle["model"])]) == 0
    plain = capsys.readouterr().out
    assert f"{photo}\tnot a galaxy cut-out (best guess" in plain


def test_the_fast_statistics_are_exactly_the_definitions_floats(model_bundle):
    """Histograms give the same floats as sorting: synthetic galaxies, noise, flat frames,
    odd sizes (the real sample is compared in the next test)."""
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.verdict import _cutout_stats_float, cutout_stats

    rng = np.random.default_rng(1)
    with Galaxy10File(model_bundle["data"]) as f:
        images = list(f.read(np.arange(60)))
    images += [rng.integers(0, top, (256, 256, 3), dtype=np.uint8) for top in (1, 2, 5, 90, 256)]
    images += [np.full((256, 256, 3), v, np.uint8) for v in (0, 255)]
    images += [rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
               for h, w in ((49, 77), (64, 64), (300, 200), (255, 255))]
    images += list(_not_galaxies().values())
    for image in images:
        assert cutout_stats(image) == _cutout_stats_float(image)
    assert cutout_stats(images[0].astype(np.float64)) == cutout_stats(images[0])


def test_the_fast_statistics_match_on_the_real_sample(real_sample):
    from galaxy10.datasets.images import load_cutout
    from galaxy10.modeling.verdict import _cutout_stats_float, cutout_stats

    for path in sorted(real_sample.glob("*/*.jpg"))[::4]:
        image = load_cutout(path)
        assert cutout_stats(image) == _cutout_stats_float(image), path


def test_a_batch_is_checked_exactly_as_each_picture_alone(model_bundle):
    """cutout_checks (one batch: the catalogue's way) gives each picture's own statistics
    and answer; pictures of several shapes or not uint8 are checked one by one."""
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.verdict import (
        _cutout_stats_float,
        cutout_checks,
        cutout_stats_batch,
    )

    rng = np.random.default_rng(3)
    with Galaxy10File(model_bundle["data"]) as f:
        images = list(f.read(np.arange(40)))
    images += [rng.integers(0, top, (256, 256, 3), dtype=np.uint8) for top in (1, 7, 256)]
    images += [img for img in _not_galaxies().values() if img.shape == (256, 256, 3)]
    batch = np.stack(images)
    assert cutout_stats_batch(batch) == [_cutout_stats_float(img) for img in images]
    answers = cutout_checks(batch)
    assert answers == [cutout_check(img) for img in images]
    assert any(a is None for a in answers) and any(a is not None for a in answers)
    mixed = [images[0], rng.integers(0, 256, (49, 77, 3), dtype=np.uint8),
             images[1].astype(np.float64)]
    assert cutout_stats_batch(mixed) == [_cutout_stats_float(img) for img in mixed]
    assert cutout_checks([]) == []


@pytest.mark.parametrize("q", [0, 1, 37.5, 50, 99, 100])
def test_percentiles_from_counts_are_numpys_floats(q):
    """The 99th percentile of the centre is taken from its histogram: the same float as
    np.percentile, on either side of the interpolation's midpoint."""
    from galaxy10.modeling.verdict import _GREY_OF_SUM, _percentiles_of_counts

    rng = np.random.default_rng(int(q))
    for n in (1, 2, 51, 216, 4096):
        sums = rng.integers(0, len(_GREY_OF_SUM), (6, n))
        counts = np.stack([np.bincount(row, minlength=len(_GREY_OF_SUM)) for row in sums])
        expected = np.percentile(_GREY_OF_SUM[sums], q, axis=1)
        assert np.array_equal(_percentiles_of_counts(counts, _GREY_OF_SUM, q), expected)


def test_the_grid_is_every_fourth_pixel_of_every_fourth_row():
    from galaxy10.modeling.verdict import STRIDE, _grid

    rng = np.random.default_rng(4)
    for h, w in ((256, 256), (64, 64), (300, 200), (49, 77), (255, 256)):
        image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        grid = _grid(image)
        assert grid.flags.c_contiguous
        np.testing.assert_array_equal(grid, image[::STRIDE, ::STRIDE])
