"""The lazy reader: correct reads, and one clear error per kind of bad file."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import write_h5

from galaxy10 import Galaxy10File, GalaxyDataError


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reads_labels_on_open_and_images_by_index(small_h5):
    with Galaxy10File(small_h5) as f:
        assert len(f) == 20
        assert f.image_shape == (32, 32, 3)
        assert f.source == "unverified"  # no galaxy10 attribute, no verified checksum
        np.testing.assert_array_equal(f.class_counts(), [2] * 10)
        import h5py

        with h5py.File(small_h5, "r") as raw:
            everything = raw["images"][()]
        np.testing.assert_array_equal(f.image(3), everything[3])
        order = [7, 2, 2, 19, 0, 8, 9, 10]  # unsorted, repeated, with contiguous runs
        np.testing.assert_array_equal(f.read(order), everything[order])
        seen = np.concatenate([idx for idx, _ in f.iter_batches(batch_size=6)])
        np.testing.assert_array_equal(seen, np.arange(20))
        batches = [imgs for _, imgs in f.iter_batches([5, 1, 3], batch_size=2)]
        np.testing.assert_array_equal(np.concatenate(batches), everything[[5, 1, 3]])
        with pytest.raises(IndexError):
            f.read([20])


def test_metadata_is_optional(tmp_path):
    path = write_h5(tmp_path / "m.h5", ra=np.arange(20.0))
    with Galaxy10File(path) as f:
        np.testing.assert_array_equal(f.metadata("ra"), np.arange(20.0))
        assert f.metadata("redshift") is None


def put(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncate(tmp_path: Path, fraction: float) -> Path:
    full = write_h5(tmp_path / "full.h5", n=40, size=64)
    data = full.read_bytes()
    cut = tmp_path / f"cut{fraction}.h5"
    cut.write_bytes(data[: int(len(data) * fraction)])
    return cut


BAD_FILES = {
    "missing": (lambda d: d / "nope.h5", "file not found"),
    "directory": (lambda d: d, "is a folder, not an HDF5 file"),
    "empty": (lambda d: put(d / "e.h5", b""), "empty"),
    "html page": (lambda d: put(d / "h.h5", b"<!DOCTYPE html><html>404</html>"),
                  "not an HDF5 file (it looks like an HTML page"),
    "jpeg": (lambda d: put(d / "j.h5", b"\xff\xd8\xff\xe0" + b"\0" * 100),
             "it looks like a JPEG"),
    "truncated 10%": (lambda d: _truncate(d, 0.1), "truncated"),
    "truncated 50%": (lambda d: _truncate(d, 0.5), "truncated"),
    "truncated 99%": (lambda d: _truncate(d, 0.99), "truncated"),
    "no images": (lambda d: write_h5(d / "a.h5", images=False), "no 'images' dataset"),
    "no ans": (lambda d: write_h5(d / "b.h5", ans=False), "no 'ans' dataset"),
    "float images": (lambda d: write_h5(d / "c.h5", images=np.zeros((4, 8, 8, 3), np.float32)),
                     "dtype float32, expected uint8"),
    "float labels": (lambda d: write_h5(d / "c2.h5", ans=np.zeros(20, np.float32)),
                     "'ans' has dtype float32"),
    "2-D images": (lambda d: write_h5(d / "d.h5", images=np.zeros((4, 8), np.uint8)),
                   "expected (N, height, width, 3)"),
    "4 channels": (lambda d: write_h5(d / "e4.h5", images=np.zeros((4, 8, 8, 4), np.uint8)),
                   "has shape (4, 8, 8, 4)"),
    "label 12": (lambda d: write_h5(d / "f.h5", ans=np.array([0, 1, 12, 3] * 5, np.uint8)),
                 "labels outside 0-9 (first: 12 at row 2)"),
    "length mismatch": (lambda d: write_h5(d / "g.h5", ans=np.zeros(19, np.uint8)),
                        "'images' has 20 rows but 'ans' has 19"),
    "bad metadata": (lambda d: write_h5(d / "k.h5", ra=np.zeros(3)), "'ra' has shape (3,)"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_raise_one_clear_error_and_stay_unchanged(tmp_path, case):
    make, fault = BAD_FILES[case]
    path = make(tmp_path)
    before = digest(path) if path.is_file() else None
    with pytest.raises(GalaxyDataError) as info:
        Galaxy10File(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert fault in message, message
    assert "\n" not in message
    assert info.value.__cause__ is None  # no h5py/OS traceback chained for the user
    if before is not None:
        assert digest(path) == before


@pytest.mark.skipif(not hasattr(os, "setuid"), reason="POSIX only")
def test_unreadable_file_reports_permission(tmp_path):
    # as root, permissions are not enforced: check as an unprivileged user in a child process
    folder = Path(tempfile.mkdtemp(dir="/tmp" if os.path.isdir("/tmp") else None))
    try:
        folder.chmod(0o755)
        path = write_h5(folder / "locked.h5")
        path.chmod(0o000)
        # import first (the interpreter may live in root's home), then drop privileges
        code = "import os\nfrom galaxy10.datasets.reader import Galaxy10File\n"
        if os.geteuid() == 0:
            code += "os.setgid(65534); os.setuid(65534)\n"
        code += (f"try:\n    Galaxy10File({str(path)!r})\n"
                 "except Exception as e:\n    print(type(e).__name__, e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
        assert out.stdout.strip() == f"GalaxyDataError {path}: cannot be read (permission denied)", \
            out.stdout + out.stderr
    finally:
        for p in folder.iterdir():
            p.chmod(0o644)
            p.unlink()
        folder.rmdir()


# -- exact messages, layout facts and read order (what mutation testing showed was unchecked) --

def _message(path, cause: type | None = None) -> str:
    with pytest.raises(GalaxyDataError) as info:
        Galaxy10File(path)
    assert type(info.value.__cause__) is (type(None) if cause is None else cause)
    return str(info.value)


EXACT = {
    "png": (lambda d: put(d / "p.h5", b"\x89PNG\r\n\x1a\n" + b"\0" * 40),
            "not an HDF5 file (it looks like a PNG image); first bytes b'\\x89PNG\\r\\n\\x1a\\n'"),
    "html, lower case after blanks": (
        lambda d: put(d / "h.h5", b"  \n<html><body>Not Found</body></html>"),
        "not an HDF5 file (it looks like an HTML page, e.g. a saved download error); "
        "first bytes b'  \\n<html'"),
    "doctype": (lambda d: put(d / "d.h5", b"<!doctype html>"),
                "not an HDF5 file (it looks like an HTML page, e.g. a saved download error); "
                "first bytes b'<!doctyp'"),
    "jpeg": (lambda d: put(d / "j.h5", b"\xff\xd8\xff\xe0" + b"\0" * 100),
             "not an HDF5 file (it looks like a JPEG image); first bytes "
             "b'\\xff\\xd8\\xff\\xe0\\x00\\x00\\x00\\x00'"),
    "text": (lambda d: put(d / "t.h5", b"hello world, not hdf5"),
             "not an HDF5 file; first bytes b'hello wo'"),
    "one byte": (lambda d: put(d / "b.h5", b"x"), "not an HDF5 file; first bytes b'x'"),
    "missing": (lambda d: d / "nope.h5", "file not found"),
    "directory": (lambda d: d, "is a folder, not an HDF5 file"),
    "empty": (lambda d: put(d / "e.h5", b""),
              "file is empty (0 bytes); the download or copy failed"),
    "no images": (lambda d: write_h5(d / "a.h5", images=False),
                  "has no 'images' dataset (found: ans)"),
    "no ans": (lambda d: write_h5(d / "b.h5", ans=False), "has no 'ans' dataset (found: images)"),
    "no images, two others": (lambda d: write_h5(d / "a2.h5", images=False, ra=np.zeros(20)),
                              "has no 'images' dataset (found: ans, ra)"),
    "nothing": (lambda d: write_h5(d / "n.h5", images=False, ans=False),
                "has no 'images' dataset (found: nothing)"),
    "3-D images": (lambda d: write_h5(d / "i3.h5", images=np.zeros((4, 8, 3), np.uint8)),
                   "'images' has shape (4, 8, 3), expected (N, height, width, 3)"),
    "int16 images": (lambda d: write_h5(d / "i16.h5", images=np.zeros((4, 8, 8, 3), np.int16)),
                     "'images' has dtype int16, expected uint8"),
    "2-D ans": (lambda d: write_h5(d / "a2.h5", ans=np.zeros((20, 1), np.uint8)),
                "'ans' has shape (20, 1), expected (N,)"),
    "float ans": (lambda d: write_h5(d / "af.h5", ans=np.zeros(20, np.float64)),
                  "'ans' has dtype float64, expected uint8"),
    "more labels": (lambda d: write_h5(d / "g.h5", ans=np.zeros(21, np.uint8)),
                    "'images' has 20 rows but 'ans' has 21"),
    "thousands": (lambda d: write_h5(d / "g2.h5", images=np.zeros((1000, 1, 1, 3), np.uint8),
                                     ans=np.zeros(1001, np.uint8)),
                  "'images' has 1,000 rows but 'ans' has 1,001"),
    "no rows": (lambda d: write_h5(d / "z.h5", images=np.zeros((0, 8, 8, 3), np.uint8),
                                   ans=np.zeros(0, np.uint8)), "holds no images (N = 0)"),
    "negative label": (lambda d: write_h5(d / "neg.h5", ans=np.array([0, 9, 3, -1] * 5, np.int8)),
                       "'ans' has 5 labels outside 0-9 (first: -1 at row 3)"),
    "label 10": (lambda d: write_h5(d / "ten.h5", ans=np.array([10] + [9] * 19, np.int64)),
                 "'ans' has 1 labels outside 0-9 (first: 10 at row 0)"),
    "short dec": (lambda d: write_h5(d / "dec.h5", ra=np.zeros(20), dec=np.zeros(19)),
                  "'dec' has shape (19,), expected (20,)"),
    "2-D pxscale": (lambda d: write_h5(d / "px.h5", pxscale=np.zeros((20, 2))),
                    "'pxscale' has shape (20, 2), expected (20,)"),
    "redshift group": (lambda d: _with_group(write_h5(d / "grp.h5"), "redshift"),
                       "'redshift' is a group, not a dataset"),
    "images group": (lambda d: _with_group(write_h5(d / "gi.h5", images=False), "images"),
                     "'images' is a group, not a dataset"),
}


def _with_group(path: Path, name: str) -> Path:
    import h5py

    with h5py.File(path, "a") as f:
        f.create_group(name)
    return path


@pytest.mark.parametrize("case", sorted(EXACT))
def test_each_fault_has_its_exact_message(tmp_path, case):
    make, fault = EXACT[case]
    path = make(tmp_path)
    assert _message(path) == f"{path}: {fault}"


def test_unreadable_files_report_permission_or_the_os_error(tmp_path, monkeypatch):
    import builtins

    path = write_h5(tmp_path / "x.h5")
    monkeypatch.setattr(os, "access", lambda p, mode: not (p == path and mode == os.R_OK))
    assert _message(path) == f"{path}: cannot be read (permission denied)"
    monkeypatch.undo()
    real_open = builtins.open

    def failing_open(error):
        def fake(file, *args, **kwargs):
            if Path(file) == path:
                raise error
            return real_open(file, *args, **kwargs)
        return fake

    monkeypatch.setattr(builtins, "open", failing_open(PermissionError(13, "Permission denied")))
    assert _message(path, PermissionError) == f"{path}: cannot be read (permission denied)"
    monkeypatch.setattr(builtins, "open", failing_open(OSError(5, "Input/output error")))
    assert _message(path, OSError) == f"{path}: cannot be read (Input/output error)"
    monkeypatch.setattr(builtins, "open", failing_open(OSError("no strerror")))
    assert _message(path, OSError) == f"{path}: cannot be read (no strerror)"


def test_open_errors_become_one_line():
    import errno

    from galaxy10.datasets.reader import _open_error

    path = Path("f.h5")
    truncated = OSError("Unable to synchronously open file (truncated file: eof = 1234, "
                        "sblock->base_addr = 0, stored_eof = 5678901)")
    assert str(_open_error(path, truncated)) == (
        "f.h5: HDF5 file is truncated (1,234 of 5,678,901 bytes): the download or copy did "
        "not finish")
    assert str(_open_error(path, OSError(errno.EACCES, "Permission denied"))) == \
        "f.h5: cannot be read (permission denied)"
    signature = OSError("Unable to synchronously open file (file signature not found)")
    assert str(_open_error(path, signature)) == (
        "f.h5: HDF5 file cannot be opened, it may be corrupt (file signature not found)")
    assert str(_open_error(path, OSError("plain failure"))) == (
        "f.h5: HDF5 file cannot be opened, it may be corrupt (plain failure)")
    assert str(_open_error(path, OSError("odd text)"))) == (
        "f.h5: HDF5 file cannot be opened, it may be corrupt (odd text))")
    assert str(_open_error(path, OSError("Unable to open file (unknown driver MAX)"))) == (
        "f.h5: HDF5 file cannot be opened, it may be corrupt (unknown driver MAX)")
    nested = OSError("Unable to open file (bad (nested) thing)")
    assert str(_open_error(path, nested)) == (
        "f.h5: HDF5 file cannot be opened, it may be corrupt (bad (nested) thing)")
    # byte counts without "truncated file" are not a truncation either
    counts = OSError("Unable to open file (eof = 1, stored_eof = 2)")
    assert str(_open_error(path, counts)) == (
        "f.h5: HDF5 file cannot be opened, it may be corrupt (eof = 1, stored_eof = 2)")
    # "truncated file" without the byte counts is just corrupt
    assert "may be corrupt" in str(_open_error(path, OSError("x (truncated file)")))


def test_h5py_open_failure_is_translated(tmp_path, monkeypatch):
    import h5py

    path = write_h5(tmp_path / "x.h5")

    def refuse(*args, **kwargs):
        raise OSError("Unable to open file (bad object header version number)")

    monkeypatch.setattr(h5py, "File", refuse)
    assert _message(path) == (f"{path}: HDF5 file cannot be opened, it may be corrupt "
                              "(bad object header version number)")


@pytest.mark.parametrize("error", [KeyError("k"), ValueError("v"), RuntimeError("r"),
                                   OSError("o"), GalaxyDataError("elsewhere", "schema fault")])
def test_validation_failures_close_the_file(small_h5, monkeypatch, error):
    opened = []

    def fail(self):
        opened.append(self._h5)
        raise error

    monkeypatch.setattr(Galaxy10File, "_validate", fail)
    with pytest.raises(GalaxyDataError) as info:
        Galaxy10File(small_h5)
    assert not opened[0].id.valid  # closed, so the file is not left locked
    if isinstance(error, GalaxyDataError):
        assert info.value is error
    else:
        assert str(info.value) == f"{small_h5}: HDF5 file is corrupt ({error})"
        assert info.value.__cause__ is None


def test_labels_source_attrs_and_repr(tmp_path):
    import h5py

    path = write_h5(tmp_path / "s.h5", ans=(np.arange(20) % 5).astype(np.int64))
    with h5py.File(path, "a") as f:
        f.attrs["galaxy10_source"] = np.bytes_(b"synthetic")
        f.attrs["preset"] = np.bytes_(b"easy")
        f.attrs["seed"] = 3
    with Galaxy10File(path) as f:
        assert f.labels.dtype == np.uint8
        np.testing.assert_array_equal(f.labels, np.arange(20) % 5)
        assert f.source == "synthetic"
        assert f.attrs == {"galaxy10_source": "synthetic", "preset": "easy", "seed": 3}
        counts = f.class_counts()
        assert counts.tolist() == [4] * 5 + [0] * 5  # ten classes even if some are absent
        assert repr(f) == (f"Galaxy10File({str(path)!r}, n=20, image_shape=(32, 32, 3), "
                           "source='synthetic')")
    with h5py.File(path, "a") as f:
        f.attrs["galaxy10_source"] = "imported"
    with Galaxy10File(path) as f:
        assert f.source == "imported"
    with Galaxy10File(write_h5(tmp_path / "one.h5", n=1)) as f:  # one image is enough
        assert len(f) == 1 and f.labels.tolist() == [0]


def test_close_is_idempotent(small_h5):
    f = Galaxy10File(small_h5)
    with f as same:
        assert same is f
    assert not f._h5.id.valid
    f.close()  # a second close is fine
    g = Galaxy10File(small_h5)
    g.close()
    assert not g._h5.id.valid


def test_context_manager_and_close_before_open(small_h5):
    with Galaxy10File(small_h5) as f:
        assert isinstance(f, Galaxy10File) and len(f) == 20 and f.path == small_h5
    Galaxy10File.__new__(Galaxy10File).close()  # nothing opened yet: nothing to close


def test_metadata_rejects_unknown_names(small_h5):
    with Galaxy10File(small_h5) as f:
        with pytest.raises(ValueError) as info:
            f.metadata("mass")
    assert str(info.value) == ("unknown metadata field 'mass'; choose from "
                               "('ra', 'dec', 'redshift', 'pxscale')")


class _Broken:
    """Stands in for the images dataset of a file whose chunks cannot be decoded."""

    def __init__(self, error):
        self.error = error

    def __getitem__(self, key):
        raise self.error

    def read_direct(self, *args):
        raise self.error


@pytest.mark.parametrize("error", [OSError("Can't decompress data"), RuntimeError("bad chunk")])
def test_read_errors_name_the_file(small_h5, error):
    with Galaxy10File(small_h5) as f:
        f._images = _Broken(error)
        for read in (lambda: f.image(0), lambda: f.read([1, 2])):
            with pytest.raises(GalaxyDataError) as info:
                read()
            assert str(info.value) == (f"{small_h5}: cannot read image data, the file may be "
                                       f"corrupt or truncated ({error})")
            assert info.value.__cause__ is None


def test_index_checks(small_h5):
    import h5py

    with h5py.File(small_h5, "r") as raw:
        everything = raw["images"][()]
    with Galaxy10File(small_h5) as f:
        np.testing.assert_array_equal(f.image(-1), everything[19])
        np.testing.assert_array_equal(f.image(-20), everything[0])
        np.testing.assert_array_equal(f.image(19), everything[19])
        for bad in (20, -21):
            with pytest.raises(IndexError) as info:
                f.image(bad)
            assert str(info.value) == f"image index {bad} out of range for 20 images"
        for bad in ([-1], [0, 20]):
            with pytest.raises(IndexError) as info:
                f.read(bad)
            assert str(info.value) == "image indices must be in 0-19"
        assert f.read([]).shape == (0, 32, 32, 3) and f.read([]).dtype == np.uint8
        np.testing.assert_array_equal(f.read([[3, 0], [19, 3]]), everything[[3, 0, 19, 3]])
        np.testing.assert_array_equal(f.read(np.array([19, 0], np.uint8)), everything[[19, 0]])
        with pytest.raises(ValueError) as info:
            next(f.iter_batches(batch_size=0))
        assert str(info.value) == "batch_size must be at least 1"
        np.testing.assert_array_equal(next(f.iter_batches(batch_size=1))[1], everything[:1])


def test_batches_have_the_asked_size(tmp_path):
    path = write_h5(tmp_path / "many.h5", n=300, size=2)
    with Galaxy10File(path) as f:
        assert [len(i) for i, _ in f.iter_batches()] == [256, 44]  # 256 by default
        assert [len(i) for i, _ in f.iter_batches(range(10), batch_size=4)] == [4, 4, 2]
        assert [len(p) for p, _ in f.iter_file_order(np.arange(300)[::-1])] == [256, 44]
        positions = [p.tolist() for p, _ in f.iter_file_order([7, 2, 9, 2, 0], batch_size=2)]
        assert positions == [[4, 1], [3, 0], [2]]  # file order; equal rows keep their order
        # many repeats: still the caller's order among equal rows (a stable sort), so the
        # batches are the same on every machine
        rows = np.random.default_rng(0).integers(0, 5, 200)
        positions = np.concatenate([p for p, _ in f.iter_file_order(rows, batch_size=64)])
        np.testing.assert_array_equal(positions, np.argsort(rows, kind="stable"))


class _Spy:
    """Records how the reader asks for rows: one entry per HDF5 read."""

    def __init__(self, dataset):
        self.dataset, self.calls = dataset, []

    def read_direct(self, dest, source_sel, dest_sel):
        self.calls.append(("direct", source_sel.start, source_sel.stop, dest_sel.start))
        return self.dataset.read_direct(dest, source_sel, dest_sel)

    def __getitem__(self, key):
        self.calls.append(("span", key.start, key.stop))
        return self.dataset[key]


def _row_spanning(path: Path, images: np.ndarray) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(7, 8, 8, 1), compression="gzip")
        f.create_dataset("ans", data=(np.arange(len(images)) % 10).astype(np.uint8))
    return path


def test_rows_are_read_in_file_order_one_read_per_run_or_slab(tmp_path, small_h5):
    rows = [15, 9, 4, 0, 3, 5, 9, 20, 21]
    images = np.random.default_rng(1).integers(0, 256, (30, 16, 16, 3), dtype=np.uint8)
    path = _row_spanning(tmp_path / "rows.h5", images)
    with Galaxy10File(path) as f:
        f._images = spy = _Spy(f._images)
        np.testing.assert_array_equal(f.read(rows), images[rows])
        # the slab fits the cache: one direct read per contiguous run, ascending
        assert spy.calls == [("direct", 0, 1, 0), ("direct", 3, 6, 1), ("direct", 9, 10, 4),
                             ("direct", 15, 16, 5), ("direct", 20, 22, 6)]
        spy.calls.clear()
        f._slab_fits_cache = False
        np.testing.assert_array_equal(f.read(rows), images[rows])
        # slabs of 7 rows: rows 0-5, row 9, rows 15 and 20 (same slab), row 21
        assert spy.calls == [("span", 0, 6), ("span", 9, 10), ("span", 15, 21), ("span", 21, 22)]
        spy.calls.clear()
        assert f.read([]).shape == (0, 16, 16, 3) and spy.calls == []
    with Galaxy10File(small_h5) as f:  # contiguous: never slab reads
        f._images = spy = _Spy(f._images)
        f._slab_fits_cache = False
        f.read([2, 1])
        assert spy.calls == [("direct", 1, 3, 0)]


def test_layout_facts_and_chunk_cache_of_each_storage(tmp_path, small_h5, monkeypatch):
    import h5py

    from galaxy10.datasets import reader
    from galaxy10.datasets.reader import _next_prime

    with Galaxy10File(small_h5) as f:
        assert f.layout() == {"storage": "contiguous", "chunks": None, "compression": None,
                              "compression_opts": None, "shuffle": False, "rows_per_chunk": 1,
                              "chunks_per_image": 1, "chunk_cache_bytes": None,
                              "fast_random_reads": True}
        assert f._slab_rows == 1 and f._slab_fits_cache
    per_image = tmp_path / "per_image.h5"
    with h5py.File(per_image, "w") as out:
        out.create_dataset("images", data=np.zeros((20, 32, 32, 3), np.uint8),
                           chunks=(1, 32, 32, 3), compression="gzip", compression_opts=6,
                           shuffle=True)
        out.create_dataset("ans", data=np.zeros(20, np.uint8))
    with Galaxy10File(per_image) as f:
        # one image per chunk keeps HDF5's default cache (521 slots, 1 MiB): nothing reopened
        assert f._h5.id.get_access_plist().get_cache()[1:3] == (521, 2**20)
        assert f.layout() == {"storage": "chunked", "chunks": (1, 32, 32, 3),
                              "compression": "gzip", "compression_opts": 6, "shuffle": True,
                              "rows_per_chunk": 1, "chunks_per_image": 1,
                              "chunk_cache_bytes": None, "fast_random_reads": True}
    # 20 rows of 128 px per chunk: 983,040 bytes a slab, so the cache is 1.1 times that
    big = tmp_path / "big.h5"
    images = np.random.default_rng(2).integers(0, 256, (45, 128, 128, 3), dtype=np.uint8)
    with h5py.File(big, "w") as out:
        out.create_dataset("images", data=images, chunks=(20, 128, 128, 3), compression="lzf")
        out.create_dataset("ans", data=np.zeros(45, np.uint8))
    with Galaxy10File(big) as f:
        facts = f.layout()
        assert facts == {"storage": "chunked", "chunks": (20, 128, 128, 3),
                         "compression": "lzf", "compression_opts": None, "shuffle": False,
                         "rows_per_chunk": 20, "chunks_per_image": 1,
                         "chunk_cache_bytes": int(20 * 128 * 128 * 3 * 1.1),
                         "fast_random_reads": False}
        assert f._h5.id.get_access_plist().get_cache()[1] == 101  # a prime >= 100 slots
        assert f._slab_rows == 20 and f._slab_fits_cache
        np.testing.assert_array_equal(f.read([44, 0, 21]), images[[44, 0, 21]])
    # two rows per chunk already share chunks: slab cache, slab reads when it does not fit
    two = tmp_path / "two.h5"
    with h5py.File(two, "w") as out:
        out.create_dataset("images", data=images[:10], chunks=(2, 64, 64, 3), compression="gzip")
        out.create_dataset("ans", data=np.zeros(10, np.uint8))
    with Galaxy10File(two) as f:
        assert f.layout()["rows_per_chunk"] == 2 and f.layout()["chunks_per_image"] == 4
        assert f.layout()["chunk_cache_bytes"] == 2**20 and not f.layout()["fast_random_reads"]
        assert f._h5.id.get_access_plist().get_cache()[1] == _next_prime(400)
        f._slab_fits_cache = False
        f._images = spy = _Spy(f._images)
        np.testing.assert_array_equal(f.read([5, 2, 3]), images[[5, 2, 3]])
        assert spy.calls == [("span", 2, 4), ("span", 5, 6)]
    # a slab larger than the cap: the cache is capped and bulk reads take spans
    monkeypatch.setattr(reader, "MAX_CHUNK_CACHE_BYTES", 500_000)
    with Galaxy10File(big) as f:
        assert f.layout()["chunk_cache_bytes"] == 500_000 and not f._slab_fits_cache
        np.testing.assert_array_equal(f.read([44, 0, 21, 22]), images[[44, 0, 21, 22]])


def test_slab_cache_arithmetic(caplog, monkeypatch):
    import logging

    from galaxy10.datasets import reader
    from galaxy10.datasets.reader import MAX_CHUNK_CACHE_BYTES, _next_prime, _slab_cache

    assert [_next_prime(n) for n in (-5, 0, 1, 2, 3, 4, 8, 14, 1200, 76800)] == \
        [2, 2, 2, 2, 3, 5, 11, 17, 1201, 76801]
    # a small slab still gets HDF5's 1 MiB; 12 chunks a slab -> 1,201 slots
    assert _slab_cache((40, 16, 16, 3), (7, 8, 8, 1), 1) == (2**20, 1201, 12)
    # itemsize counts: 2-byte pixels double the bytes
    assert _slab_cache((4000, 16, 16, 3), (1000, 16, 16, 3), 2) == (
        int(1000 * 16 * 16 * 3 * 2 * 1.1), 101, 1)
    # the full file's automatic chunks: 768 chunks of 555 rows a slab, under the 256 MiB cap
    assert _slab_cache((17736, 256, 256, 3), (555, 16, 16, 1), 1) == (
        int(768 * 555 * 256 * 1.1), 76801, 768)
    with caplog.at_level(logging.INFO, logger="galaxy10.datasets.reader"):
        assert _slab_cache((17736, 256, 256, 3), (2000, 16, 16, 1), 1) == (
            MAX_CHUNK_CACHE_BYTES, 76801, 768)
    assert caplog.messages == [
        "one slab of chunks is 433 MB; the chunk cache is capped at 268 MB, so bulk reads "
        "take each slab's span of rows in one read"]
    caplog.clear()
    with pytest.raises(ValueError):  # a chunk shape of another rank is a bug, not a guess
        _slab_cache((40, 16, 16, 3), (7, 8, 8), 1)
    # MB are 10**6 bytes, rounded: 433.5002 MB and a 2.500001 MB cap
    monkeypatch.setattr(reader, "MAX_CHUNK_CACHE_BYTES", 2_500_001)
    with caplog.at_level(logging.INFO, logger="galaxy10.datasets.reader"):
        assert _slab_cache((10, 1), (394_091_091, 1), 1)[0] == 2_500_001
    assert caplog.messages[-1].startswith(
        "one slab of chunks is 434 MB; the chunk cache is capped at 3 MB")
    monkeypatch.undo()
    caplog.clear()
    # exactly at the cap also counts as capped (and says so)
    with caplog.at_level(logging.INFO, logger="galaxy10.datasets.reader"):
        assert _slab_cache((10, 1), (244_032_233, 1), 1)[0] == MAX_CHUNK_CACHE_BYTES
    assert len(caplog.messages) == 1


def test_describe_file_lists_source_generator_metadata_and_counts(tmp_path):
    import h5py

    from galaxy10.core.classes import CLASS_NAMES, source_label
    from galaxy10.datasets.reader import describe_file

    path = write_h5(tmp_path / "d.h5", ans=np.array([0] * 3 + [9], np.uint8),
                    images=np.zeros((4, 8, 8, 3), np.uint8), ra=np.zeros(4), redshift=np.ones(4))
    with h5py.File(path, "a") as f:
        f.attrs.update({"galaxy10_source": "synthetic", "generator_version": 2,
                        "preset": "easy", "seed": 7})
    lines = describe_file(path).splitlines()
    assert lines[0] == str(path)
    assert lines[1] == f"  data source : {source_label('synthetic')}"
    assert lines[2] == "  images      : 4 x (8, 8, 3) uint8"
    assert lines[3] == "  generator   : version 2, preset easy, seed 7"
    assert lines[4] == "  metadata    : ra, redshift"
    assert lines[5] == "  layout      : contiguous, uncompressed; random single-image reads are fast"
    assert lines[6] == "  class                              count  share"
    assert lines[7] == f"  0 {CLASS_NAMES[0]:<31}      3   75.0%"
    assert lines[8] == f"  1 {CLASS_NAMES[1]:<31}      0    0.0%"
    assert lines[16] == f"  9 {CLASS_NAMES[9]:<31}      1   25.0%"
    assert len(lines) == 17
    plain = write_h5(tmp_path / "p.h5", n=1000, size=1)
    lines = describe_file(plain).splitlines()
    assert lines[2] == "  images      : 1,000 x (1, 1, 3) uint8"
    assert lines[3] == "  metadata    : none"  # no generator line for a foreign file
    assert lines[6] == f"  0 {CLASS_NAMES[0]:<31}    100   10.0%"
