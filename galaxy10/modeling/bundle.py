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
  its ``method`` and ``candidates`` (which map was chosen, and why) are absent from bundles
  calibrated before that choice existed, which read as before;
- ``scores`` (held-out figures, e.g. ``test`` and ``sim_to_real``) and ``provenance`` (commit,
  machine, wall time), added by :func:`write_scores` where a command measured them.

Nothing is pickled: the seed pipeline's scaler is stored as numbers.

:func:`read_bundle` is the one reader: it checks every field for type and range and returns a
:class:`BundleParams` (with :class:`Calibration` and :class:`DataFacts`), so no other module
reads the JSON's keys, and a damaged or hand-edited file is refused in one line that names
the file and the field.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from galaxy10.core.atomic import write_json
from galaxy10.core.classes import CLASS_NAMES, IMAGE_SHAPE
from galaxy10.core.errors import ModelError
from galaxy10.modeling.preprocess import MIN_SIZE, SEED_FEATURES, ImageConfig, minmax_to_dict

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
    params = {"bundle_version": BUNDLE_VERSION, "kind": kind, "image": config.to_dict(),
              "tta": bool(tta), "class_names": list(CLASS_NAMES), "model_file": path.name,
              **extra}
    if scaler is not None:
        params["scaler"] = minmax_to_dict(scaler)
    _checked(params, params_path(path))  # never write what read_bundle would refuse
    save_model(model, path)
    write_json(params_path(path), params)
    return path


# -- the schema: every field typed and range-checked, read once ------------------------------
class _BadField(ValueError):
    """A field of a bundle's JSON with a wrong type or value (``field`` is its dotted name)."""

    def __init__(self, field: str, why: str) -> None:
        self.field = field
        super().__init__(f"field '{field}' {why}")


def _show(value: Any) -> str:
    """``value`` as the JSON file spells it (NaN, null, "64"), cut to 40 characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # NumPy values from a writer
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any, field: str, *, low: float | None = None, high: float | None = None,
            above: float | None = None) -> float:
    """A finite JSON number (not a boolean) within the bounds given, as a float."""
    bounds = " and ".join(b for b in (
        f"above {above:g}" if above is not None else "",
        f"in [{low:g}, {high:g}]" if low is not None and high is not None
        else f"at least {low:g}" if low is not None
        else f"at most {high:g}" if high is not None else "") if b)
    want = f"must be a finite number{' ' + bounds if bounds else ''}, got {_show(value)}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _BadField(field, want)
    value = float(value)
    if (not math.isfinite(value) or (above is not None and value <= above)
            or (low is not None and value < low) or (high is not None and value > high)):
        raise _BadField(field, want)
    return value


def _integer(value: Any, field: str, *, low: int = 0, high: int | None = None) -> int:
    """A JSON whole number (not a boolean, not 64.0) in ``[low, high]``."""
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
            or value < low or (high is not None and value > high)):
        limit = f"in [{low}, {high}]" if high is not None else f"at least {low}"
        raise _BadField(field, f"must be a whole number {limit}, got {_show(value)}")
    return int(value)


def _typed(value: Any, field: str, kind: type, name: str) -> Any:
    if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
        raise _BadField(field, f"must be {name}, got {_show(value)}")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    return _typed(value, field, dict, "a JSON object")


def _list(value: Any, field: str) -> list[Any]:
    return _typed(value, field, list, "a list")


def _text(value: Any, field: str) -> str:
    return _typed(value, field, str, "a string")


def _optional(raw: dict[str, Any], name: str, check, default: Any = None) -> Any:
    """``check(raw[name], name)``, or ``default`` where the field is absent or null."""
    value = raw.get(name)
    return default if value is None else check(value, name)


def _image(value: Any, field: str) -> ImageConfig:
    """The preprocessing: ``size`` a whole number of pixels, ``crop`` a fraction, names known.

    A part that is absent takes :class:`ImageConfig`'s default, as it always has.
    """
    image = _object(value, field)
    default = ImageConfig()
    size = _integer(image.get("size", default.size), f"{field}.size", low=MIN_SIZE,
                    high=IMAGE_SHAPE[0])
    crop = _number(image.get("crop", default.crop), f"{field}.crop", above=0.0, high=1.0)
    color = _text(image.get("color", default.color), f"{field}.color")
    interpolation = _text(image.get("interpolation", default.interpolation),
                          f"{field}.interpolation")
    try:
        return ImageConfig(size=size, color=color, crop=crop,  # type: ignore[arg-type]
                           interpolation=interpolation)  # type: ignore[arg-type]
    except ValueError as exc:  # an unknown colour or interpolation
        raise _BadField(field, f"is not a preprocessing galaxy10 knows ({exc})") from None


def _class_names(value: Any, field: str) -> tuple[str, ...]:
    names = _list(value, field)
    if len(names) != len(CLASS_NAMES):
        raise _BadField(field, f"must list the {len(CLASS_NAMES)} Galaxy10 classes, got "
                               f"{len(names)} names")
    for i, name in enumerate(names):
        if not _text(name, f"{field}[{i}]").strip():
            raise _BadField(f"{field}[{i}]", "is an empty name")
    if len(set(names)) != len(names):
        raise _BadField(field, "names a class twice")
    return tuple(names)


def _numbers(value: Any, field: str, length: int | None = None) -> list[float]:
    items = _list(value, field)
    if length is not None and len(items) != length:
        raise _BadField(field, f"must hold {length} numbers, got {len(items)}")
    return [_number(v, f"{field}[{i}]") for i, v in enumerate(items)]


def _scaler(value: Any, field: str) -> dict[str, Any]:
    """The seed pipeline's MinMax parameters: one finite number per feature for each part."""
    scaler = _object(value, field)
    for name in ("min_", "scale_", "data_min_", "data_max_", "data_range_"):
        if name not in scaler:
            raise _BadField(f"{field}.{name}", "is missing")
        _numbers(scaler[name], f"{field}.{name}", SEED_FEATURES)
    low, high = _numbers(scaler.get("feature_range"), f"{field}.feature_range", 2)
    if not low < high:
        raise _BadField(f"{field}.feature_range", f"must rise, got [{low:g}, {high:g}]")
    _integer(scaler.get("n_samples_seen_"), f"{field}.n_samples_seen_", low=1)
    return scaler


