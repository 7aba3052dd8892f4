"""Run the numbered notebooks headless with papermill, in order, into ``reports/``.

Each executed notebook is written atomically: papermill executes into a temporary file and
the result replaces ``reports/NN_name.ipynb`` only when the notebook ran without error. A
failing notebook is kept as ``reports/NN_name.failed.ipynb`` for inspection, and the run stops
there with one line naming it.

The notebooks come from the checkout's ``notebooks/`` when run inside one (so that edits
there count), else from the copy the wheel ships as ``galaxy10/_notebooks/`` (built from the
same files by ``pyproject.toml``'s package-dir mapping; see :func:`notebooks_home`). Kernels
run in the project folder (the checkout, or the working directory outside one), so data,
models and reports land there or where ``GALAXY10_*`` say, never inside the installation.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from galaxy10.core.atomic import atomic_path
from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.paths import get_reports_home, project_root
from galaxy10.pipeline.kernels import KERNEL_ARGUMENTS
from galaxy10.pipeline.session import NOTEBOOKS
from galaxy10.reporting.metrics import code_commit

logger = logging.getLogger(__name__)


class NotebookError(Galaxy10Error):
    """A notebook failed while running headless; the message names the saved copy."""


EXTRA_MODULES = {"run": ("papermill", "ipykernel"), "app": ("voila", "ipykernel"),
                 "scale": ("faiss",)}
"""What each of galaxy10's extras brings that a command imports or starts (pyproject.toml's
``[project.optional-dependencies]``): ``run`` executes the notebooks, ``app`` serves the button."""


def require_extra(extra: str) -> None:
    """Check, before any work, that the packages of one extra (``run`` or ``app``) are here.

    Raises
    ------
    Galaxy10Error
        Naming the missing packages and the ``pip install "galaxy10[<extra>]"`` that adds
        them (``make setup`` installs every extra).
    """
    import importlib.util

    missing = [m for m in EXTRA_MODULES[extra] if importlib.util.find_spec(m) is None]
    if missing:
        raise Galaxy10Error(f"`{extra}` needs {' and '.join(missing)}, which galaxy10's "
                            f"[{extra}] extra installs: pip install \"galaxy10[{extra}]\"")


def notebooks_home() -> Path:
    """The folder holding the notebooks: the checkout's ``notebooks/``, else the shipped copy.

    Raises
    ------
    Galaxy10Error
        When neither exists (galaxy10 on ``PYTHONPATH`` outside a checkout); the message
        says to run from the checkout or to install the package.
    """
    checkout = project_root() / "notebooks"
    if (checkout / f"{NOTEBOOKS[0]}.ipynb").is_file():
        return checkout
    shipped = _shipped_notebooks()
    if shipped is not None:
        return shipped
    raise Galaxy10Error(
        f"the notebooks are not here: {checkout} does not hold them and this galaxy10 "
        "installation ships none; run from the galaxy10 checkout, or install the package "
        "(pip install \"galaxy10 @ git+<repository>\")")


def _shipped_notebooks() -> Path | None:
    """The folder of ``galaxy10._notebooks`` (a wheel's copy, or the checkout's through an
    editable install's mapping), or None when this installation has none."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("galaxy10._notebooks")
    except ModuleNotFoundError:
        return None
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / f"{NOTEBOOKS[0]}.ipynb").is_file():
            return Path(location)
    return None


def select_notebooks(only: str | Sequence[str] | None = None) -> list[str]:
    """Notebook names to run: all, or those whose number or name is listed (``"01,04"``)."""
    if not only:
        return list(NOTEBOOKS)
    wanted = [w.strip() for w in (only.split(",") if isinstance(only, str) else only) if w.strip()]
    chosen = [nb for nb in NOTEBOOKS if any(nb == w or nb.split("_")[0] == w.zfill(2)
                                            for w in wanted)]
    unknown = [w for w in wanted if not any(nb == w or nb.split("_")[0] == w.zfill(2)
                                            for nb in NOTEBOOKS)]
    if unknown:
        raise ValueError(f"unknown notebook(s) {unknown}; choose from {', '.join(NOTEBOOKS)}")
    return chosen


