"""galaxy10: classify Galaxy10 DECaLS galaxy images, from data to a prediction button.

The public API is re-exported here lazily (PEP 562): ``import galaxy10`` loads nothing heavy
(no h5py, no TensorFlow) and has no side effects; each name imports its module on first use.

Sub-packages, in the order the data flows (each imports only from the ones before it):
:mod:`~galaxy10.core` (errors, atomic writes, folders, classes, profiles),
:mod:`~galaxy10.datasets` (fetch, read, synthesise, import, split),
:mod:`~galaxy10.modeling` (preprocess, augment, networks, training, bundles, prediction),
:mod:`~galaxy10.reporting` (metrics store, figures, results tables),
:mod:`~galaxy10.evaluation` (scores, ablation, realism), :mod:`~galaxy10.pipeline` (the
notebooks' run session and runner, the catalogue classification), :mod:`~galaxy10.app` (the
button), then the benchmarks and the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "CLASS_NAMES": "galaxy10.core.classes",
    "REAL_CLASS_COUNTS": "galaxy10.core.classes",
    "class_name": "galaxy10.core.classes",
    "Galaxy10Error": "galaxy10.core.errors",
    "GalaxyDataError": "galaxy10.core.errors",
    "ImageError": "galaxy10.core.errors",
    "ModelError": "galaxy10.core.errors",
    "GALAXY10_DECALS": "galaxy10.datasets.fetch",
    "fetch": "galaxy10.datasets.fetch",
    "resolve_data": "galaxy10.datasets.fetch",
    "ensure_synthetic": "galaxy10.datasets.fetch",
    "get_data_home": "galaxy10.core.paths",
    "Galaxy10File": "galaxy10.datasets.reader",
    "import_images": "galaxy10.datasets.importer",
    "import_parquet": "galaxy10.datasets.importer",
    "make_splits": "galaxy10.datasets.resample",
    "group_aware_test_split": "galaxy10.datasets.resample",
    "leaks": "galaxy10.datasets.resample",
    "duplicate_groups": "galaxy10.datasets.audit",
    "audit": "galaxy10.datasets.audit",
    "repack": "galaxy10.datasets.repack",
    "undersample_indices": "galaxy10.datasets.resample",
    "class_weights": "galaxy10.datasets.resample",
    "ImageConfig": "galaxy10.modeling.preprocess",
    "seed_features": "galaxy10.modeling.preprocess",
    "transform": "galaxy10.modeling.preprocess",
    "measure_realism": "galaxy10.evaluation.realism",
    "fit_temperature": "galaxy10.modeling.calibrate",
    "expected_calibration_error": "galaxy10.modeling.calibrate",
    "calibrate_bundle": "galaxy10.pipeline.training",
    "grad_cam": "galaxy10.modeling.saliency",
    "assess": "galaxy10.modeling.verdict",
    "classify_catalogue": "galaxy10.pipeline.catalogue",
    "read_catalogue": "galaxy10.pipeline.catalogue",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'galaxy10' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