def _confidence_map(value: Any, field: str) -> dict[str, list[float]]:
    """The top-label map's knots: ``x`` rising, ``y`` probabilities, as many of each."""
    knots = _object(value, field)
    x = _numbers(knots.get("x"), f"{field}.x")
    y = _numbers(knots.get("y"), f"{field}.y", len(x))
    if not x:
        raise _BadField(f"{field}.x", "holds no knots")
    if any(b < a for a, b in zip(x[:-1], x[1:], strict=True)):
        raise _BadField(f"{field}.x", "must not decrease")
    for i, v in enumerate(y):
        _number(v, f"{field}.y[{i}]", low=0.0, high=1.0)
    return {"x": x, "y": y}


METHODS = ("temperature", "smooth", "isotonic")
"""What a ``calibration.method`` may name (:data:`galaxy10.modeling.calibrate.CANDIDATES`)."""


def _candidates(value: Any, field: str) -> dict[str, dict[str, float]]:
    """Each candidate calibration's cross-fitted ECE and count of distinct confidences."""
    candidates = _object(value, field)
    for name, entry in candidates.items():
        if name not in METHODS:
            raise _BadField(f"{field}.{name}", f"is not a calibration galaxy10 knows "
                                               f"({', '.join(METHODS)})")
        entry = _object(entry, f"{field}.{name}")
        _number(entry.get("ece_cross_fitted"), f"{field}.{name}.ece_cross_fitted", low=0.0,
                high=1.0)
        _integer(entry.get("distinct"), f"{field}.{name}.distinct")
    return candidates


def _method(value: Any, field: str, confidence_map: dict[str, list[float]] | None) -> str:
    """The chosen candidate; a map names one, and the temperature alone has none."""
    method = _text(value, field)
    if method not in METHODS:
        raise _BadField(field, f"must be one of {', '.join(METHODS)}, got {_show(method)}")
    if (method == "temperature") != (confidence_map is None):
        raise _BadField(field, f"is {_show(method)}, but the record "
                               f"{'has' if confidence_map else 'has no'} confidence_map")
    return method


