"""Run profiles: how much data and compute each step gets, for every command and notebook.

``faithful`` is the original analysis' exact settings on the full-size data; ``quick`` is a
reduced run meant to finish on a 2-core laptop while you wait (its measured wall time is in
``docs/results.md``); ``smoke`` runs every step in seconds, for tests; ``gpu`` gives the
modern CNN a larger input, a bigger network, more epochs, mixed precision and augmentation on
the device (:mod:`galaxy10.modeling.device_batches`). Every profile runs the same code, only
the numbers change. ``run``, ``train``, ``pretrain``, ``bench accuracy`` and ``bench real``
take their ``--profile`` choices from :data:`CHOICES` (``full`` is accepted as another name
of ``faithful``) and their default from :data:`DEFAULT_PROFILE` or :data:`RECIPE_PROFILE`,
and a notebook's parameters cell may override any number (:meth:`Profile.with_overrides`):
its ``overrides`` parameter takes a mapping (papermill's ``-y 'overrides: {ffn_epochs: 2}'``)
or the same as a JSON string (``-p overrides '{"ffn_epochs": 2}'``), see :func:`parse_overrides`.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, get_type_hints

from galaxy10.core.errors import ProfileError

FINETUNE_LEARNING_RATE: float = 1e-3
"""Fine-tuning's learning rate, every profile's ``finetune_learning_rate`` unless overridden."""

FINETUNE_HEAD_LEARNING_RATE: float = 1e-3
"""Learning rate of fine-tuning's first phase (the new head alone); not a profile setting."""


@dataclass(frozen=True)
class FinetuneRecipe:
    """How a pre-trained modern CNN is fine-tuned: every number of the recipe in one place.

    Made from a profile's ``finetune_*`` settings by :meth:`Profile.finetune_recipe` and
    applied by :func:`galaxy10.modeling.train.finetune_galaxy_cnn`: a first phase of
    ``head_epochs`` trains only the new head at ``head_learning_rate``, then every layer trains
    for ``epochs`` at ``learning_rate`` (cosine decay), ending on the mean weights of the last
    ``average_last`` epochs (0: early stopping after ``patience`` epochs without progress),
    on targets smoothed by ``label_smoothing``. ``refresh_batch_norm``: the batch-normalisation
    statistics are then recomputed on the training images as they are (their 8 flips and
    quarter turns, :func:`galaxy10.modeling.adapt.adapt_batch_norm`), not kept as the average
    of those of augmented batches. ``refit_all``: the whole recipe runs again on
    every labelled image, keeping the first run's calibration
    (:func:`galaxy10.pipeline.training.train_bundle`). The defaults of the optional fields
    are the plain method (no averaging, hard labels, one run).
    """

    epochs: int
    head_epochs: int
    patience: int
    batch_size: int
    learning_rate: float = FINETUNE_LEARNING_RATE
    head_learning_rate: float = FINETUNE_HEAD_LEARNING_RATE
    average_last: int = 0
    label_smoothing: float = 0.0
    refresh_batch_norm: bool = False
    refit_all: bool = False


