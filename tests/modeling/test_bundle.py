"""The bundle JSON's schema: every field checked on load, the file and field named on refusal."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from tiny_bundles import tiny_bundle

from galaxy10.core.classes import CLASS_NAMES
from galaxy10.core.errors import ModelError
from galaxy10.modeling.bundle import read_bundle, save_bundle, write_calibration
from galaxy10.modeling.preprocess import ImageConfig

GOOD = {"bundle_version": 1, "kind": "galaxy", "tta": True, "model_file": "m.keras",
        "image": {"size": 32, "color": "rgb", "crop": 0.5, "interpolation": "area"},
        "class_names": list(CLASS_NAMES),
        "calibration": {"temperature": 1.3, "threshold": 0.6,
                        "confidence_map": {"x": [0.2, 0.9], "y": [0.3, 0.95]}},
        "data": {"path": "/data/x.h5", "source": "synthetic", "n_images": 40},
        "lineage": [{"stage": "pre-train"}], "profile": "smoke", "seed": 0,
        "test_rows": [3, 5, 8]}


def _with(**changes) -> dict:
    """GOOD with top-level fields replaced (None: removed) and ``section__key`` set inside."""
    params = json.loads(json.dumps(GOOD))
    for key, value in changes.items():
        section, _, inner = key.partition("__")
        target, name = (params[section], inner) if inner else (params, section)
        if value is None:
            target.pop(name, None)
        else:
            target[name] = value
    return params


# (id, the JSON's text, the field the one-line refusal must name)
BAD = [
    ("temperature-0", _with(calibration__temperature=0), "'calibration.temperature'"),
    ("temperature-negative", _with(calibration__temperature=-1.0), "'calibration.temperature'"),
    ("temperature-inf", _with(calibration__temperature=math.inf), "'calibration.temperature'"),
    ("temperature-text", _with(calibration__temperature="1.0"), "'calibration.temperature'"),
    ("threshold-nan", _with(calibration__threshold=math.nan), "'calibration.threshold'"),
    ("threshold-1.5", _with(calibration__threshold=1.5), "'calibration.threshold'"),
    ("threshold-negative", _with(calibration__threshold=-0.1), "'calibration.threshold'"),
    ("threshold-true", _with(calibration__threshold=True), "'calibration.threshold'"),
    ("map-falling", _with(calibration__confidence_map={"x": [0.9, 0.2], "y": [0.3, 0.4]}),
     "'calibration.confidence_map.x'"),
    ("map-uneven", _with(calibration__confidence_map={"x": [0.2, 0.9], "y": [0.3]}),
     "'calibration.confidence_map.y'"),
    ("calibration-list", _with(calibration=[1.0]), "'calibration'"),
    ("method-unknown", _with(calibration__method="beta"), "'calibration.method'"),
    ("method-number", _with(calibration__method=1), "'calibration.method'"),
    ("method-temperature-with-map", _with(calibration__method="temperature"),
     "'calibration.method'"),
    ("method-smooth-without-map", _with(calibration__method="smooth",
                                        calibration__confidence_map=None),
     "'calibration.method'"),
    ("candidates-list", _with(calibration__candidates=[0.1]), "'calibration.candidates'"),
    ("candidate-unknown", _with(calibration__candidates={"platt": {}}),
     "'calibration.candidates.platt'"),
    ("candidate-ece-nan", _with(calibration__candidates={
        "smooth": {"ece_cross_fitted": math.nan, "distinct": 3}}),
     "'calibration.candidates.smooth.ece_cross_fitted'"),
    ("candidate-ece-missing", _with(calibration__candidates={"smooth": {"distinct": 3}}),
     "'calibration.candidates.smooth.ece_cross_fitted'"),
    ("candidate-distinct-float", _with(calibration__candidates={
        "isotonic": {"ece_cross_fitted": 0.02, "distinct": 3.5}}),
     "'calibration.candidates.isotonic.distinct'"),
    ("distinct-after-negative", _with(calibration__distinct_after=-1),
     "'calibration.distinct_after'"),
    ("classes-9", _with(class_names=list(CLASS_NAMES[:9])), "'class_names'"),
    ("classes-11", _with(class_names=[*CLASS_NAMES, "Other"]), "'class_names'"),
    ("classes-number", _with(class_names=[*CLASS_NAMES[:9], 9]), "'class_names[9]'"),
    ("classes-twice", _with(class_names=[*CLASS_NAMES[:9], CLASS_NAMES[0]]), "'class_names'"),
    ("classes-text", _with(class_names="Disturbed"), "'class_names'"),
    ("tta-text", _with(tta="yes"), "'tta'"),
    ("kind-unknown", _with(kind="resnet"), "'kind'"),
    ("kind-missing", _with(kind=None), "'kind'"),
    ("image-missing", _with(image=None), "'image'"),
    ("size-text", _with(image__size="32"), "'image.size'"),
    ("size-float", _with(image__size=32.5), "'image.size'"),
    ("size-tiny", _with(image__size=4), "'image.size'"),
    ("size-huge", _with(image__size=4096), "'image.size'"),
    ("crop-0", _with(image__crop=0), "'image.crop'"),
    ("crop-nan", _with(image__crop=math.nan), "'image.crop'"),
    ("crop-2", _with(image__crop=2.0), "'image.crop'"),
    ("colour-unknown", _with(image__color="cmyk"), "'image'"),
    ("version-newer", _with(bundle_version=99), "'bundle_version'"),
    ("seed-negative", _with(seed=-1), "'seed'"),
    ("rows-negative", _with(test_rows=[1, -2]), "'test_rows[1]'"),
    ("data-n-text", _with(data__n_images="40"), "'data.n_images'"),
    ("lineage-no-stage", _with(lineage=[{"data": {}}]), "'lineage[0].stage'"),
    ("seed-kind-no-scaler", _with(kind="seed"), "'scaler'"),
]


def _write_bundle(folder: Path, params) -> Path:
    (folder / "m.keras").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (folder / "m.json").write_text(params if isinstance(params, str) else json.dumps(params))
    return folder / "m.keras"


def test_a_sound_json_is_read_into_typed_fields(tmp_path):
    bundle = read_bundle(_write_bundle(tmp_path, GOOD))
    assert bundle.kind == "galaxy" and bundle.image.shape == (32, 32, 3) and bundle.views == 8
    assert bundle.calibration.temperature == 1.3 and bundle.calibration.threshold == 0.6
    assert bundle.data.path == "/data/x.h5" and bundle.data.n_images == 40
    assert bundle.test_rows == (3, 5, 8) and bundle.class_names == CLASS_NAMES
    old = read_bundle(_write_bundle(tmp_path, _with(calibration=None, class_names=None,
                                                    tta=None, data=None, test_rows=None)))
    assert old.calibration.temperature == 1.0 and old.calibration.threshold is None
    assert old.views == 1 and old.data is None and old.test_rows is None
    partial = read_bundle(_write_bundle(tmp_path, _with(image={"size": 32})))
    assert partial.image == ImageConfig(size=32)  # absent parts take ImageConfig's defaults


@pytest.mark.parametrize(("params", "field"), [pytest.param(*c[1:], id=c[0]) for c in BAD])
def test_a_bad_field_is_refused_naming_the_file_and_field(tmp_path, params, field):
    with pytest.raises(ModelError) as caught:
        read_bundle(_write_bundle(tmp_path, params))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'm.json'}: ") and field in message
    assert "\n" not in message


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param(json.dumps(GOOD)[:100], "not valid JSON", id="cut-short"),
    pytest.param("", "is empty", id="empty"),
    pytest.param("[1, 2]", "a JSON list, not an object", id="a-list"),
    pytest.param(b"\xff\xfe{}", "cannot be read", id="not-utf8"),
])
def test_a_damaged_json_is_refused_naming_the_file(tmp_path, text, expected):
    path = _write_bundle(tmp_path, "")
    (tmp_path / "m.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ModelError, match=expected) as caught:
        read_bundle(path)
    assert str(caught.value).startswith(f"{tmp_path / 'm.json'}: ")


def test_a_missing_json_is_refused_naming_the_file(tmp_path):
    path = _write_bundle(tmp_path, GOOD)
    (tmp_path / "m.json").unlink()
    with pytest.raises(ModelError, match=r"m\.json: the model's parameter file is missing"):
        read_bundle(path)


def test_the_shipped_bundle_and_a_freshly_saved_one_load(tmp_path):
    from galaxy10.modeling.shipped import shipped_bundle

    shipped = read_bundle(shipped_bundle())
    assert shipped.kind == "galaxy" and shipped.views == 8 and shipped.profile
    assert 0 < shipped.calibration.threshold < 1 and shipped.calibration.confidence_map
    # calibrated before the map was chosen: no method or candidates, its isotonic map kept
    assert shipped.calibration.method is None and shipped.calibration.candidates is None
    assert [s["stage"] for s in shipped.lineage] == ["pre-train"]
    fresh = read_bundle(tiny_bundle(tmp_path / "tiny.keras"))
    assert fresh.image.size == 32 and fresh.class_names == CLASS_NAMES
    assert fresh.model_file == "tiny.keras" and fresh.calibration.temperature == 1.0


def test_writers_refuse_what_the_reader_would_refuse(tmp_path):
    path = tiny_bundle(tmp_path / "tiny.keras")
    before = path.with_suffix(".json").read_bytes()
    with pytest.raises(ModelError, match="'calibration.temperature'"):
        write_calibration(path, {"temperature": 0.0, "confidence_map": None, "threshold": None})
    assert path.with_suffix(".json").read_bytes() == before  # nothing half-written
    from galaxy10.modeling.models import build_galaxy_cnn

    config = ImageConfig(size=32, color="rgb", crop=0.5)
    with pytest.raises(ModelError, match="'seed'"):
        save_bundle(build_galaxy_cnn(config.shape, filters=(2, 4), seed=0),
                    tmp_path / "other.keras", kind="galaxy", config=config, seed=-1)
    assert not (tmp_path / "other.keras").exists() and not (tmp_path / "other.json").exists()


def test_class_names_must_match_the_networks_output(tmp_path):
    import keras

    from galaxy10.modeling.predict import Predictor

    path = tiny_bundle(tmp_path / "tiny.keras")
    narrow = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(),
                               keras.layers.Dense(7, activation="softmax")])
    narrow.save(path)  # a network of 7 classes under a JSON that lists 10
    with pytest.raises(ModelError, match=r"tiny\.json: field 'class_names' lists 10 classes, "
                                         r"but the network answers 7"):
        Predictor(path)


def test_a_fitted_calibration_record_round_trips_through_the_json(tmp_path):
    import numpy as np

    from galaxy10.modeling.calibrate import fit_calibration

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.3), 400)
    y = np.where(rng.random(400) < 0.7, probs.argmax(1), rng.integers(0, 10, 400))
    record = fit_calibration(probs, y)
    path = _write_bundle(tmp_path, _with(calibration=None))
    write_calibration(path, record)
    calibration = read_bundle(path).calibration
    assert calibration.method == record["method"] in ("temperature", "smooth", "isotonic")
    assert calibration.candidates == record["candidates"]
    assert set(calibration.candidates) == {"temperature", "smooth", "isotonic"}
    assert calibration.confidence_map == record["confidence_map"]
    assert calibration.temperature == record["temperature"]
    assert calibration.record == json.loads(json.dumps(record))
    assert read_bundle(_write_bundle(tmp_path, GOOD)).calibration.method is None  # older JSON