@dataclass(frozen=True)
class Calibration:
    """A bundle's ``calibration``: what :meth:`Predictor.predict_proba` applies, and the rest.

    Attributes
    ----------
    temperature : float
        Softmax temperature (above 0; 1.0: not calibrated).
    confidence_map : dict or None
        Knots ``x`` and ``y`` of the top-label map (None: none).
    threshold : float or None
        Calibrated top probability below which an answer is "not sure", in [0, 1] (None:
        every answer is given).
    method : str or None
        The calibration chosen on the validation split: ``"temperature"`` (alone),
        ``"smooth"`` or ``"isotonic"`` (the map that follows it). None where nothing was
        chosen: too few validation images, or a bundle calibrated before the choice existed
        (its map, if any, is isotonic).
    candidates : dict or None
        Per candidate, its cross-fitted validation ECE (``ece_cross_fitted``) and how many
        distinct confidences it gave the validation images (``distinct``).
    record : dict
        The whole record as fitted (ECE, coverage, ``fitted_on``...), for reports.
    """

    temperature: float = 1.0
    confidence_map: dict[str, list[float]] | None = None
    threshold: float | None = None
    method: str | None = None
    candidates: dict[str, dict[str, float]] | None = None
    record: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, value: Any, name: str = "calibration") -> Calibration:
        """Check a ``calibration`` record (see :func:`read_bundle`)."""
        record = _object(value, name)
        confidence_map = _optional(record, "confidence_map",
                                   lambda v, f: _confidence_map(v, f"{name}.{f}"))
        for count in ("distinct_before", "distinct_after"):
            _optional(record, count, lambda v, f: _integer(v, f"{name}.{f}"))
        return cls(temperature=_optional(record, "temperature",
                                         lambda v, f: _number(v, f"{name}.{f}", above=0.0),
                                         1.0),
                   confidence_map=confidence_map,
                   threshold=_optional(record, "threshold",
                                       lambda v, f: _number(v, f"{name}.{f}", low=0.0,
                                                            high=1.0)),
                   method=_optional(record, "method",
                                    lambda v, f: _method(v, f"{name}.{f}", confidence_map)),
                   candidates=_optional(record, "candidates",
                                        lambda v, f: _candidates(v, f"{name}.{f}")),
                   record=dict(record))

    @property
    def fitted_on(self) -> str:
        """What the calibration was fitted on, in words."""
        return str(self.record.get("fitted_on", "not calibrated (T = 1)"))


@dataclass(frozen=True)
class DataFacts:
    """A bundle's ``data``: the data set it was trained on (:func:`data_facts`)."""

    path: str | None = None
    source: str | None = None
    n_images: int | None = None
    synthetic: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, value: Any, name: str = "data") -> DataFacts:
        """Check a ``data`` record; every part is optional."""
        facts = _object(value, name)
        return cls(path=_optional(facts, "path", lambda v, f: _text(v, f"{name}.{f}")),
                   source=_optional(facts, "source", lambda v, f: _text(v, f"{name}.{f}")),
                   n_images=_optional(facts, "n_images",
                                      lambda v, f: _integer(v, f"{name}.{f}")),
                   synthetic=_optional(facts, "synthetic",
                                       lambda v, f: _object(v, f"{name}.{f}")))


def _lineage(value: Any, field: str) -> tuple[dict[str, Any], ...]:
    steps = _list(value, field)
    for i, step in enumerate(steps):
        _text(_object(step, f"{field}[{i}]").get("stage"), f"{field}[{i}].stage")
    return tuple(steps)


def _rows(value: Any, field: str) -> tuple[int, ...]:
    return tuple(_integer(v, f"{field}[{i}]") for i, v in enumerate(_list(value, field)))


