"""Benchmarks: commands that print figures (never timed unit tests).

* ``memory``: peak RSS and wall time of each data path, each in a fresh subprocess:
  (a) the original's way (read all ``images`` into memory, then select and preprocess);
  (b) the package's seed-faithful preprocessing of the undersampled rows, streamed;
  (c) all rows to 64 px grey and to 128 px RGB, streamed into the uint8 cache.
* ``inference``: batch inference images/s of the saved models.
* ``button``: click-to-result latency of the prediction button (model warm).
* ``layout``: the reader's speed over four HDF5 layouts (contiguous, per-image chunks,
  per-image gzip, h5py's automatic gzip chunks): one random image, a bulk read of 150 random
  rows, a full pass. The figure to watch is ``ratio_bulk_default_vs_per_image_gzip``.
* ``real``: every model cross-validated on real images, and scored under other sources' shifts.
* ``accuracy``: the seed-faithful CNN and the modern CNN trained on the same split and scored
  on the same held-out images, on the synthetic set and on a folder of real images.
* ``pipeline``: images/s of the NumPy augmentation and of the ``tf.data`` (device) pipeline,
  alone and inside one training epoch.

Results are printed as a table and merged into ``reports/benchmarks.json`` with a description
of the machine, so a figure always says where it was measured.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.profiles import Profile


def machine() -> dict[str, Any]:
    """Cores, memory and software of this machine, stored with every benchmark."""
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem = float("nan")
    return {"cpu_cores": os.cpu_count(), "memory_gib": round(mem, 1),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "platform": platform.platform()}


def record(section: str, values: dict[str, Any], path: str | os.PathLike[str] | None = None
           ) -> Path:
    """Merge ``values`` (with the machine's description) into ``reports/benchmarks.json``.

    Raises
    ------
    BenchmarkError
        If any measurement in ``values`` failed (an ``"error"`` entry): earlier figures are
        kept rather than replaced by error entries.
    """
    from galaxy10.core.paths import get_reports_home
    from galaxy10.reporting.metrics import update_metrics

    failed = _failures(values)
    if failed:
        raise BenchmarkError(f"{section} benchmark failed ({'; '.join(failed[:3])}); "
                             "nothing recorded, earlier figures are kept")
    path = Path(path) if path else get_reports_home() / "benchmarks.json"
    return update_metrics(path, section, {"machine": machine(),
                                          "measured": time.strftime("%Y-%m-%d %H:%M"), **values})


class BenchmarkError(Galaxy10Error):
    """A benchmark could not measure something; its figures are not recorded."""


def _failures(values: Any, where: str = "") -> list[str]:
    """``"name: error"`` for every nested dict that carries an ``"error"`` entry."""
    if not isinstance(values, dict):
        return []
    if "error" in values:
        return [f"{where or 'run'}: {values['error']}"]
    return [f for key, value in values.items() for f in _failures(value, str(key))]


def _peak_rss_mb() -> float:
    """Peak resident memory of this process in MB, since it started its program.

    Linux's ``ru_maxrss`` keeps the high-water mark of the process that forked this one (the
    memory it had at the fork survives ``exec``), so a benchmark started from a large process
    (a test session with TensorFlow loaded) would report that process's memory. ``VmHWM``
    belongs to the current program only; ``ru_maxrss`` is the fallback elsewhere.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# -- memory paths (each runs in its own process) --------------------------------------------
def _path_original(data: str, cache_dir: str) -> dict[str, Any]:
    """(a) The original: read every image into memory, then undersample and preprocess."""
    import h5py

    from galaxy10.datasets.resample import make_splits
    from galaxy10.modeling.preprocess import seed_features

    with h5py.File(data, "r") as f:
        images = f["images"][()]  # the whole file, as the original did
        labels = f["ans"][()]
    splits = make_splits(labels)
    rows = np.concatenate([splits.seed_train, splits.test])
    selected = images[rows]  # the original's copy of the kept rows
    feats = seed_features(selected)
    return {"images": int(rows.size), "result_shape": list(feats.shape)}


