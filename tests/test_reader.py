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
        assert f.source == "real"  # no galaxy10 attribute: a foreign (real) file
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
    "directory": (lambda d: d, "is a directory"),
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
        code = "import os\nfrom galaxy10.reader import Galaxy10File\n"
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
