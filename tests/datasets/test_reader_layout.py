"""Chunk-aware reading, repacking and the layout benchmark.

The reader must return the same arrays whatever the HDF5 layout: contiguous, one image per
chunk (plain or gzip), and chunks that span several rows and tiles of an image (like h5py's
automatic chunks), both through the slab-sized chunk cache and through the span reads used
when one slab does not fit the cache. Row sets are drawn in any order with repeats: ``read``
promises rows in the caller's order, repeats included.
"""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from galaxy10 import Galaxy10File, GalaxyDataError
from galaxy10.bench.layout import LAYOUTS, bench_layout, format_layout, write_layouts
from galaxy10.cli import main
from galaxy10.datasets import reader as reader_module
from galaxy10.datasets.reader import describe_layout
from galaxy10.datasets.repack import repack, repack_hint

N, SIZE = 40, 16
RNG = np.random.default_rng(7)
IMAGES = RNG.integers(0, 256, size=(N, SIZE, SIZE, 3), dtype=np.uint8)
LABELS = (np.arange(N) % 10).astype(np.uint8)


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layouts")
    paths = write_layouts(folder, IMAGES, LABELS)
    # chunks spanning 7 rows and 4 tiles of each image: slabs that end mid-batch
    paths["row_spanning_gzip"] = folder / "row_spanning_gzip.h5"
    with h5py.File(paths["row_spanning_gzip"], "w") as f:
        f.create_dataset("images", data=IMAGES, chunks=(7, 8, 8, 1), compression="gzip",
                         shuffle=True)
        f.create_dataset("ans", data=LABELS)
        f.create_dataset("ra", data=np.linspace(0, 1, N))
        f.attrs["origin"] = "test"
        f["images"].attrs["note"] = "pixels"
    return paths


rows_strategy = st.lists(st.integers(0, N - 1), min_size=0, max_size=60)


@settings(max_examples=40, deadline=None)
@given(rows=rows_strategy, batch=st.integers(1, 50), small_cache=st.booleans())
def test_every_layout_reads_the_same_arrays(layouts, rows, batch, small_cache):
    expected = IMAGES[rows]
    for name, path in layouts.items():
        with Galaxy10File(path) as f:
            if small_cache:  # as if a slab did not fit the cache: read each slab's span
                f._slab_fits_cache = False
            got = f.read(rows)
            assert got.shape == (len(rows), SIZE, SIZE, 3) and got.dtype == np.uint8, name
            np.testing.assert_array_equal(got, expected, err_msg=name)
            if rows:
                np.testing.assert_array_equal(f.image(rows[0]), IMAGES[rows[0]], err_msg=name)
                out = np.empty_like(expected)
                for pos, images in f.iter_file_order(rows, batch_size=batch):
                    out[pos] = images
                np.testing.assert_array_equal(out, expected, err_msg=name)
                seen = [imgs for _, imgs in f.iter_batches(rows, batch_size=batch)]
                np.testing.assert_array_equal(np.concatenate(seen), expected, err_msg=name)


@settings(max_examples=30, deadline=None)
@given(start=st.integers(0, N), length=st.integers(0, N))
def test_a_range_reads_into_the_callers_buffer(layouts, start, length):
    stop = min(N, start + length)
    for name, path in layouts.items():
        with Galaxy10File(path) as f:
            np.testing.assert_array_equal(f.read_range(start, stop), IMAGES[start:stop],
                                          err_msg=name)
            buffer = np.full((stop - start, SIZE, SIZE, 3), 7, np.uint8)
            assert f.read_range(start, stop, out=buffer) is buffer
            np.testing.assert_array_equal(buffer, IMAGES[start:stop], err_msg=name)


def test_a_range_outside_the_file_or_a_wrong_buffer_is_refused(layouts):
    with Galaxy10File(layouts["contiguous"]) as f:
        with pytest.raises(IndexError, match="out of range"):
            f.read_range(5, N + 1)
        with pytest.raises(ValueError, match="C-contiguous uint8"):
            f.read_range(0, 2, out=np.empty((3, SIZE, SIZE, 3), np.uint8))
        with pytest.raises(ValueError, match="C-contiguous uint8"):
            f.read_range(0, 2, out=np.empty((2, SIZE, SIZE, 3), np.float32))


