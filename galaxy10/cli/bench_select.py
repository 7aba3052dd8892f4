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
    p.add_argument("--reuse-inner", type=Path, metavar="SELECTION_JSON",
                   help="an earlier bench select record (a metrics.json, or "
                        "reports/reference/recipe_selection.json) whose inner scores of "
                        "candidates with the same settings, folds, profile and init are taken "
                        "instead of fine-tuning them again")
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
        checks.region_positions(source, "--cv region")
    n_folds = checks.folds(labels, args.folds, profile, source)
    args.folds = n_folds
    args.checked_reuse = None
    if args.reuse is not None:
        from galaxy10.bench.real import real_cv_section

        section = real_cv_section(args.cv, args.seed)
        args.checked_reuse = _record(args.reuse, "--reuse", [section],
                                     f"record of bench real --cv {args.cv}")
    args.checked_reuse_inner = None
    if args.reuse_inner is not None:
        from galaxy10.bench.selection import inner_reuse

        sections = [f"recipe_selection_{args.cv}", f"nested_{args.cv}"]
        record = _record(args.reuse_inner, "--reuse-inner", sections,
                         f"record of bench select --cv {args.cv}")
        if not inner_reuse(record, args.candidates, profile, args.checked_init,
                           args.inner_folds):
            raise GalaxyDataError(args.reuse_inner, "--reuse-inner: none of its candidates "
                                  "was measured with the settings of --candidates "
                                  f"{' '.join(args.candidates)}, profile {profile.name}, "
                                  f"{args.inner_folds} inner folds and this init")
        args.checked_reuse_inner = record
    args.metrics = metrics_store(args.reports_dir)


def _record(path: Path, option: str, sections: list[str], what: str) -> dict:
    """The first of ``sections`` in the JSON file ``option`` names; one clear error if the
    file cannot be read, is not JSON, or holds none of them."""
    import json

    from galaxy10.core.files import unreadable_reason

    reason = unreadable_reason(path, what="JSON file")
    if reason:
        raise GalaxyDataError(path, f"{option}: {reason}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise GalaxyDataError(path, f"{option}: not a JSON file ({exc})") from None
    found = [record[s] for s in sections
             if isinstance(record, dict) and isinstance(record.get(s), dict)]
    if not found:
        raise GalaxyDataError(path, f"{option}: no '{sections[0]}' {what} in it")
    return found[0]


def select_run(args: argparse.Namespace, say: Callable[[str], None]) -> Path:
    """Run the nested selection, print its table and record it."""
    import tempfile

    from galaxy10.bench.selection import OtherFoldsError, format_selection, select_recipe
    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.reporting.metrics import update_metrics

    section = f"recipe_selection_{args.cv}"
    with tempfile.TemporaryDirectory() as tmp:
        real = labelled_images_h5(args.checked_real, tmp)
        try:
            result = select_recipe(  # each finished outer fold is recorded, marked incomplete
                real, args.checked_profile, args.candidates, init=args.checked_init,
                seed=args.seed, outer_folds=args.folds, inner_folds=args.inner_folds,
                split=args.cv, reuse=args.checked_reuse,
                reuse_inner=args.checked_reuse_inner, say=say,
                on_fold=lambda partial: update_metrics(args.metrics, f"{section}_partial",
                                                       partial))
        except OtherFoldsError as exc:  # found once the images are grouped, before training
            raise GalaxyDataError(args.reuse_inner, str(exc)) from None
    print(format_selection(result))
    return update_metrics(args.metrics, section, result)
