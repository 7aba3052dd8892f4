"""One reader of labelled images: HDF5, Parquet, class folders and CSV manifests read alike."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from conftest import write_h5, write_parquet
from PIL import Image

from galaxy10 import GalaxyDataError
from galaxy10.datasets import labelled
from galaxy10.datasets.images import load_cutout
from galaxy10.datasets.labelled import (
    HDF5Images,
    ImageFiles,
    LabelledImages,
    SourceKind,
    list_images,
    open_labelled,
    read_manifest,
    register_source_kind,
    source_kind,
)

LABELS = [0, 0, 3, 3, 3, 9]
SIZES = [(256, 256), (300, 200), (64, 64), (256, 256), (80, 120), (256, 256)]


@pytest.fixture
def sources(tmp_path):
    """The same six pictures as class folders, as a manifest elsewhere, as an .h5 file and
    as a Parquet file (two row groups)."""
    rng = np.random.default_rng(4)
    tree = tmp_path / "tree"
    rows = []
    for j, (label, (w, h)) in enumerate(zip(LABELS, SIZES, strict=True)):
        (tree / str(label)).mkdir(parents=True, exist_ok=True)
        path = tree / str(label) / f"img{j}.png"
        Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)).save(path)
        rows.append((f"../tree/{label}/img{j}.png", label))
    manifest = tmp_path / "lists" / "galaxies.csv"
    manifest.parent.mkdir()
    with open(manifest, "w", newline="") as fh:
        csv.writer(fh).writerows([("file", "label"), *rows])
    cutouts = np.stack([load_cutout(p) for p, _ in list_images(tree)])
    h5 = write_h5(tmp_path / "same.h5", images=cutouts, ans=np.array(LABELS, dtype=np.uint8))
    parquet = write_parquet(tmp_path / "same.parquet", cutouts, LABELS, row_group_size=4)
    return {"folder": tree, "manifest": manifest, "hdf5": h5, "parquet": parquet,
            "cutouts": cutouts}


def test_the_four_kinds_read_identical_arrays(sources):
    rows = [5, 0, 3, 3]
    for kind in ("folder", "manifest", "hdf5", "parquet"):
        with open_labelled(sources[kind]) as images:
            assert images.kind == kind and len(images) == 6
            assert images.labels.dtype == np.uint8 and images.labels.tolist() == LABELS
            everything = images.read(np.arange(6))
            assert everything.dtype == np.uint8 and everything.shape == (6, 256, 256, 3)
            np.testing.assert_array_equal(everything, sources["cutouts"])
            np.testing.assert_array_equal(images.read(rows), sources["cutouts"][rows])
            batches = list(images.iter_batches(batch_size=4))
            assert [b.tolist() for b, _ in batches] == [[0, 1, 2, 3], [4, 5]]
            np.testing.assert_array_equal(np.concatenate([im for _, im in batches]),
                                          sources["cutouts"])
            picked = list(images.iter_batches([4, 1], batch_size=1))
            np.testing.assert_array_equal(picked[1][1], sources["cutouts"][[1]])


def test_a_folder_with_a_manifest_is_read_through_it(sources, tmp_path):
    # the manifest names the images in another order than the class folders
    with open(sources["folder"] / "manifest.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("file", "label"), ("9/img5.png", 9), ("0/img0.png", 0)])
    with open_labelled(sources["folder"]) as images:
        assert images.kind == "manifest" and images.labels.tolist() == [9, 0]
        assert images.path == sources["folder"] / "manifest.csv"
        np.testing.assert_array_equal(images.read([0, 1]), sources["cutouts"][[5, 0]])
        assert images.names() == ["9/img5.png", "0/img0.png"]


def test_names_say_where_each_row_came_from(sources):
    with open_labelled(sources["folder"]) as images:
        assert images.names()[:3] == ["0/img0.png", "0/img1.png", "3/img2.png"]
    with open_labelled(sources["hdf5"]) as images:
        assert images.names()[:2] == ["row 0", "row 1"]
    with open_labelled(sources["manifest"]) as images:  # as the manifest names them
        assert images.names()[0] == "../tree/0/img0.png"


def test_source_kinds_are_chosen_by_the_registry(sources, tmp_path):
    assert source_kind(sources["hdf5"]).name == "hdf5"
    assert source_kind(sources["parquet"]).name == "parquet"
    assert source_kind(tmp_path / "absent.PQ").name == "parquet"
    assert source_kind(tmp_path / "absent.HDF5").name == "hdf5"  # by name: the reader says why
    assert source_kind(sources["manifest"]).name == "manifest"
    assert source_kind(sources["folder"]).name == "folder"
    with pytest.raises(GalaxyDataError) as info:
        source_kind(tmp_path / "absent")
    assert str(info.value) == (f"{tmp_path / 'absent'}: not found (expected a folder of class "
                               "folders 0-9 or a CSV manifest file,label)")


def test_one_set_of_errors_naming_the_file(tmp_path):
    with pytest.raises(GalaxyDataError, match=r"absent\.h5: file not found$"):
        open_labelled(tmp_path / "absent.h5")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\na.png,12\n")
    with pytest.raises(GalaxyDataError, match=rf"^{bad}: line 2: label 12 is outside 0-9$"):
        open_labelled(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GalaxyDataError, match=r"empty: holds no images in class folders 0-9"):
        open_labelled(tmp_path / "empty")


def test_reads_outside_the_rows_are_refused_and_empty_reads_are_empty(sources):
    with open_labelled(sources["folder"]) as images:
        assert isinstance(images, ImageFiles)
        with pytest.raises(IndexError, match="0-5"):
            images.read([6])
        assert images.read([]).shape == (0, 256, 256, 3)
        with pytest.raises(ValueError, match="batch_size"):
            next(images.iter_batches(batch_size=0))
    with open_labelled(sources["hdf5"]) as images:
        assert isinstance(images, HDF5Images)
    assert not images.file._h5.id.valid  # the context manager closed the file


def test_another_kind_plugs_in_with_one_registration(tmp_path, sources):
    """A stand-in for a Parquet reader: encoded image bytes and labels in one file."""

    class EncodedImages(LabelledImages):
        kind = "npz-bytes"

        def __init__(self, path):
            with np.load(path) as data:
                self.blobs = [bytes(b) for b in data["png"]]
                super().__init__(path, data["label"])

        def names(self):
            return [f"item {i}" for i in range(len(self))]

        def read(self, rows):
            return np.stack([load_cutout(self.blobs[i], f"item {i}") for i in rows])

    blobs = [p.read_bytes() for p, _ in list_images(sources["folder"])]
    store = tmp_path / "encoded.npz"
    np.savez(store, png=np.array(blobs, dtype=object).astype(bytes), label=np.array(LABELS))
    saved = list(labelled._KINDS)
    try:
        register_source_kind(SourceKind("npz-bytes", lambda p: p.suffix == ".npz", EncodedImages))
        with open_labelled(store) as images:
            assert images.kind == "npz-bytes" and images.labels.tolist() == LABELS
            np.testing.assert_array_equal(images.read(range(6)), sources["cutouts"])
    finally:
        labelled._KINDS[:] = saved
    assert source_kind(store).name == "manifest"  # back to the built-in kinds


def test_a_manifest_that_is_a_pipe_is_refused_without_being_opened(tmp_path):
    import os

    from galaxy10.datasets.labelled import read_manifest

    os.mkfifo(tmp_path / "list.csv")
    with pytest.raises(GalaxyDataError, match=r"list\.csv: is a named pipe \(FIFO\), not a "
                                              r"regular file; give a CSV manifest"):
        read_manifest(tmp_path / "list.csv")


@pytest.mark.parametrize("label", ["\u00b2", "\u0663", "\uff13", "3.0", "three"],
                         ids=["superscript-two", "arabic-indic-three", "fullwidth-three",
                              "decimal", "word"])
def test_a_label_is_ascii_digits_in_every_manifest_reader(tmp_path, label):
    """``str.isdigit`` accepts ``²`` (``int`` does not: an internal error in classify), ``int``
    accepts ``٣``: both are refused by line, in the training and the catalogue reader."""
    from galaxy10.pipeline.catalogue import read_catalogue_manifest

    manifest = tmp_path / "m.csv"
    manifest.write_text(f"file,label\na.png,1\nb.png,{label}\n", encoding="utf-8")
    with pytest.raises(GalaxyDataError, match=rf"m\.csv: line 3: label '{label}' is not a "
                                              "whole number$"):
        read_manifest(manifest)
    with pytest.raises(GalaxyDataError, match=rf"m\.csv: line 3: label '{label}' is not a "
                                              "class 0-9$"):
        read_catalogue_manifest(manifest)


def test_a_manifest_saved_by_excel_with_a_byte_order_mark_is_read(tmp_path):
    """Excel's "CSV UTF-8" starts with U+FEFF; read as plain UTF-8 the first column was
    '\\ufefffile', so the manifest "had no file column"."""
    from galaxy10.pipeline.catalogue import read_catalogue_manifest

    manifest = tmp_path / "excel.csv"
    manifest.write_bytes("\ufefffile,label\na.png,1\nb.png, 2\n".encode())
    assert read_manifest(manifest) == [(tmp_path / "a.png", 1), (tmp_path / "b.png", 2)]
    catalogue = tmp_path / "catalogue.csv"
    catalogue.write_bytes("\ufeffpath,label\na.png,1\n".encode())
    assert read_catalogue_manifest(catalogue) == ([tmp_path / "a.png"], ["a.png"], [1])
