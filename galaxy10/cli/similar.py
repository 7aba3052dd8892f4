"""The similarity command: ``similar`` (galaxies like this one, and the odd ones out)."""

from __future__ import annotations

import argparse
from pathlib import Path

from galaxy10.cli.boundary import count
from galaxy10.cli.options import add_force, add_seed
from galaxy10.cli.outputs import check_out, note_after_checks
from galaxy10.core.errors import Galaxy10Error


def _how_many(text: str) -> int:
    """argparse type: a whole number of at least 0 (0: none)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def check_similar(args: argparse.Namespace) -> None:
    """Refuse bad arguments in one line before TensorFlow loads; resolve the defaults.

    Sets ``args.row`` / ``args.image`` from the query and ``args.model`` to the bundle used
    (:mod:`galaxy10.cli.checks`); the figures are checked as outputs.
    """
    import galaxy10.cli.checks as checks
    from galaxy10.datasets.labelled import open_labelled

    if args.query is None and not (args.odd or args.gallery or args.map):
        raise Galaxy10Error("give a galaxy to search for (a row of --in or an image file), "
                            "--odd N, --gallery or --map")
    with open_labelled(args.data) as source:  # missing or unreadable: one line naming it
        n = len(source)
    args.row = args.image = None
    if args.query is not None:
        try:
            args.row = int(args.query)
        except ValueError:
            from galaxy10.datasets.images import probe_image

            args.image = Path(args.query)
            probe_image(args.image)  # missing, empty or not a picture: one line naming it
        else:
            if not 0 <= args.row < n:
                raise Galaxy10Error(f"row {args.row}: {args.data} has rows 0-{n - 1}")
    if args.model is None:
        from galaxy10.modeling.shipped import default_model

        choice = default_model()
        args.model = choice.path
        note_after_checks(f"[galaxy10] similar: {choice.note}")
    args.model = checks.bundle(args.model, option="--model", kind=None)
    for out, option in ((args.gallery, "--gallery"), (args.map, "--map")):
        if out is not None:
            check_out(out, "figure", args.force, inputs=[args.data, args.image, args.model],
                      option=option)


def _cmd_similar(args: argparse.Namespace) -> int:
    from galaxy10.evaluation.similarity import find_similar

    result = find_similar(args.data, args.model, row=args.row, image=args.image, k=args.k,
                          odd=args.odd, pca=args.pca, gallery=args.gallery, map_out=args.map,
                          seed=args.seed)
    print("\n".join(result.lines()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``similar`` command to ``sub``."""
    p = sub.add_parser(
        "similar", help="galaxies like this one (nearest in a bundle's embedding), and the "
                        "odd ones out",
        description="List the galaxies of --in nearest to a query (cosine distance between "
                    "the bundle's penultimate-layer vectors, averaged over its test-time "
                    "views), with their true classes. The embeddings of --in are computed "
                    "once and stored beside it (or in the data folder when that is read-only); "
                    "a stored file made by another bundle or before the data changed is "
                    "recomputed. --odd lists the galaxies least like any class.")
    p.add_argument("query", nargs="?", metavar="ROW|IMAGE",
                   help="a row number of --in, or a JPEG/PNG picture")
    p.add_argument("--in", dest="data", type=Path, required=True, metavar="DATA",
                   help="the galaxies to search: a Galaxy10 .h5, a folder of class folders "
                        "0-9, a CSV manifest (file,label) or a Parquet file")
    p.add_argument("-k", type=count, default=8, help="neighbours to list (default 8)")
    p.add_argument("--model", type=Path,
                   help="a .keras bundle (default: models/galaxy_cnn.keras, else the bundle "
                        "shipped with galaxy10)")
    p.add_argument("--odd", type=_how_many, default=0, metavar="N",
                   help="also list the N galaxies least like any class (lowest cosine "
                        "similarity to the nearest class mean)")
    p.add_argument("--pca", type=count, metavar="N",
                   help="compare on the first N principal components (default: every "
                        "dimension)")
    p.add_argument("--gallery", type=Path, metavar="PNG",
                   help="also draw one galaxy per class with its 6 nearest neighbours")
    p.add_argument("--map", type=Path, metavar="PNG",
                   help="also draw the embedding in 2-D (t-SNE), coloured by class")
    add_seed(p)
    add_force(p, "--gallery or --map PNG")
    p.set_defaults(func=_cmd_similar, check=check_similar, tensorflow=True)
