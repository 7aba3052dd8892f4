"""galaxy10: classify Galaxy10 DECaLS galaxy images, from data to a prediction button.

The public API is re-exported here lazily (PEP 562): ``import galaxy10`` loads nothing heavy
(no h5py, no TensorFlow) and has no side effects; each name imports its module on first use.

Modules, one per concern: :mod:`~galaxy10.data` (fetch, choose data), :mod:`~galaxy10.reader`
(lazy HDF5 reader), :mod:`~galaxy10.synthetic` (the synthetic default data),
:mod:`~galaxy10.importer` (image folders to HDF5), :mod:`~galaxy10.resample`,
:mod:`~galaxy10.preprocess`, :mod:`~galaxy10.metrics`, :mod:`~galaxy10.results`,
:mod:`~galaxy10.cli`.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "CLASS_NAMES": "galaxy10.classes",
    "REAL_CLASS_COUNTS": "galaxy10.classes",
    "class_name": "galaxy10.classes",
    "Galaxy10Error": "galaxy10.errors",
    "GalaxyDataError": "galaxy10.errors",
    "ImageError": "galaxy10.errors",
    "ModelError": "galaxy10.errors",
    "GALAXY10_DECALS": "galaxy10.data",
    "fetch": "galaxy10.data",
    "resolve_data": "galaxy10.data",
    "ensure_synthetic": "galaxy10.data",
    "get_data_home": "galaxy10.paths",
    "Galaxy10File": "galaxy10.reader",
    "import_images": "galaxy10.importer",
    "make_splits": "galaxy10.resample",
    "group_aware_test_split": "galaxy10.resample",
    "leaks": "galaxy10.resample",
    "duplicate_groups": "galaxy10.audit",
    "audit": "galaxy10.audit",
    "repack": "galaxy10.repack",
    "undersample_indices": "galaxy10.resample",
    "class_weights": "galaxy10.resample",
    "ImageConfig": "galaxy10.preprocess",
    "seed_features": "galaxy10.preprocess",
    "transform": "galaxy10.preprocess",
    "measure_realism": "galaxy10.realism",
    "fit_temperature": "galaxy10.calibrate",
    "expected_calibration_error": "galaxy10.calibrate",
    "calibrate_bundle": "galaxy10.calibrate",
    "grad_cam": "galaxy10.saliency",
    "assess": "galaxy10.verdict",
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
