"""``bench accuracy``: the seed-faithful CNN and the modern CNN trained on the same split and
scored on the same held-out images, on a data set and on a folder of real images."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.core.profiles import Profile


def _timed_predict(fn, x) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(x)
    return out, len(x) / (time.perf_counter() - start)


def compare(galaxies, seed_train: np.ndarray, all_train: np.ndarray,
            test: np.ndarray, profile: Profile, seed: int = 0,
            cache_dir: str | os.PathLike[str] | None = None,
            models_out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train the seed CNN and the modern CNN and score both on ``test``.

    The modern CNN comes from :func:`galaxy10.pipeline.training.train_bundle` (the ``train``
    command's workflow) and is scored as its saved, calibrated bundle; the seed CNN is scored
    as it comes out of training. Both bundles are kept only when ``models_out`` names a folder
    (``result["bundles"]`` then holds their paths); the modern CNN's predictor is returned as
    ``result["galaxy_predictor"]`` for further scoring.
    """
    import tempfile

    from galaxy10.evaluation.evaluate import evaluate_predictions
    from galaxy10.modeling.bundle import data_facts, save_bundle
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.preprocess import SEED_CONFIG
    from galaxy10.modeling.train import train_seed_cnn
    from galaxy10.pipeline.training import train_bundle

    test_images = galaxies.read(test)
    y_test = galaxies.labels[test].astype(np.int64)
    seed_model, scaler, seed_seconds = train_seed_cnn(galaxies, seed_train, profile, seed)
    seed_pred = Predictor.in_memory(seed_model, kind="seed", config=SEED_CONFIG, scaler=scaler,
                                    name="seed_cnn")
    bundles = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(models_out) if models_out is not None else Path(scratch)
        trained = train_bundle(galaxies, all_train, folder / "galaxy_cnn.keras", profile,
                               seed=seed, test_rows=test, cache_dir=cache_dir)
    galaxy_pred, history = trained.predictor, trained.history
    if models_out is not None:
        bundles["seed_cnn"] = os.fspath(save_bundle(
            seed_model, folder / "seed_cnn.keras", kind="seed", config=SEED_CONFIG,
            scaler=scaler, data=data_facts(galaxies), seed=int(seed),
            test_rows=np.asarray(test).tolist()))
        bundles["galaxy_cnn"] = os.fspath(trained.path)
    rows = {}
    for name, pred, seconds, n_train in (
            ("seed_cnn", seed_pred, seed_seconds, len(seed_train)),
            ("galaxy_cnn", galaxy_pred, history["seconds"], len(all_train))):
        probs, rate = _timed_predict(pred.predict_proba, test_images)
        rows[name] = {**evaluate_predictions(y_test, probs, profile.bootstrap, seed),
                      "train_seconds": seconds, "n_train": int(n_train),
                      "inference_images_per_s": rate, "probabilities": probs}
    no_tta = Predictor.in_memory(galaxy_pred.model, kind="galaxy", config=galaxy_pred.config,
                                 tta=False)
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
                   real: str | os.PathLike[str] | None = None,
                   models_out: str | os.PathLike[str] | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """``bench accuracy``: both models on ``data``'s seed-faithful split, then on real images.

    With labelled real images (``real``: a folder or a Galaxy10 file; None: the default
    real sample, skipped with a note when there is none; ``"none"``: skipped), both models
    are also trained and tested on its fixed stratified 80/20 split (``random_state=101``),
    and the modern CNN trained on ``data`` is scored on every real image (sim-to-real).
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
    if os.fspath(real or "") == "none":
        say("(skipped the real-pixel comparison: --real none)")
        return report
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.datasets.importer import labelled_images_h5

    with tempfile.TemporaryDirectory() as tmp:
        try:
            real_h5 = labelled_images_h5(real, tmp)
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