@dataclass(frozen=True)
class Profile:
    """Settings of one pipeline run (see the module docstring)."""

    name: str
    preset: str                   #: synthetic data preset used when no real file is given
    baseline_folds: int = 3       #: classical baselines, StratifiedKFold (original: 3)
    ffn_folds: int = 5            #: feed-forward net CV folds (original: 5)
    ffn_epochs: int = 20
    cnn_folds: int = 5            #: seed CNN CV folds (original: 5)
    cnn_epochs: int = 20
    search_iter: int = 6          #: random-search combinations (original: 6)
    search_folds: int = 5
    search_epochs: int = 20       #: also the seed CNN's epochs when it is refitted or benchmarked
    batch_size: int = 32
    galaxy_size: int = 64         #: modern CNN input side (px) after a central crop
    galaxy_crop: float = 0.5
    galaxy_epochs: int = 15
    galaxy_patience: int = 4
    galaxy_filters: tuple[int, ...] = (32, 64, 128, 128)
    #: fewer training images than this (a few hundred real ones) get the budget below; the
    #: quick profile's medium synthetic set stays above it and trains on its quick budget
    small_data_below: int = 2000
    small_data_epochs: int = 60   #: an epoch of a few hundred images is short: allow more
    small_data_patience: int = 10
    #: fine-tuning a pre-trained bundle on (few) real images: long and at 1e-3, because the
    #: small network under-fits a few hundred real images under the robust augmentation; the
    #: budget was chosen by CV on the real sample with other fold seeds than the benchmark's
    #: (80 epochs on seed 1, then 160 on the development seed 2; the scores it was chosen
    #: from: docs/real-galaxies.md and reports/reference/recipe_selection.json)
    finetune_epochs: int = 160
    finetune_head_epochs: int = 3  #: of which the first train only the new head
    finetune_learning_rate: float = FINETUNE_LEARNING_RATE
    finetune_patience: int = 20   #: early stopping on the fine-tuning's validation split
    #: fine-tuning ends with the mean weights of this last fraction of its epochs (stochastic
    #: weight averaging) instead of early stopping; 0 keeps early stopping
    finetune_average_fraction: float = 0.25
    #: fine-tuning's targets are smoothed by this much (label smoothing): a few hundred labels
    #: voted by volunteers are not certain, and softer targets keep a class's embeddings close
    #: together, which the similarity search relies on; 0 trains on hard labels
    finetune_label_smoothing: float = 0.1
    #: after fine-tuning, the batch-normalisation statistics are recomputed on the training
    #: images as they are, instead of kept from the augmented batches (averaged with the
    #: weights): the SWA paper's "bn_update", here without augmentation. Chosen by ``bench
    #: select``'s nested, region-held-out selection (``nested_region_refreshed_statistics``
    #: in reports/reference/recipe_selection.json); off is the recipe before
    finetune_refresh_batch_norm: bool = True
    #: fine-tuning runs twice from the same start and seed: first without its validation
    #: split, which calibrates it, then on every labelled image (10% more labels), which keeps
    #: that calibration; twice the time. Off: on the development fold assignment it added
    #: 0.003 to the 160-epoch recipe, for twice its time (reports/reference/recipe_selection.json)
    finetune_refit_all: bool = False
    ablation_epochs: int = 6      #: epochs per ablation variant (0: skip the ablation)
    bootstrap: int = 1000         #: bootstrap resamples for confidence intervals
    cv_folds: int = 5             #: folds of ``bench real``'s cross-validation
    augment_on_device: bool = False  #: modern CNN: augment in a tf.data pipeline (device_batches)
    mixed_precision: bool = False  #: modern CNN: mixed_float16, only when a GPU is present

    def galaxy_budget(self, n_train: int) -> tuple[int, int]:
        """(max epochs, early-stopping patience) of the modern CNN for ``n_train`` images."""
        if n_train < self.small_data_below:
            return self.small_data_epochs, self.small_data_patience
        return self.galaxy_epochs, self.galaxy_patience

    @property
    def finetune_average_epochs(self) -> int:
        """Epochs at the end of fine-tuning whose weights are averaged (0: early stopping)."""
        if self.finetune_average_fraction <= 0:
            return 0
        return max(1, round(self.finetune_epochs * self.finetune_average_fraction))

    def finetune_recipe(self) -> FinetuneRecipe:
        """The fine-tuning recipe of this profile's ``finetune_*`` settings (and batch size)."""
        return FinetuneRecipe(epochs=self.finetune_epochs, head_epochs=self.finetune_head_epochs,
                              patience=self.finetune_patience, batch_size=self.batch_size,
                              learning_rate=self.finetune_learning_rate,
                              average_last=self.finetune_average_epochs,
                              label_smoothing=self.finetune_label_smoothing,
                              refresh_batch_norm=self.finetune_refresh_batch_norm,
                              refit_all=self.finetune_refit_all)

    def with_epochs(self, epochs: int | None) -> Profile:
        """This profile with at most ``epochs`` epochs for the modern CNN, whatever the data size.

        Sets the large-data, small-data and fine-tuning budgets alike, so that ``--epochs 30``
        means 30 epochs on a tiny file too; None keeps the profile's.
        """
        return self.with_overrides(galaxy_epochs=epochs, small_data_epochs=epochs,
                                   finetune_epochs=epochs)

    def size_fault(self) -> str | None:
        """Why the modern CNN cannot take ``galaxy_size`` px, or None (``--size`` says it too).

        Every block of the network halves its input, so the side must be at least
        ``2 ** blocks``, and never below :data:`MIN_SIDE`; it is cropped from a 256 px
        cut-out, so at most :data:`MAX_SIDE`.
        """
        blocks = len(self.galaxy_filters)
        if self.galaxy_size < 2 ** blocks:
            return (f"the {self.name} profile's network halves its input {blocks} times; give "
                    f"at least {2 ** blocks} px")
        if self.galaxy_size < MIN_SIDE:
            return f"the preprocessing takes at least {MIN_SIDE} px"
        if self.galaxy_size > MAX_SIDE:
            return (f"larger than the {MAX_SIDE} px cut-outs it is cropped from; give at most "
                    f"{MAX_SIDE}")
        return None

    def with_overrides(self, **overrides: Any) -> Profile:
        """This profile with some numbers replaced; ``None`` values keep the profile's.

        Lists are taken for tuples (JSON has no tuples); whole numbers for floats.

        Raises
        ------
        ProfileError
            For a name that is not a profile setting (the message lists them), a value of
            the wrong type (the message names the setting and the type it takes), a
            number outside its range (:data:`RANGES`, :meth:`size_fault`), or
            ``finetune_refit_all`` without weight averaging.
        """
        kinds = settings()
        unknown = sorted(set(overrides) - set(kinds))
        if unknown:
            import difflib

            near = [m for u in unknown for m in difflib.get_close_matches(u, kinds, n=1)]
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ProfileError(f"unknown profile setting(s) {', '.join(unknown)}{hint}; "
                               f"choose from {', '.join(sorted(kinds))}")
        changes = {k: _in_range(k, _checked(k, v, kinds[k])) for k, v in overrides.items()
                   if v is not None}
        profile = replace(self, **changes) if changes else self
        fault = profile.size_fault()
        if fault:
            raise ProfileError(f"profile setting galaxy_size {profile.galaxy_size}: {fault}")
        if profile.finetune_refit_all and profile.finetune_average_epochs == 0:
            raise ProfileError("profile setting finetune_refit_all needs "
                               "finetune_average_fraction above 0: the run on every image "
                               "cannot stop early on images it trains on")
        return profile

    def to_dict(self) -> dict:
        """Plain-JSON form, recorded in metrics.json."""
        return asdict(self)


