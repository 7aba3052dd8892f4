"""``bench classify``: the generated catalogue, and the benchmark from its row, tiny."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from galaxy10.bench.classify import make_catalogue


def test_the_catalogue_is_tiled_synthetic_galaxies_under_their_own_names(tmp_path):
    from galaxy10.datasets.reader import Galaxy10File

    paths = make_catalogue(tmp_path, n=10, shards=3, unique=3)
    assert [p.name for p in paths] == ["shard_000.h5", "shard_001.h5", "shard_002.h5"]
    sizes = []
    for path in paths:
        with Galaxy10File(path) as f:
            sizes.append(len(f))
            images = f.read(np.arange(len(f)))
        if len(images) == 4:
            np.testing.assert_array_equal(images[3], images[0])  # three galaxies, tiled
    assert sizes == [4, 4, 2]
    assert paths[0].stat().st_ino == paths[1].stat().st_ino  # one file on disk, two names


def test_the_benchmark_runs_from_its_row(tmp_path, model_bundle):
    done = subprocess.run(
        [sys.executable, "-m", "galaxy10", "bench", "classify", "--model",
         str(model_bundle["model"]), "--n", "48", "--shards", "3", "--cores", "1,2",
         "--batch-size", "16", "--workdir", str(tmp_path), "--reports-dir",
         str(tmp_path / "reports"), "-q"], capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})  # keras' import in this process set 2
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| end to end / forward |" in done.stdout and done.stderr == ""
    r = json.loads((tmp_path / "reports" / "benchmarks.json").read_text())["classify"]
    assert (r["images"], r["shards"], r["batch_size"]) == (48, 3, 16)
    assert set(r["forward_images_per_s"]) == set(r["end_to_end_images_per_s"]) == {"1", "8"}
    for views, pair in r["forward_before_after"].items():  # timed just before and after
        assert len(pair) == 2 and min(pair) > 0
        assert r["end_to_end_vs_forward"][views] == pytest.approx(
            r["end_to_end_images_per_s"][views] / np.mean(pair))
    assert all(v > 0 for v in r["end_to_end_images_per_s"].values())
    sizes = {"1", "2"} if r["cores_available"] >= 2 else {"1"}
    assert set(r["dask"]) == sizes and r["speedup_vs_one_core"]["1"] == 1.0
    assert r["peak_rss_mb_per_worker"] > 100 and r["dask_cores_compared"] == len(sizes)
    if len(sizes) == 2:  # Dask's own cost: one worker with every core's threads
        one = r["dask_one_worker"]
        assert (one["workers"], one["threads"]) == (1, 2) and one["images_per_s"] > 0
        assert r["dask_one_worker_vs_single"] > 0
        assert "1 worker of 2 threads / one process" in done.stdout
    if r["cores_available"] == len(sizes):  # the default run (a worker per core) was timed
        assert r["default_workers"] == r["cores_available"]
        default = r["dask"][str(r["cores_available"])]
        assert r["default_vs_forward"] == pytest.approx(
            default["images_per_s"] / np.mean(default["forward_before_after"]))
        assert "as classify runs by default" in done.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]  # the catalogue is removed


def test_bad_sizes_and_a_missing_model_are_one_line(tmp_path):
    for args, text in ((["--n", "2", "--shards", "3"], "--shards 3: more shards than the 2"),
                       (["--model", str(tmp_path / "none.keras")], "none.keras: model file not found")):
        done = subprocess.run([sys.executable, "-m", "galaxy10", "bench", "classify", *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and text in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
