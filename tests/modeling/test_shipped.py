"""The bundle shipped with galaxy10, and the default bundle choices that fall back to it."""

from __future__ import annotations

import json

import pytest

from galaxy10.core.errors import ModelError
from galaxy10.modeling.shipped import default_model, pretrained_bundle, shipped_bundle


def test_the_shipped_bundle_is_small_complete_and_says_where_it_came_from():
    path = shipped_bundle()
    params = json.loads(path.with_suffix(".json").read_text())
    assert path.is_file()
    assert path.stat().st_size + path.with_suffix(".json").stat().st_size <= 5 * 2 ** 20
    assert params["kind"] == "galaxy" and params["tta"] is True
    assert [s["stage"] for s in params["lineage"]] == ["pre-train"]
    assert params["data"]["source"] == "synthetic"
    assert params["provenance"]["commit"]  # made by `pretrain` from recorded code
    assert 0.1 < params["scores"]["test"]["balanced_accuracy"] <= 1.0
    assert "calibration" in params


def test_the_shipped_bundle_loads_and_classifies():
    import numpy as np

    from galaxy10.modeling.predict import Predictor

    probs = Predictor(shipped_bundle()).predict_proba(np.zeros((2, 256, 256, 3), np.uint8))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def _bundle(folder, name):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.keras").write_bytes(b"x")
    (folder / f"{name}.json").write_text(json.dumps(
        {"kind": "galaxy", "image": {"size": 64, "color": "rgb", "crop": 0.5}}))
    return folder / f"{name}.keras"


def test_the_users_own_bundles_come_first(tmp_path):
    models = tmp_path / "models"
    assert pretrained_bundle(models).shipped and default_model(models).shipped
    assert "no model of your own in" in default_model(models).note
    own = _bundle(models, "pretrained_synthetic")
    assert pretrained_bundle(models).path == own and not pretrained_bundle(models).shipped
    assert default_model(models).path == own  # their pre-trained bundle, before the shipped
    mine = _bundle(models, "galaxy_cnn")
    assert default_model(models).path == mine and default_model(models).note == f"using {mine}"


@pytest.mark.parametrize("damage", ["no-json", "no-keras", "bad-json", "cut-json"])
def test_a_broken_bundle_of_the_users_is_an_error_not_the_shipped_one(tmp_path, damage):
    models = tmp_path / "models"
    mine = _bundle(models, "galaxy_cnn")
    _bundle(models, "pretrained_synthetic")  # a sound one to fall back on: it must not be used
    params = mine.with_suffix(".json")
    if damage == "no-json":
        params.unlink()
    elif damage == "no-keras":
        mine.unlink()
    elif damage == "bad-json":
        params.write_text(json.dumps({**json.loads(params.read_text()),
                                      "calibration": {"temperature": 0}}))
    else:
        params.write_text(params.read_text()[:20])
    with pytest.raises(ModelError, match="galaxy_cnn"):
        default_model(models)
    (models / "pretrained_synthetic.json").unlink()  # the pre-trained one, half saved
    with pytest.raises(ModelError, match=r"pretrained_synthetic\.json: the model's parameter "
                                         "file is missing"):
        pretrained_bundle(models)


def test_a_user_without_bundles_gets_the_shipped_one(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "notes.json").write_text("{}")  # other files do not count
    assert default_model(models).shipped and pretrained_bundle(models).shipped