@dataclass(frozen=True)
class BundleParams:
    """A bundle's JSON, typed and checked: the one form in which galaxy10 reads it.

    :func:`read_bundle` makes it; every field of the module's schema is checked for type and
    range there, so a reader never meets a temperature of 0, a NaN threshold or a list where
    an object belongs. Optional facts are None (or empty) where a bundle does not record them.
    """

    kind: str
    image: ImageConfig
    tta: bool = False
    class_names: tuple[str, ...] = CLASS_NAMES
    calibration: Calibration = field(default_factory=Calibration)
    scaler: dict[str, Any] | None = None
    data: DataFacts | None = None
    lineage: tuple[dict[str, Any], ...] = ()
    profile: str | None = None
    seed: int | None = None
    test_rows: tuple[int, ...] | None = None
    scores: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    model_file: str | None = None
    bundle_version: int = BUNDLE_VERSION

    @property
    def views(self) -> int:
        """Test-time views averaged by default: 8 for a bundle saved with ``tta``, else 1."""
        return 8 if self.tta else 1

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> BundleParams:
        """Check a parsed JSON object against the schema.

        Raises
        ------
        ValueError
            Naming the first bad field (``field 'calibration.temperature' must be ...``).
        """
        version = _optional(raw, "bundle_version",
                            lambda v, f: _integer(v, f, low=1, high=BUNDLE_VERSION), 1)
        if "kind" not in raw:
            raise _BadField("kind", "is missing")
        if raw["kind"] not in KINDS:
            raise _BadField("kind", f"must be 'seed' or 'galaxy', got {_show(raw['kind'])}")
        if "image" not in raw:
            raise _BadField("image", "is missing")
        if raw["kind"] == "seed" and raw.get("scaler") is None:
            raise _BadField("scaler", "is missing (a seed bundle needs its MinMax scaler)")
        scaler = _scaler(raw["scaler"], "scaler") if raw["kind"] == "seed" else None
        return cls(kind=raw["kind"], image=_image(raw["image"], "image"),
                   tta=_optional(raw, "tta", lambda v, f: _typed(v, f, bool, "true or false"),
                                 False),
                   class_names=_optional(raw, "class_names", _class_names, CLASS_NAMES),
                   calibration=_optional(raw, "calibration", Calibration.from_json,
                                         Calibration()),
                   scaler=scaler, data=_optional(raw, "data", DataFacts.from_json),
                   lineage=_optional(raw, "lineage", _lineage, ()),
                   profile=_optional(raw, "profile", _text),
                   seed=_optional(raw, "seed", _integer),
                   test_rows=_optional(raw, "test_rows", _rows),
                   scores=_optional(raw, "scores", _object),
                   provenance=_optional(raw, "provenance", _object),
                   model_file=_optional(raw, "model_file", _text), bundle_version=version)


def _read_json(path: Path) -> dict[str, Any]:
    """The parsed JSON of a bundle, without the schema's checks."""
    from galaxy10.core.files import unreadable_reason

    why = unreadable_reason(path, what="JSON file")
    if why == "file not found":
        raise ModelError(path, "the model's parameter file is missing; a bundle is the .keras "
                               "file and this JSON: copy both, or save the bundle again")
    if why:  # a pipe would block the read
        raise ModelError(path, f"the model's parameter file {why}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(path, f"not a galaxy10 model parameter file (not valid JSON: {exc}); "
                               "the file is damaged: save the bundle again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"the model's parameter file cannot be read ({exc})") from None


def _checked(raw: Any, path: Path) -> BundleParams:
    if not isinstance(raw, dict):
        raise ModelError(path, "not a galaxy10 model parameter file (a JSON "
                               f"{type(raw).__name__}, not an object)")
    try:
        return BundleParams.from_json(raw)
    except _BadField as exc:
        raise ModelError(path, f"not a usable model parameter file: {exc}") from None


def read_bundle(model_path: str | os.PathLike[str]) -> BundleParams:
    """The bundle's JSON parameters (:func:`params_path`), read and checked once.

    Every field is checked for type and range: ``kind`` and ``image`` (size, crop, colour)
    are required; ``calibration``'s temperature must be above 0 and finite, its threshold
    in [0, 1], its ``method`` (if any) a known one that agrees with its map, and its
    ``candidates`` (if any) known names with an ECE in [0, 1] and a count; ``class_names``
    must list the 10 classes; a seed bundle needs its scaler. Unknown fields (from newer
    versions, or notes) are ignored.

    Raises
    ------
    ModelError
        If the JSON file is missing, damaged, not a galaxy10 bundle's, or has a bad field;
        the message names the file and the field.
    """
    path = params_path(model_path)
    return _checked(_read_json(path), path)


def read_bundle_json(model_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The bundle's JSON as parsed, after the same checks as :func:`read_bundle`: for a
    writer that makes a new bundle from this one and keeps the facts it does not change."""
    path = params_path(model_path)
    raw = _read_json(path)
    _checked(raw, path)
    return raw


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
    """Add or replace one section of a bundle's JSON; the result must pass the schema too."""
    path = params_path(model_path)
    params = read_bundle_json(model_path)
    params[name] = record
    _checked(params, path)  # a writer never leaves what a reader would refuse
    return write_json(path, params)
