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
    import json

    from galaxy10.classes import CLASS_NAMES
    from galaxy10.images import load_cutout
    from galaxy10.paths import get_models_home
    from galaxy10.predict import Predictor
    from galaxy10.verdict import OK, assess

    predictor = Predictor(args.model or get_models_home() / "galaxy_cnn.keras")
    status = 0
    for image in args.images:
        try:
            verdict = assess(predictor, load_cutout(image))[0]
        except Galaxy10Error as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 2
            continue
        k, p = verdict.top3[0]
        if args.json:
            print(json.dumps({"image": str(image), "model": predictor.name,
                              "calibrated": predictor.temperature != 1.0, **verdict.to_dict()}))
        elif verdict.flag == OK:
            print(f"{image}\t{k} {CLASS_NAMES[k]}\t{p:.3f}")
        else:
            print(f"{image}\t{verdict.flag} (best guess {k} {CLASS_NAMES[k]})\t{p:.3f}\t"
                  f"{verdict.reason}")
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


def _cmd_bench(args: argparse.Namespace) -> int:
    from galaxy10 import bench

    if args.what == "memory":
        from galaxy10.data import resolve_data

        data = resolve_data(args.data or "synthetic", preset="full", seed=0)
        print(f"memory benchmark on {data} (each path in a fresh process)...", flush=True)
        results = bench.bench_memory(data)
        print(bench.format_memory(results))
        path = bench.record("memory", {"data": str(data), "paths": results})
    elif args.what == "inference":
        results = bench.bench_inference(args.models_dir)
        for name, r in results.items():
            print(f"{name:<12} " + ("  ".join(f"{k}={v:.0f}" if isinstance(v, float) else
                                             f"{k}={v}" for k, v in r.items())))
        path = bench.record("inference", results)
    elif args.what == "button":
        r = bench.bench_button(args.model, overlay=args.overlay)
        print(f"button ({r['model']}, {r['tta_views']} view(s), overlay "
              f"{'on' if args.overlay else 'off'}): click-to-result median "
              f"{r['click_median_ms']:.1f} ms, p95 {r['click_p95_ms']:.1f} ms over "
              f"{r['clicks']} clicks; one-image predict {r['predict_one_median_ms']:.1f} ms")
        path = bench.record("button_overlay" if args.overlay else "button", r)
    else:
        path = _bench_accuracy(args)
    print(f"figures written to {path}")
    return 0


