"""Importing the Hugging Face layout: Parquet files stream into one file that keeps the split."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import write_parquet

from galaxy10 import Galaxy10File, GalaxyDataError
from galaxy10.datasets.importer import import_parquet, parquet_sources, split_of


@pytest.fixture
def hub(tmp_path):
    """A miniature of matthieulel/galaxy10_decals: two train shards and one test shard."""
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(13, 256, 256, 3), dtype=np.uint8)
    labels = np.arange(13) % 10
    data = tmp_path / "galaxy10_decals" / "data"
    data.mkdir(parents=True)
    # written out of order: the import puts train before test whatever the listing says
    write_parquet(data / "test-00000-of-00001.parquet", images[9:], labels[9:])
    write_parquet(data / "train-00001-of-00002.parquet", images[5:9], labels[5:9],
                  huggingface=False, row_group_size=2)
    write_parquet(data / "train-00000-of-00002.parquet", images[:5], labels[:5],
                  row_group_size=2)
    return {"root": tmp_path / "galaxy10_decals", "images": images, "labels": labels}


def test_the_hugging_face_layout_imports_with_its_split(hub, tmp_path):
    out = import_parquet(hub["root"], tmp_path / "hf.h5", batch_size=3, progress=False)
    with Galaxy10File(out) as f:
        assert f.source == "imported" and len(f) == 13
        np.testing.assert_array_equal(f.read(np.arange(13)), hub["images"])
        assert f.labels.tolist() == hub["labels"].tolist()
        assert f.splits().tolist() == ["train"] * 9 + ["test"] * 4
        assert f.attrs["origin"] == str(hub["root"].resolve())


def test_info_shows_the_split_and_import_takes_parquet(hub, tmp_path):
    out = tmp_path / "cli.h5"
    done = subprocess.run([sys.executable, "-m", "galaxy10", "import", str(hub["root"]),
                           "--out", str(out), "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "split       : test 4, train 9" in done.stdout
    one = tmp_path / "one.h5"
    done = subprocess.run([sys.executable, "-m", "galaxy10", "import",
                           str(hub["root"] / "data" / "test-00000-of-00001.parquet"),
                           "--out", str(one), "-q"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with Galaxy10File(one) as f:
        assert len(f) == 4 and f.splits().tolist() == ["test"] * 4


def test_files_without_split_names_import_without_a_split(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 256, 256, 3), dtype=np.uint8)
    path = write_parquet(tmp_path / "mine.parquet", images, [1, 2, 3], huggingface=False,
                         nested=False)
    with Galaxy10File(import_parquet(path, tmp_path / "m.h5", progress=False)) as f:
        assert f.splits() is None and f.labels.tolist() == [1, 2, 3]


def test_a_bad_file_stops_the_import_before_anything_is_written(hub, tmp_path):
    (hub["root"] / "data" / "train-00002-of-00002.parquet").write_bytes(b"not parquet")
    out = tmp_path / "never.h5"
    with pytest.raises(GalaxyDataError, match=r"train-00002-of-00002\.parquet: not a readable"):
        import_parquet(hub["root"], out, progress=False)
    assert not out.exists() and not list(tmp_path.glob(".never.h5*"))


def test_which_sources_are_parquet(hub, tmp_path):
    assert [p.name for p in parquet_sources(hub["root"])] == [
        "test-00000-of-00001.parquet", "train-00000-of-00002.parquet",
        "train-00001-of-00002.parquet"]
    (tmp_path / "tree" / "0").mkdir(parents=True)
    assert parquet_sources(tmp_path / "tree") is None  # class folders: an image import
    assert parquet_sources(tmp_path / "x.csv") is None
    assert split_of(tmp_path / "validation-00003-of-00010.parquet") == "validation"
    assert split_of(tmp_path / "test" / "part.parquet") == "test"
    assert split_of(tmp_path / "galaxies.parquet") is None
