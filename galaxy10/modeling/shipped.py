"""The pre-trained bundle that ships with galaxy10, and which bundle a command uses by default.

A fresh install (a Colab runtime, ``pip install``) has no model of its own, and making one
takes a while on a laptop. So galaxy10 ships one small bundle,
``galaxy10/modeling/pretrained/pretrained_synthetic.keras`` with its JSON: the modern CNN
pre-trained on the full synthetic set by ``python -m galaxy10 pretrain``, whose JSON records
the commit, profile, seed, data and test figures it was made with. It is the one model file
kept in git; ``python -m galaxy10 pretrain`` remakes it and ``python -m galaxy10 bench
shipped`` checks that a remade bundle scores like the shipped one.

A user's own bundles always come first: :func:`pretrained_bundle` (what ``train --init``,
``bench real`` and notebook 04's fine-tuning start from) and :func:`default_model` (what the
button and ``predict`` classify with) fall back to the shipped bundle only when the models
folder holds none, and say so in :attr:`BundleChoice.note`. A bundle of the user's that is
there but broken (its JSON missing or damaged, or its ``.keras`` file gone) is an error, never
swapped for the shipped one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PRETRAINED_NAME = "pretrained_synthetic"
"""File stem of the pre-trained bundle, in a models folder and in the package."""
MODEL_NAME = "galaxy_cnn"
"""File stem of the model notebook 04 (or ``train``) makes, the button's first choice."""


def shipped_bundle() -> Path:
    """The ``.keras`` file of the bundle that ships inside the package."""
    from importlib.resources import files

    return Path(os.fspath(files("galaxy10.modeling") / "pretrained" / f"{PRETRAINED_NAME}.keras"))


@dataclass(frozen=True)
class BundleChoice:
    """A bundle chosen by default, and whether it is the one shipped with galaxy10."""

    path: Path
    shipped: bool
    models_dir: Path  #: the models folder that was searched first

    @property
    def note(self) -> str:
        """One line for the user: which bundle, and why."""
        if not self.shipped:
            return f"using {self.path}"
        return (f"no model of your own in {self.models_dir}: using the bundle shipped with "
                f"galaxy10 ({self.path.name}, pre-trained on synthetic galaxies; notebook 04 "
                "or `python -m galaxy10 pretrain` makes your own)")


def _own(path: Path) -> bool:
    """Whether the user has a bundle at ``path``; if so, it must be whole and sound.

    A bundle with neither of its two files is absent, and the caller falls back. One with
    either file is the user's: a missing half, or a JSON that fails the schema
    (:func:`galaxy10.modeling.bundle.read_bundle`), is refused rather than silently replaced
    by the shipped bundle, which would answer with another model than the user made.

    Raises
    ------
    ModelError
        If the ``.keras`` file or its JSON is missing, or the JSON is damaged.
    """
    from galaxy10.core.errors import ModelError
    from galaxy10.core.files import unreadable_reason
    from galaxy10.modeling.bundle import params_path, read_bundle

    if not (path.exists() or params_path(path).exists()):
        return False
    read_bundle(path)
    why = unreadable_reason(path, what="model file")
    if why:
        raise ModelError(path, f"{why}: a bundle is this .keras file and its .json; copy both, "
                               "or move the .json away to use the bundle shipped with galaxy10")
    return True


def pretrained_bundle(models_dir: str | os.PathLike[str] | None = None) -> BundleChoice:
    """The pre-trained bundle to fine-tune: the user's ``models/pretrained_synthetic.keras``,
    else the shipped one.

    Parameters
    ----------
    models_dir : path-like, optional
        The models folder (default :func:`galaxy10.core.paths.find_models_home`; looked in, not created).

    Raises
    ------
    ModelError
        If the user's bundle is there but broken (see :func:`_own`).
    """
    from galaxy10.core.paths import find_models_home

    home = find_models_home(models_dir)
    own = home / f"{PRETRAINED_NAME}.keras"
    return (BundleChoice(own, False, home) if _own(own)
            else BundleChoice(shipped_bundle(), True, home))


def default_model(models_dir: str | os.PathLike[str] | None = None) -> BundleChoice:
    """The bundle to classify with when none is named: the user's ``models/galaxy_cnn.keras``,
    else their pre-trained bundle, else the shipped one."""
    from galaxy10.core.paths import find_models_home

    home = find_models_home(models_dir)
    own = home / f"{MODEL_NAME}.keras"
    return BundleChoice(own, False, home) if _own(own) else pretrained_bundle(home)
