"""The notebook commands: ``run`` (every numbered notebook, headless) and ``app`` (the button,
or with ``--page label`` the labelling panel)."""

from __future__ import annotations

import argparse
from pathlib import Path

from galaxy10.cli.boundary import count_at_most, notebook_list, port
from galaxy10.cli.data import print_info
from galaxy10.cli.options import (
    DATA_WORDS,
    add_data,
    add_models_dir,
    add_profile,
    add_quiet,
    add_reports_dir,
    add_seed,
)
from galaxy10.core.profiles import DEFAULT_PROFILE


def _check_run(args: argparse.Namespace) -> None:
    import galaxy10.cli.checks as checks
    from galaxy10.cli.outputs import hold_lock
    from galaxy10.core.paths import get_models_home, get_reports_home
    from galaxy10.pipeline.runner import require_extra

    require_extra("run")  # first: nothing else is worth checking without papermill
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


MAX_LABEL_N = 100_000
"""Most galaxies ``app --page label --n`` draws (the model runs once over each)."""


def _check_app(args: argparse.Namespace) -> None:
    """The labelling page's inputs, before anything is served: the labels CSV and its skips
    file when they exist (one line naming the file and line), and ``--galaxies``."""
    from galaxy10.core.errors import GalaxyDataError

    if args.page != "label":
        for option in ("labels", "who", "n"):
            if getattr(args, option) is not None:
                raise GalaxyDataError(f"--{option}", "only the labelling page uses it "
                                                     "(add --page label)")
        if args.galaxies is not None:
            raise GalaxyDataError("--galaxies", "only the labelling page uses it (add --page "
                                                "label)")
        return
    from galaxy10.pipeline.labelling import decisions_path, read_answers

    labels = Path(args.labels or "labels.csv").expanduser()
    for path, skips in ((labels, False), (decisions_path(labels), True)):
        if path.exists() or path.is_symlink():
            read_answers(path, decisions=skips)
    if not labels.parent.is_dir():
        raise GalaxyDataError(labels, "--labels: its folder does not exist")
    if args.galaxies is not None and args.galaxies not in DATA_WORDS:
        galaxies = Path(args.galaxies)
        if not galaxies.exists():
            raise GalaxyDataError(args.galaxies, "--galaxies: not found (a Galaxy10 .h5 file, a "
                                             "folder of pictures, a catalogue folder, or "
                                             f"{', '.join(DATA_WORDS)})")
        if not galaxies.is_dir():  # a file is read as a Galaxy10 .h5: check it is one, now
            from galaxy10.datasets.reader import Galaxy10File

            Galaxy10File(galaxies).close()


def _cmd_app(args: argparse.Namespace) -> int:
    from galaxy10.app.serve import serve_app

    what = "labelling panel" if args.page == "label" else "galaxy button"

    def announce(url: str) -> None:
        print(f"Serving the {what} at {url} (Ctrl-C to stop)", flush=True)

    label = None
    if args.page == "label":
        label = {"GALAXY10_LABELS": str(Path(args.labels or "labels.csv").expanduser().resolve())}
        if args.galaxies is not None:
            label["GALAXY10_LABEL_DATA"] = (args.galaxies if args.galaxies in DATA_WORDS
                                            else str(Path(args.galaxies).resolve()))
        if args.who:
            label["GALAXY10_WHO"] = args.who
        if args.n:
            label["GALAXY10_LABEL_N"] = str(args.n)
    return serve_app(args.model, port=args.port, ip=args.ip, token=not args.no_token,
                     seed=args.seed, on_ready=announce, page=args.page, label=label)


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
    p.add_argument("--port", type=port, default=8866,
                   help="the port to serve on; a taken one is an error (default: 8866)")
    p.add_argument("--ip", default="127.0.0.1",
                   help="the address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--no-token", action="store_true",
                   help="serve without the random token in the URL (on this machine's "
                        "addresses only; any local user can then use the page)")
    add_seed(p)
    p.add_argument("--page", choices=("button", "label"), default="button",
                   help="button: the random-galaxy button (default); label: the labelling "
                        "panel (notebook 07), saving to --labels after every answer")
    p.add_argument("--labels", help="--page label: the labels CSV, carried on when it exists "
                                    "(default: labels.csv here)")
    p.add_argument("--galaxies", help="--page label: what to label, a Galaxy10 .h5 file, a folder "
                                      "of pictures, a catalogue folder, or auto/real/synthetic "
                                      "(default: auto)")
    p.add_argument("--who", help="--page label: who labels (default: the login name)")
    p.add_argument("--n", type=count_at_most(MAX_LABEL_N),
                   help="--page label: galaxies drawn from the data (default: 300)")
    p.set_defaults(func=_cmd_app, check=_check_app)
