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
    assert params["kind"] == "galaxy" and params["tta"] is True
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import make_splits

    with Galaxy10File(model_bundle["data"]) as f:
        seed_faithful = make_splits(f.labels).test
    assert params["test_rows"] == seed_faithful.tolist()  # the seed-faithful test rows, held out
    from galaxy10.app.widget import button_from_model

    button = button_from_model(out, seed=0)
    assert button.show_random() in set(params["test_rows"])


@pytest.mark.slow
def test_bench_memory_streamed_paths_stay_below_the_load_all_path(tmp_path):
    from conftest import write_h5

    from galaxy10.bench.memory import MEMORY_PATHS, bench_memory, format_memory

    # 1,500 images of 256 px: 295 MB of pixels, enough to dwarf the interpreter's own memory
    n = 1500
    data = write_h5(tmp_path / "big.h5", n=n, size=256)
    file_mb = n * 256 * 256 * 3 / 2**20
    results = bench_memory(data)
    assert set(results) == set(MEMORY_PATHS)
    for r in results.values():
        assert "error" not in r, r
        assert r["peak_rss_mb"] >= r["rss_before_mb"] > 10 and r["seconds"] > 0
        assert r["images"] == n  # labels 0-9 equally often: undersampling keeps every row
    load_all = results["a_original_load_all"]
    assert load_all["peak_rss_mb"] - load_all["rss_before_mb"] > file_mb  # it holds the file
    for name in ("b_seed_streamed", "c_all_64px_grey_cache", "c_all_128px_rgb_cache"):
        # bounded memory: one batch at a time, far below the load-all path (measured here:
        # 400 MB or less against 770 MB). Run inside a large test session, this also checks
        # that a path's peak is its own, not the forking parent's (ru_maxrss would be that)
        assert results[name]["peak_rss_mb"] < load_all["peak_rss_mb"] - file_mb / 2, results
    assert results["c_all_128px_rgb_cache"]["result_shape"] == [n, 128, 128, 3]
    table = format_memory(results)
    assert "a_original_load_all" in table and "x (a)" in table


@pytest.mark.slow
def test_bench_button_and_inference(model_bundle, tmp_path):
    from galaxy10.bench.inference import bench_button, bench_inference
    from galaxy10.bench.records import record

    r = bench_button(model_bundle["model"], clicks=5)
    assert r["click_median_ms"] > 0 and r["click_p95_ms"] >= r["click_median_ms"]
    inf = bench_inference(model_bundle["models_dir"], n=16, batch_size=8)
    assert inf["galaxy_cnn"]["model_images_per_s"] > 0
    assert "error" in inf["seed_cnn"]  # no seed model in this folder: said, not crashed
    path = record("button", r, tmp_path / "benchmarks.json")
    doc = json.loads(path.read_text())
    assert doc["button"]["machine"]["cpu_cores"] >= 1


# Run in a fresh process: TensorFlow's logical devices can only be configured before it starts.
MIRRORED = r"""
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from galaxy10.modeling.models import build_galaxy_cnn

devices = [d.name for d in tf.config.list_logical_devices("CPU")]
strategy = tf.distribute.MirroredStrategy(devices)
with strategy.scope():
    mirrored = build_galaxy_cnn((16, 16, 3), filters=(4, 8), dropout=0.0, seed=0)
    mirrored.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
single = build_galaxy_cnn((16, 16, 3), filters=(4, 8), dropout=0.0, seed=0)
single.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
single.set_weights(mirrored.get_weights())
before = [w.copy() for w in single.get_weights()]
# each replica gets one half of the batch of 8; identical halves give each replica the
# batch-norm statistics of the whole batch, so one mirrored step must equal one plain step
half = np.random.default_rng(0).integers(0, 255, (4, 16, 16, 3), dtype=np.uint8)
x, y = np.concatenate([half, half]), np.array([0, 3, 5, 9] * 2)
losses = [m.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"][0]
          for m in (mirrored, single)]
after = [mirrored.get_weights(), single.get_weights()]
print("RESULT " + json.dumps({
    "devices": len(devices), "replicas": strategy.num_replicas_in_sync, "losses": losses,
    "changed": max(float(np.abs(a - b).max()) for a, b in zip(after[0], before)),
    "max_diff": max(float(np.abs(a - b).max()) for a, b in zip(*after))}))
"""


@pytest.mark.slow
def test_one_mirrored_step_on_two_devices_equals_one_plain_step(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    r = json.loads(lines[0][7:])
    assert r["devices"] == 2 and r["replicas"] == 2  # the batch really is split in two
    assert np.isfinite(r["losses"]).all() and r["losses"][0] == pytest.approx(r["losses"][1],
                                                                              rel=1e-5)
    assert r["changed"] > 1e-4  # the step trained the weights...
    assert r["max_diff"] < 1e-5  # ...exactly as one step on one device does
