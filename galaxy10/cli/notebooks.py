"""The notebook commands: ``run`` (every numbered notebook, headless) and ``app`` (the button)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxy10.cli.boundary import notebook_list, port
from galaxy10.cli.data import print_info
from galaxy10.cli.options import add_data, add_models_dir, add_profile, add_quiet, add_reports_dir, add_seed
from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.profiles import DEFAULT_PROFILE


def _check_run(args: argparse.Namespace) -> None:
    import galaxy10.cli.checks as checks
    from galaxy10.cli.outputs import hold_lock
    from galaxy10.core.paths import get_models_home, get_reports_home

    checks.trainable(args.data)
    reports = get_reports_home(args.reports_dir)
    get_models_home(args.models_dir)
    # one run at a time per reports folder: two would interleave their notebooks and figures
    # (a lock of its own: the notebooks' kernels lock metrics.json for each update)
    hold_lock(reports / "notebooks-run")


def _cmd_run(args: argparse.Namespace) -> int:
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.pipeline.runner import run_notebooks

    profile = get_profile(args.profile)
    path = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    print_info(path)
    timings = run_notebooks(profile.name, data=path, seed=args.seed, only=args.only,
                            reports_dir=args.reports_dir, models_dir=args.models_dir,
                            progress=not args.quiet)
    total = sum(timings.values())
    print(f"[galaxy10] {len(timings)} notebook(s) in {total:.0f} s; executed notebooks, figures "
          f"and metrics.json are in {args.reports_dir or 'reports/'}")
    return 0


def _cmd_app(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from galaxy10.modeling.predict import Predictor
    from galaxy10.pipeline.runner import notebooks_home

    notebook = notebooks_home() / "app.ipynb"
    if not notebook.is_file():
        raise Galaxy10Error(f"{notebook} not found: run the app from the galaxy10 checkout")
    if args.model:
        Predictor(args.model)  # fail early, in one line, on a bad model
    from galaxy10.core.paths import get_data_home, get_models_home

    env = dict(os.environ, GALAXY10_SEED=str(args.seed), TF_CPP_MIN_LOG_LEVEL="3")
    # Voila runs the kernel beside the notebook, which is inside site-packages for an
    # installed package: name this project's folders explicitly
    env.setdefault("GALAXY10_DATA", os.fspath(get_data_home().resolve()))
    env.setdefault("GALAXY10_MODELS", os.fspath(get_models_home().resolve()))
    if args.model:
        env["GALAXY10_MODEL"] = os.fspath(Path(args.model).resolve())
    print(f"Serving the galaxy button at http://127.0.0.1:{args.port}/ (Ctrl-C to stop)",
          flush=True)
    command = [sys.executable, "-m", "voila", os.fspath(notebook), f"--port={args.port}",
               "--no-browser", "--Voila.ip=127.0.0.1", "--theme=light"]
    return subprocess.call(command, env=env)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` and ``app`` commands to ``sub``."""
    p = sub.add_parser("run", help="execute the numbered notebooks headless (papermill) into "
                                   "reports/")
    add_profile(p, DEFAULT_PROFILE)
    add_data(p)
    p.add_argument("--only", type=notebook_list,
                   help="comma-separated notebook numbers, e.g. 01,04")
    add_seed(p)
    add_reports_dir(p)
    add_models_dir(p)
    add_quiet(p, "no per-notebook progress")
    p.set_defaults(func=_cmd_run, check=_check_run)

    p = sub.add_parser("app", help="serve the random-galaxy button as a web page (Voila)")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras)")
    p.add_argument("--port", type=port, default=8866)
    add_seed(p)
    p.set_defaults(func=_cmd_app)
