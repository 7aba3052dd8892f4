"""The preprocessed cache: exact, reused when valid, rebuilt when corrupt or stale."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import write_h5

from galaxy10 import Galaxy10File
from galaxy10.modeling.cache import cached_images
from galaxy10.modeling.preprocess import ImageConfig, transform


def make(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (12, 64, 64, 3), dtype=np.uint8)
    path = write_h5(tmp_path / "src.h5", images=images, ans=np.arange(12, dtype=np.uint8) % 10)
    return path, images


def test_cache_equals_direct_transform_and_is_reused(tmp_path):
    path, images = make(tmp_path)
    cfg = ImageConfig(size=16, color="rgb", crop=0.5)
    rows = np.array([9, 2, 5, 0])
    with Galaxy10File(path) as f:
        first = cached_images(f, cfg, rows, cache_dir=tmp_path / "c", batch_size=3)
        np.testing.assert_array_equal(first, transform(images[rows], cfg))
        assert isinstance(first, np.memmap) and not first.flags.writeable
        npy = next((tmp_path / "c").glob("*.npy"))
        stamp = npy.stat().st_mtime_ns
        again = cached_images(f, cfg, rows, cache_dir=tmp_path / "c")
        np.testing.assert_array_equal(again, first)
        assert npy.stat().st_mtime_ns == stamp  # reused, not rebuilt
        other = cached_images(f, ImageConfig(size=8), rows, cache_dir=tmp_path / "c")
        assert other.shape == (4, 8, 8, 3) and len(list((tmp_path / "c").glob("*.npy"))) == 2


def test_corrupt_cache_is_rebuilt_not_trusted(tmp_path):
    path, images = make(tmp_path)
    cfg = ImageConfig(size=16)
    with Galaxy10File(path) as f:
        cached_images(f, cfg, cache_dir=tmp_path / "c")
        npy = next((tmp_path / "c").glob("*.npy"))
        data = bytearray(npy.read_bytes())
        data[-50:] = bytes(50)  # silent corruption in the pixel data
        npy.write_bytes(bytes(data))
        fixed = cached_images(f, cfg, cache_dir=tmp_path / "c")
        np.testing.assert_array_equal(fixed, transform(images, cfg))
        npy.write_bytes(npy.read_bytes()[:100])  # truncated
        np.testing.assert_array_equal(cached_images(f, cfg, cache_dir=tmp_path / "c"),
                                      transform(images, cfg))
        npy.with_suffix(".json").write_text("{not json")
        np.testing.assert_array_equal(cached_images(f, cfg, cache_dir=tmp_path / "c"),
                                      transform(images, cfg))


def test_a_valid_cache_is_trusted_by_its_stamp_without_hashing(tmp_path, monkeypatch):
    """Loading never reads the .npy to hash it; a resized or touched one is rebuilt."""
    import hashlib
    import os

    path, images = make(tmp_path)
    cfg = ImageConfig(size=16)
    real_sha256, hashed = hashlib.sha256, []

    class Counting:  # hashlib.sha256, counting the bytes it is given
        def __init__(self, data=b"", **kw):
            self._h = real_sha256(data, **kw)
            hashed.append(len(data))

        def update(self, data):
            hashed.append(len(data))
            self._h.update(data)

        def __getattr__(self, name):
            return getattr(self._h, name)

    with Galaxy10File(path) as f:
        cached_images(f, cfg, cache_dir=tmp_path / "c")
        npy = next((tmp_path / "c").glob("*.npy"))
        size = npy.stat().st_size
        monkeypatch.setattr(hashlib, "sha256", Counting)
        monkeypatch.setattr("pooch.file_hash", lambda *a, **k: hashed.append(size) or "x")
        for _ in range(3):
            cached_images(f, cfg, cache_dir=tmp_path / "c")
        assert sum(hashed) < size  # the cache's key only, never the .npy's bytes
        monkeypatch.undo()
        st = npy.stat()
        os.utime(npy, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # touched: rebuilt
        np.testing.assert_array_equal(cached_images(f, cfg, cache_dir=tmp_path / "c"),
                                      transform(images, cfg))
        assert npy.stat().st_mtime_ns != st.st_mtime_ns + 1
        rebuilt = npy.stat()
        npy.write_bytes(npy.read_bytes() + b"\0")  # resized, time put back: rebuilt
        os.utime(npy, ns=(rebuilt.st_atime_ns, rebuilt.st_mtime_ns))
        np.testing.assert_array_equal(cached_images(f, cfg, cache_dir=tmp_path / "c"),
                                      transform(images, cfg))
        assert npy.stat().st_size == size


@pytest.mark.parametrize("npy_bytes, record", [
    (b"", None),  # emptied: NumPy's EOFError
    (b"\x93NUMPY\x01\x00\x10\x00{'descr': '|u1',", None),  # header cut short
    (None, "[]"),  # a record that is JSON but not the record
    (None, "null"),
])
def test_a_damaged_cache_is_rebuilt_with_one_warning(tmp_path, npy_bytes, record, caplog):
    path, images = make(tmp_path)
    cfg = ImageConfig(size=16)
    with Galaxy10File(path) as f:
        cached_images(f, cfg, cache_dir=tmp_path / "c")
        npy = next((tmp_path / "c").glob("*.npy"))
        if npy_bytes is not None:
            npy.write_bytes(npy_bytes)
        if record is not None:
            npy.with_suffix(".json").write_text(record)
        with caplog.at_level("WARNING", logger="galaxy10.modeling.cache"):
            fixed = cached_images(f, cfg, cache_dir=tmp_path / "c")
        np.testing.assert_array_equal(fixed, transform(images, cfg))
        (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
        assert str(npy) in warning.getMessage() and "rebuilding" in warning.getMessage()
        stamp = npy.stat().st_mtime_ns
        cached_images(f, cfg, cache_dir=tmp_path / "c")
        assert npy.stat().st_mtime_ns == stamp  # the rebuilt cache is trusted again
