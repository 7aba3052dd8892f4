"""Google Colab: the notebooks' set-up cell, and the README's "Open in Colab" badges.

Each notebook has, right after its ``parameters`` cell, the cell :func:`setup_cell` writes.
In Colab it installs galaxy10 from its repository with ``%pip install --no-deps`` and then
calls :func:`setup_colab`; anywhere else it does nothing. ``--no-deps`` because Colab's
TensorFlow, NumPy, Keras and Jupyter front end are matched to its runtime (CUDA, its widget
manager, its kernel): a plain install could upgrade or downgrade them (voila and jupyterlab
would replace its Jupyter server). :func:`setup_colab` then installs only the dependencies
that are missing altogether, never a different version of one that is there.

The repository URL is written once, in ``pyproject.toml``'s ``[project.urls]``; the cell
holds it literally (it runs before galaxy10 is installed, so it cannot ask galaxy10), and a
test checks that every notebook's cell and every README badge equal what this module makes
from ``pyproject.toml``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

DRIVE = Path("/content/drive/MyDrive")
"""Where Colab mounts Google Drive (``drive.mount("/content/drive")``)."""
DRIVE_DATA = "galaxy10"
"""The data folder inside Drive: kept across Colab sessions."""
LOCAL_DATA = Path("/content/galaxy10-data")
"""The data folder when Drive is not mounted: this session's disk, lost when it ends."""
NOT_FOR_COLAB = frozenset({"jupyterlab", "voila", "ipykernel"})
"""Dependencies that Colab replaces with its own front end and kernel: never installed there."""
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def setup_cell(repository: str) -> str:
    """The source of every notebook's Colab set-up cell, for ``repository`` (a GitHub URL)."""
    return (
        "# In Google Colab: install galaxy10 and choose a data folder. Elsewhere: nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet --no-deps "galaxy10 @ git+{repository}"\n'
        "    from galaxy10.pipeline.colab import setup_colab\n"
        "\n"
        "    setup_colab()")


def colab_url(repository: str, notebook: str, branch: str = "main") -> str:
    """Colab's address of ``notebooks/<notebook>.ipynb`` in the GitHub ``repository``."""
    owner_repo = repository.removeprefix("https://github.com/").strip("/")
    return (f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/notebooks/"
            f"{notebook}.ipynb")


def badge(repository: str, notebook: str) -> str:
    """The README's "Open in Colab" badge of one notebook (a markdown image link)."""
    return f"[![Open {notebook} in Colab]({BADGE})]({colab_url(repository, notebook)})"


def missing_requirements(distribution: str = "galaxy10") -> list[str]:
    """galaxy10's requirements that are not installed at all (Colab's own ones excluded).

    A requirement whose package is installed in another version counts as present: Colab's
    versions are left as they are.
    """
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    missing = []
    for text in requires(distribution) or []:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # an extra (dev tools)
        name = canonicalize_name(requirement.name)
        if name in NOT_FOR_COLAB:
            continue
        try:
            _installed_version(name)
        except PackageNotFoundError:
            missing.append(str(requirement))
    return missing


def _installed_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def setup_colab() -> Path:
    """In Colab, after galaxy10 itself is installed: missing dependencies and the data folder.

    Installs the requirements :func:`missing_requirements` finds with ``%pip``, then sets
    ``GALAXY10_DATA`` to ``DRIVE/galaxy10`` when Google Drive is mounted (kept across
    sessions), else to :data:`LOCAL_DATA`, with ``GALAXY10_MODELS`` and ``GALAXY10_REPORTS``
    in ``models/`` and ``reports/`` inside it (:func:`persistent_folders`), and prints which
    in one line. Variables set before are kept.

    Returns
    -------
    Path
        The data folder (created).
    """
    from IPython import get_ipython

    missing = missing_requirements()
    if missing:
        get_ipython().run_line_magic("pip", "install --quiet " + " ".join(
            shlex.quote(r) for r in missing))
    if os.environ.get("GALAXY10_DATA"):
        folder, why = Path(os.environ["GALAXY10_DATA"]), "GALAXY10_DATA was set"
    elif DRIVE.is_dir():
        folder, why = DRIVE / DRIVE_DATA, "Google Drive is mounted: kept across sessions"
    else:
        folder, why = LOCAL_DATA, ("Drive is not mounted: this session's disk, lost when it "
                                   "ends; run drive.mount('/content/drive') first to keep it")
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["GALAXY10_DATA"] = os.fspath(folder)
    kept = persistent_folders(folder)
    print(f"galaxy10: data in {folder}, models in {kept['GALAXY10_MODELS']}, reports in "
          f"{kept['GALAXY10_REPORTS']} ({why})")
    return folder


def persistent_folders(data: Path) -> dict[str, Path]:
    """Set ``GALAXY10_MODELS`` and ``GALAXY10_REPORTS`` to folders beside the data folder.

    Colab gives every notebook its own runtime: the splits, models and reports one notebook
    makes reach the next (and the next day's session) only when they are kept where the data
    are, under Drive when it is mounted. A variable set before is kept.

    Returns
    -------
    dict
        Variable name to folder (created).
    """
    chosen = {}
    for variable, name in (("GALAXY10_MODELS", "models"), ("GALAXY10_REPORTS", "reports")):
        folder = Path(os.environ.get(variable) or data / name)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[variable] = os.fspath(folder)
        chosen[variable] = folder
    return chosen
