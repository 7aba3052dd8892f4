"""The data commands: ``fetch``, ``synth``, ``info``, ``import``, ``repack``, ``audit``.

Each gets, makes or inspects a Galaxy10 HDF5 file; the work is done by
:mod:`galaxy10.datasets`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from galaxy10.cli.boundary import count
from galaxy10.cli.options import add_force, add_quiet, add_seed
from galaxy10.cli.outputs import check_out


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


def _cmd_synth(args: argparse.Namespace) -> int:
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.fetch import ensure_synthetic

    if args.out is None and args.n is None:
        path = ensure_synthetic(args.preset, args.seed, args.data_home, progress=not args.quiet,
                                workers=args.workers)
    else:
        out = args.out or Path(f"galaxy10_synthetic_n{args.n}_seed{args.seed}.h5")
        check_out(out, "h5", args.force)
        path = synthetic.generate(out, n=args.n, preset=args.preset, seed=args.seed,
                                  progress=not args.quiet, workers=args.workers)
    print_info(path)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    print_info(args.path)
    return 0


def print_info(path: str | Path) -> None:
    from galaxy10.datasets.reader import describe_file

    print(describe_file(path))


def _cmd_import(args: argparse.Namespace) -> int:
    from galaxy10.datasets.importer import (
        import_images,
        import_parquet,
        parquet_sources,
        plan_import,
    )

    check_out(args.out, "h5", args.force, inputs=[args.source])
    if parquet_sources(args.source):
        print_info(import_parquet(args.source, args.out, progress=not args.quiet))
        return 0
    plan = plan_import(args.source, strict=args.strict)
    for line in plan.warnings():
        print(f"warning: {line}", file=sys.stderr)
    path = import_images(args.source, args.out, progress=not args.quiet, plan=plan)
    print_info(path)
    return 0


def _cmd_repack(args: argparse.Namespace) -> int:
    from galaxy10.datasets.repack import repack

    existed = args.out.exists()
    path = repack(args.src, args.out, level=args.level)
    print(f"{'replaced' if existed else 'wrote'} {path} (one image per chunk, gzip level "
          f"{args.level} + shuffle)")
    print_info(path)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    import json

    from galaxy10.datasets.audit import audit, format_audit

    result = audit(args.source, threshold=args.threshold, batch_size=args.batch_size)
    print(json.dumps(result, indent=2) if args.json else format_audit(result))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``fetch``, ``synth``, ``info``, ``import``, ``repack`` and ``audit`` commands."""
    from galaxy10.datasets.synthetic import PRESETS

    p = sub.add_parser("fetch", help="download and verify the real Galaxy10_DECals.h5 (2.7 GB)")
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("synth", help="generate the synthetic data set (the default data)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="size preset: " + ", ".join(f"{k}={v}" for k, v in PRESETS.items()))
    p.add_argument("--n", type=count, help="number of images (overrides --preset's size)")
    add_seed(p)
    p.add_argument("--out", type=Path, help="output file (default: cached under data/synthetic/)")
    p.add_argument("--workers", type=count, default=1, help="processes to render with")
    add_force(p)
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("info", help="class counts and shapes of a Galaxy10 file")
    p.add_argument("path", type=Path)
    p.set_defaults(func=_cmd_info)

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
    add_quiet(p, "no progress bar")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("repack", help="copy a Galaxy10 file with one image per chunk (gzip), "
                                      "for fast random reads")
    p.add_argument("src", type=Path, help="Galaxy10 .h5 file (never modified)")
    p.add_argument("--out", type=Path, required=True, help="the copy to write")
    p.add_argument("--level", type=int, choices=range(10), default=4, metavar="0-9",
                   help="gzip level (default 4)")
    p.set_defaults(func=_cmd_repack)

    p = sub.add_parser("audit", help="find exact and near-duplicate images, and duplicates "
                                     "with conflicting labels")
    p.add_argument("source", type=Path, help="a Galaxy10 .h5 file, a folder of class folders "
                                             "0-9, or a CSV manifest")
    p.add_argument("--threshold", type=float, default=None,
                   help="near-duplicate distance (default: the measured 0.12)")
    p.add_argument("--batch-size", type=int, default=256, help="images in memory at once")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_audit)
