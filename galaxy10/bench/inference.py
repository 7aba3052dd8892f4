"""``bench inference`` (batch images/s of the saved models) and ``bench button`` (click latency)."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np


def bench_inference(models_dir: str | os.PathLike[str] | None = None, n: int = 512,
                    batch_size: int = 256) -> dict[str, Any]:
    """Batch inference images/s of each saved model, on its own input and end to end."""
    from galaxy10.core.paths import find_models_home
    from galaxy10.modeling.predict import Predictor

    folder = find_models_home(models_dir)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 60, size=(n, 256, 256, 3), dtype=np.uint8)
    out = {}
    for name in ("seed_cnn", "galaxy_cnn"):
        path = folder / f"{name}.keras"
        if not path.is_file():
            out[name] = {"error": f"{path} not found (run notebook 04 first)"}
            continue
        pred = Predictor(path)
        x = pred.preprocess(images)
        pred.model.predict_on_batch(x[:batch_size])  # warm up
        start = time.perf_counter()
        for i in range(0, n, batch_size):
            pred.model.predict_on_batch(x[i:i + batch_size])
        model_only = n / (time.perf_counter() - start)
        start = time.perf_counter()
        pred.predict_proba(images, batch_size=batch_size)
        end_to_end = n / (time.perf_counter() - start)
        out[name] = {"model_images_per_s": model_only, "end_to_end_images_per_s": end_to_end,
                     "tta_views": 8 if pred.tta else 1, "input": list(x.shape[1:])}
    return out


def bench_button(model_path: str | os.PathLike[str] | None = None, clicks: int = 50,
                 overlay: bool = False) -> dict[str, Any]:
    """Click-to-result latency of the button (median, p95) and single-image predict time.

    ``overlay`` turns on the Grad-CAM "show where the model looked" toggle first.
    """
    from galaxy10.app.widget import button_from_model

    button = button_from_model(model_path, seed=0)
    button.show_map.value = bool(overlay)
    button.show_random()  # warm: first call builds the TensorFlow graph
    times = []
    for _ in range(clicks):
        start = time.perf_counter()
        button.button.click()
        times.append(time.perf_counter() - start)
    image = button.galaxies.image(int(button.rows[0]))
    single = []
    for _ in range(clicks):
        start = time.perf_counter()
        button.predictor.predict_proba(image[None])
        single.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {"model": button.predictor.name, "clicks": clicks,
            "click_median_ms": float(np.median(ms)), "click_p95_ms": float(np.percentile(ms, 95)),
            "predict_one_median_ms": float(np.median(single) * 1000),
            "tta_views": 8 if button.predictor.tta else 1, "overlay": bool(overlay)}


def format_inference(results: dict[str, Any]) -> str:
    """``bench inference``'s lines: one per model, its figures as ``name=value``."""
    return "\n".join(f"{name:<12} " + "  ".join(f"{k}={v:.0f}" if isinstance(v, float) else
                                                f"{k}={v}" for k, v in r.items())
                     for name, r in results.items())


def format_button(r: dict[str, Any]) -> str:
    """``bench button``'s line: click-to-result median and p95, and one-image predict time."""
    return (f"button ({r['model']}, {r['tta_views']} view(s), overlay "
            f"{'on' if r['overlay'] else 'off'}): click-to-result median "
            f"{r['click_median_ms']:.1f} ms, p95 {r['click_p95_ms']:.1f} ms over "
            f"{r['clicks']} clicks; one-image predict {r['predict_one_median_ms']:.1f} ms")
