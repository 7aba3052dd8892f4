"""``bench select``'s options, checks and run (:mod:`galaxy10.bench.selection`): one row of
:data:`galaxy10.cli.bench.BENCHMARKS`, kept in its own module so that table stays short."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import galaxy10.cli.checks as checks
from galaxy10.cli.boundary import folds
from galaxy10.cli.options import add_models_dir, add_profile, add_real, add_seed
from galaxy10.cli.outputs import metrics_store
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError
from galaxy10.core.profiles import RECIPE_PROFILE


def select_arguments(p: argparse.ArgumentParser) -> None:
    """``bench select``'s own options."""
    from galaxy10.bench.selection import CANDIDATES

    add_real(p)
    add_profile(p, RECIPE_PROFILE)
    p.add_argument("--init", help="the synthetic-pre-trained bundle every candidate fine-tunes "
                                  "(default <models-dir>/pretrained_synthetic.keras, else the "
                                  "shipped one)")
    add_models_dir(p)
    p.add_argument("--candidates", choices=list(CANDIDATES), nargs="+",
                   default=["shipped", "robust"],
                   help="the recipes to choose among, the current one first (it wins ties; "
                        "default: shipped robust)")
    p.add_argument("--folds", type=folds, help="outer folds: bench real's (default: the "
                                               "profile's, 5 for faithful)")
    p.add_argument("--inner-folds", type=folds, default=2,
                   help="inner folds each outer fold chooses by (default 2)")
    p.add_argument("--cv", choices=["region", "random"], default="region",
                   help="how both levels group their folds (default region: whole sky cells "
                        "held out; needs sky positions)")
    p.add_argument("--reuse", type=Path, metavar="METRICS_JSON",
                   help="a metrics.json whose bench real record of the same folds gives the "
                        "first candidate's outer scores where it is chosen (the same models), "
                        "instead of training them again")
    add_seed(p)


def select_check(args: argparse.Namespace) -> None:
    """Check ``bench select``'s options before any work."""
    from galaxy10.core.profiles import get_profile

    if len(set(args.candidates)) < 2 or len(set(args.candidates)) != len(args.candidates):
        raise Galaxy10Error(f"--candidates {' '.join(args.candidates)}: give at least two "
                            "different recipes to choose among, each once")
    args.checked_profile = profile = get_profile(args.profile)
    args.checked_init = checks.init_bundle(args.init, args.models_dir)
    source, labels = checks.real_labels(args.real, required=True, probe=True)
    args.checked_real = source
    if args.cv == "region":
        from galaxy10.datasets.labelled import source_positions

        if source_positions(source) is None:
            raise GalaxyDataError(source, "--cv region: no sky positions, which the "
                                          "region-held-out selection needs; or --cv random")
    n_folds = checks.folds(labels, args.folds, profile, source)
    args.folds = n_folds
    args.checked_reuse = None
    if args.reuse is not None:
        import json

        from galaxy10.bench.real import REAL_CV_SECTIONS
        from galaxy10.core.files import unreadable_reason

        section = REAL_CV_SECTIONS[args.cv]
        reason = unreadable_reason(args.reuse, what="JSON file")
        if reason:
            raise GalaxyDataError(args.reuse, f"--reuse: {reason}")
        try:
            record = json.loads(args.reuse.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise GalaxyDataError(args.reuse, f"--reuse: not a JSON file ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get(section), dict):
            raise GalaxyDataError(args.reuse, f"--reuse: no '{section}' record of bench real "
                                              f"--cv {args.cv} in it")
        args.checked_reuse = record[section]
    args.metrics = metrics_store(args.reports_dir)


def select_run(args: argparse.Namespace, say: Callable[[str], None]) -> Path:
    """Run the nested selection, print its table and record it."""
    import tempfile

    from galaxy10.bench.selection import format_selection, select_recipe
    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.reporting.metrics import update_metrics

    section = f"recipe_selection_{args.cv}"
    with tempfile.TemporaryDirectory() as tmp:
        real = labelled_images_h5(args.checked_real, tmp)
        result = select_recipe(  # each finished outer fold is recorded, marked incomplete
            real, args.checked_profile, args.candidates, init=args.checked_init,
            seed=args.seed, outer_folds=args.folds, inner_folds=args.inner_folds,
            split=args.cv, reuse=args.checked_reuse, say=say,
            on_fold=lambda partial: update_metrics(args.metrics, f"{section}_partial", partial))
    print(format_selection(result))
    return update_metrics(args.metrics, section, result)