def _path_seed_streamed(data: str, cache_dir: str) -> dict[str, Any]:
    """(b) The package's seed-faithful features of the undersampled rows, streamed."""
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import make_splits
    from galaxy10.modeling.preprocess import seed_features_from_file

    with Galaxy10File(data) as f:
        splits = make_splits(f.labels)
        rows = np.concatenate([splits.seed_train, splits.test])
        feats = seed_features_from_file(f, rows)
    return {"images": int(rows.size), "result_shape": list(feats.shape)}


def _path_cache(data: str, cache_dir: str, size: int, color: str) -> dict[str, Any]:
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.cache import cached_images
    from galaxy10.modeling.preprocess import ImageConfig

    with Galaxy10File(data) as f:
        arr = cached_images(f, ImageConfig(size=size, color=color), cache_dir=cache_dir)
        return {"images": int(len(arr)), "result_shape": list(arr.shape)}


MEMORY_PATHS = {
    "a_original_load_all": lambda d, c: _path_original(d, c),
    "b_seed_streamed": lambda d, c: _path_seed_streamed(d, c),
    "c_all_64px_grey_cache": lambda d, c: _path_cache(d, c, 64, "grey"),
    "c_all_128px_rgb_cache": lambda d, c: _path_cache(d, c, 128, "rgb"),
}


def _worker(name: str, data: str, cache_dir: str) -> None:
    """Entry point of the child process: run one path, print its figures as JSON."""
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    out = MEMORY_PATHS[name](data, cache_dir)
    seconds = time.perf_counter() - start
    out.update(seconds=seconds, peak_rss_mb=_peak_rss_mb(), rss_before_mb=baseline,
               images_per_s=out["images"] / seconds)
    print("RESULT " + json.dumps(out))


