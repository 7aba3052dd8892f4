"""Parquet files of encoded images: the Hugging Face layout, with or without its metadata."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import encode_png, write_parquet

from galaxy10 import GalaxyDataError
from galaxy10.core.errors import ImageError
from galaxy10.datasets.labelled import ParquetImages, open_labelled
from galaxy10.datasets.parquet import (
    decode_blob,
    iter_parquet,
    parquet_layout,
    read_parquet_rows,
)


@pytest.fixture
def cutouts():
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(11, 256, 256, 3), dtype=np.uint8)


LABELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]


@pytest.mark.parametrize(("huggingface", "nested"), [(True, True), (False, True), (False, False)])
def test_layouts_with_or_without_the_hugging_face_metadata(tmp_path, cutouts, huggingface,
                                                           nested):
    path = write_parquet(tmp_path / "x.parquet", cutouts, LABELS, huggingface=huggingface,
                         nested=nested, row_group_size=4)
    layout = parquet_layout(path)
    assert (layout.image, layout.label, layout.id) == ("image", "label", None)
    assert layout.nested is nested and layout.huggingface is huggingface
    assert layout.num_rows == 11 and layout.row_groups == (4, 4, 3)
    with open_labelled(path) as images:
        assert isinstance(images, ParquetImages) and images.labels.tolist() == LABELS
        np.testing.assert_array_equal(images.read([10, 2, 2]), cutouts[[10, 2, 2]])


def test_any_row_range_streams_in_batches_across_row_groups(tmp_path, cutouts):
    path = write_parquet(tmp_path / "x.parquet", cutouts, LABELS, row_group_size=4,
                         ids=[f"gal{i}" for i in range(11)])
    batches = list(iter_parquet(path, start=3, stop=10, batch_size=3))
    rows = np.concatenate([b.rows for b in batches])
    assert rows.tolist() == list(range(3, 10))
    assert all(len(b.rows) <= 3 for b in batches)
    assert sum((b.ids for b in batches), []) == [f"gal{i}" for i in range(3, 10)]
    assert np.concatenate([b.labels for b in batches]).tolist() == LABELS[3:10]
    decoded = np.stack([decode_blob(blob, "x") for b in batches for blob in b.blobs])
    np.testing.assert_array_equal(decoded, cutouts[3:10])
    assert list(iter_parquet(path, start=11)) == []
    assert [len(b.rows) for b in iter_parquet(path, stop=100, batch_size=5)] == [5, 5, 1]


def test_the_image_column_is_found_by_type_when_it_has_another_name(tmp_path, cutouts):
    path = write_parquet(tmp_path / "x.parquet", cutouts[:3], huggingface=False,
                         image_column="cutout")
    layout = parquet_layout(path)
    assert layout.image == "cutout" and layout.label is None
    assert [decode_blob(b, "x").shape for b in read_parquet_rows(path, [2, 0])] == \
        [(256, 256, 3)] * 2


def test_one_line_errors_name_the_file(tmp_path, cutouts):
    import pyarrow as pa
    import pyarrow.parquet as pq

    no_images = tmp_path / "table.parquet"
    pq.write_table(pa.table({"ra": [1.0, 2.0], "label": [1, 2]}), no_images)
    with pytest.raises(GalaxyDataError, match=r"table\.parquet: has no column of encoded "
                                              r"images .*found: ra \(double\), label"):
        parquet_layout(no_images)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(GalaxyDataError, match=r"broken\.parquet: not a readable Parquet file"):
        open_labelled(broken)
    with pytest.raises(GalaxyDataError, match=r"absent\.parquet: not found"):
        open_labelled(tmp_path / "absent.parquet")
    unlabelled = write_parquet(tmp_path / "u.parquet", cutouts[:2], huggingface=False)
    with pytest.raises(GalaxyDataError, match="has no integer label column"):
        open_labelled(unlabelled)
    bad = write_parquet(tmp_path / "bad.parquet", cutouts[:2], [3, 12])
    with pytest.raises(GalaxyDataError, match=r"bad\.parquet: label column 'label' has 1 "
                                              r"label\(s\) outside 0-9 \(first at row 1: 12\)"):
        open_labelled(bad)


def _table(path, labels, ids=None, huggingface=True):
    """A two-column file whose label column is whatever ``labels`` is (an Arrow array)."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    blob = encode_png(np.zeros((8, 8, 3), np.uint8))
    columns = {"image": pa.array([blob] * len(labels), type=pa.binary()), "label": labels}
    if ids is not None:
        columns["id"] = pa.array(ids)
    table = pa.table(columns)
    if huggingface:
        meta = {"info": {"features": {"image": {"_type": "Image"},
                                      "label": {"_type": "ClassLabel"}}}}
        table = table.replace_schema_metadata({"huggingface": json.dumps(meta)})
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(("labels", "expected"), [
    (("int16", [3, -2]), r"label column 'label' has 1 label\(s\) outside 0-9 \(first at row 1: "
                         r"-2\)"),
    (("uint64", [3, 2**63 + 5]), r"label column 'label' has 1 label\(s\) outside 0-9 \(first at "
                                 r"row 1: 9223372036854775813\)"),
    (("int64", [300, 4, None]), r"label column 'label' has 1 label\(s\) outside 0-9 \(first at "
                                r"row 0: 300\)"),
    (("string", ["0", "x"]), r"label column 'label' holds string values, not whole class "
                             r"numbers 0-9"),
    (("double", [1.0, 2.5]), r"label column 'label' holds double values")],
    ids=["negative", "huge-unsigned", "above-nine", "strings", "floats"])
