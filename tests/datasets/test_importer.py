"""Importing image folders and CSV manifests into the Galaxy10 schema."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from galaxy10 import Galaxy10File, GalaxyDataError, ImageError
from galaxy10.datasets.importer import import_images


def make_tree(root, sizes=((256, 256), (300, 200), (64, 64))):
    rng = np.random.default_rng(1)
    for label in (0, 3, 9):
        (root / str(label)).mkdir(parents=True)
        for j, (w, h) in enumerate(sizes):
            arr = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / str(label) / f"img{j}.png")
    (root / "3" / "notes.txt").write_text("not an image, ignored")
    return root


def test_class_folders_become_a_256px_file(tmp_path):
    src = make_tree(tmp_path / "src")
    out = import_images(src, tmp_path / "out.h5", progress=False)
    with Galaxy10File(out) as f:
        assert f.source == "imported" and f.image_shape == (256, 256, 3)
        np.testing.assert_array_equal(f.labels, [0, 0, 0, 3, 3, 3, 9, 9, 9])
        original = np.asarray(Image.open(src / "0" / "img0.png"))
        np.testing.assert_array_equal(f.image(0), original)  # 256 px kept exactly


def test_csv_manifest(tmp_path):
    src = make_tree(tmp_path / "src")
    manifest = src / "list.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "label"])
        w.writerows([["9/img1.png", 9], ["0/img2.png", 4]])
    out = import_images(manifest, tmp_path / "m.h5", progress=False)
    with Galaxy10File(out) as f:
        np.testing.assert_array_equal(f.labels, [9, 4])


def test_bad_image_is_named_and_nothing_is_written(tmp_path):
    src = make_tree(tmp_path / "src")
    (src / "3" / "broken.jpg").write_bytes(b"<html>not really a jpeg</html>")
    out = tmp_path / "out.h5"
    out.write_bytes(b"an earlier file the user had")
    with pytest.raises(ImageError, match="broken.jpg: not a readable image"):
        import_images(src, out, progress=False)
    assert out.read_bytes() == b"an earlier file the user had"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.h5", "src"]


@pytest.mark.parametrize("content, fault", [
    ("file,label\na.png,11\n", "label 11 is outside 0-9"),
    ("name,class\na.png,1\n", "needs the columns 'file' and 'label'"),
    ("file,label\na.png,x\n", "is not a whole number"),
])
def test_bad_manifest(tmp_path, content, fault):
    manifest = tmp_path / "m.csv"
    manifest.write_text(content)
    with pytest.raises(GalaxyDataError, match=fault):
        import_images(manifest, tmp_path / "o.h5", progress=False)


def test_empty_folder(tmp_path):
    with pytest.raises(GalaxyDataError, match="holds no images"):
        import_images(tmp_path, tmp_path / "o.h5", progress=False)


@pytest.mark.slow
def test_real_sample_imports_with_manifest_labels(tmp_path, real_sample):
    out = import_images(real_sample, tmp_path / "real.h5", progress=False)
    with open(real_sample / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_file = {r["file"]: int(r["label"]) for r in rows}
    with Galaxy10File(out) as f:
        assert len(f) == 1000 == len(rows)
        np.testing.assert_array_equal(f.class_counts(), [100] * 10)
        # rows follow class-folder order then file name: check every label against the manifest
        expected = [by_file[f"{label}/{name}"] for label in range(10)
                    for name in sorted(p.name for p in (real_sample / str(label)).iterdir())]
        np.testing.assert_array_equal(f.labels, expected)
        first = f.image(0)
        assert first.shape == (256, 256, 3) and 5 < first.mean() < 120  # real sky, not noise


def test_labelled_images_h5_takes_every_kind_of_source(tmp_path):
    """--real accepts a bare CSV manifest as well as a folder or an .h5 (issue #26)."""
    import os

    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.datasets.importer import labelled_images_h5

    src = make_tree(tmp_path / "src")
    manifest = tmp_path / "list.csv"
    manifest.write_text("file,label\nsrc/3/img1.png,3\nsrc/9/img2.png,9\n")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    made = labelled_images_h5(manifest, scratch)
    with Galaxy10File(made) as f:
        assert made.parent == scratch and f.labels.tolist() == [3, 9]
    assert labelled_images_h5(made, scratch) == made  # an .h5 is used as it is
    with Galaxy10File(labelled_images_h5(src, scratch)) as f:
        assert len(f) == 9
    with pytest.raises(Galaxy10Error, match="no labelled real images there"):
        labelled_images_h5(tmp_path / "nowhere", scratch)
    os.mkfifo(tmp_path / "pipe.csv")  # refused by kind, never opened (it would block)
    with pytest.raises(GalaxyDataError, match=r"pipe\.csv: is a named pipe \(FIFO\), not a file"):
        labelled_images_h5(tmp_path / "pipe.csv", scratch)