def run_notebooks(profile: str = "quick", data: str | os.PathLike[str] = "auto", seed: int = 0,
                  only: str | Sequence[str] | None = None,
                  reports_dir: str | os.PathLike[str] | None = None,
                  models_dir: str | os.PathLike[str] | None = None,
                  notebooks_dir: str | os.PathLike[str] | None = None,
                  progress: bool = True, kernel_name: str | None = None) -> dict[str, float]:
    """Execute the notebooks with papermill; return seconds per notebook.

    Parameters are injected into each notebook's ``parameters`` cell; relative paths are
    made absolute first. Notebooks come from ``notebooks_dir``, else :func:`notebooks_home`;
    their kernels run in the project folder (:func:`~galaxy10.core.paths.project_root`).
    """
    from galaxy10.core.quiet import quiet_environment

    require_extra("run")
    import papermill as pm

    # kernels inherit this: TensorFlow's C++ start-up lines stay out of the notebooks
    quiet_environment()
    root = project_root()
    nb_dir = Path(notebooks_dir) if notebooks_dir else notebooks_home()
    reports = get_reports_home(reports_dir).resolve()
    params = {"data": _absolute(data), "profile": profile, "seed": int(seed),
              "reports_dir": os.fspath(reports),
              "models_dir": os.fspath(Path(models_dir).resolve()) if models_dir else None}
    timings: dict[str, float] = {}
    for name in select_notebooks(only):
        source = nb_dir / f"{name}.ipynb"
        target = reports / f"{name}.ipynb"
        failed = reports / f"{name}.failed.ipynb"
        logger.info("running %s", source)
        if progress:
            print(f"[galaxy10] {name}: running ({profile} profile)...", flush=True)
        start = time.perf_counter()
        with atomic_path(target, suffix=".ipynb") as tmp:
            try:
                pm.execute_notebook(source, tmp, parameters=params, cwd=root,
                                    kernel_name=kernel_name, progress_bar=False,
                                    request_save_on_cell_execute=False,
                                    extra_arguments=list(KERNEL_ARGUMENTS))
            except pm.PapermillExecutionError as exc:
                os.replace(tmp, failed)
                raise NotebookError(f"{source.name} failed at cell {exc.exec_count} "
                                    f"({exc.ename}: {exc.evalue}); executed copy: "
                                    f"{failed}") from None
        failed.unlink(missing_ok=True)
        timings[name] = time.perf_counter() - start
        _record_timings(reports / "metrics.json", params, timings)
        if progress:
            print(f"[galaxy10] {name}: done in {timings[name]:.0f} s -> {target}", flush=True)
    return timings


def _record_timings(metrics: Path, params: dict, timings: dict[str, float]) -> None:
    """Write the ``run`` section of metrics.json: wall time per notebook and where it ran.

    docs/results.md quotes a run's wall time; recording it beside the numbers it produced (with
    the commit and the number of CPU cores) keeps that figure traceable. Timings of an
    earlier run with the same profile and data are kept for notebooks not rerun (``--only``).
    """
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.reporting.metrics import read_metrics, update_metrics

    seconds: dict[str, float] = {}
    try:
        previous = read_metrics(metrics).get("run", {})
        if (previous.get("profile"), previous.get("data_path")) == (params["profile"],
                                                                     params["data"]):
            seconds.update(previous.get("notebook_seconds", {}))
    except (Galaxy10Error, AttributeError):
        pass
    seconds.update({k: round(v, 1) for k, v in timings.items()})
    update_metrics(metrics, "run", {
        "profile": params["profile"], "data_path": params["data"], "seed": params["seed"],
        "notebook_seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
        "cpu_count": os.cpu_count(), "commit": code_commit(),
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})


def _absolute(data: str | os.PathLike[str]) -> str:
    text = os.fspath(data)
    if text in ("auto", "real", "synthetic"):
        return text
    return os.fspath(Path(text).expanduser().resolve())