def test_every_reader_refuses_labels_outside_the_classes_naming_the_column(tmp_path, labels,
                                                                          expected):
    """Issue #39: these were an internal error, or classified as if they were classes."""
    import pyarrow as pa

    from galaxy10.pipeline.catalogue import plan_catalogue

    kind, values = labels
    path = _table(tmp_path / "odd.parquet", pa.array(values, type=kind))
    with pytest.raises(GalaxyDataError, match=r"odd\.parquet: " + expected):
        open_labelled(path)
    shards = plan_catalogue([path])  # classify records the file as unreadable, by its fault
    assert len(shards) == 1 and shards[0].rows == 0
    assert re.search(expected, shards[0].error)


def test_empty_labels_are_unlabelled_for_classify_and_missing_for_training(tmp_path):
    import pyarrow as pa

    from galaxy10.datasets.parquet import read_labels
    from galaxy10.pipeline.catalogue import plan_catalogue

    path = _table(tmp_path / "some.parquet", pa.array([3, None, 9], type="uint8"))
    assert read_labels(path, parquet_layout(path)).tolist() == [3, -1, 9]
    assert plan_catalogue([path])[0].error is None
    with pytest.raises(GalaxyDataError, match=r"label column 'label' has 1 label\(s\) missing "
                                              r"\(first at row 1\)"):
        open_labelled(path)


def test_a_parquet_file_with_one_id_twice_is_refused_as_a_manifest_is(tmp_path):
    import pyarrow as pa

    from galaxy10.pipeline.catalogue import plan_catalogue, read_catalogue_manifest

    path = _table(tmp_path / "ids.parquet", pa.array([1, 2, 3], type="uint8"),
                  ids=["g1", "g2", "g1"])
    [shard] = plan_catalogue([path])
    assert shard.rows == 0 and shard.error == "id column 'id': id 'g1' appears twice (rows 0 and 2)"
    manifest = tmp_path / "ids.csv"
    manifest.write_text("path,id\na.png,g1\nb.png,g2\nc.png,g1\n")
    with pytest.raises(GalaxyDataError, match="line 4: id 'g1' appears twice"):
        read_catalogue_manifest(manifest)
    fine = _table(tmp_path / "fine.parquet", pa.array([1, 2], type="uint8"), ids=["g1", "g2"])
    assert [(s.rows, s.error) for s in plan_catalogue([fine])] == [(2, None)]


def test_a_row_that_is_not_a_picture_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="no image bytes"):
        decode_blob(None, "x.parquet row 3")
    with pytest.raises(ImageError, match="x.parquet row 4: not a readable image"):
        decode_blob(b"junk", "x.parquet row 4")
    assert decode_blob(encode_png(np.zeros((8, 8, 3), np.uint8)), "ok").shape == (256, 256, 3)