SETTINGS_ADDED: dict[str, Any] = {"finetune_refresh_batch_norm": False}
"""Profile settings added after runs were recorded, with the value every earlier run had: a
record that lacks one of them ran with that value."""


def recorded_settings(recorded: Any, profile: Profile) -> dict[str, Any] | None:
    """Every setting a recorded run of ``profile``'s name had, in plain JSON, from the
    record's ``to_dict()`` (``recorded``, read back from JSON); None if it is not one.

    A setting missing from the record (:data:`SETTINGS_ADDED`) ran with its value of before
    it existed. ``recorded`` None is a record that kept the profile's name only: it ran with
    ``profile``'s settings as they were before the added ones.
    """
    if recorded is None:
        return {**plain_settings(profile), **_plain(SETTINGS_ADDED)}
    if not isinstance(recorded, dict):
        return None
    return _plain({**SETTINGS_ADDED, **recorded})


def model_settings(section: Mapping[str, Any], model: str) -> Any:
    """The profile settings ``model`` of a ``bench real`` section was measured with, as
    recorded: its own where it was merged from a later run (which keeps them beside its
    ``provenance``), else the section's (None where the section kept none)."""
    entry = (section.get("models") or {}).get(model) or {}
    return entry.get("profile_settings", section.get("profile_settings"))


def same_settings(recorded: Any, profile: Profile) -> bool:
    """Whether a record's profile settings (:func:`recorded_settings`) are ``profile``'s, so
    that its scores stand for this profile's."""
    return recorded_settings(recorded, profile) == plain_settings(profile)


