"""The ``python -m galaxy10`` command line.

Each sub-command is a thin wrapper over a package function; errors that a user can cause are
printed as one line (``error: <file>: <fault>``) with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from galaxy10.errors import Galaxy10Error

REAL_SAMPLE_DEFAULT = Path("../shared/data/real-sample")


def _cmd_fetch(args: argparse.Namespace) -> int:
    from galaxy10.data import GALAXY10_DECALS, fetch

    print(f"Fetching {GALAXY10_DECALS.name} ({GALAXY10_DECALS.size / 1e9:.1f} GB) "
          f"from {GALAXY10_DECALS.url}")
    path = fetch(args.data_home, progressbar=not args.quiet)
    print(f"verified (SHA-256 {GALAXY10_DECALS.sha256[:12]}...): {path}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from galaxy10 import synthetic
    from galaxy10.data import ensure_synthetic

    if args.out is None and args.n is None:
        path = ensure_synthetic(args.preset, args.seed, args.data_home, progress=not args.quiet,
                                workers=args.workers)
    else:
        out = args.out or Path(f"galaxy10_synthetic_n{args.n}_seed{args.seed}.h5")
        path = synthetic.generate(out, n=args.n, preset=args.preset, seed=args.seed,
                                  progress=not args.quiet, workers=args.workers)
    _print_info(path)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    _print_info(args.path)
    return 0


def _print_info(path: str | Path) -> None:
    from galaxy10.report import describe_file

    print(describe_file(path))


def _cmd_import(args: argparse.Namespace) -> int:
    from galaxy10.importer import import_images

    path = import_images(args.source, args.out, progress=not args.quiet)
    _print_info(path)
    return 0


def _cmd_gallery(args: argparse.Namespace) -> int:
    from galaxy10.report import real_vs_synthetic_gallery

    path = real_vs_synthetic_gallery(args.real, args.synthetic, args.out, per_class=args.per_class,
                                     seed=args.seed)
    print(f"wrote {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from galaxy10.data import resolve_data
    from galaxy10.profiles import get_profile
    from galaxy10.runner import run_notebooks

    profile = get_profile(args.profile)
    path = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    _print_info(path)
    timings = run_notebooks(profile.name, data=path, seed=args.seed, only=args.only,
                            reports_dir=args.reports_dir, models_dir=args.models_dir)
    total = sum(timings.values())
    print(f"[galaxy10] {len(timings)} notebook(s) in {total:.0f} s; executed notebooks, figures "
          f"and metrics.json are in {args.reports_dir or 'reports/'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from galaxy10.classes import CLASS_NAMES
    from galaxy10.paths import get_models_home
    from galaxy10.predict import Predictor

    predictor = Predictor(args.model or get_models_home() / "galaxy_cnn.keras")
    status = 0
    for image in args.images:
        try:
            probs = predictor.predict_file(image)
        except Galaxy10Error as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        k = int(probs.argmax())
        print(f"{image}\t{k} {CLASS_NAMES[k]}\t{probs[k]:.3f}")
    return status


def _cmd_app(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from galaxy10.paths import project_root
    from galaxy10.predict import Predictor

    notebook = project_root() / "notebooks" / "app.ipynb"
    if not notebook.is_file():
        raise Galaxy10Error(f"{notebook} not found: run the app from the galaxy10 checkout")
    if args.model:
        Predictor(args.model)  # fail early, in one line, on a bad model
    env = dict(os.environ, GALAXY10_SEED=str(args.seed), TF_CPP_MIN_LOG_LEVEL="3")
    if args.model:
        env["GALAXY10_MODEL"] = os.fspath(Path(args.model).resolve())
    print(f"Serving the galaxy button at http://127.0.0.1:{args.port}/ (Ctrl-C to stop)",
          flush=True)
    command = [sys.executable, "-m", "voila", os.fspath(notebook), f"--port={args.port}",
               "--no-browser", "--Voila.ip=127.0.0.1", "--theme=light"]
    return subprocess.call(command, env=env)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and for ``--help`` documentation)."""
    parser = argparse.ArgumentParser(
        prog="python -m galaxy10",
        description="Galaxy10 DECaLS: fetch or synthesise the data, inspect it, import images.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="download and verify the real Galaxy10_DECals.h5 (2.7 GB)")
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_fetch)

    from galaxy10.synthetic import PRESETS

    p = sub.add_parser("synth", help="generate the synthetic data set (the default data)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="size preset: " + ", ".join(f"{k}={v}" for k, v in PRESETS.items()))
    p.add_argument("--n", type=int, help="number of images (overrides --preset's size)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, help="output file (default: cached under data/synthetic/)")
    p.add_argument("--workers", type=int, default=1, help="processes to render with")
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("info", help="class counts and shapes of a Galaxy10 file")
    p.add_argument("path", type=Path)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("import", help="turn a folder of images (class folders 0-9 or a CSV "
                                      "manifest file,label) into a Galaxy10 HDF5 file")
    p.add_argument("source", type=Path, help="folder with sub-folders 0-9, or a CSV manifest")
    p.add_argument("--out", type=Path, required=True, help="HDF5 file to write")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("run", help="execute the numbered notebooks headless (papermill) into "
                                   "reports/")
    p.add_argument("--profile", choices=["smoke", "quick", "faithful"], default="quick",
                   help="smoke: seconds; quick: ~15 min on 2 cores; faithful: the original's "
                        "settings on the full-size data")
    p.add_argument("--data", default="auto",
                   help="a Galaxy10 .h5 file, 'real', 'synthetic' or 'auto' (default: the real "
                        "file if downloaded, else the synthetic set)")
    p.add_argument("--only", help="comma-separated notebook numbers, e.g. 01,04")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reports-dir", help="default: reports/")
    p.add_argument("--models-dir", help="default: models/")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("predict", help="classify image files with a trained model")
    p.add_argument("images", nargs="+", type=Path, help="JPEG/PNG files")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("app", help="serve the random-galaxy button as a web page (Voila)")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_app)

    p = sub.add_parser("gallery", help="real-vs-synthetic example grid (PNG)")
    p.add_argument("--real", type=Path, default=REAL_SAMPLE_DEFAULT,
                   help=f"real images: class-folder tree, CSV or .h5 (default {REAL_SAMPLE_DEFAULT})")
    p.add_argument("--synthetic", default="synthetic",
                   help="synthetic .h5 file, or 'synthetic' for the default set")
    p.add_argument("--out", type=Path, default=Path("reports/figures/gallery_real_vs_synthetic.png"))
    p.add_argument("--per-class", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_gallery)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except Galaxy10Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
