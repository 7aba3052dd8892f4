"""The one training workflow (pipeline.training.train_bundle): bundle schema, lineage, repeatability."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import without_timings

from galaxy10.core.profiles import get_profile
from galaxy10.datasets.reader import Galaxy10File
from galaxy10.modeling.augment import DEFAULT_JITTER, FINETUNE_JITTER, SURVEY_JITTER

PROFILE = get_profile("smoke").with_overrides(galaxy_size=16, galaxy_filters=[4, 8], batch_size=16)


def weights(path):
    from galaxy10.modeling.models import load_model

    return load_model(path).get_weights()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("training")
    return synthetic.generate(root / "synthetic.h5", n=120, seed=3, progress=False)


@pytest.fixture(scope="module")
def trained(data, tmp_path_factory):
    from galaxy10.pipeline.training import leak_free_splits, train_bundle

    out = tmp_path_factory.mktemp("first") / "galaxy_cnn.keras"
    with Galaxy10File(data) as f:
        splits, _ = leak_free_splits(f)
        result = train_bundle(f, splits.all_train, out, PROFILE, seed=4, test_rows=splits.test,
                              score=True)
    return result, splits


def test_the_bundle_records_data_lineage_profile_and_calibration(trained, data):
    result, splits = trained
    params = json.loads(result.path.with_suffix(".json").read_text())
    assert params["kind"] == "galaxy" and params["tta"] is True
    assert params["profile"] == "smoke" and params["seed"] == 4
    assert params["data"]["source"] == "synthetic" and params["data"]["n_images"] == 120
    assert params["data"]["synthetic"]["seed"] == 3
    assert [step["stage"] for step in params["lineage"]] == ["train"]
    assert params["lineage"][0]["jitter"] == json.loads(json.dumps(DEFAULT_JITTER))
    assert params["test_rows"] == splits.test.tolist()
    assert params["epochs_run"] == len(params["history"]["loss"]) >= 1
    assert params["calibration"] == json.loads(json.dumps(result.calibration))
    assert result.predictor.threshold == params["calibration"]["threshold"]
    assert 0.0 <= result.test["balanced_accuracy"] <= 1.0
    assert result.test["n_test"] == len(splits.test)


def test_the_same_inputs_give_the_same_weights_and_bundle(trained, data, tmp_path):
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.train import galaxy_config
    from galaxy10.pipeline.training import train_bundle

    first, splits = trained
    # a model built by the caller (notebook 04's cell) trains exactly like the built-in one
    model = build_galaxy_cnn(galaxy_config(PROFILE).shape, filters=PROFILE.galaxy_filters, seed=4)
    with Galaxy10File(data) as f:
        again = train_bundle(f, splits.all_train, tmp_path / "galaxy_cnn.keras", PROFILE, seed=4,
                             model=model, test_rows=splits.test)
    for a, b in zip(weights(first.path), weights(again.path), strict=True):
        np.testing.assert_array_equal(a, b)
    one, two = (without_timings(json.loads(p.with_suffix(".json").read_text()))
                for p in (first.path, again.path))
    assert one == two
    assert again.test is None  # not asked to score


def test_fine_tuning_continues_the_lineage_with_the_chosen_augmentation(trained, data, tmp_path):
    from galaxy10.pipeline.training import train_bundle

    first, splits = trained
    with Galaxy10File(data) as f:
        tuned = train_bundle(f, splits.all_train[:60], tmp_path / "tuned.keras", PROFILE, seed=4,
                             init=first.path)
    params = json.loads(tuned.path.with_suffix(".json").read_text())
    assert [step["stage"] for step in params["lineage"]] == ["train", "fine-tune"]
    assert FINETUNE_JITTER == "survey"  # chosen by bench select (issue #38)
    assert params["lineage"][1]["jitter"] == json.loads(json.dumps(SURVEY_JITTER))
    assert params["image"] == json.loads(first.path.with_suffix(".json").read_text())["image"]
    assert "test_rows" not in params


def test_refit_all_trains_again_on_every_image_and_keeps_the_first_runs_calibration(
        trained, data, tmp_path):
    """finetune_refit_all: the first run (as without it, same seed) calibrates; the bundle is
    a second run on every image, validation split included, that keeps that calibration."""
    from galaxy10.core.errors import ProfileError
    from galaxy10.pipeline.training import train_bundle

    first, splits = trained
    rows = splits.all_train[:60]
    with Galaxy10File(data) as f:
        once = train_bundle(f, rows, tmp_path / "once.keras", PROFILE, seed=4, init=first.path)
        twice = train_bundle(f, rows, tmp_path / "twice.keras",
                             PROFILE.with_overrides(finetune_refit_all=True), seed=4,
                             init=first.path)
    params = json.loads(twice.path.with_suffix(".json").read_text())
    history = params["history"]
    assert history["trained_on_validation"] is True and "held_out_run" in history
    assert history["seconds"] > history["held_out_run"]["seconds"]
    calibration = params["calibration"]
    assert "this model then trained on every image" in calibration["fitted_on"]
    for key in ("threshold", "temperature", "n_val", "coverage"):
        assert calibration[key] == pytest.approx(once.calibration[key]), key
    assert twice.predictor.threshold == pytest.approx(once.predictor.threshold)
    assert any(not np.array_equal(a, b) for a, b in zip(weights(once.path),
                                                        weights(twice.path), strict=True))
    with pytest.raises(ProfileError, match="finetune_refit_all needs finetune_average_fraction"):
        PROFILE.with_overrides(finetune_refit_all=True, finetune_average_fraction=0)


def test_a_built_model_and_a_pre_trained_bundle_together_are_refused(trained, data, tmp_path):
    from galaxy10.pipeline.training import train_bundle

    first, splits = trained
    with Galaxy10File(data) as f, pytest.raises(ValueError, match="not both"):
        train_bundle(f, splits.all_train, tmp_path / "x.keras", PROFILE, init=first.path,
                     model=object())
    assert not (tmp_path / "x.keras").exists()


def test_with_epochs_sets_every_budget():
    p = get_profile("quick").with_epochs(7)
    assert (p.galaxy_epochs, p.small_data_epochs, p.finetune_epochs) == (7, 7, 7)
    assert p.galaxy_budget(100)[0] == p.galaxy_budget(100_000)[0] == 7
    assert get_profile("quick").with_epochs(None) == get_profile("quick")