def plain_settings(profile: Profile) -> dict[str, Any]:
    """``profile.to_dict()`` as a JSON record gives it back (tuples as lists), to compare
    with a record's."""
    return _plain(profile.to_dict())


def _plain(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value))


def settings() -> dict[str, Any]:
    """Every setting an override may change (all but ``name`` and ``preset``) -> its type."""
    return {k: v for k, v in get_type_hints(Profile).items() if k not in ("name", "preset")}


_WORDS = {bool: "true or false", int: "a whole number", float: "a number",
          tuple[int, ...]: "a list of whole numbers such as [32, 64]"}


def _checked(name: str, value: Any, kind: Any) -> Any:
    """``value`` as setting ``name`` of type ``kind`` takes it, or :class:`ProfileError`."""
    whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and whole:
        return int(value)
    if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    if kind == tuple[int, ...] and isinstance(value, (list, tuple)) and value and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        return tuple(int(v) for v in value)
    raise ProfileError(f"profile setting {name} takes {_WORDS.get(kind, kind)}, not "
                       f"{value!r} ({type(value).__name__})")


_FRACTIONS = {"finetune_label_smoothing": False, "finetune_average_fraction": True}
"""Settings that are fractions from 0, and whether 1 itself is allowed."""

MAX_EPOCHS = 10_000
"""The most epochs (and patience) a setting or ``--epochs`` takes: beyond it a run is a typo."""
MAX_FOLDS = 100
"""The most cross-validation folds; every fold needs images of each class in it."""
MAX_BATCH = 65_536
"""The largest training batch of images (as ``classify --batch-size``'s)."""
MIN_SIDE, MAX_SIDE = 8, 256
"""The modern CNN's input side: the preprocessing's least, and the cut-outs' own side."""

_EPOCHS = (1, MAX_EPOCHS)
_FOLDS = (2, MAX_FOLDS)
RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("ffn_epochs", "cnn_epochs", "search_epochs", "galaxy_epochs",
                     "small_data_epochs", "finetune_epochs", "galaxy_patience",
                     "small_data_patience", "finetune_patience"), _EPOCHS),
    "finetune_head_epochs": (0, MAX_EPOCHS), "ablation_epochs": (0, MAX_EPOCHS),  # 0: none
    **dict.fromkeys(("baseline_folds", "ffn_folds", "cnn_folds", "search_folds", "cv_folds"),
                    _FOLDS),
    "search_iter": (1, 1000), "batch_size": (1, MAX_BATCH), "bootstrap": (1, 1_000_000),
    "galaxy_filters": (1, 4096),  # galaxy_size: Profile.size_fault, with the network's depth
    "small_data_below": (0, 10**9), "galaxy_crop": (0.01, 1.0),
    "finetune_learning_rate": (1e-8, 1.0),
}
"""Each number's range, the same for a notebook's ``overrides`` as for the command line
(``--epochs`` takes its bound from here, ``--size`` the rule of :meth:`Profile.size_fault`):
negative, NaN or absurdly large values are refused when the profile is made, not hours into
a run. A list setting (``galaxy_filters``) has each element checked."""


def _in_range(name: str, value: Any) -> Any:
    """``value`` if setting ``name`` allows it, or :class:`ProfileError` saying the range."""
    import math

    if name in _FRACTIONS:
        one = _FRACTIONS[name]
        if not (0 <= value <= 1 if one else 0 <= value < 1):
            upto = "up to 1" if one else "up to, not including, 1"
            raise ProfileError(f"profile setting {name} takes a fraction from 0 {upto}, "
                               f"not {value!r}")
    if name in RANGES:
        low, high = RANGES[name]
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, float) and not math.isfinite(item) or not low <= item <= high:
                what = "numbers" if isinstance(value, tuple) else "a number"
                raise ProfileError(f"profile setting {name} takes {what} from {low:,} to "
                                   f"{high:,}, not {value!r}")
    return value


def parse_overrides(overrides: Mapping[str, Any] | str | None = None,
                    **named: Any) -> dict[str, Any]:
    """A notebook's ``overrides`` parameter as a dict, merged with settings given by name.

    Parameters
    ----------
    overrides : mapping, str or None
        A mapping (what papermill's ``-y`` or a notebook's own ``overrides = {...}`` gives),
        a JSON object in a string (what ``-p overrides '{"ffn_epochs": 2}'`` injects), or
        None or an empty string for none.
    **named
        Settings passed by name (notebook 04's ``galaxy_size``); ``None`` keeps the profile's.
        The same setting with another value in ``overrides`` is an error.

    Raises
    ------
    ProfileError
        For a string that is not JSON, a value that is not a mapping, or a setting given twice;
        names and types are checked by :meth:`Profile.with_overrides`.
    """
    example = 'such as \'{"ffn_epochs": 2}\''
    if isinstance(overrides, str):
        text = overrides.strip()
        try:
            overrides = json.loads(text) if text else None
        except json.JSONDecodeError as exc:
            raise ProfileError(f"overrides {text!r} is not JSON ({exc.msg}, character "
                               f"{exc.pos}): write a JSON object {example}, with double "
                               "quotes, or pass a mapping (papermill -y)") from None
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise ProfileError(f"overrides must be a mapping of profile settings {example}, not "
                           f"{overrides!r} ({type(overrides).__name__})")
    merged = dict(overrides)
    for name, value in named.items():
        if value is None:
            continue
        if merged.get(name) is not None and merged[name] != value:
            raise ProfileError(f"profile setting {name} is given twice: {value!r}, and "
                               f"{merged[name]!r} in overrides")
        merged[name] = value
    return merged


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", preset="small", baseline_folds=2, ffn_folds=2, ffn_epochs=1,
                     cnn_folds=2, cnn_epochs=1, search_iter=2, search_folds=2, search_epochs=1,
                     galaxy_size=32, galaxy_epochs=1, galaxy_patience=1,
                     galaxy_filters=(8, 16), small_data_epochs=1, small_data_patience=1,
                     finetune_epochs=2, finetune_head_epochs=1, finetune_patience=1,
                     ablation_epochs=1,
                     bootstrap=50, cv_folds=2),
    "quick": Profile("quick", preset="medium", ffn_folds=3, ffn_epochs=10, cnn_folds=3,
                     cnn_epochs=15, search_iter=3, search_folds=3, search_epochs=10,
                     galaxy_epochs=10, small_data_epochs=30, finetune_epochs=40,
                     ablation_epochs=4),
    "faithful": Profile("faithful", preset="full", ablation_epochs=4),
    # for a GPU (Colab, a workstation): twice the input side, a wider and deeper network, more
    # epochs; augmentation in the tf.data pipeline so that the CPU keeps the GPU fed
    "gpu": Profile("gpu", preset="full", batch_size=64, galaxy_size=128, galaxy_epochs=40,
                   galaxy_patience=8, galaxy_filters=(32, 64, 128, 256, 256),
                   small_data_epochs=80, ablation_epochs=4, augment_on_device=True,
                   mixed_precision=True),
}

ALIASES: dict[str, str] = {"full": "faithful"}
"""Other names of profiles (``bench accuracy --profile full`` predates the one system)."""

CHOICES: list[str] = [*PROFILES, *ALIASES]
"""What ``--profile`` accepts on the command line."""

DEFAULT_PROFILE = "quick"
"""The default of the commands that run for a look, ``run`` and ``bench accuracy``.

``faithful`` takes over an hour there on 2 CPU cores; ``quick`` shows every step and figure
in a fraction of that, and a user who wants the original's settings asks for them.
"""

RECIPE_PROFILE = "faithful"
"""The default of the commands that make a model or a figure to keep: ``train``,
``pretrain`` and ``bench real``.

It is the budget the reference figures were measured with and that ``train --init``'s recipe
(fine-tuning a ``pretrain`` bundle) was chosen under, so a default run reproduces them.
"""


def get_profile(name: str) -> Profile:
    """The profile called ``name`` (or an alias of it); a clear error lists the choices."""
    try:
        return PROFILES[ALIASES.get(name, name)]
    except KeyError:
        raise ProfileError(f"unknown profile {name!r}; choose from {', '.join(CHOICES)}"
                           ) from None
