"""The catalogue command: ``classify`` (a whole catalogue into resumable Parquet parts)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import galaxy10.cli.checks as checks
from galaxy10.cli.boundary import USER_ERROR, count_at_most, seconds
from galaxy10.cli.options import add_quiet
from galaxy10.cli.outputs import hold_lock, note_after_checks


def _scheduler(text: str) -> str:
    """argparse type: a Dask scheduler's address (``tcp://HOST:PORT``), checked before any
    work."""
    from galaxy10.pipeline.catalogue import CatalogueError
    from galaxy10.pipeline.catalogue.cluster import scheduler_address

    try:
        return scheduler_address(text)
    except CatalogueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_inputs(inputs: list[Path]) -> None:
    """Refuse, in one line, an input ``classify`` cannot read: missing, unreadable, of no
    known kind, or a folder without pictures (``suggest`` checks its inputs the same way)."""
    from galaxy10.core.errors import GalaxyDataError
    from galaxy10.core.files import unreadable_reason
    from galaxy10.datasets.images import IMAGE_SUFFIXES
    from galaxy10.pipeline.catalogue import input_kind

    for source in inputs:
        if source.is_dir():
            if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in source.rglob("*")):
                raise GalaxyDataError(source, "is a folder that holds no images ("
                                              f"{', '.join(sorted(IMAGE_SUFFIXES))})")
            continue
        why = unreadable_reason(source, what="catalogue input (.h5, .parquet, .csv or image)")
        if why:
            raise GalaxyDataError(source, why)
        input_kind(source)  # a readable file of no known kind: one line, before the bundle


def checked_model(model: str | os.PathLike[str] | None, quiet: bool) -> Path:
    """``--model`` of the commands that classify inputs (``classify``, ``suggest``): the bundle
    given, checked, or the default one (the user's, else the shipped one, said in a note)."""
    if not model:
        from galaxy10.modeling.shipped import default_model

        choice = default_model()
        if not quiet:
            note_after_checks(f"[galaxy10] {choice.note}")
        model = choice.path
    return checks.bundle(model, option="--model", kind=None)


def _check_classify(args: argparse.Namespace) -> None:
    """Every input, the bundle and the output folder, before TensorFlow and any work."""
    from galaxy10.pipeline.catalogue import check_catalogue_out

    if not args.scheduler:  # local workers inherit this process's `ulimit -v`
        from galaxy10.core.resources import check_tensorflow_address_space

        check_tensorflow_address_space()
    check_inputs(args.inputs)
    args.model = checked_model(args.model, args.quiet)
    args.out_note = check_catalogue_out(args.out, args.inputs)
    # one writer per catalogue: a second run into it is refused meanwhile; named absolutely
    # so that the lock of `--out .` lies beside the folder, not in it
    hold_lock(os.path.abspath(args.out.expanduser()))


def _cmd_classify(args: argparse.Namespace) -> int:
    from galaxy10.pipeline.catalogue import classify_catalogue

    if args.out_note and not args.quiet:
        print(args.out_note, flush=True)
    result = classify_catalogue(args.inputs, args.out, args.model, workers=args.workers,
                                scheduler=args.scheduler, embeddings=args.embeddings,
                                views=args.views, shard_rows=args.shard_rows,
                                batch_size=args.batch_size, threads=args.threads,
                                progress=not args.quiet, timeout=args.timeout)
    print("\n".join(result.lines()))
    return USER_ERROR if result.failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``classify`` command to ``sub``."""
    from galaxy10.pipeline.catalogue import BATCH_SIZE, SHARD_ROWS
    from galaxy10.pipeline.catalogue.cluster import DEFAULT_TIMEOUT

    p = sub.add_parser(
        "classify", help="classify a whole catalogue (HDF5, Parquet, CSV manifests, folders "
                         "of images) into Parquet parts, resumable, on this machine's cores "
                         "or a Dask cluster",
        description="Classify every image of the inputs with a trained bundle into a Parquet "
                    "catalogue (one part per shard: id, class, top-3, calibrated confidence, "
                    "'not sure' and 'not a galaxy cut-out' flags). A rerun skips the parts "
                    "already written for the same inputs and model. Exit status 2 if an "
                    "input or an image could not be read (the others are classified).")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="Galaxy10 .h5 files, .parquet files with an encoded-image column (the "
                        "Hugging Face layout), CSV manifests (path, optional id and label), "
                        "folders of images (read recursively) or image files")
    p.add_argument("--out", type=Path, required=True,
                   help="catalogue folder to write (new, empty, or an earlier catalogue to "
                        "resume)")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras, "
                                              "else the bundle shipped with galaxy10)")
    p.add_argument("--workers", type=count_at_most(4096), help="worker processes on this machine (default: "
                                                 "one per core; 1 runs in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", type=_scheduler,
                   help="a running Dask scheduler (tcp://host:8786): its workers do the work "
                        "(inputs, bundle and --out on a file system they all see)")
    p.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help="how long to wait on the --scheduler (to answer, for a first worker, "
                        "while it has none, to come back after a lost connection) before "
                        f"giving up in one line (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--embeddings", action="store_true",
                   help="also store the network's penultimate-layer vector per image")
    p.add_argument("--views", type=int, choices=range(1, 9), metavar="1-8",
                   help="flip/rotation views averaged per image (default: the bundle's, 8 "
                        "with test-time augmentation)")
    p.add_argument("--shard-rows", type=count_at_most(10_000_000), default=SHARD_ROWS,
                   help=f"images per shard and part (default {SHARD_ROWS:,}); a crash redoes "
                        "at most one shard per worker")
    p.add_argument("--batch-size", type=count_at_most(65_536), default=BATCH_SIZE,
                   help=f"images in memory at once per worker (default {BATCH_SIZE})")
    p.add_argument("--threads", type=count_at_most(4096),
                   help="TensorFlow threads per worker (default: the cores shared out among "
                        "the local workers; TensorFlow's own choice on a scheduler's workers, "
                        "so give 1 when they run one per core)")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_classify, check=_check_classify)
