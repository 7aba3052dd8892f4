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


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder: ``data_home``, else ``$GALAXY10_DATA``, else ``<project>/data``.

    The folder is created on demand, so that a first download or generation just works.
    """
    folder = Path(data_home or os.environ.get(ENV_DATA_HOME) or project_root() / "data")
    folder = folder.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def get_models_home(models_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the models folder: argument, else ``$GALAXY10_MODELS``, else ``<project>/models``."""
    folder = Path(models_home or os.environ.get(ENV_MODELS_HOME) or project_root() / "models")
    folder = folder.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_real_sample() -> Path:
    """Where ``bench real`` and ``pretrain`` look for labelled real images by default.

    ``$GALAXY10_REAL_SAMPLE``, else the project's shared 1,000-image sample beside the
    checkout (``../shared/data/real-sample``), which exists only on the team's machines.
    """
    env = os.environ.get(ENV_REAL_SAMPLE)
    if env:
        return Path(env).expanduser()
    return project_root().parent / "shared" / "data" / "real-sample"


def reference_reports_dir() -> Path:
    """``<project>/reports/reference``: the committed results that the README quotes.

    Runs write to :func:`get_reports_home` (git-ignored) unless told to write here.
    """
    return project_root() / "reports" / "reference"


def get_reports_home(reports_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the reports folder (argument, else ``<project>/reports``), created on demand."""
    folder = Path(reports_home or project_root() / "reports").expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder
