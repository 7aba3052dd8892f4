"""``bench active``'s options, checks and run (:mod:`galaxy10.bench.active`): one row of
:data:`galaxy10.cli.bench.BENCHMARKS`, kept in its own module so that table stays short."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import galaxy10.cli.checks as checks
from galaxy10.cli.boundary import count_at_most, folds
from galaxy10.cli.options import add_models_dir, add_profile, add_real, add_seed
from galaxy10.cli.outputs import check_out, note_after_checks
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError
from galaxy10.core.profiles import RECIPE_PROFILE

if TYPE_CHECKING:
    import numpy as np

MAX_SEEDS = 100
"""Most runs of each fold ``--seeds`` takes."""
MAX_LABELS = 10_000_000
"""Bound of ``--sizes``, ``--start`` and ``--batch`` (the fold's pool is checked too)."""


def add_images_bundle_and_folds(p: argparse.ArgumentParser, init: str) -> None:
    """``--real``, ``--init`` (described by ``init``), ``--models-dir``, ``--cv`` and
    ``--folds``: the options ``bench active`` and ``bench adapt`` share (checked by
    :func:`check_cv` and ``checks``)."""
    add_real(p)
    p.add_argument("--init", type=Path, help=f"{init} (default <models-dir>/"
                                             "pretrained_synthetic.keras, else the one shipped "
                                             "with galaxy10)")
    add_models_dir(p)
    p.add_argument("--cv", choices=["random", "region", "both"],
                   help="fold assignment, as bench real's (default: both where the images have "
                        "sky positions, else random)")
    p.add_argument("--folds", type=folds, default=5, help="outer folds (default 5)")


def active_arguments(p: argparse.ArgumentParser) -> None:
    """``bench active``'s own options."""
    from galaxy10.bench.active import (
        BATCH,
        CANDIDATES,
        FINETUNE_STRATEGIES,
        SEEDS,
        SIZES,
        START,
    )
    from galaxy10.bench.clicks import CLICKS
    from galaxy10.modeling.active import STRATEGIES

    add_images_bundle_and_folds(p, "the frozen pre-trained bundle whose embedding the probe "
                                   "learns on")
    p.add_argument("--seeds", type=count_at_most(MAX_SEEDS), default=SEEDS,
                   help=f"runs of each fold, each its own cold start (default {SEEDS})")
    p.add_argument("--sizes", type=count_at_most(MAX_LABELS), nargs="+", metavar="N",
                   default=list(SIZES), help="labels revealed at which the probe is scored "
                   f"(default {' '.join(map(str, SIZES))})")
    p.add_argument("--start", type=count_at_most(MAX_LABELS), default=START,
                   help=f"cold start: pool galaxies labelled first, at random (default {START})")
    p.add_argument("--batch", type=count_at_most(MAX_LABELS), default=BATCH,
                   help=f"galaxies revealed between two refits of the probe (default {BATCH})")
    p.add_argument("--candidates", type=count_at_most(MAX_LABELS), default=CANDIDATES,
                   help=f"candidates of the timed re-rank (default {CANDIDATES:,})")
    p.add_argument("--clicks", type=count_at_most(MAX_LABELS, low=0),
                   help="answers timed in the labelling panel, click to the next galaxy drawn "
                        f"(default {CLICKS}, or every image of a smaller file; 0 times none)")
    p.add_argument("--browser-clicks", type=count_at_most(MAX_LABELS, low=0), default=0,
                   help="answers timed in the served labelling page (app --page label) in "
                        "headless Chromium, click to the next galaxy decoded in the page, "
                        "websocket and kernel included (default 0: none; needs playwright and "
                        "chromium; the page runs --init over every image first)")
    p.add_argument("--finetune-sizes", type=count_at_most(MAX_LABELS), nargs="+", metavar="N",
                   default=[], help="also fine-tune the shipped recipe on the first N labels "
                   "each strategy revealed, scored on the fold's test images (each of --sizes' "
                   "range; minutes per fine-tune on a CPU; default: none)")
    p.add_argument("--finetune-strategies", choices=STRATEGIES, nargs="+",
                   default=list(FINETUNE_STRATEGIES),
                   help="strategies of the fine-tuning curve (default "
                        f"{' '.join(FINETUNE_STRATEGIES)})")
    p.add_argument("--finetune-seeds", type=count_at_most(MAX_SEEDS), default=1,
                   help="runs of each fold fine-tuned, at most --seeds (default 1)")
    add_profile(p, RECIPE_PROFILE)
    p.add_argument("--out", type=Path, help="the JSON record (default "
                                            "<reports-dir>/active_labelling.json)")
    p.add_argument("--out-figure", type=Path, help="the curves' PNG (default "
                                                   "<reports-dir>/figures/active_curve.png)")
    add_seed(p)


def _check_sizes(args: argparse.Namespace, n_images: int, source: Path) -> None:
    """Refuse sizes given twice, below ``--start`` or above what a fold's pool can hold."""
    given = " ".join(map(str, args.sizes))
    twice = sorted({n for n in args.sizes if args.sizes.count(n) > 1})
    if twice:
        raise Galaxy10Error(f"--sizes {given}: give each size once ({', '.join(map(str, twice))} "
                            "given more than once)")
    small = [n for n in args.sizes if n < args.start]
    if small:
        raise Galaxy10Error(f"--sizes {given}: each size must be at least --start "
                            f"{args.start} (the cold start), got {', '.join(map(str, small))}")
    most = n_images * (args.folds - 1) // args.folds
    large = [n for n in args.sizes if n > most]
    if large:
        raise GalaxyDataError(source, f"--sizes {given}: {args.folds}-fold cross-validation of "
                                      f"{n_images} images leaves at most {most} in each fold's "
                                      f"pool; {', '.join(map(str, large))} is more")
    args.sizes = sorted(args.sizes)
    if args.finetune_sizes:
        tuned = " ".join(map(str, args.finetune_sizes))
        outside = [n for n in args.finetune_sizes if not args.start <= n <= args.sizes[-1]]
        if outside:
            raise Galaxy10Error(f"--finetune-sizes {tuned}: each must lie from --start "
                                f"{args.start} to the largest of --sizes ({args.sizes[-1]}), "
                                f"which the runs reveal; got {', '.join(map(str, outside))}")
        if len(set(args.finetune_sizes)) != len(args.finetune_sizes):
            raise Galaxy10Error(f"--finetune-sizes {tuned}: give each size once")
        if args.finetune_seeds > args.seeds:
            raise Galaxy10Error(f"--finetune-seeds {args.finetune_seeds}: at most --seeds "
                                f"({args.seeds}), the runs there are to fine-tune on")


def check_real_and_folds(args: argparse.Namespace) -> tuple[Path, np.ndarray]:
    """``--real`` (labelled images, read once; ``args.checked_real``) and ``--folds`` against
    its classes; returns the images' source and labels."""
    from galaxy10.datasets.resample import check_folds

    source, labels = checks.real_labels(args.real, required=True, probe=True)
    args.checked_real = source
    try:
        check_folds(labels, args.folds)
    except Galaxy10Error as exc:
        raise GalaxyDataError(source, f"--folds {args.folds}: {exc}") from None
    return source, labels


def check_cv(args: argparse.Namespace, source: Path) -> None:
    """``args.checked_splits``: the fold assignments ``--cv`` asks for and the images allow."""
    from galaxy10.datasets.labelled import source_positions

    placed = source_positions(source) is not None
    if args.cv is None and not placed:
        note_after_checks(f"[galaxy10] --cv: {source} has no sky positions, so only the random "
                          "CV runs (the region-held-out one needs ra/dec)")
    cv = args.cv or ("both" if placed else "random")
    if cv != "random" and not placed:
        checks.region_positions(source, f"--cv {cv}")
    args.checked_splits = ["random", "region"] if cv == "both" else [cv]


def _check_browser(clicks: int, n_images: int, source: Path) -> None:
    """Refuse ``--browser-clicks`` above the images less one, or without playwright, chromium
    or the ``app`` extra (Voilà) to serve and drive the page."""
    if clicks >= n_images:
        raise GalaxyDataError(source, f"--browser-clicks {clicks}: it holds {n_images} labelled "
                                      "images, each answered once, and each timed answer shows "
                                      f"a next one; give at most {n_images - 1}")
    from galaxy10.bench.browser import missing_browser
    from galaxy10.pipeline.runner import require_extra

    missing = missing_browser()
    if missing:
        raise Galaxy10Error(f"--browser-clicks {clicks}: timing the page in a browser {missing}")
    require_extra("app")


def active_check(args: argparse.Namespace) -> None:
    """Check every option, input and output of ``bench active`` before any work."""
    from galaxy10.core.paths import get_reports_home, project_root

    args.checked_init = checks.init_bundle(args.init, args.models_dir, kind=None)
    if args.finetune_sizes:  # fine-tuning needs the modern CNN
        args.checked_init = checks.bundle(args.checked_init, option="--init")
    from galaxy10.core.profiles import get_profile

    args.checked_profile = get_profile(args.profile)
    source, labels = check_real_and_folds(args)
    _check_sizes(args, len(labels), source)
    if args.clicks is None:
        from galaxy10.bench.clicks import CLICKS

        args.clicks = min(CLICKS, len(labels))
    elif args.clicks > len(labels):
        raise GalaxyDataError(source, f"--clicks {args.clicks}: it holds {len(labels)} labelled "
                                      "images, each answered once; give at most that")
    if args.browser_clicks:
        _check_browser(args.browser_clicks, len(labels), source)
    check_cv(args, source)
    reports = get_reports_home(args.reports_dir)
    out = args.out or reports / "active_labelling.json"
    import galaxy10

    checkouts = {project_root(), project_root(Path(galaxy10.__file__).parent)}
    if any(out.expanduser().resolve().is_relative_to((c / "reports" / "reference").resolve())
           for c in checkouts):
        raise Galaxy10Error(f"--out {out}: reports/reference holds the committed records the "
                            "docs quote; write the run's record elsewhere")
    args.checked_out = check_out(out, "metrics", inputs=[source], lock=False)
    args.checked_figure = check_out(args.out_figure or reports / "figures" / "active_curve.png",
                                    "figure", inputs=[source], option="--out-figure")


def active_run(args: argparse.Namespace, say: Callable[[str], None]) -> Path:
    """Run ``bench active``, print its tables and record them in ``--out``."""
    import tempfile

    from galaxy10.bench.active import bench_active, format_active
    from galaxy10.bench.records import record
    from galaxy10.datasets.importer import labelled_images_h5

    with tempfile.TemporaryDirectory() as tmp:
        real = labelled_images_h5(args.checked_real, tmp)
        result = bench_active(real, args.checked_init, splits=args.checked_splits,
                              n_folds=args.folds, seeds=args.seeds, sizes=args.sizes,
                              start=args.start, batch=args.batch, candidates=args.candidates,
                              clicks=args.clicks, browser_clicks=args.browser_clicks,
                              seed=args.seed,
                              finetune_sizes=args.finetune_sizes,
                              finetune_strategies=args.finetune_strategies,
                              finetune_seeds=args.finetune_seeds, profile=args.checked_profile,
                              out_figure=args.checked_figure, say=say)
    print(format_active(result))
    print(f"figure written to {result['figure']}")
    return record("active_labelling", result, args.checked_out)
