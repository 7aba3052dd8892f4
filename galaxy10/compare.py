"""Side by side: the seed-faithful CNN and the modern CNN, same split, same test images.

Used by ``python -m galaxy10 bench accuracy`` and ``python -m galaxy10 train``. The seed
pipeline trains on the original's undersampled rows; the modern CNN on every row outside the
test set (with class weights). Both are scored on the same held-out rows, with bootstrap
intervals, and timed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from galaxy10.evaluate import evaluate_predictions
from galaxy10.preprocess import ImageConfig
from galaxy10.reader import Galaxy10File

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompareSettings:
    """Training budget of one comparison."""

    seed_epochs: int = 20
    galaxy_size: int = 64
    galaxy_crop: float = 0.5
    galaxy_epochs: int = 15
    galaxy_patience: int = 4
    batch_size: int = 32
    bootstrap: int = 1000
    small_data_below: int = 5000     #: fewer training images than this get the budget below
    small_data_epochs: int = 60      #: an epoch of 800 images is a few seconds: allow more
    small_data_patience: int = 10

    def galaxy_budget(self, n_train: int) -> tuple[int, int]:
        """(max epochs, early-stopping patience) of the modern CNN for ``n_train`` images."""
        if n_train < self.small_data_below:
            return self.small_data_epochs, self.small_data_patience
        return self.galaxy_epochs, self.galaxy_patience


COMPARE_PROFILES = {
    "smoke": CompareSettings(seed_epochs=1, galaxy_size=32, galaxy_epochs=1, bootstrap=50,
                             small_data_epochs=1, small_data_patience=1),
    "quick": CompareSettings(seed_epochs=10, galaxy_epochs=10, small_data_epochs=30),
    "full": CompareSettings(),
}


def _timed_predict(fn, x) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(x)
    return out, len(x) / (time.perf_counter() - start)


def train_seed_cnn(galaxies: Galaxy10File, train_rows: np.ndarray, settings: CompareSettings,
                   seed: int = 0):
    """Seed-faithful features + MinMax + the original CNN (default filters), trained once."""
    from galaxy10.models import build_seed_cnn
    from galaxy10.preprocess import fit_minmax, seed_features_from_file
    from galaxy10.train import as_seed_images, set_seed

    raw = seed_features_from_file(galaxies, train_rows)
    scaler = fit_minmax(raw)
    x = as_seed_images(scaler.transform(raw.astype(np.float64)))
    y = galaxies.labels[train_rows].astype(np.int64)
    set_seed(seed)
    model = build_seed_cnn(seed=seed)
    start = time.perf_counter()
    model.fit(x, y, epochs=settings.seed_epochs, batch_size=settings.batch_size, verbose=0)
    return model, scaler, time.perf_counter() - start


def train_galaxy(galaxies: Galaxy10File, train_rows: np.ndarray, settings: CompareSettings,
                 seed: int = 0, cache_dir: str | os.PathLike[str] | None = None,
                 augment: bool = True):
    """The modern CNN on the cached, preprocessed ``train_rows``."""
    from galaxy10.cache import cached_images
    from galaxy10.train import train_galaxy_cnn

    config = ImageConfig(size=settings.galaxy_size, color="rgb", crop=settings.galaxy_crop)
    x = cached_images(galaxies, config, np.sort(train_rows), cache_dir=cache_dir)
    y = galaxies.labels[np.sort(train_rows)].astype(np.int64)
    epochs, patience = settings.galaxy_budget(len(y))
    model, history = train_galaxy_cnn(x, y, epochs=epochs, patience=patience, seed=seed,
                                      batch_size=settings.batch_size, augment=augment)
    return model, config, history


def compare(galaxies: Galaxy10File, seed_train: np.ndarray, all_train: np.ndarray,
            test: np.ndarray, settings: CompareSettings, seed: int = 0,
            cache_dir: str | os.PathLike[str] | None = None,
            models_out: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Train both models and score them on ``test``; optionally save both bundles."""
    from galaxy10.predict import Predictor, save_bundle
    from galaxy10.preprocess import SEED_CONFIG

    test_images = galaxies.read(test)
    y_test = galaxies.labels[test].astype(np.int64)
    seed_model, scaler, seed_seconds = train_seed_cnn(galaxies, seed_train, settings, seed)
    galaxy_model, config, history = train_galaxy(galaxies, all_train, settings, seed, cache_dir)
    folder = Path(models_out) if models_out else Path(os.environ.get("TMPDIR", "/tmp"))
    facts = {"path": os.fspath(galaxies.path), "source": galaxies.source, "n_images": len(galaxies)}
    seed_path = save_bundle(seed_model, folder / "compare_seed_cnn.keras", kind="seed",
                            config=SEED_CONFIG, scaler=scaler, data=facts,
                            test_rows=np.asarray(test).tolist())
    galaxy_path = save_bundle(galaxy_model, folder / "compare_galaxy_cnn.keras", kind="galaxy",
                              config=config, tta=True, data=facts,
                              test_rows=np.asarray(test).tolist())
    from galaxy10.calibrate import calibrate_from_training  # T and threshold on validation

    calibrate_from_training(galaxy_path, galaxies, np.sort(all_train), config, history, cache_dir)
    seed_pred, galaxy_pred = Predictor(seed_path), Predictor(galaxy_path)
    rows = {}
    for name, pred, seconds, n_train in (
            ("seed_cnn", seed_pred, seed_seconds, len(seed_train)),
            ("galaxy_cnn", galaxy_pred, history["seconds"], len(all_train))):
        probs, rate = _timed_predict(pred.predict_proba, test_images)
        rows[name] = {**evaluate_predictions(y_test, probs, settings.bootstrap, seed),
                      "train_seconds": seconds, "n_train": int(n_train),
                      "inference_images_per_s": rate, "probabilities": probs}
    galaxy_pred.tta = False
    probs, rate = _timed_predict(galaxy_pred.predict_proba, test_images)
    rows["galaxy_cnn_no_tta"] = {**evaluate_predictions(y_test, probs, settings.bootstrap, seed),
                                 "train_seconds": history["seconds"], "n_train": len(all_train),
                                 "inference_images_per_s": rate}
    for row in rows.values():
        row.pop("probabilities", None)
    ratio = rows["galaxy_cnn"]["balanced_accuracy"] / max(rows["seed_cnn"]["balanced_accuracy"],
                                                          1e-9)
    return {"models": rows, "ratio_balanced_accuracy_new_over_seed": ratio,
            "settings": settings.__dict__, "n_test": int(len(test)),
            "galaxy_cnn_bundle": os.fspath(galaxy_path), "seed_cnn_bundle": os.fspath(seed_path),
            "galaxy_history": history}


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
