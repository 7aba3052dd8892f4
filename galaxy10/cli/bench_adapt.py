"""``bench adapt``'s options, checks and run (:mod:`galaxy10.bench.adapt`): one row of
:data:`galaxy10.cli.bench.BENCHMARKS`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import galaxy10.cli.checks as checks
from galaxy10.cli.bench_active import (
    add_images_bundle_and_folds,
    check_cv,
    check_real_and_folds,
)
from galaxy10.cli.options import add_profile, add_seed
from galaxy10.cli.outputs import check_out
from galaxy10.core.profiles import RECIPE_PROFILE


def adapt_arguments(p: argparse.ArgumentParser) -> None:
    """``bench adapt``'s own options."""
    add_images_bundle_and_folds(p, "the pre-trained modern-CNN bundle, frozen and the "
                                   "fine-tunes' start")
    from galaxy10.modeling.shifts import SHIFTS

    shifts = p.add_mutually_exclusive_group()
    shifts.add_argument("--shifts", nargs="+", choices=list(SHIFTS), metavar="SHIFT",
                        help="the shifts to score besides the images as they are (default: "
                             f"every one bench real scores: {', '.join(SHIFTS)})")
    shifts.add_argument("--no-shifts", dest="shifts", action="store_const", const=[],
                        help="the test images as they are only")
    p.add_argument("--finetune", action="store_true",
                   help="also fine-tune the shipped recipe on each fold's training images and "
                        "adapt that (minutes per fold on a CPU)")
    add_profile(p, RECIPE_PROFILE)
    p.add_argument("--out", type=Path, help="the JSON record (default "
                                            "<reports-dir>/benchmarks.json, section adapt)")
    add_seed(p)


def adapt_check(args: argparse.Namespace) -> None:
    """Check every option, input and output of ``bench adapt`` before any work."""
    from galaxy10.core.paths import get_reports_home
    from galaxy10.core.profiles import get_profile

    args.checked_init = checks.init_bundle(args.init, args.models_dir)
    args.checked_profile = get_profile(args.profile)
    source, _labels = check_real_and_folds(args)
    check_cv(args, source)
    out = args.out or get_reports_home(args.reports_dir) / "benchmarks.json"
    args.checked_out = check_out(out, "metrics", inputs=[source], lock=False)


def adapt_run(args: argparse.Namespace, say: Callable[[str], None]) -> Path:
    """Run ``bench adapt``, print its tables and record them in ``--out``."""
    import tempfile

    from galaxy10.bench.adapt import bench_adapt, format_adapt
    from galaxy10.bench.records import record
    from galaxy10.datasets.importer import labelled_images_h5

    with tempfile.TemporaryDirectory() as tmp:
        real = labelled_images_h5(args.checked_real, tmp)
        result = bench_adapt(real, args.checked_init, splits=args.checked_splits,
                             n_folds=args.folds, seed=args.seed,
                             shifts=args.shifts, finetune=args.finetune,
                             profile=args.checked_profile, say=say)
    print(format_adapt(result))
    return record("adapt", result, args.checked_out)
