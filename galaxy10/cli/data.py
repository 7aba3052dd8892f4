"""The data commands: ``fetch``, ``synth``, ``info``, ``import``, ``repack``, ``audit``.

Each gets, makes or inspects a Galaxy10 HDF5 file; the work is done by
:mod:`galaxy10.datasets`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import galaxy10.cli.checks as checks
from galaxy10.cli.boundary import count, count_at_most
from galaxy10.cli.options import add_force, add_quiet, add_seed
from galaxy10.cli.outputs import check_out, hold_lock
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError
from galaxy10.core.files import free_space_reason, unreadable_reason


def _check_fetch(args: argparse.Namespace) -> None:
    from galaxy10.datasets.fetch import GALAXY10_DECALS, real_data_path
    from galaxy10.datasets.release import is_verified_release

    target = real_data_path(args.data_home)
    if is_verified_release(target):
        return  # nothing to download; pooch still re-checks the hash
    hold_lock(target)
    why = free_space_reason(target.parent, GALAXY10_DECALS.size)
    if why:
        raise Galaxy10Error(f"{target}: the download {why}")


def _cmd_fetch(args: argparse.Namespace) -> int:
    from galaxy10.datasets.fetch import GALAXY10_DECALS, fetch

    print(f"Fetching {GALAXY10_DECALS.name} ({GALAXY10_DECALS.size / 1e9:.1f} GB) "
          f"from {GALAXY10_DECALS.url}")
    path = fetch(args.data_home, progressbar=not args.quiet)
    print(f"verified (SHA-256 {GALAXY10_DECALS.sha256[:12]}...): {path}")
    from galaxy10.datasets.repack import repack_hint

    hint = repack_hint(path)
    if hint:
        print(hint)
    return 0


def _check_synth(args: argparse.Namespace) -> None:
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.fetch import synthetic_path

    if args.out is None and args.n is None:
        args.target = synthetic_path(args.preset, args.seed, args.data_home)
        hold_lock(args.target)
        n = synthetic.PRESETS[args.preset]
    else:
        out = args.out or Path(f"galaxy10_synthetic_n{args.n}_seed{args.seed}.h5")
        args.target = check_out(out, "h5", args.force)
        n = args.n or synthetic.PRESETS[args.preset]
    checks.free_space(args.target.parent, n, str(args.target))


def _cmd_synth(args: argparse.Namespace) -> int:
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.fetch import ensure_synthetic

    if args.out is None and args.n is None:
        path = ensure_synthetic(args.preset, args.seed, args.data_home, progress=not args.quiet,
                                workers=args.workers)
    else:
        path = synthetic.generate(args.target, n=args.n, preset=args.preset, seed=args.seed,
                                  progress=not args.quiet, workers=args.workers)
    print_info(path)
    return 0


def _check_info(args: argparse.Namespace) -> None:
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(args.path) as f:  # schema and declared sizes: before anything is printed
        placed = f.metadata("ra") is not None and f.metadata("dec") is not None
    args.survey = None
    if args.sky_figure is not None:
        from galaxy10.datasets.sky import published_positions

        if not placed:
            raise GalaxyDataError(args.path, f"--sky-figure {args.sky_figure}: the file has no "
                                             "sky positions (ra/dec) to draw")
        args.survey = published_positions(args.coords)
        args.sky_figure = check_out(args.sky_figure, "figure", inputs=[args.path, args.coords],
                                    option="--sky-figure")
    elif args.coords is not None:
        raise GalaxyDataError(args.coords, "--coords: the whole data set's positions are drawn "
                                           "under --sky-figure; give that too")


def _cmd_info(args: argparse.Namespace) -> int:
    print_info(args.path, verify=True)
    if args.sky_figure is not None:
        from galaxy10.datasets.labelled import source_positions
        from galaxy10.reporting.figures import save_figure, sky_footprint

        here = source_positions(args.path)
        survey = args.survey
        fig = sky_footprint(here.ra, here.dec, f"Where {args.path.name} lies on the sky",
                            survey_ra=None if survey is None else survey.ra,
                            survey_dec=None if survey is None else survey.dec,
                            label=args.path.name, survey_label="the whole data set")
        print(f"sky figure written to {save_figure(fig, args.sky_figure)}")
    return 0


def print_info(path: str | Path, verify: bool = False) -> None:
    """Print ``info``'s summary of ``path``.

    With ``verify``, a file without galaxy10's attribute whose size is the official
    release's is checked by its SHA-256 first (once: the result is recorded beside it), so
    that it is called real Galaxy10 DECaLS data only when it is.
    """
    from galaxy10.datasets.reader import UNVERIFIED, Galaxy10File, describe_file

    if verify:
        from galaxy10.datasets.release import verify_release

        with Galaxy10File(path) as f:
            unverified = f.source == UNVERIFIED
        if unverified:
            verify_release(path, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(describe_file(path))


def _check_import(args: argparse.Namespace) -> None:
    from galaxy10.datasets.importer import parquet_sources, plan_import

    if not args.source.exists() and not args.source.is_symlink():
        plan_import(args.source)  # its "not found (expected ...)" message
    if not args.source.is_dir():
        what = "Parquet file" if args.source.suffix.lower() == ".parquet" else "CSV manifest"
        why = unreadable_reason(args.source, what=what)
        if why:
            raise GalaxyDataError(args.source, why)
    check_out(args.out, "h5", args.force, inputs=[args.source])
    args.parquet = bool(parquet_sources(args.source))
    args.plan = None
    if args.parquet and args.coords is not None:
        raise GalaxyDataError(args.source, f"--coords {args.coords}: positions are joined on a "
                                           "CSV manifest's h5_row column; a Parquet import "
                                           "has no manifest")
    if not args.parquet:
        args.plan = plan_import(args.source, strict=args.strict, coordinates=args.coords)
        checks.free_space(args.out.parent, len(args.plan.pairs), str(args.out))


def _cmd_import(args: argparse.Namespace) -> int:
    from galaxy10.datasets.importer import import_images, import_parquet

    if args.parquet:
        print_info(import_parquet(args.source, args.out, progress=not args.quiet))
        return 0
    for line in args.plan.warnings():
        print(f"warning: {line}", file=sys.stderr)
    path = import_images(args.source, args.out, progress=not args.quiet, plan=args.plan)
    print_info(path)
    return 0


def _check_repack(args: argparse.Namespace) -> None:
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(args.src) as f:  # validated, declared sizes included, before the copy
        n, shape = len(f), f.image_shape
    args.existed = args.out.exists()
    check_out(args.out, "h5", args.force, inputs=[args.src])
    checks.free_space(args.out.parent, n, str(args.out), image_bytes=int(np.prod(shape)))


def _cmd_repack(args: argparse.Namespace) -> int:
    from galaxy10.datasets.repack import repack

    path = repack(args.src, args.out, level=args.level, force=args.force)
    print(f"{'replaced' if args.existed else 'wrote'} {path} (one image per chunk, gzip level "
          f"{args.level} + shuffle)")
    print_info(path)
    return 0


def _check_audit(args: argparse.Namespace) -> None:
    checks.real_labels(args.source, required=True, option=None)


def _cmd_audit(args: argparse.Namespace) -> int:
    import json

    from galaxy10.datasets.audit import audit, format_audit

    result = audit(args.source, threshold=args.threshold, batch_size=args.batch_size)
    print(json.dumps(result, indent=2) if args.json else format_audit(result))
    return 0


def _threshold(text: str) -> float:
    """argparse type: a near-duplicate distance in [0, 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 2.0:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 2 (the largest distance "
                                         f"of two thumbnails), got {text}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fetch``, ``synth``, ``info``, ``import``, ``repack`` and ``audit`` commands."""
    from galaxy10.datasets.synthetic import PRESETS

    p = sub.add_parser("fetch", help="download and verify the real Galaxy10_DECals.h5 (2.7 GB)")
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_fetch, check=_check_fetch)

    p = sub.add_parser("synth", help="generate the synthetic data set (the default data)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="size preset: " + ", ".join(f"{k}={v}" for k, v in PRESETS.items()))
    p.add_argument("--n", type=count, help="number of images (overrides --preset's size)")
    add_seed(p)
    p.add_argument("--out", type=Path, help="output file (default: cached under data/synthetic/)")
    p.add_argument("--workers", type=count_at_most(64), default=1,
                   help="processes to render with (at most 64)")
    add_force(p)
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_synth, check=_check_synth)

    p = sub.add_parser("info", help="class counts and shapes of a Galaxy10 file, and where it "
                                    "lies on the sky")
    p.add_argument("path", type=Path)
    p.add_argument("--sky-figure", type=Path, metavar="PNG",
                   help="also draw the file's sky positions over the whole data set's")
    p.add_argument("--coords", type=Path,
                   help="the whole data set's positions for --sky-figure (CSV: index, RA, DEC; "
                        "default $GALAXY10_COORDS, else ../shared/data/galaxy10-coord/"
                        "Galaxy10_coord.csv where it exists)")
    p.set_defaults(func=_cmd_info, check=_check_info)

    p = sub.add_parser("import", help="turn a folder of images (class folders 0-9 or a CSV "
                                      "manifest file,label) or Parquet files (the Hugging Face "
                                      "layout) into a Galaxy10 HDF5 file")
    p.add_argument("source", type=Path, help="folder with sub-folders 0-9, a CSV manifest, or "
                                             "a .parquet file or folder of them (the file keeps "
                                             "their train/test split)")
    p.add_argument("--out", type=Path, required=True, help="HDF5 file to write")
    add_force(p)
    p.add_argument("--strict", action="store_true",
                   help="fail instead of ignoring folders, files or images it cannot use")
    p.add_argument("--coords", type=Path,
                   help="the published sky positions (CSV: index, RA, DEC), joined on the "
                        "manifest's h5_row column (default: $GALAXY10_COORDS, else "
                        "../shared/data/galaxy10-coord/Galaxy10_coord.csv where it exists); a "
                        "manifest's own ra and dec columns come first")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_import, check=_check_import)

    p = sub.add_parser("repack", help="copy a Galaxy10 file with one image per chunk (gzip), "
                                      "for fast random reads")
    p.add_argument("src", type=Path, help="Galaxy10 .h5 file (never modified)")
    p.add_argument("--out", type=Path, required=True, help="the copy to write")
    p.add_argument("--level", type=int, choices=range(10), default=4, metavar="0-9",
                   help="gzip level (default 4)")
    add_force(p)
    p.set_defaults(func=_cmd_repack, check=_check_repack)

    p = sub.add_parser("audit", help="find exact and near-duplicate images, and duplicates "
                                     "with conflicting labels")
    p.add_argument("source", type=Path, help="a Galaxy10 .h5 file, a folder of class folders "
                                             "0-9, or a CSV manifest")
    p.add_argument("--threshold", type=_threshold, default=None,
                   help="near-duplicate distance, 0 to below 2 (default: the measured 0.12)")
    p.add_argument("--batch-size", type=count_at_most(4096), default=256,
                   help="images in memory at once (default 256, at most 4096)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_audit, check=_check_audit)