def test_layout_reports_chunks_and_random_read_verdict(layouts):
    facts = {}
    for name, path in layouts.items():
        with Galaxy10File(path) as f:
            facts[name] = f.layout()
    assert facts["contiguous"]["storage"] == "contiguous"
    assert facts["contiguous"]["fast_random_reads"]
    assert facts["per_image_gzip"]["chunks"] == (1, SIZE, SIZE, 3)
    assert facts["per_image_gzip"]["compression"] == "gzip"
    assert facts["per_image_gzip"]["fast_random_reads"]
    slow = facts["row_spanning_gzip"]
    assert slow["chunks"] == (7, 8, 8, 1) and not slow["fast_random_reads"]
    assert slow["rows_per_chunk"] == 7 and slow["chunks_per_image"] == 2 * 2 * 3
    # the cache holds one slab of 12 chunks of 7*8*8 bytes (at least HDF5's 1 MiB floor)
    assert slow["chunk_cache_bytes"] >= 12 * 7 * 8 * 8
    assert "slow" in describe_layout(slow) and "repack" in describe_layout(slow)
    assert "fast" in describe_layout(facts["contiguous"])
    assert repack_hint(layouts["row_spanning_gzip"]).startswith("tip: ")
    assert repack_hint(layouts["per_image_gzip"]) is None


def test_slab_cache_size_and_prime_slots():
    nbytes, nslots, per_slab = reader_module._slab_cache((17736, 256, 256, 3),
                                                         (555, 16, 16, 1), 1)
    assert per_slab == 16 * 16 * 3
    assert nbytes >= 555 * 256 * 256 * 3 and nbytes <= reader_module.MAX_CHUNK_CACHE_BYTES
    assert nslots >= 100 * per_slab and all(nslots % d for d in range(2, 300))


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_repack_copies_everything_in_per_image_chunks(layouts, tmp_path, capsys):
    src = layouts["row_spanning_gzip"]
    before = digest(src)
    dst = tmp_path / "fast.h5"
    assert main(["repack", str(src), "--out", str(dst)]) == 0
    out = capsys.readouterr().out
    assert "wrote" in out and "random single-image reads are fast" in out
    assert digest(src) == before  # the source is never modified
    with h5py.File(src, "r") as a, h5py.File(dst, "r") as b:
        assert set(a) == set(b)
        for name in a:
            np.testing.assert_array_equal(a[name][()], b[name][()])
            assert dict(a[name].attrs) == dict(b[name].attrs)
        # every attribute copied, and galaxy10's own saying it wrote the copy, and of what
        assert dict(a.attrs) == {k: v for k, v in b.attrs.items() if k != "galaxy10_source"}
        assert b.attrs["galaxy10_source"] == "unverified"
        assert b["images"].chunks == (1, SIZE, SIZE, 3)
        assert b["images"].compression == "gzip" and b["images"].shuffle
    with Galaxy10File(dst) as f:
        assert f.layout()["fast_random_reads"]
        np.testing.assert_array_equal(f.read([3, 1, 3]), IMAGES[[3, 1, 3]])
    # an earlier galaxy10 file at the target is replaced, and the output says so
    assert main(["repack", str(layouts["contiguous"]), "--out", str(dst)]) == 0
    assert capsys.readouterr().out.startswith(f"replaced {dst}")
    with h5py.File(dst, "r") as b:
        assert "ra" not in b and b["images"].chunks == (1, SIZE, SIZE, 3)


def test_repack_refuses_source_and_foreign_targets(layouts, tmp_path, capsys):
    src = layouts["row_spanning_gzip"]
    before = digest(src)
    with pytest.raises(GalaxyDataError, match="source file itself"):
        repack(src, src)
    assert main(["repack", str(src), "--out", str(src.parent / "." / src.name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is also an input" in err and len(err.splitlines()) == 1
    notes = tmp_path / "notes.h5"
    notes.write_text("my notes")
    assert main(["repack", str(src), "--out", str(notes)]) == 2
    assert "already exists and is not a Galaxy10 HDF5 file" in capsys.readouterr().err
    assert notes.read_text() == "my notes" and digest(src) == before
    assert main(["repack", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "x.h5")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]  # no temporaries left


def test_info_shows_layout(layouts, capsys):
    assert main(["info", str(layouts["row_spanning_gzip"])]) == 0
    out = capsys.readouterr().out
    assert "layout      : chunks (7, 8, 8, 1), gzip level 4 + shuffle; random single-image " \
           "reads are slow" in out


def test_bench_layout_measures_every_layout():
    results = bench_layout(n=6, singles=3)
    assert set(LAYOUTS) <= set(results) and results["bulk_rows"] == 6
    for name in LAYOUTS:
        assert results[name]["bulk_150_s"] > 0 and results[name]["image_ms"] > 0
    assert results["per_image_gzip"]["chunks"] == [1, 256, 256, 3] or \
        results["per_image_gzip"]["chunks"] == (1, 256, 256, 3)
    assert results["ratio_bulk_default_vs_per_image_gzip"] > 0
    assert "default gzip chunks / per-image gzip chunks" in format_layout(results)