def bench_memory(data: str | os.PathLike[str], paths: list[str] | None = None) -> dict[str, Any]:
    """Run each memory path in a fresh subprocess and collect its figures."""
    results = {}
    with tempfile.TemporaryDirectory(prefix="galaxy10-bench-") as cache_dir:
        for name in paths or list(MEMORY_PATHS):
            proc = subprocess.run([sys.executable, "-m", "galaxy10.bench", name, os.fspath(data),
                                   cache_dir], capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode != 0 or not line:
                results[name] = {"error": (proc.stderr.strip().splitlines() or ["?"])[-1],
                                 "returncode": proc.returncode}
            else:
                results[name] = json.loads(line[0][7:])
    return results


def format_memory(results: dict[str, Any]) -> str:
    """The memory benchmark as a text table, with the targets checked."""
    lines = [f"{'path':<26} {'images':>7} {'peak RSS':>10} {'wall':>8} {'images/s':>9}"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:<26} failed: {r['error']}")
            continue
        lines.append(f"{name:<26} {r['images']:>7,} {r['peak_rss_mb']:>8,.0f}MB "
                     f"{r['seconds']:>7.1f}s {r['images_per_s']:>9,.0f}")
    a = results.get("a_original_load_all", {}).get("peak_rss_mb")
    if a:
        for name, r in results.items():
            if name != "a_original_load_all" and "peak_rss_mb" in r:
                lines.append(f"  {name}: peak RSS {r['peak_rss_mb'] / a:.2f} x (a)")
    return "\n".join(lines)


# -- inference and the button -----------------------------------------------------------------
def bench_inference(models_dir: str | os.PathLike[str] | None = None, n: int = 512,
                    batch_size: int = 256) -> dict[str, Any]:
    """Batch inference images/s of each saved model, on its own input and end to end."""
    from galaxy10.core.paths import get_models_home
    from galaxy10.modeling.predict import Predictor

    folder = get_models_home(models_dir)
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


# -- accuracy: the seed CNN and the modern CNN on the same split ------------------------------
def _timed_predict(fn, x) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(x)
    return out, len(x) / (time.perf_counter() - start)


def compare(galaxies, seed_train: np.ndarray, all_train: np.ndarray,
            test: np.ndarray, profile: Profile, seed: int = 0,
            cache_dir: str | os.PathLike[str] | None = None,
            models_out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train the seed CNN and the modern CNN and score both on ``test``.

    The models are scored as they come out of training; both bundles are saved only when
    ``models_out`` names a folder (``result["bundles"]`` then holds their paths), and the
    trained modern CNN is returned as ``result["galaxy_predictor"]`` for further scoring.
    """
    from galaxy10.evaluation.evaluate import evaluate_predictions
    from galaxy10.modeling.predict import Predictor, save_bundle
    from galaxy10.modeling.preprocess import SEED_CONFIG
    from galaxy10.modeling.train import train_galaxy, train_seed_cnn

    test_images = galaxies.read(test)
    y_test = galaxies.labels[test].astype(np.int64)
    seed_model, scaler, seed_seconds = train_seed_cnn(galaxies, seed_train, profile, seed)
    galaxy_model, config, history = train_galaxy(galaxies, all_train, profile, seed, cache_dir)
    seed_pred = Predictor.in_memory(seed_model, kind="seed", config=SEED_CONFIG, scaler=scaler,
                                    name="seed_cnn")
    galaxy_pred = Predictor.in_memory(galaxy_model, kind="galaxy", config=config, tta=True,
                                      name="galaxy_cnn")
    bundles = {}
    if models_out is not None:
        folder = Path(models_out)
        facts = {"path": os.fspath(galaxies.path), "source": galaxies.source,
                 "n_images": len(galaxies)}
        test_rows = np.asarray(test).tolist()
        bundles["seed_cnn"] = os.fspath(save_bundle(
            seed_model, folder / "seed_cnn.keras", kind="seed", config=SEED_CONFIG,
            scaler=scaler, data=facts, test_rows=test_rows))
        bundles["galaxy_cnn"] = os.fspath(save_bundle(
            galaxy_model, folder / "galaxy_cnn.keras", kind="galaxy", config=config, tta=True,
            data=facts, test_rows=test_rows, history=history))
        from galaxy10.modeling.calibrate import calibrate_from_training  # T and threshold: validation

        calibrate_from_training(bundles["galaxy_cnn"], galaxies, np.sort(all_train), config,
                                history, cache_dir)
    rows = {}
    for name, pred, seconds, n_train in (
            ("seed_cnn", seed_pred, seed_seconds, len(seed_train)),
            ("galaxy_cnn", galaxy_pred, history["seconds"], len(all_train))):
        probs, rate = _timed_predict(pred.predict_proba, test_images)
        rows[name] = {**evaluate_predictions(y_test, probs, profile.bootstrap, seed),
                      "train_seconds": seconds, "n_train": int(n_train),
                      "inference_images_per_s": rate, "probabilities": probs}
    no_tta = Predictor.in_memory(galaxy_model, kind="galaxy", config=config, tta=False)
    probs, rate = _timed_predict(no_tta.predict_proba, test_images)
    rows["galaxy_cnn_no_tta"] = {**evaluate_predictions(y_test, probs, profile.bootstrap, seed),
                                 "train_seconds": history["seconds"], "n_train": len(all_train),
                                 "inference_images_per_s": rate}
    for row in rows.values():
        row.pop("probabilities", None)
    ratio = rows["galaxy_cnn"]["balanced_accuracy"] / max(rows["seed_cnn"]["balanced_accuracy"],
                                                          1e-9)
    return {"models": rows, "ratio_balanced_accuracy_new_over_seed": ratio,
            "profile": profile.to_dict(), "n_test": int(len(test)), "bundles": bundles,
            "galaxy_history": history, "galaxy_predictor": galaxy_pred}


def format_table(result: dict[str, Any], title: str) -> str:
    """The comparison as a text table."""
    lines = [title, f"{'model':<20} {'acc':>6} {'bal.acc':>8} {'95% CI':>13} {'macroF1':>8} "
                    f"{'train s':>8} {'infer/s':>8}"]
    for name, r in result["models"].items():
        lo, hi = r["balanced_accuracy_ci95"]
        lines.append(f"{name:<20} {r['accuracy']:>6.3f} {r['balanced_accuracy']:>8.3f} "
                     f"{lo:>6.3f}-{hi:<6.3f} {r['macro_f1']:>8.3f} {r['train_seconds']:>8.0f} "
                     f"{r['inference_images_per_s']:>8.0f}")
    lines.append(f"balanced accuracy new/seed: {result['ratio_balanced_accuracy_new_over_seed']:.2f}x"
                 f" (n_test = {result['n_test']})")
    return "\n".join(lines)


def bench_accuracy(data: str | os.PathLike[str], profile: Profile, *, seed: int = 0,
                   real_sample: str | os.PathLike[str] | None = None,
                   models_out: str | os.PathLike[str] | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """``bench accuracy``: both models on ``data``'s seed-faithful split, then on real images.

    With labelled real images (``real_sample``: a folder or a Galaxy10 file; None: the
    default real sample, skipped with a note when there is none), both models are also
    trained and tested on its fixed stratified 80/20 split (``random_state=101``), and the
    modern CNN trained on ``data`` is scored on every real image (sim-to-real).
    Returns the ``bench_accuracy_<profile>`` section of the metrics.
    """
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import make_splits, split_indices
    from galaxy10.evaluation.evaluate import evaluate_on_file

    say = print if progress else (lambda *a, **k: None)
    report: dict[str, Any] = {"profile": profile.name}
    with Galaxy10File(data) as f:
        splits = make_splits(f.labels)
        result = compare(f, splits.seed_train, splits.all_train, splits.test, profile,
                         seed=seed, models_out=models_out)
        synthetic_predictor = result.pop("galaxy_predictor")
        say(format_table(result, f"== {Path(data).name}: {f.source} data, same split, "
                                 f"{len(splits.test)} test images =="), flush=True)
        report["main"] = {"data": os.fspath(data), "source": f.source, **result}
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.datasets.importer import labelled_images_h5

    with tempfile.TemporaryDirectory() as tmp:
        try:
            real_h5 = labelled_images_h5(real_sample, tmp)
        except Galaxy10Error as exc:
            say(f"(skipped the real-pixel comparison: {exc})")
            return report
        with Galaxy10File(real_h5) as f:
            train, test = split_indices(np.arange(len(f)), f.labels)  # stratified 80/20, 101
            real_result = compare(f, train, train, test, profile, seed=seed, cache_dir=tmp)
            real_result.pop("galaxy_predictor")
            say(format_table(real_result, f"== real sample ({len(f)} images), fixed "
                                          "stratified 80/20 split, random_state=101 =="))
            report["real_sample"] = {"split": "stratified 80/20, random_state=101",
                                     **real_result}
            s2r = evaluate_on_file(synthetic_predictor, f, profile.bootstrap, seed)
            say(f"== sim-to-real: modern CNN trained on {Path(data).name}, tested on all "
                f"{len(f)} real images: accuracy {s2r['accuracy']:.3f}, balanced "
                f"accuracy {s2r['balanced_accuracy']:.3f} (chance 0.100) ==")
            report["sim_to_real"] = s2r
    return report


# -- real images: cross-validation of every model, and robustness to other sources ------------
def _summary(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation over folds (sd 0 for one fold)."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0}


def bench_real(real_h5: str | os.PathLike[str], profile: Profile, *,
               init: str | os.PathLike[str] | None = None, seed: int = 0,
               folds: int | None = None, shifts: bool = True,
               finetune_jitters: dict[str, dict[str, Any]] | None = None,
               scratch_jitter: dict[str, Any] | None = None,
               say=print) -> dict[str, Any]:
    """Stratified k-fold CV of every model on a file of real images, and their robustness.

    Folds keep each group of (near) duplicate images together
    (:func:`galaxy10.datasets.audit.duplicate_groups`), so no test image has a copy in training.

    On each fold, trained on the fold's training images under the profile's budget rules:
    the seed CNN (seed recipe), the modern CNN from scratch, and (with ``init``, a
    synthetic-pre-trained bundle) the modern CNN fine-tuned from it, once per named
    augmentation in ``finetune_jitters`` (default ``{"robust": ROBUST_JITTER}``, the recipe of
    ``train --init``; the model is called
    ``galaxy_cnn_finetuned`` for "none", else ``galaxy_cnn_finetuned_<name>``). Each is scored
    on the fold's test images as they are and after each change in
    :data:`galaxy10.modeling.shifts.SHIFTS`.

    Returns
    -------
    dict
        The ``real_cv`` section: per model the mean and sd over folds of balanced accuracy
        and macro-F1, per-class recall, training seconds, and per shift the balanced
        accuracy; plus the folds' raw figures.
    """
    import tempfile

    from sklearn.model_selection import StratifiedGroupKFold

    from galaxy10.core.classes import CLASS_NAMES
    from galaxy10.datasets.audit import duplicate_groups
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.evaluation.evaluate import evaluate_predictions
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.preprocess import SEED_CONFIG
    from galaxy10.modeling.shifts import SHIFTS, apply_shift
    from galaxy10.modeling.train import finetune_from_bundle, train_galaxy, train_seed_cnn

    started = time.time()
    n_folds = int(folds or profile.cv_folds)
    if finetune_jitters is None:
        from galaxy10.modeling.augment import ROBUST_JITTER

        finetune_jitters = {"robust": ROBUST_JITTER}
    tuned = {("galaxy_cnn_finetuned" if key == "none" else f"galaxy_cnn_finetuned_{key}"): jit
             for key, jit in finetune_jitters.items()} if init is not None else {}
    models = ["seed_cnn", "galaxy_cnn_scratch", *tuned]
    per_fold: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    with Galaxy10File(real_h5) as f, tempfile.TemporaryDirectory() as cache_dir:
        labels = f.labels.astype(np.int64)
        images = f.read(np.arange(len(f)))
        # (near) duplicates stay on one side of every split: a copy in training would leak
        groups = duplicate_groups(real_h5)
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        for k, (train, test) in enumerate(splitter.split(np.zeros(len(labels)), labels,
                                                         groups)):
            views = {"unshifted": images[test]}
            if shifts:
                views.update({name: apply_shift(images[test], name, seed=seed + k)
                              for name in SHIFTS})
            for name in models:
                start = time.perf_counter()
                if name == "seed_cnn":
                    model, scaler, _ = train_seed_cnn(f, train, profile, seed + k)
                    predictor = Predictor.in_memory(model, kind="seed", config=SEED_CONFIG,
                                                    scaler=scaler)
                elif name == "galaxy_cnn_scratch":
                    model, config, _ = train_galaxy(f, train, profile, seed + k, cache_dir,
                                                    jitter=scratch_jitter)
                    predictor = Predictor.in_memory(model, kind="galaxy", config=config, tta=True)
                else:
                    model, config, _, _ = finetune_from_bundle(init, f, train, profile, seed + k,
                                                               cache_dir, jitter=tuned[name])
                    predictor = Predictor.in_memory(model, kind="galaxy", config=config, tta=True)
                seconds = time.perf_counter() - start
                # the spread over folds is the uncertainty here: no bootstrap per fold
                scores = evaluate_predictions(labels[test], predictor.predict_proba(
                    views["unshifted"]), n_boot=1, seed=seed)
                row = {"balanced_accuracy": scores["balanced_accuracy"],
                       "macro_f1": scores["macro_f1"], "train_seconds": seconds,
                       "recall": [scores["per_class"][c]["recall"] for c in CLASS_NAMES],
                       "shifts": {}}
                for shift, shifted in views.items():
                    if shift != "unshifted":
                        pred = predictor.predict_proba(shifted).argmax(axis=1)
                        row["shifts"][shift] = evaluate_predictions(
                            labels[test], pred, n_boot=1, seed=seed)["balanced_accuracy"]
                per_fold[name].append(row)
                say(f"fold {k + 1}/{n_folds} {name:<22} balanced accuracy "
                    f"{row['balanced_accuracy']:.3f}"
                    + (f", under shifts {np.mean(list(row['shifts'].values())):.3f}"
                       if row["shifts"] else "") + f" ({seconds:.0f} s)", flush=True)
                del model, predictor
    out: dict[str, Any] = {"n_images": int(len(labels)), "folds": n_folds,
                           "cv": f"StratifiedGroupKFold({n_folds}, shuffle=True, "
                                 f"random_state={seed}), duplicate groups kept together",
                           "duplicate_rows": int(len(groups) - len(np.unique(groups))),
                           "profile": profile.name, "init": os.fspath(init) if init else None,
                           "finetune_jitters": tuned, "scratch_jitter": scratch_jitter,
                           "model_order": models, "models": {}}
    for name, rows in per_fold.items():
        summary: dict[str, Any] = {
            key: _summary([r[key] for r in rows])
            for key in ("balanced_accuracy", "macro_f1", "train_seconds")}
        summary["recall"] = dict(zip(CLASS_NAMES, np.mean([r["recall"] for r in rows],
                                                          axis=0).tolist(), strict=True))
        if rows[0]["shifts"]:
            by_shift = {s: _summary([r["shifts"][s] for r in rows]) for s in rows[0]["shifts"]}
            mean_shifted = float(np.mean([v["mean"] for v in by_shift.values()]))
            worst = min(by_shift, key=lambda s: by_shift[s]["mean"])
            summary["shift"] = {"by_shift": by_shift, "mean": mean_shifted,
                                "relative": mean_shifted / max(
                                    summary["balanced_accuracy"]["mean"], 1e-9),
                                "worst": worst, "worst_mean": by_shift[worst]["mean"]}
        summary["folds"] = rows
        out["models"][name] = summary
    from galaxy10.reporting.metrics import provenance

    out["provenance"] = provenance(started)
    return out


def format_real_cv(result: dict[str, Any]) -> str:
    """``bench real``'s table: mean +- sd over folds, and the mean under shifts."""
    lines = [f"== real images, {result['n_images']} in {result['folds']}-fold CV "
             f"({result['cv']}), profile {result['profile']} ==",
             f"{'model':<22} {'bal.acc':>15} {'macro F1':>15} {'train s':>9} "
             f"{'shifted':>8} {'worst shift':>22}"]
    for name in result.get("model_order", result["models"]):
        r = result["models"][name]
        ba, f1, sec = r["balanced_accuracy"], r["macro_f1"], r["train_seconds"]
        shift = r.get("shift")
        tail = (f"{shift['mean']:>8.3f} {shift['worst']:>14} {shift['worst_mean']:.3f}"
                if shift else "")
        lines.append(f"{name:<22} {ba['mean']:>7.3f} +- {ba['sd']:.3f} {f1['mean']:>7.3f} +- "
                     f"{f1['sd']:.3f} {sec['mean']:>9.0f} {tail}")
    return "\n".join(lines)


# -- HDF5 layouts: how chunking and compression change the reader's speed --------------------
LAYOUTS: dict[str, dict[str, Any]] = {
    "contiguous": {},
    "per_image_chunks": {"chunks": "image"},
    "per_image_gzip": {"chunks": "image", "compression": "gzip", "compression_opts": 4,
                       "shuffle": True},
    "default_gzip": {"chunks": True, "compression": "gzip", "compression_opts": 4,
                     "shuffle": True},
}
"""h5py ``create_dataset`` options of each layout; ``"image"`` means ``(1, H, W, 3)``."""


def write_layouts(folder: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray
                  ) -> dict[str, Path]:
    """Write ``images`` and ``labels`` once per layout of :data:`LAYOUTS` into ``folder``.

    Returns the file of each layout by name. The files are scratch files of the benchmark
    and the tests, so they are written directly (not atomically).
    """
    import h5py

    folder = Path(folder)
    paths = {}
    for name, options in LAYOUTS.items():
        opts = dict(options)
        if opts.get("chunks") == "image":
            opts["chunks"] = (1, *images.shape[1:])
        path = folder / f"{name}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("images", data=images, **opts)
            f.create_dataset("ans", data=labels.astype(np.uint8))
        paths[name] = path
    return paths


def _read_runs_default_cache(path: Path, rows: np.ndarray) -> None:
    """The reader before it was chunk-aware: HDF5's 1 MiB cache, one read per run of rows."""
    import h5py

    unique = np.unique(rows)
    breaks = np.flatnonzero(np.diff(unique) != 1) + 1
    with h5py.File(path, "r") as f:
        ds = f["images"]
        out = np.empty((unique.size, *ds.shape[1:]), dtype=np.uint8)
        pos = 0
        for run in np.split(unique, breaks):
            start, stop = int(run[0]), int(run[-1]) + 1
            ds.read_direct(out, np.s_[start:stop], np.s_[pos:pos + stop - start])
            pos += stop - start


def _best_of(repeats: int, action) -> float:
    """Fastest of ``repeats`` timed calls: the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def _time_layout(path: Path, rows: np.ndarray, singles: np.ndarray, repeats: int = 3
                 ) -> dict[str, Any]:
    from galaxy10.datasets.reader import Galaxy10File

    path.read_bytes()  # every layout starts from the operating system's page cache
    with Galaxy10File(path) as f:
        layout = f.layout()
        f.image(int(singles[0]))  # open the dataset's B-tree before timing
        times = []
        for i in singles:
            start = time.perf_counter()
            f.image(int(i))
            times.append(time.perf_counter() - start)

    def bulk() -> None:
        with Galaxy10File(path) as f:  # a fresh file each time: an empty chunk cache
            f.read(rows)

    def full_pass() -> None:
        with Galaxy10File(path) as f:
            for _ in f.iter_file_order(np.arange(len(f)), batch_size=64):
                pass

    return {"chunks": layout["chunks"], "compression": layout["compression"],
            "file_mb": path.stat().st_size / 1e6, "image_ms": float(np.median(times) * 1000),
            "bulk_150_s": _best_of(repeats, bulk),
            "bulk_150_before_s": _best_of(1, lambda: _read_runs_default_cache(path, rows)),
            "pass_s": _best_of(repeats, full_pass)}


def bench_layout(n: int = 300, seed: int = 0, singles: int = 60,
                 folder: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Time the reader on :data:`LAYOUTS`, each holding the same ``n`` synthetic images.

    Parameters
    ----------
    n : int, default 300
        Images per file (rendering takes about 7 ms each).
    seed : int, default 0
        Seed of the synthetic images and of the random rows.
    singles : int, default 60
        Random single-image reads whose median is reported.
    folder : path-like, optional
        Where to write the files (default: a temporary folder, removed afterwards).

    Returns
    -------
    dict
        One entry per layout (see the module docstring) and
        ``ratio_bulk_default_vs_per_image_gzip``.
    """
    from galaxy10.datasets import synthetic

    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    labels = synthetic.make_labels(n, seed)
    images, _ = synthetic.render_rows(labels, seed, np.arange(n))
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(150, n), replace=False)
    single_rows = rng.integers(0, n, size=singles)
    with tempfile.TemporaryDirectory(prefix="galaxy10-layout-", dir=folder) as tmp:
        paths = write_layouts(tmp, images, labels)
        results: dict[str, Any] = {"n": n, "seed": seed, "bulk_rows": int(rows.size)}
        for name, path in paths.items():
            results[name] = _time_layout(path, rows, single_rows)
    results["ratio_bulk_default_vs_per_image_gzip"] = (
        results["default_gzip"]["bulk_150_s"] / results["per_image_gzip"]["bulk_150_s"])
    results["ratio_bulk_before_default_vs_per_image_gzip"] = (
        results["default_gzip"]["bulk_150_before_s"] / results["per_image_gzip"]["bulk_150_s"])
    return results


def format_layout(results: dict[str, Any]) -> str:
    """The layout benchmark as a text table."""
    lines = [f"{'layout':<18} {'chunks':<18} {'MB':>6} {'image(i)':>9} {'bulk 150':>9} "
             f"{'before':>9} {'full pass':>9}"]
    for name in LAYOUTS:
        r = results[name]
        chunks = "contiguous" if r["chunks"] is None else str(tuple(r["chunks"]))
        lines.append(f"{name:<18} {chunks:<18} {r['file_mb']:>6.1f} {r['image_ms']:>7.2f}ms "
                     f"{r['bulk_150_s']:>8.3f}s {r['bulk_150_before_s']:>8.3f}s "
                     f"{r['pass_s']:>8.3f}s")
    lines.append(f"bulk read of {results['bulk_rows']} random rows, default gzip chunks / "
                 f"per-image gzip chunks: {results['ratio_bulk_default_vs_per_image_gzip']:.2f}x "
                 f"(before chunk-aware reading: "
                 f"{results['ratio_bulk_before_default_vs_per_image_gzip']:.1f}x)")
    return "\n".join(lines)


if __name__ == "__main__":  # the memory benchmark's child process
    _worker(*sys.argv[1:4])


# -- input pipelines: NumPy batches vs the tf.data (device) pipeline ---------------------------
def bench_pipelines(n: int = 2048, sizes: tuple[int, ...] = (64, 128), batch_size: int = 32,
                    seed: int = 0, train_epoch: bool = True) -> dict[str, Any]:
    """images/s of both augmentation paths, alone and inside one training epoch.

    Random uint8 images stand in for the cache (augmentation cost does not depend on the
    pixels). For each side in ``sizes``: the NumPy path
    (:class:`~galaxy10.modeling.batches.AugmentedBatches`) and the ``tf.data`` path
    (:func:`~galaxy10.modeling.device_batches.device_dataset`), both with the default jitter, read
    once end to end (``pipeline_images_per_s``), then one epoch of the modern CNN with the
    profile filters of that size (``epoch_images_per_s``; 64 px: quick/faithful's, 128 px:
    gpu's). This decides whether the CPU recipe may use the device pipeline too.
    """
    import keras

    from galaxy10.core.profiles import get_profile
    from galaxy10.modeling.augment import DEFAULT_JITTER
    from galaxy10.modeling.batches import AugmentedBatches
    from galaxy10.modeling.device_batches import device_dataset
    from galaxy10.modeling.models import build_galaxy_cnn

    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    out: dict[str, Any] = {"n": n, "batch_size": batch_size, "jitter": DEFAULT_JITTER,
                           "device": _device_line()}
    for size in sizes:
        x = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
        filters = get_profile("gpu" if size >= 128 else "quick").galaxy_filters
        makers = {"numpy": lambda x=x: AugmentedBatches(x, y, batch_size, seed=seed,
                                                        **DEFAULT_JITTER),
                  "tf.data": lambda x=x: device_dataset(x, y, batch_size, seed=seed,
                                                        **DEFAULT_JITTER)}
        for name, make in makers.items():
            data = make()
            start = time.perf_counter()
            if name == "numpy":
                for i in range(len(data)):
                    data[i]
            else:
                for _ in data:
                    pass
            row = {"pipeline_images_per_s": n / (time.perf_counter() - start)}
            if train_epoch:
                keras.utils.set_random_seed(seed)
                model = build_galaxy_cnn((size, size, 3), filters=filters, seed=seed)
                model.fit(make(), epochs=1, verbose=0, **({"shuffle": False}
                                                           if name == "tf.data" else {}))
                start = time.perf_counter()  # second epoch: compiled, warm
                model.fit(make(), epochs=1, verbose=0, **({"shuffle": False}
                                                           if name == "tf.data" else {}))
                row["epoch_images_per_s"] = n / (time.perf_counter() - start)
            out[f"{size}px_{name}"] = row
    return out


def _device_line() -> str:
    from galaxy10.modeling.device import describe_device

    return describe_device()


def format_pipelines(result: dict[str, Any]) -> str:
    """The table ``bench pipeline`` prints."""
    lines = [f"{result['device']}; {result['n']} images, batch {result['batch_size']}",
             f"{'input':<14} {'pipeline images/s':>18} {'training epoch images/s':>24}"]
    for key, row in result.items():
        if isinstance(row, dict) and "pipeline_images_per_s" in row:
            epoch = row.get("epoch_images_per_s")
            lines.append(f"{key:<14} {row['pipeline_images_per_s']:>18,.0f} "
                         f"{'' if epoch is None else f'{epoch:,.0f}':>24}")
    return "\n".join(lines)
