"""The labelling panel built from a model and data (a tiny untrained bundle): HDF5 rows and a
folder of pictures, the manifest it writes read back, a broken labels file refused first."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import encode_png, write_h5
from tiny_bundles import tiny_bundle

from galaxy10.app.labelling import labelling_from_model
from galaxy10.core.errors import GalaxyDataError
from galaxy10.datasets.images import decode_image, load_cutout
from galaxy10.datasets.labelled import read_manifest
from galaxy10.pipeline.label_sources import label_source


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_bundle(tmp_path_factory.mktemp("tiny") / "tiny.keras")


def test_hdf5_rows_are_drawn_predicted_once_and_labelled_as_png_cutouts(tiny, tmp_path):
    images = np.random.default_rng(3).integers(0, 256, size=(30, 64, 64, 3), dtype=np.uint8)
    data = write_h5(tmp_path / "sky.h5", images=images)
    source = label_source(tiny, data, n=12, seed=1)
    ids = source.candidates.ids
    assert len(ids) == 12 and all(i.startswith("sky.h5:") for i in ids)
    row = int(ids[5].split(":")[1])
    assert np.array_equal(source.image(5), images[row])
    assert source.candidates.embeddings.shape[0] == 12
    np.testing.assert_allclose(source.candidates.probs.sum(axis=1), 1, atol=1e-5)
    labels = tmp_path / "out" / "labels.csv"
    panel = labelling_from_model(tiny, data, labels, who="kim", n=12, seed=1)
    shown = panel.session.current
    panel.press("4")
    ((path, label),) = read_manifest(labels)
    shown_row = int(panel.session.candidates.ids[shown].split(":")[1])
    assert label == 3 and path.parent.name == "labels_cutouts"
    assert np.array_equal(decode_image(path), images[shown_row])  # the row's pixels, lossless


def test_a_folder_of_pictures_is_labelled_by_its_files(tiny, tmp_path):
    rng = np.random.default_rng(0)
    for k in range(4):
        (tmp_path / "pics" / f"night{k % 2}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "pics" / f"night{k % 2}" / f"g{k}.png").write_bytes(
            encode_png(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)))
    (tmp_path / "pics" / "notes.txt").write_text("not a picture")
    panel = labelling_from_model(tiny, tmp_path / "pics", tmp_path / "labels.csv", n=10)
    assert len(panel.session.candidates) == 4
    shown = panel.session.candidates.files[panel.session.current]
    panel.press("0")
    ((path, label),) = read_manifest(tmp_path / "labels.csv")
    assert label == 9 and path.resolve() == (tmp_path / shown).resolve()
    assert (tmp_path / "labels.csv").read_text().splitlines()[1].split(",")[1] \
        .startswith("pics/night")


def test_a_broken_labels_file_is_refused_before_the_model_loads(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("id,file,label,who,when\na,,7,x,t\nb,,seven,x,t\n")
    with pytest.raises(GalaxyDataError, match=r"labels\.csv: line 3: label 'seven'"):
        labelling_from_model(tmp_path / "no-such-model.keras", None, labels)


def test_a_catalogue_is_labelled_from_what_it_stored_without_a_model(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from galaxy10.pipeline.catalogue import MARKER
    from galaxy10.pipeline.labelling import LabellingSession

    rng = np.random.default_rng(2)
    n = 12
    (tmp_path / "pics").mkdir()
    files = []
    for i in range(n):
        files.append(str(tmp_path / "pics" / f"g{i}.png"))
        (tmp_path / "pics" / f"g{i}.png").write_bytes(
            encode_png(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)))
    folder = tmp_path / "cat"
    folder.mkdir()
    (folder / MARKER).write_text("")
    probs = rng.dirichlet(np.ones(10), n)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    classes = [None if i == 0 else int(top3[i, 0]) for i in range(n)]  # row 0: unreadable
    pq.write_table(pa.table({
        "id": [f"pics/g{i}.png" for i in range(n)], "file": files, "source": files,
        "row": [0] * n, "class": pa.array(classes, pa.int8()), "top3_classes": top3.tolist(),
        "top3_probs": np.take_along_axis(probs, top3, axis=1).astype(np.float32).tolist(),
        "embedding": rng.normal(size=(n, 6)).astype(np.float32).tolist(),
        "model": ["mine.keras"] * n}), folder / "part.parquet")
    source = label_source("no-such-model.keras", folder, n=50)  # no model is loaded
    assert source.model == "mine.keras" and len(source.candidates) == n - 1
    assert "pics/g0.png" not in source.candidates.ids
    k = source.candidates.ids.index("pics/g3.png")
    assert source.candidates.probs[k].argmax() == top3[3, 0]
    assert np.array_equal(source.image(k), load_cutout(files[3]))
    session = LabellingSession(source.candidates, tmp_path / "labels.csv", cutout=source.image)
    shown = source.candidates.files[session.current]
    session.label(5)
    ((path, label),) = read_manifest(tmp_path / "labels.csv")
    assert label == 5 and str(path.resolve()) == shown
    assert not (tmp_path / "labels_cutouts").exists()  # the picture itself is named
