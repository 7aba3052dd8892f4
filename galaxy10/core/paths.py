"""Where galaxy10 keeps data, models and reports.

Following scikit-learn's ``get_data_home``: an explicit argument wins, then an environment
variable, then a folder of the project. The project folder is found by walking up from the
working directory to the ``pyproject.toml`` that names galaxy10, so the notebooks (run from
``notebooks/``), the command line (run from the root) and papermill agree on one ``data/``.
Outside a checkout (Colab, an installed package) the working directory is used.
Nothing here creates folders at import time.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_HOME = "GALAXY10_DATA"
"""Environment variable naming the data folder (default ``<project>/data``)."""
ENV_MODELS_HOME = "GALAXY10_MODELS"
"""Environment variable naming the folder of trained models (default ``<project>/models``)."""
ENV_REAL_SAMPLE = "GALAXY10_REAL_SAMPLE"
"""Environment variable naming a folder (or Galaxy10 .h5 file) of labelled real images."""
ENV_COORDINATES = "GALAXY10_COORDS"
"""Environment variable naming the published sky positions of the Galaxy10 images (a CSV)."""
ENV_REPORTS_HOME = "GALAXY10_REPORTS"
"""Environment variable naming the reports folder (default ``<project>/reports``)."""


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the galaxy10 checkout containing ``start`` (default: the working directory).

    Falls back to ``start`` itself when no ``pyproject.toml`` naming galaxy10 is found.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        marker = folder / "pyproject.toml"
        if marker.is_file():
            try:
                if 'name = "galaxy10"' in marker.read_text(encoding="utf-8"):
                    return folder
            except OSError:
                continue
    return here


def _folder(given: str | os.PathLike[str] | None, env: str | None, default: Path, *,
            create: bool = True) -> Path:
    """The first of ``given``, ``$env``, ``default``; created, and checked to be writable.

    A folder that cannot be used raises one :class:`~galaxy10.core.errors.SettingError` that
    names where it came from (the environment variable, when that was it), instead of an
    ``OSError`` from deep inside a later write. With ``create`` False the folder is only
    looked in: it is neither made nor required to exist (nor to be writable), and only a
    path that names a file, or lies under one, is refused.
    """
    from_env = env if not given and env and os.environ.get(env) else None
    folder = Path(given or (os.environ.get(env) if env else None) or default).expanduser()
    origin = f"{from_env}={folder}" if from_env else str(folder)
    if folder.exists() and not folder.is_dir():
        from galaxy10.core.files import special_kind

        raise _setting_error(origin, f"names {special_kind(folder) or 'a file'}, not a folder")
    if not create:
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise _setting_error(origin, f"cannot be a folder: {existing} is a file")
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _setting_error(origin, f"cannot create this folder ({exc.strerror or exc})"
                             ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _setting_error(origin, "folder is not writable")
    return folder


def _setting_error(origin: str, fault: str) -> Exception:
    from galaxy10.core.errors import SettingError

    return SettingError(f"{origin}: {fault}")


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: ``data_home``, else ``$GALAXY10_DATA``, else ``<project>/data``.

    The folder is created on demand, so that a first download or generation just works.

    Raises
    ------
    SettingError
        If the folder names a file, cannot be created or is not writable.
    """
    return _folder(data_home, ENV_DATA_HOME, project_root() / "data")


def get_models_home(models_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the models folder: argument, else ``$GALAXY10_MODELS``, else ``<project>/models``.

    Raises :class:`~galaxy10.core.errors.SettingError` like :func:`get_data_home`.
    """
    return _folder(models_home, ENV_MODELS_HOME, project_root() / "models")


def find_models_home(models_home: str | os.PathLike[str] | None = None) -> Path:
    """The models folder of :func:`get_models_home`, to look for a bundle in: not created.

    A command that only reads a model (``classify``, ``bench button``, the default bundle's
    choice) must not leave an empty ``models/`` behind, above all when it then fails.

    Raises
    ------
    SettingError
        If the folder names a file.
    """
    return _folder(models_home, ENV_MODELS_HOME, project_root() / "models", create=False)


def default_real_sample() -> Path:
    """Where every ``--real`` (``pretrain``, ``gallery``, ``realism``, ``bench accuracy``,
    ``bench real``) looks for labelled real images by default.

    ``$GALAXY10_REAL_SAMPLE``, else the project's shared 1,000-image sample beside the
    checkout (``../shared/data/real-sample``), which exists only on the team's machines.
    """
    env = os.environ.get(ENV_REAL_SAMPLE)
    if env:
        return Path(env).expanduser()
    return project_root().parent / "shared" / "data" / "real-sample"


def default_coordinates() -> Path:
    """Where galaxy10 looks for the sky position of every image of the official file.

    ``$GALAXY10_COORDS``, else the published table kept beside the checkout
    (``../shared/data/galaxy10-coord/Galaxy10_coord.csv``, from the data set's author's
    repository): one row per h5 row, with ``RA`` and ``DEC`` in degrees. It gives the real
    sample, whose manifest names each image's h5 row, its positions
    (:func:`galaxy10.datasets.sky.manifest_positions`).
    """
    env = os.environ.get(ENV_COORDINATES)
    if env:
        return Path(env).expanduser()
    return project_root().parent / "shared" / "data" / "galaxy10-coord" / "Galaxy10_coord.csv"


def reference_reports_dir() -> Path:
    """``<project>/reports/reference``: the committed results that README and docs/ quote.

    Runs write to :func:`get_reports_home` (git-ignored) unless told to write here.
    """
    return project_root() / "reports" / "reference"


def results_dir(reports_dir: str | os.PathLike[str] | None = None) -> Path:
    """Where ``python -m galaxy10 results`` reads a run's ``metrics.json`` and benchmarks.

    ``reports_dir`` when given; else, in a checkout that holds the committed reference
    results, those (:func:`reference_reports_dir`, what the README and docs/ quote); else
    where ``run`` writes by default: ``$GALAXY10_REPORTS``, else ``<project>/reports`` (the
    working directory outside a checkout). Creates nothing, whichever it is: reading results
    must not leave an empty folder behind.

    Raises
    ------
    SettingError
        If ``reports_dir`` names a file or lies under one.
    """
    if reports_dir:
        return _folder(reports_dir, None, reference_reports_dir(), create=False)
    reference = reference_reports_dir()
    if (reference / "metrics.json").is_file():
        return reference
    return Path(os.environ.get(ENV_REPORTS_HOME) or project_root() / "reports").expanduser()


def get_reports_home(reports_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the reports folder: argument, else ``$GALAXY10_REPORTS``, else ``<project>/reports``.

    Created on demand; raises :class:`~galaxy10.core.errors.SettingError` like
    :func:`get_data_home`.
    """
    return _folder(reports_home, ENV_REPORTS_HOME, project_root() / "reports")
