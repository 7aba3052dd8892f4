"""Google Colab: the notebooks' set-up cell, and the README's "Open in Colab" badges.

Each notebook has, right after its ``parameters`` cell, the cell :func:`setup_cell` writes.
In Colab it installs galaxy10 from its repository with ``%pip install --no-deps`` and then
calls :func:`setup_colab`; anywhere else it does nothing. ``--no-deps`` because Colab's
TensorFlow, NumPy, Keras, ipywidgets and kernel are matched to its runtime (CUDA, its widget
manager, its front end): pip must not re-resolve them. :func:`setup_colab` then installs only
the core dependencies that are missing altogether (:func:`missing_requirements`), never a
different version of one that is there; the extras (papermill for ``run``; Voila and
JupyterLab for ``app``) are never installed there. Colab ships every core dependency, in
versions that ``pyproject.toml``'s ranges accept, so in Colab this installs nothing more and
pip has nothing to complain about (``tests/pipeline/test_colab.py`` checks it against Colab's
versions).

The repository URL is written once, in ``pyproject.toml``'s ``[project.urls]``; the cell
holds it literally (it runs before galaxy10 is installed, so it cannot ask galaxy10), and a
test checks that every notebook's cell and every README badge equal what this module makes
from ``pyproject.toml``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from pathlib import Path

DRIVE = Path("/content/drive/MyDrive")
"""Where Colab mounts Google Drive (``drive.mount("/content/drive")``)."""
DRIVE_DATA = "galaxy10"
"""The data folder inside Drive: kept across Colab sessions."""
LOCAL_DATA = Path("/content/galaxy10-data")
"""The data folder when Drive is not mounted: this session's disk, lost when it ends."""
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


def installed_versions() -> dict[str, str]:
    """Every distribution installed here: canonical name -> version."""
    from importlib.metadata import distributions

    from packaging.utils import canonicalize_name

    return {canonicalize_name(d.metadata["Name"]): d.version for d in distributions()
            if d.metadata["Name"]}


def core_requirements(distribution: str = "galaxy10") -> list[str]:
    """The installed ``distribution``'s requirements outside any extra (its metadata)."""
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    parsed = [Requirement(text) for text in requires(distribution) or []]
    return [str(r) for r in parsed if r.marker is None or r.marker.evaluate({"extra": ""})]


def missing_requirements(installed: Mapping[str, str] | None = None,
                         requirements: Iterable[str] | None = None) -> list[str]:
    """The ``requirements`` whose package is not in ``installed`` at all.

    A package installed in any version counts as present, also one outside the range
    (:func:`outdated_requirements` names those): Colab's versions are left as they are.

    Parameters
    ----------
    installed : mapping, optional
        Canonical distribution name -> version; default :func:`installed_versions`.
    requirements : iterable of str, optional
        Requirement strings; default galaxy10's :func:`core_requirements` (no extras).
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    installed = installed_versions() if installed is None else installed
    requirements = core_requirements() if requirements is None else requirements
    return [text for text in requirements
            if canonicalize_name(Requirement(text).name) not in installed]


def outdated_requirements(installed: Mapping[str, str] | None = None,
                          requirements: Iterable[str] | None = None) -> list[str]:
    """``"name version (galaxy10 asks for spec)"`` for each requirement installed outside its
    range (kept as it is, and said); arguments as :func:`missing_requirements`."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    installed = installed_versions() if installed is None else installed
    requirements = core_requirements() if requirements is None else requirements
    found = []
    for text in requirements:
        requirement = Requirement(text)
        version = installed.get(canonicalize_name(requirement.name))
        if version is not None and not requirement.specifier.contains(version,
                                                                      prereleases=True):
            found.append(f"{requirement.name} {version} (galaxy10 asks for "
                         f"{requirement.specifier})")
    return found


def setup_colab() -> Path:
    """In Colab, after galaxy10 itself is installed: missing dependencies and the data folder.

    Installs the requirements :func:`missing_requirements` finds with ``%pip`` (and names any
    that :func:`outdated_requirements` finds, without replacing them), then sets
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

    installed = installed_versions()
    missing = missing_requirements(installed)
    if missing:
        get_ipython().run_line_magic("pip", "install --quiet " + " ".join(
            shlex.quote(r) for r in missing))
    outdated = outdated_requirements(installed)
    if outdated:
        print(f"galaxy10: kept this runtime's {'; '.join(outdated)}")
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
