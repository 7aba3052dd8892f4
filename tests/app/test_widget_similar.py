"""The button's "More like this": the nearest test galaxies, never a training image."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import encode_png
from PIL import Image

from galaxy10 import CLASS_NAMES, Galaxy10File
from galaxy10.app.widget import NEIGHBOURS, THUMBNAIL, button_from_model


@pytest.fixture
def button(model_bundle):
    return button_from_model(model_bundle["model"], seed=5)


def test_more_like_this_shows_the_nearest_test_galaxies(button, model_bundle):
    from galaxy10.evaluation.similarity import NeighbourIndex
    from galaxy10.modeling.embeddings import embed_file

    assert button.more.disabled and button.show_neighbours() == []  # nothing on screen yet
    shown = button.show_random()
    assert not button.more.disabled
    button.more.click()
    rows = button.neighbour_rows
    test_rows = set(button.rows.tolist())
    assert len(rows) == NEIGHBOURS == len(button.neighbours.children)
    assert set(rows) <= test_rows and shown not in rows  # held-out rows only, not itself
    emb = embed_file(model_bundle["model"], model_bundle["data"], rows=button.rows)
    assert emb.reused  # the click stored them beside the data
    pos = int(np.flatnonzero(emb.rows == shown)[0])
    nn, _ = NeighbourIndex(emb.vectors).query(emb.vectors[pos], NEIGHBOURS, exclude=[pos])
    assert rows == [int(emb.rows[i]) for i in nn[0]]
    with Galaxy10File(model_bundle["data"]) as f:
        labels = f.labels
    for tile, row in zip(button.neighbours.children, rows, strict=True):
        thumb, caption = tile.children
        assert "galaxy10-neighbour" in thumb._dom_classes
        assert Image.open(io.BytesIO(thumb.value)).size == (THUMBNAIL, THUMBNAIL)
        assert f"{labels[row]} {CLASS_NAMES[labels[row]]}" in caption.value
    assert f"most like test galaxy {shown}" in button.neighbours_title.value
    button.show_random()  # a new galaxy: the old neighbours go
    assert button.neighbour_rows == [] and button.neighbours.children == ()


def test_more_like_an_uploaded_picture(button, model_bundle):
    with Galaxy10File(model_bundle["data"]) as f:
        row = int(button.rows[3])
        image = f.image(row)
    button.classify_bytes(encode_png(image), "mine.png")
    rows = button.show_neighbours()
    assert rows[0] == row  # the same pixels: that test galaxy comes first
    assert "most like your image" in button.neighbours_title.value
    assert set(rows) <= set(button.rows.tolist())


def test_embeddings_are_made_once_per_button(button, monkeypatch):
    button.show_random()
    button.show_neighbours()
    import galaxy10.modeling.embeddings as embeddings

    def fail(*args, **kwargs):
        raise AssertionError("a second click embedded the test set again")

    monkeypatch.setattr(embeddings, "embed_file", fail)
    button.show_random()
    assert len(button.show_neighbours()) == NEIGHBOURS