def _bench_accuracy(args: argparse.Namespace) -> Path:
    import tempfile

    import numpy as np

    from galaxy10.compare import COMPARE_PROFILES, compare, format_table
    from galaxy10.data import resolve_data
    from galaxy10.evaluate import evaluate_predictions
    from galaxy10.paths import get_models_home, get_reports_home
    from galaxy10.predict import Predictor
    from galaxy10.reader import Galaxy10File
    from galaxy10.report import update_metrics
    from galaxy10.resample import make_splits, split_indices

    settings = COMPARE_PROFILES[args.profile]
    preset = {"full": "full", "quick": "medium", "smoke": "small"}[args.profile]
    data = resolve_data(args.data or "synthetic", preset=preset, seed=args.seed)
    out_dir = get_models_home(args.models_dir) / f"bench_{args.profile}"
    report: dict = {"profile": args.profile}
    with Galaxy10File(data) as f:
        splits = make_splits(f.labels)
        result = compare(f, splits.seed_train, splits.all_train, splits.test, settings,
                         seed=args.seed, models_out=out_dir)
        print(format_table(result, f"== {data.name}: {f.source} data, same split, "
                                   f"{len(splits.test)} test images =="), flush=True)
        report["main"] = {"data": str(data), "source": f.source, **result}
    real = Path(args.real_sample) if args.real_sample else None
    if real is not None and (real / "manifest.csv").is_file():
        from galaxy10.importer import import_images

        with tempfile.TemporaryDirectory() as tmp:
            real_h5 = import_images(real, Path(tmp) / "real_sample.h5", progress=False)
            with Galaxy10File(real_h5) as f:
                train, test = split_indices(np.arange(len(f)), f.labels)  # stratified 80/20, 101
                real_result = compare(f, train, train, test, settings, seed=args.seed,
                                      cache_dir=tmp, models_out=Path(tmp))
                print(format_table(real_result, f"== real sample ({len(f)} images), fixed "
                                                "stratified 80/20 split, random_state=101 =="))
                report["real_sample"] = {"split": "stratified 80/20, random_state=101",
                                         **real_result}
                # sim-to-real: the synthetic-trained modern CNN on every real image
                pred = Predictor(result["galaxy_cnn_bundle"])
                probs = np.concatenate([pred.predict_proba(imgs) for _, imgs in
                                        f.iter_batches(batch_size=128)])
                s2r = evaluate_predictions(f.labels.astype(np.int64), probs,
                                           settings.bootstrap, args.seed)
                print(f"== sim-to-real: modern CNN trained on {data.name}, tested on all "
                      f"{len(f)} real images: accuracy {s2r['accuracy']:.3f}, balanced "
                      f"accuracy {s2r['balanced_accuracy']:.3f} (chance 0.100) ==")
                report["sim_to_real"] = s2r
    elif real is not None:
        print(f"(real sample not found at {real}: skipped the real-pixel comparison)")
    return update_metrics(get_reports_home(args.reports_dir) / "metrics.json",
                          f"bench_accuracy_{args.profile}", report)


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    from galaxy10.compare import COMPARE_PROFILES, train_galaxy
    from galaxy10.evaluate import evaluate_predictions
    from galaxy10.predict import Predictor, save_bundle
    from galaxy10.reader import Galaxy10File
    from galaxy10.resample import make_splits

    settings = COMPARE_PROFILES[args.profile]
    if args.epochs:
        from dataclasses import replace

        settings = replace(settings, galaxy_epochs=args.epochs)
    with Galaxy10File(args.data) as f:
        splits = make_splits(f.labels)
        print(f"training the modern CNN on {len(splits.all_train):,} images of {f.path} "
              f"({f.source}); {len(splits.test):,} held out for testing", flush=True)
        model, config, history = train_galaxy(f, splits.all_train, settings, seed=args.seed)
        facts = {"path": str(f.path.resolve()), "source": f.source, "n_images": len(f)}
        out = save_bundle(model, args.out, kind="galaxy", config=config, tta=True, data=facts,
                          test_rows=splits.test.tolist(), history=history)
        from galaxy10.calibrate import calibrate_from_training  # T and threshold on validation

        calibrate_from_training(out, f, np.sort(splits.all_train), config, history)
        r = evaluate_predictions(f.labels[splits.test], Predictor(out).predict_proba(
            f.read(splits.test)), settings.bootstrap, args.seed)
    lo, hi = r["balanced_accuracy_ci95"]
    print(f"saved {out} (+ {out.with_suffix('.json').name}); test accuracy {r['accuracy']:.3f}, "
          f"balanced accuracy {r['balanced_accuracy']:.3f} [{lo:.3f}, {hi:.3f}], "
          f"{history['seconds']:.0f} s training")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    import json

    from galaxy10.paths import get_reports_home
    from galaxy10.report import results_markdown

    folder = get_reports_home(args.reports_dir)
    docs = {}
    for name, path in (("metrics", folder / "metrics.json"),
                       ("benchmarks", folder / "benchmarks.json"),
                       ("quick", folder / "quick" / "metrics.json")):
        docs[name] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if args.update_readme:
        from galaxy10.report import readme_results, update_readme

        block = readme_results(docs["metrics"], docs["benchmarks"], docs["quick"])
        print(f"results block of {update_readme(args.update_readme, block)} updated")
        return 0
    print(results_markdown(docs["metrics"], docs["benchmarks"]) or
          f"no results yet in {folder}: run `python -m galaxy10 run` first")
    return 0


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
    p.add_argument("--json", action="store_true", help="one JSON line per image: top-3 "
                                                       "calibrated probabilities, flag, model")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("app", help="serve the random-galaxy button as a web page (Voila)")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras)")
    p.add_argument("--port", type=int, default=8866)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_app)

    p = sub.add_parser("train", help="train the modern CNN on any Galaxy10-schema file")
    p.add_argument("--data", type=Path, required=True, help="a Galaxy10 .h5 file")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.keras)")
    p.add_argument("--profile", choices=["smoke", "quick", "full"], default="full")
    p.add_argument("--epochs", type=int, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("bench", help="benchmarks that print figures: memory, inference, "
                                     "button, accuracy")
    p.add_argument("what", choices=["memory", "inference", "button", "accuracy"])
    p.add_argument("--data", help="a Galaxy10 .h5 file (default: the synthetic set)")
    p.add_argument("--profile", choices=["smoke", "quick", "full"], default="quick",
                   help="accuracy: training budget and data size")
    p.add_argument("--real-sample", default=str(REAL_SAMPLE_DEFAULT),
                   help="accuracy: folder of real images (class folders + manifest.csv)")
    p.add_argument("--model", type=Path, help="button: model bundle (default "
                                              "models/galaxy_cnn.keras)")
    p.add_argument("--overlay", action="store_true",
                   help="button: with the 'show where the model looked' overlay on")
    p.add_argument("--models-dir", help="default: models/")
    p.add_argument("--reports-dir", help="default: reports/")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("results", help="print README tables from reports/metrics.json and "
                                       "benchmarks.json")
    p.add_argument("--reports-dir", help="default: reports/")
    p.add_argument("--update-readme", type=Path, metavar="README",
                   help="rewrite the results block of this README instead of printing")
    p.set_defaults(func=_cmd_results)

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
    import signal

    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM (a killed job, a closed terminal) unwinds like Ctrl-C, so atomic writers can
    # remove their temporary files; SIGKILL cannot be caught, but never leaves a torso either.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
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
