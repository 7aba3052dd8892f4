"""Choosing the data: real when downloaded, else the cached synthetic set, regenerated when stale."""

from __future__ import annotations

import h5py

from galaxy10 import Galaxy10File
from galaxy10.datasets.fetch import ensure_synthetic, resolve_data, synthetic_path


def test_auto_falls_back_to_synthetic_and_caches_it(tmp_path):
    path = resolve_data("auto", preset="tiny", seed=5, data_home=tmp_path, progress=False)
    assert path == synthetic_path("tiny", 5, tmp_path)
    with Galaxy10File(path) as f:
        assert f.source == "synthetic" and len(f) == 200
    stamp = path.stat().st_mtime_ns
    assert ensure_synthetic("tiny", 5, tmp_path, progress=False) == path
    assert path.stat().st_mtime_ns == stamp  # reused


def test_stale_or_broken_synthetic_file_is_regenerated(tmp_path):
    path = ensure_synthetic("tiny", 1, tmp_path, progress=False)
    with h5py.File(path, "r+") as f:
        f.attrs["generator_version"] = "0.0"
    ensure_synthetic("tiny", 1, tmp_path, progress=False)
    with Galaxy10File(path) as f:
        assert f.attrs["generator_version"] != "0.0"
    path.write_bytes(b"<html>oops</html>")
    ensure_synthetic("tiny", 1, tmp_path, progress=False)
    with Galaxy10File(path) as f:
        assert len(f) == 200


def test_a_path_is_used_as_given(tmp_path):
    assert resolve_data(tmp_path / "mine.h5") == tmp_path / "mine.h5"
