"""The train command, the benchmark commands (on small data), and tf.distribute."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.cli import main


@pytest.mark.slow
def test_train_command_makes_a_bundle_the_button_can_use(tmp_path, model_bundle, capsys):
    out = tmp_path / "mine.keras"
    assert main(["train", "--data", str(model_bundle["data"]), "--out", str(out),
                 "--profile", "smoke"]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "balanced accuracy" in text and out.is_file()
    assert "device: CPU" in text and "epoch 1/1" in captured.err  # where, and how far along
    params = json.loads(out.with_suffix(".json").read_text())
    assert params["kind"] == "galaxy" and params["tta"] is True and params["test_rows"]
    from galaxy10.widget import button_from_model

    button = button_from_model(out, seed=0)
    assert button.show_random() in set(params["test_rows"])


@pytest.mark.slow
def test_bench_memory_runs_every_path_in_its_own_process(model_bundle):
    from galaxy10 import bench

    results = bench.bench_memory(model_bundle["data"])
    assert set(results) == set(bench.MEMORY_PATHS)
    for r in results.values():
        assert "error" not in r, r
        assert r["peak_rss_mb"] > 10 and r["seconds"] > 0 and r["images"] > 0
    assert results["c_all_128px_rgb_cache"]["result_shape"] == [300, 128, 128, 3]
    table = bench.format_memory(results)
    assert "a_original_load_all" in table and "x (a)" in table


@pytest.mark.slow
def test_bench_button_and_inference(model_bundle, tmp_path):
    from galaxy10 import bench

    r = bench.bench_button(model_bundle["model"], clicks=5)
    assert r["click_median_ms"] > 0 and r["click_p95_ms"] >= r["click_median_ms"]
    inf = bench.bench_inference(model_bundle["models_dir"], n=16, batch_size=8)
    assert inf["galaxy_cnn"]["model_images_per_s"] > 0
    assert "error" in inf["seed_cnn"]  # no seed model in this folder: said, not crashed
    path = bench.record("button", r, tmp_path / "benchmarks.json")
    doc = json.loads(path.read_text())
    assert doc["button"]["machine"]["cpu_cores"] >= 1


def test_model_trains_one_step_under_mirrored_strategy():
    import tensorflow as tf

    from galaxy10.models import build_galaxy_cnn

    strategy = tf.distribute.MirroredStrategy()
    with strategy.scope():
        model = build_galaxy_cnn((16, 16, 3), filters=(4, 8), seed=0)
    x = np.random.default_rng(0).integers(0, 255, (8, 16, 16, 3), dtype=np.uint8)
    y = np.arange(8) % 10
    before = [w.copy() for w in model.get_weights()]
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert strategy.num_replicas_in_sync >= 1
