"""The labelling command: ``suggest`` (which unlabelled galaxies to label next)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from galaxy10.cli.boundary import USER_ERROR, count, count_at_most
from galaxy10.cli.options import add_force, add_quiet, add_seed
from galaxy10.cli.outputs import check_out
from galaxy10.core.errors import Galaxy10Error


def _share(text: str) -> float:
    """argparse type: a share from 0 to 1 (NaN refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def _check_suggest(args: argparse.Namespace) -> None:
    """Inputs, labels manifest, candidates against ``--n`` and the output, before any work."""
    from galaxy10.pipeline.suggest import (
        check_embeddings,
        count_candidates,
        is_catalogue,
        read_labelled,
    )

    catalogues = [is_catalogue(p) for p in args.inputs]
    if any(catalogues) and not all(catalogues):
        folder = args.inputs[catalogues.index(True)]
        raise Galaxy10Error(f"{folder}: a catalogue folder cannot be mixed with inputs to "
                            "classify; give catalogues only, or the inputs only")
    if all(catalogues):
        if args.diversity:
            for folder in args.inputs:
                check_embeddings(folder)
    else:
        from galaxy10.cli.catalogue import check_inputs, checked_model
        from galaxy10.core.resources import check_tensorflow_address_space

        check_tensorflow_address_space()
        check_inputs(args.inputs)
        args.model = checked_model(args.model, args.quiet)
    known = read_labelled(args.labelled) if args.labelled is not None else None
    candidates = count_candidates(args.inputs, known, args.keep_not_cutouts)
    if args.n > candidates:
        many = "is only 1 candidate galaxy" if candidates == 1 else \
            f"are only {candidates:,} candidate galaxies"
        raise Galaxy10Error(f"--n {args.n}: there {many} (unlabelled rows of the inputs) to "
                            "suggest from")
    args.out = check_out(args.out, "suggestions", args.force,
                         inputs=[*args.inputs, args.labelled, args.model])


def _cmd_suggest(args: argparse.Namespace) -> int:
    from galaxy10.pipeline.suggest import suggest

    result = suggest(args.inputs, args.out, args.model, n=args.n, by=args.by,
                     random_share=args.random_share, seed=args.seed, labelled=args.labelled,
                     diversity=args.diversity, keep_not_cutouts=args.keep_not_cutouts,
                     workers=args.workers, progress=not args.quiet)
    print("\n".join(result.lines()))
    return USER_ERROR if any(result.unread) else 0  # as classify: the rest are ranked


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``suggest`` command to ``sub``."""
    p = sub.add_parser(
        "suggest", help="rank unlabelled galaxies for labelling: the most uncertain, spread "
                        "out, some at random, balanced over the predicted classes",
        description="Write the --n galaxies most worth labelling next as a CSV (rank, id, "
                    "path, predicted class, top-3 classes and probabilities, margin, "
                    "entropy, reason). Candidates are ranked by the calibrated "
                    "probabilities' margin or entropy, spread by greedy k-centre on the "
                    "embeddings, capped per predicted class, with a share of random picks. "
                    "Reads a catalogue folder that `classify --embeddings` wrote, or "
                    "classifies the inputs first (in a temporary catalogue). Exit status 2 "
                    "if an input or an image could not be read (the others are ranked).")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="catalogue folders written by `classify --embeddings`, or what "
                        "classify reads: Galaxy10 .h5, .parquet, CSV manifests, folders of "
                        "images, image files")
    p.add_argument("--out", type=Path, required=True, help="the suggestions CSV to write")
    p.add_argument("--n", type=count, default=50, help="galaxies to suggest (default 50)")
    p.add_argument("--by", choices=("margin", "entropy"), default="margin",
                   help="uncertainty score: top-1 minus top-2 probability, or entropy "
                        "(default margin)")
    p.add_argument("--random-share", type=_share, default=0.1, metavar="SHARE",
                   help="share of the picks drawn at random, 0 to 1 (default 0.1)")
    p.add_argument("--labelled", type=Path, metavar="CSV",
                   help="a labels manifest (label, and id or path): its galaxies are left out")
    p.add_argument("--no-diversity", dest="diversity", action="store_false",
                   help="rank by uncertainty alone (no k-centre on the embeddings)")
    p.add_argument("--keep-not-cutouts", action="store_true",
                   help="rank the rows classify flagged 'not a galaxy cut-out' too (left out "
                        "by default: their label would teach nothing about galaxies)")
    p.add_argument("--model", type=Path, help="a .keras bundle for inputs to classify "
                                              "(default as classify)")
    p.add_argument("--workers", type=count_at_most(4096),
                   help="classify's worker processes (default: one per core; 1 runs in this "
                        "process)")
    add_seed(p)
    add_force(p, "--out CSV")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_suggest, check=_check_suggest)
