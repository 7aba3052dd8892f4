"""The prediction button, driven without a browser."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from PIL import Image

from galaxy10 import CLASS_NAMES, Galaxy10File, ModelError
from galaxy10.app.widget import BUTTON_TEXT, GalaxyButton, button_from_model
from galaxy10.modeling.predict import Predictor


@pytest.fixture
def button(model_bundle):
    return button_from_model(model_bundle["model"], seed=3)


def test_click_shows_a_test_galaxy_its_true_class_and_the_models_prediction(button, model_bundle):
    with np.load(model_bundle["models_dir"] / "splits.npz") as npz:
        test_rows = set(npz["test"].tolist())
    for expected_total in (1, 2, 3):
        button.button.click()
        index = button.shown_index
        assert index in test_rows  # never a training image
        with Galaxy10File(model_bundle["data"]) as f:
            true = int(f.labels[index])
            image = f.image(index)
        assert button.shown_true == true
        assert f"{true} {CLASS_NAMES[true]}" in button.result.value
        probs = Predictor(model_bundle["model"]).predict_proba(image[None])[0]
        np.testing.assert_allclose(button.shown_probs, probs, rtol=1e-5, atol=1e-6)
        pred = int(probs.argmax())
        assert button.shown_pred == pred
        assert f"Predicted:</b> {pred} {CLASS_NAMES[pred]}" in button.result.value
        assert button.total == expected_total
        assert f"of {expected_total}</b>" in button.tally.value
        assert button.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        shown = np.asarray(Image.open(io.BytesIO(button.image.value)).convert("RGB"))
        np.testing.assert_array_equal(shown, image)  # the file's pixels, red still red
        assert "Top 3 probabilities" in button.bars.value


def test_same_seed_same_sequence(model_bundle):
    a, b = (button_from_model(model_bundle["model"], seed=7) for _ in range(2))
    assert [a.show_random() for _ in range(5)] == [b.show_random() for _ in range(5)]


def test_model_is_loaded_once(button, monkeypatch):
    import galaxy10.modeling.models

    def fail(*args, **kwargs):
        raise AssertionError("a click reloaded the model")

    monkeypatch.setattr(galaxy10.modeling.models, "load_model", fail)
    button.button.click()
    button.button.click()
    assert button.total == 2


def test_labels_are_full_text(button):
    assert button.button.description == BUTTON_TEXT
    assert button.button.layout.width == "auto"


def test_upload_of_a_non_image_gives_a_message(button):
    assert button.classify_bytes(b"%PDF-1.4 not a picture", "notes.pdf") is None
    assert "Could not classify notes.pdf" in button.message.value
    assert "not a readable image" in button.message.value
    assert "Traceback" not in button.message.value
    assert button.total == 0


def test_upload_of_a_picture_is_classified(button):
    buf = io.BytesIO()
    Image.fromarray(np.full((120, 90, 3), 40, np.uint8)).save(buf, format="JPEG")
    probs = button.classify_bytes(buf.getvalue(), "mine.jpg")
    assert probs.shape == (10,) and abs(float(probs.sum()) - 1) < 1e-4
    assert "Your image:</b> mine.jpg" in button.result.value
    # through the FileUpload widget's observer too, as the front end of this ipywidgets sends it
    _upload(button.upload, "again.jpg", buf.getvalue())
    assert "again.jpg" in button.result.value


def _upload(widget, name: str, content: bytes) -> None:
    """What a browser's upload does to a ``FileUpload``: ipywidgets 8 sets ``value`` (a tuple
    of dicts); ipywidgets 7 (Google Colab's) sets ``metadata`` and ``data``, then counts, and
    the widget makes its read-only ``value`` dict from them."""
    import ipywidgets

    if int(ipywidgets.__version__.split(".")[0]) >= 8:
        widget.value = ({"name": name, "type": "image/jpeg", "size": len(content),
                         "content": memoryview(content),
                         "last_modified": datetime.datetime.now(datetime.timezone.utc)},)
    else:
        widget.metadata = [{"name": name, "type": "image/jpeg", "size": len(content),
                            "lastModified": 0}]
        widget.data = [content]
        widget._counter += 1


def test_missing_model_says_how_to_train_one(tmp_path):
    with pytest.raises(ModelError, match="notebooks/04_cnn.ipynb"):
        button_from_model(tmp_path / "nothing.keras")


def test_not_a_keras_file_is_a_model_error(tmp_path, model_bundle):
    fake = tmp_path / "fake.keras"
    fake.write_bytes(b"PK\x03\x04 this is not a keras archive")
    fake.with_suffix(".json").write_text(model_bundle["model"].with_suffix(".json").read_text())
    with pytest.raises(ModelError, match="fake.keras: not a loadable Keras model"):
        Predictor(fake)


def test_without_saved_splits_the_button_draws_the_files_held_out_rows(tmp_path, model_bundle):
    import shutil

    from galaxy10.datasets.resample import make_splits

    for suffix in (".keras", ".json"):
        shutil.copy(model_bundle["model"].with_suffix(suffix), tmp_path / f"m{suffix}")
    button = button_from_model(tmp_path / "m.keras")  # no splits.npz beside it
    with Galaxy10File(model_bundle["data"]) as f:
        held_out = make_splits(f.labels).test
    if button.predictor.bundle.test_rows is None:
        np.testing.assert_array_equal(button.rows, held_out)  # the same rows notebook 01 saves
    assert set(button.rows) <= set(held_out) | set(button.predictor.bundle.test_rows or ())


def test_empty_rows_rejected(model_bundle):
    with Galaxy10File(model_bundle["data"]) as f, pytest.raises(ValueError):
        GalaxyButton(Predictor(model_bundle["model"]), f, np.array([], dtype=int))


PICTURE = b"\x89PNG fake bytes"


@pytest.mark.parametrize(("value", "expected"), [
    (({"name": "a.png", "type": "image/png", "size": 3, "content": memoryview(PICTURE)},),
     (PICTURE, "a.png")),  # ipywidgets 8
    ([{"name": "a.png", "content": PICTURE}], (PICTURE, "a.png")),
    ({"a.png": {"metadata": {"name": "b.png", "size": 3}, "content": PICTURE}},
     (PICTURE, "b.png")),  # ipywidgets 7
    ({"a.png": {"content": PICTURE}}, (PICTURE, "a.png")),
    (({"name": "a.png", "type": "image/png", "size": 3},), (None, "a.png")),  # no content
    ({"a.png": {"metadata": {"name": "a.png"}}}, (None, "a.png")),
    ({"a.png": None}, (None, "a.png")),
    (({"name": "a.png", "content": 12},), (None, "a.png")),
    ((), None), ({}, None), (None, None)],
    ids=["v8", "v8-list", "v7", "v7-no-metadata", "v8-no-content", "v7-no-content",
         "v7-no-entry", "content-not-bytes", "v8-empty", "v7-empty", "none"])
def test_both_upload_shapes_and_a_missing_content_are_read_without_raising(value, expected):
    from galaxy10.app.widget import first_upload

    assert first_upload(value) == expected


@pytest.mark.parametrize("value", [({"name": "half.png", "size": 10},),
                                   {"half.png": {"metadata": {"name": "half.png"}}}],
                         ids=["ipywidgets-8", "ipywidgets-7"])
def test_an_upload_without_content_is_a_message_in_the_widget(button, value):
    """It was ``KeyError: 'content'`` in the observer: a traceback under the widget."""
    button._on_upload({"new": value})
    assert "Could not classify half.png: the upload holds no picture" in button.message.value
    assert button.total == 0


def test_before_the_first_click_the_picture_is_a_placeholder_not_a_broken_image(button):
    placeholder = Image.open(io.BytesIO(button.image.value))  # was b"": a broken-image icon
    assert placeholder.format == "PNG" and placeholder.size == (256, 256)
    first = button.image.value
    button.button.click()
    assert button.image.value != first


def test_the_page_names_the_default_model_without_its_folder(tmp_path):
    from galaxy10.app.widget import page_note
    from galaxy10.modeling.shipped import BundleChoice

    mine = BundleChoice(tmp_path / "models" / "galaxy_cnn.keras", False, tmp_path / "models")
    shipped = BundleChoice(tmp_path / "pkg" / "pretrained.keras", True, tmp_path / "models")
    assert page_note(mine) == "using galaxy_cnn.keras"
    assert page_note(shipped).startswith("using the model shipped with galaxy10 (pretrained.keras")
    assert str(tmp_path) not in page_note(mine) + page_note(shipped)
