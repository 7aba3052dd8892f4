"""A trained model's bundle on disk: ``NAME.keras`` (the network) and ``NAME.json`` (the rest).

This module is the one writer and reader of a bundle's JSON. Its schema:

- ``bundle_version``, ``kind`` (``"seed"`` or ``"galaxy"``), ``model_file``, ``class_names``;
- ``image``: the preprocessing (:class:`~galaxy10.modeling.preprocess.ImageConfig`) and, for
  the seed pipeline, ``scaler`` (its MinMax parameters); ``tta``: whether the 8 flip/rotation
  views are averaged at prediction time;
- ``data``: the data set it was trained on (:func:`data_facts`); ``lineage``: every training
  step that shaped it (:func:`lineage_step`), pre-training first; ``profile`` and ``seed``;
- ``history``, ``epochs_run``, ``best_epoch`` and ``test_rows`` where training made them;
- ``calibration``: the record fitted on validation images
  (:func:`galaxy10.modeling.calibrate.fit_calibration`), added by :func:`write_calibration`;
- ``scores`` (held-out figures, e.g. ``test`` and ``sim_to_real``) and ``provenance`` (commit,
  machine, wall time), added by :func:`write_scores` where a command measured them.

Nothing is pickled: the seed pipeline's scaler is stored as numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from galaxy10.core.atomic import write_json
from galaxy10.core.classes import CLASS_NAMES
from galaxy10.core.errors import ModelError
from galaxy10.modeling.preprocess import ImageConfig, minmax_to_dict

BUNDLE_VERSION = 1
KINDS = ("seed", "galaxy")


def params_path(model_path: str | os.PathLike[str]) -> Path:
    """The JSON file beside a bundle's ``.keras`` file."""
    return Path(model_path).with_suffix(".json")


def data_facts(galaxies) -> dict[str, Any]:
    """Which data set a model (or a number) came from: resolved path, source, size.

    ``synthetic`` holds the generator's version, preset and seed for galaxy10's synthetic
    files (None otherwise), so two bundles trained on the same file record the same facts
    whichever command or notebook trained them.
    """
    return {"path": os.fspath(Path(galaxies.path).resolve()), "source": galaxies.source,
            "n_images": len(galaxies),
            "synthetic": {k: v for k, v in galaxies.attrs.items()
                          if k in ("generator_version", "preset", "seed")} or None}


def lineage_step(galaxies, stage: str, **facts: Any) -> dict[str, Any]:
    """One step of a bundle's history (its ``lineage``): what it was trained on, and how.

    A fine-tuned bundle's lineage is its pre-trained bundle's lineage plus its own step, so a
    user can always tell which data (synthetic, then real) shaped a model.
    """
    return {"stage": stage, "data": {"path": os.fspath(Path(galaxies.path).resolve()),
                                     "source": galaxies.source, "n_images": len(galaxies)},
            **facts}


def save_bundle(model, path: str | os.PathLike[str], *, kind: str, config: ImageConfig,
                scaler=None, tta: bool = False, **extra: Any) -> Path:
    """Save ``model`` as ``path`` (``.keras``) plus its parameters (:func:`params_path`).

    Parameters
    ----------
    kind : {"seed", "galaxy"}
        ``"seed"``: input is the original's MinMax-scaled 64x64 grey pixels (``scaler``
        required); ``"galaxy"``: input is uint8 images preprocessed by ``config``.
    tta : bool
        Average the 8 flip/rotation views at prediction time.
    extra
        Further JSON-able facts of the schema above (data, lineage, profile, history...).

    Returns
    -------
    Path
        ``path``, the ``.keras`` file.
    """
    from galaxy10.modeling.models import save_model

    if kind not in KINDS:
        raise ValueError(f"kind must be 'seed' or 'galaxy', got {kind!r}")
    if kind == "seed" and scaler is None:
        raise ValueError("a seed-pipeline model needs its fitted MinMax scaler")
    path = Path(path)
    save_model(model, path)
    params = {"bundle_version": BUNDLE_VERSION, "kind": kind, "image": config.to_dict(),
              "tta": bool(tta), "class_names": list(CLASS_NAMES), "model_file": path.name,
              **extra}
    if scaler is not None:
        params["scaler"] = minmax_to_dict(scaler)
    write_json(params_path(path), params)
    return path


def read_params(model_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's JSON parameters, checked to name a kind and a preprocessing.

    Raises
    ------
    ModelError
        If the JSON file is missing or is not a galaxy10 bundle's.
    """
    from galaxy10.core.files import unreadable_reason

    path = params_path(model_path)
    why = unreadable_reason(path, what="JSON file")
    if why and why != "file not found":  # a pipe would block the read
        raise ModelError(path, f"the model's parameter file {why}")
    try:
        params = json.loads(path.read_text(encoding="utf-8"))
        if params["kind"] not in KINDS:
            raise ValueError(f"unknown kind {params['kind']!r}")
        ImageConfig.from_dict(params["image"])
    except FileNotFoundError:
        raise ModelError(path, "the model's parameter file is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(path, f"not a galaxy10 model parameter file ({exc})") from None
    return params


def write_calibration(model_path: str | os.PathLike[str], record: dict[str, Any]) -> Path:
    """Store a calibration record in the bundle's JSON (atomically), keeping the rest."""
    return _write_section(model_path, "calibration", record)


def write_scores(model_path: str | os.PathLike[str], scores: dict[str, Any],
                 provenance: dict[str, Any]) -> Path:
    """Store what a bundle scored, and where and from which code it was made, in its JSON.

    ``pretrain`` records its held-out synthetic test and sim-to-real figures here, so a
    bundle that travels alone (the one shipped with galaxy10) still says what it is worth.
    """
    _write_section(model_path, "scores", scores)
    return _write_section(model_path, "provenance", provenance)


def _write_section(model_path: str | os.PathLike[str], name: str, record: dict[str, Any]
                   ) -> Path:
    params = read_params(model_path)
    params[name] = record
    return write_json(params_path(model_path), params)
