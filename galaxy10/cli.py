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

from galaxy10.boundary import (
    OneLineParser,
    count,
    folds,
    notebook_list,
    port,
    run_command,
    seed,
)
from galaxy10.core.errors import Galaxy10Error


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


def _cmd_repack(args: argparse.Namespace) -> int:
    from galaxy10.datasets.repack import repack

    existed = args.out.exists()
    path = repack(args.src, args.out, level=args.level)
    print(f"{'replaced' if existed else 'wrote'} {path} (one image per chunk, gzip level "
          f"{args.level} + shuffle)")
    _print_info(path)
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    import json

    from galaxy10.datasets.audit import audit, format_audit

    result = audit(args.source, threshold=args.threshold, batch_size=args.batch_size)
    print(json.dumps(result, indent=2) if args.json else format_audit(result))
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.fetch import ensure_synthetic

    if args.out is None and args.n is None:
        path = ensure_synthetic(args.preset, args.seed, args.data_home, progress=not args.quiet,
                                workers=args.workers)
    else:
        out = args.out or Path(f"galaxy10_synthetic_n{args.n}_seed{args.seed}.h5")
        _check_out(out, "h5", args.force)
        path = synthetic.generate(out, n=args.n, preset=args.preset, seed=args.seed,
                                  progress=not args.quiet, workers=args.workers)
    _print_info(path)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    _print_info(args.path)
    return 0


def _print_info(path: str | Path) -> None:
    from galaxy10.datasets.reader import describe_file

    print(describe_file(path))


def _check_out(out: Path, kind: str, force: bool, inputs=(), companions=()) -> None:
    from galaxy10.outputs import check_output

    note = check_output(out, kind=kind, inputs=inputs, force=force, companions=companions)
    if note:
        print(note, file=sys.stderr)


def _cmd_import(args: argparse.Namespace) -> int:
    from galaxy10.datasets.importer import import_images, plan_import

    _check_out(args.out, "h5", args.force, inputs=[args.source])
    plan = plan_import(args.source, strict=args.strict)
    for line in plan.warnings():
        print(f"warning: {line}", file=sys.stderr)
    path = import_images(args.source, args.out, progress=not args.quiet, plan=plan)
    _print_info(path)
    return 0


def _cmd_gallery(args: argparse.Namespace) -> int:
    from galaxy10.core.paths import default_real_sample
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.reporting.figures import real_vs_synthetic_gallery

    real = args.real or default_real_sample()
    _check_out(args.out, "figure", args.force, inputs=[real, args.synthetic])
    path = real_vs_synthetic_gallery(real, resolve_data(args.synthetic), args.out,
                                     per_class=args.per_class, seed=args.seed)
    print(f"wrote {path}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.pipeline.runner import run_notebooks

    profile = get_profile(args.profile)
    path = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    _print_info(path)
    timings = run_notebooks(profile.name, data=path, seed=args.seed, only=args.only,
                            reports_dir=args.reports_dir, models_dir=args.models_dir,
                            progress=not args.quiet)
    total = sum(timings.values())
    print(f"[galaxy10] {len(timings)} notebook(s) in {total:.0f} s; executed notebooks, figures "
          f"and metrics.json are in {args.reports_dir or 'reports/'}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from galaxy10.core.classes import CLASS_NAMES
    from galaxy10.core.paths import get_models_home
    from galaxy10.datasets.images import load_cutout
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.verdict import OK, assess

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
                              "calibrated": predictor.calibrated, **verdict.to_dict()}))
        elif verdict.flag == OK:
            print(f"{image}\t{k} {CLASS_NAMES[k]}\t{p:.3f}")
        else:
            print(f"{image}\t{verdict.flag} (best guess {k} {CLASS_NAMES[k]})\t{p:.3f}\t"
                  f"{verdict.reason}")
    return status


def _cmd_app(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from galaxy10.modeling.predict import Predictor
    from galaxy10.pipeline.runner import notebooks_home

    notebook = notebooks_home() / "app.ipynb"
    if not notebook.is_file():
        raise Galaxy10Error(f"{notebook} not found: run the app from the galaxy10 checkout")
    if args.model:
        Predictor(args.model)  # fail early, in one line, on a bad model
    from galaxy10.core.paths import get_data_home, get_models_home

    env = dict(os.environ, GALAXY10_SEED=str(args.seed), TF_CPP_MIN_LOG_LEVEL="3")
    # Voila runs the kernel beside the notebook, which is inside site-packages for an
    # installed package: name this project's folders explicitly
    env.setdefault("GALAXY10_DATA", os.fspath(get_data_home().resolve()))
    env.setdefault("GALAXY10_MODELS", os.fspath(get_models_home().resolve()))
    if args.model:
        env["GALAXY10_MODEL"] = os.fspath(Path(args.model).resolve())
    print(f"Serving the galaxy button at http://127.0.0.1:{args.port}/ (Ctrl-C to stop)",
          flush=True)
    command = [sys.executable, "-m", "voila", os.fspath(notebook), f"--port={args.port}",
               "--no-browser", "--Voila.ip=127.0.0.1", "--theme=light"]
    return subprocess.call(command, env=env)


def _cmd_bench(args: argparse.Namespace) -> int:
    from galaxy10 import bench
    from galaxy10.core.paths import get_reports_home

    if args.profile is None:
        args.profile = "faithful" if args.what == "real" else "quick"
    records = get_reports_home(args.reports_dir) / "benchmarks.json"

    def say(line: str) -> None:  # progress, silenced by -q (the figures always print)
        if not args.quiet:
            print(line, flush=True)

    if args.what == "layout":
        from galaxy10.bench import bench_layout, format_layout

        say(f"layout benchmark: {args.n} synthetic images in four layouts...")
        results = bench_layout(args.n, seed=args.seed)
        print(format_layout(results))
        path = bench.record("layout", results, records)
    elif args.what == "memory":
        from galaxy10.datasets.fetch import resolve_data
        from galaxy10.datasets.reader import Galaxy10File

        data = resolve_data(args.data or "synthetic", preset="full", seed=0)
        Galaxy10File(data).close()  # a bad --data fails here, in one line, before any child runs
        say(f"memory benchmark on {data} (each path in a fresh process)...")
        results = bench.bench_memory(data)
        print(bench.format_memory(results))
        path = bench.record("memory", {"data": str(data), "paths": results}, records)
    elif args.what == "inference":
        results = bench.bench_inference(args.models_dir)
        for name, r in results.items():
            print(f"{name:<12} " + ("  ".join(f"{k}={v:.0f}" if isinstance(v, float) else
                                             f"{k}={v}" for k, v in r.items())))
        path = bench.record("inference", results, records)
    elif args.what == "button":
        r = bench.bench_button(args.model, overlay=args.overlay)
        print(f"button ({r['model']}, {r['tta_views']} view(s), overlay "
              f"{'on' if args.overlay else 'off'}): click-to-result median "
              f"{r['click_median_ms']:.1f} ms, p95 {r['click_p95_ms']:.1f} ms over "
              f"{r['clicks']} clicks; one-image predict {r['predict_one_median_ms']:.1f} ms")
        path = bench.record("button_overlay" if args.overlay else "button", r, records)
    elif args.what == "pipeline":
        say(f"input pipelines: {args.n} random images, NumPy vs tf.data, alone and in one "
            "training epoch...")
        results = bench.bench_pipelines(args.n, seed=args.seed)
        print(bench.format_pipelines(results))
        path = bench.record("pipeline", results, records)
    elif args.what == "real":
        path = _bench_real(args)
    else:
        path = _bench_accuracy(args)
    print(f"figures written to {path}")
    return 0


def _bench_accuracy(args: argparse.Namespace) -> Path:
    from galaxy10.bench import bench_accuracy
    from galaxy10.core.paths import get_models_home, get_reports_home
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.reporting.metrics import update_metrics

    profile = get_profile(args.profile)
    data = resolve_data(args.data or "synthetic", preset=profile.preset, seed=args.seed)
    report = bench_accuracy(data, profile, seed=args.seed, real_sample=args.real_sample,
                            models_out=get_models_home(args.models_dir) / f"bench_{profile.name}")
    return update_metrics(get_reports_home(args.reports_dir) / "metrics.json",
                          f"bench_accuracy_{profile.name}", report)


def _jitter(name: str) -> dict:
    from galaxy10.modeling.augment import JITTERS

    return JITTERS[name]


def _cmd_train(args: argparse.Namespace) -> int:
    import numpy as np

    from galaxy10.core.errors import GalaxyDataError, NotEnoughDataError
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import make_splits
    from galaxy10.evaluation.evaluate import evaluate_predictions
    from galaxy10.modeling.predict import Predictor, lineage_step, save_bundle
    from galaxy10.modeling.train import finetune_from_bundle, train_galaxy

    profile = get_profile(args.profile).with_overrides(
        galaxy_epochs=args.epochs, small_data_epochs=args.epochs, finetune_epochs=args.epochs)
    jitter = _jitter(args.jitter or ("robust" if args.init else "default"))
    _check_out(args.out, "bundle", args.force, inputs=[args.data, args.init],
               companions=[args.out.with_suffix(".json")])
    with Galaxy10File(args.data) as f:
        try:
            splits = make_splits(f.labels)
        except NotEnoughDataError as exc:
            raise GalaxyDataError(args.data, f"too little to train on: {exc}") from None
        verb = f"fine-tuning {args.init}" if args.init else "training the modern CNN"
        if not args.quiet:
            from galaxy10.modeling.device import describe_device

            print(describe_device(), flush=True)
        print(f"{verb} on {len(splits.all_train):,} images of {f.path} ({f.source}); "
              f"{len(splits.test):,} held out for testing", flush=True)
        step = lineage_step(f, "fine-tune" if args.init else "train", jitter=jitter,
                        profile=profile.name)
        if args.init:
            model, config, history, pre = finetune_from_bundle(
                args.init, f, splits.all_train, profile, seed=args.seed, jitter=jitter,
                progress=not args.quiet)
            lineage = [*pre.get("lineage", []), step]
        else:
            model, config, history = train_galaxy(f, splits.all_train, profile, seed=args.seed,
                                                  jitter=jitter, progress=not args.quiet)
            lineage = [step]
        facts = {"path": str(f.path.resolve()), "source": f.source, "n_images": len(f)}
        out = save_bundle(model, args.out, kind="galaxy", config=config, tta=True, data=facts,
                          test_rows=splits.test.tolist(), history=history, lineage=lineage)
        from galaxy10.modeling.calibrate import calibrate_from_training  # T and threshold on validation

        calibrate_from_training(out, f, np.sort(splits.all_train), config, history)
        r = evaluate_predictions(f.labels[splits.test], Predictor(out).predict_proba(
            f.read(splits.test)), profile.bootstrap, args.seed)
    lo, hi = r["balanced_accuracy_ci95"]
    print(f"saved {out} (+ {out.with_suffix('.json').name}); test accuracy {r['accuracy']:.3f}, "
          f"balanced accuracy {r['balanced_accuracy']:.3f} [{lo:.3f}, {hi:.3f}], "
          f"{history['seconds']:.0f} s training")
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    import tempfile
    import time

    import numpy as np

    from galaxy10.core.paths import get_models_home, get_reports_home
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.datasets.resample import make_splits
    from galaxy10.evaluation.evaluate import evaluate_on_file, evaluate_predictions
    from galaxy10.modeling.predict import Predictor, lineage_step, save_bundle
    from galaxy10.modeling.train import train_galaxy
    from galaxy10.reporting.metrics import provenance, update_metrics

    started = time.time()
    profile = get_profile(args.profile).with_overrides(galaxy_epochs=args.epochs,
                                                       galaxy_size=args.size)
    smallest = 2 ** len(profile.galaxy_filters)  # each block halves the image
    if profile.galaxy_size < smallest:
        raise Galaxy10Error(f"--size {profile.galaxy_size}: the {profile.name} profile's network "
                            f"halves its input {len(profile.galaxy_filters)} times; give at "
                            f"least {smallest} px")
    if profile.galaxy_size > 256:
        raise Galaxy10Error(f"--size {profile.galaxy_size}: larger than the 256 px cut-outs it "
                            "is cropped from; give at most 256")
    jitter = _jitter(args.jitter)
    data = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    out = Path(args.out) if args.out else get_models_home() / "pretrained_synthetic.keras"
    _check_out(out, "bundle", args.force, inputs=[data], companions=[out.with_suffix(".json")])
    report: dict = {"profile": profile.name, "jitter": jitter, "bundle": str(out)}
    with Galaxy10File(data) as f:
        splits = make_splits(f.labels)
        print(f"pre-training the modern CNN on {len(splits.all_train):,} images of {f.path} "
              f"({f.source}); {len(splits.test):,} held out for testing", flush=True)
        model, config, history = train_galaxy(f, splits.all_train, profile, seed=args.seed,
                                              jitter=jitter, progress=not args.quiet)
        step = lineage_step(f, "pre-train", jitter=jitter, profile=profile.name)
        facts = {"path": str(f.path.resolve()), "source": f.source, "n_images": len(f)}
        save_bundle(model, out, kind="galaxy", config=config, tta=True, data=facts,
                    test_rows=splits.test.tolist(), history=history, lineage=[step])
        from galaxy10.modeling.calibrate import calibrate_from_training

        calibrate_from_training(out, f, np.sort(splits.all_train), config, history)
        predictor = Predictor(out)
        r = evaluate_predictions(f.labels[splits.test], predictor.predict_proba(
            f.read(splits.test)), profile.bootstrap, args.seed)
        report.update(data=facts, seconds=history["seconds"], test=r)
    print(f"saved {out}; {f.source} test balanced accuracy {r['balanced_accuracy']:.3f} "
          f"({history['seconds']:.0f} s training)", flush=True)
    if args.real != "none":
        with tempfile.TemporaryDirectory() as tmp:
            try:
                real = labelled_images_h5(args.real, tmp)
            except Galaxy10Error as exc:
                print(f"(sim-to-real skipped: {exc})")
                real = None
            if real is not None:
                with Galaxy10File(real) as g:
                    s2r = evaluate_on_file(predictor, g, profile.bootstrap, args.seed)
                report["sim_to_real"] = s2r
                print(f"sim-to-real: balanced accuracy {s2r['balanced_accuracy']:.3f} on "
                      f"{s2r['n_test']:,} real images (chance 0.100)")
    report["provenance"] = provenance(started)
    path = update_metrics(get_reports_home(args.reports_dir) / "metrics.json", "pretrain", report)
    print(f"figures written to {path}")
    return 0


def _bench_real(args: argparse.Namespace) -> Path:
    import tempfile

    from galaxy10.bench import bench_real, format_real_cv
    from galaxy10.core.paths import get_models_home, get_reports_home
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.reporting.metrics import update_metrics

    profile = get_profile(args.profile)
    init = None
    if args.init != "none":
        init = Path(args.init) if args.init else get_models_home() / "pretrained_synthetic.keras"
        if not init.is_file():
            raise Galaxy10Error(f"{init}: no pre-trained bundle; make it with `python -m "
                                "galaxy10 pretrain` (about 16 min on 2 CPU cores), or pass "
                                "--init none to leave the fine-tuned model out")
    with tempfile.TemporaryDirectory() as tmp:
        real = labelled_images_h5(args.real, tmp)
        result = bench_real(real, profile, init=init, seed=args.seed, folds=args.folds,
                            shifts=not args.no_shifts,
                            finetune_jitters={name: _jitter(name)
                                              for name in args.finetune_jitter},
                            scratch_jitter=_jitter(args.scratch_jitter))
    print(format_real_cv(result))
    return update_metrics(get_reports_home(args.reports_dir) / "metrics.json", "real_cv", result)


def _cmd_results(args: argparse.Namespace) -> int:
    from galaxy10.core.paths import get_reports_home, reference_reports_dir
    from galaxy10.reporting.metrics import read_metrics
    from galaxy10.reporting.results import results_markdown

    folder = get_reports_home(args.reports_dir) if args.reports_dir else reference_reports_dir()
    docs = {name: read_metrics(folder / relative) for name, relative in (
        ("metrics", "metrics.json"), ("benchmarks", "benchmarks.json"),
        ("quick", "quick/metrics.json"))}
    if args.update_readme:
        from galaxy10.reporting.results import readme_results, update_readme

        block = readme_results(docs["metrics"], docs["benchmarks"], docs["quick"])
        print(f"results block of {update_readme(args.update_readme, block)} updated")
        return 0
    print(results_markdown(docs["metrics"], docs["benchmarks"]) or
          f"no results yet in {folder}: run `python -m galaxy10 run` first")
    return 0


def _cmd_realism(args: argparse.Namespace) -> int:
    from galaxy10.core.paths import default_real_sample, get_reports_home
    from galaxy10.evaluation.realism import format_table, measure_realism

    real = args.real or default_real_sample()
    reports = get_reports_home(args.reports_dir)
    figure = args.out_figure or reports / "figures" / "realism_by_class.png"
    result = measure_realism(real, args.synthetic, per_class=args.per_class, seed=args.seed,
                             out_figure=figure, metrics_path=reports / "metrics.json")
    print(f"real: {real} ({result['n_real']} images); synthetic: {result['synthetic_source']} "
          f"({result['n_synthetic']} images)")
    print("KS distance, real vs synthetic, per statistic (rows) and class (columns):")
    print(format_table(result))
    print(f"wrote {figure} and the 'realism' section of {reports / 'metrics.json'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and for ``--help`` documentation)."""
    from galaxy10.core.profiles import CHOICES
    from galaxy10.modeling.augment import JITTERS

    parser = OneLineParser(
        prog="python -m galaxy10",
        description="Galaxy10 DECaLS: fetch or synthesise the data, inspect it, import images.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log progress details (and show tracebacks, like --debug)")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fetch", help="download and verify the real Galaxy10_DECals.h5 (2.7 GB)")
    p.add_argument("--data-home", help="data folder (default: $GALAXY10_DATA or ./data)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_fetch)

    from galaxy10.datasets.synthetic import PRESETS

    p = sub.add_parser("synth", help="generate the synthetic data set (the default data)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="size preset: " + ", ".join(f"{k}={v}" for k, v in PRESETS.items()))
    p.add_argument("--n", type=count, help="number of images (overrides --preset's size)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, help="output file (default: cached under data/synthetic/)")
    p.add_argument("--workers", type=count, default=1, help="processes to render with")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out that galaxy10 did not write")
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
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out that galaxy10 did not write")
    p.add_argument("--strict", action="store_true",
                   help="fail instead of ignoring folders, files or images it cannot use")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("run", help="execute the numbered notebooks headless (papermill) into "
                                   "reports/")
    p.add_argument("--profile", choices=CHOICES, default="quick",
                   help="smoke: seconds; quick: ~15 min on 2 cores; faithful: the original's "
                        "settings on the full-size data")
    p.add_argument("--data", default="auto",
                   help="a Galaxy10 .h5 file, 'real', 'synthetic' or 'auto' (default: the real "
                        "file if downloaded, else the synthetic set)")
    p.add_argument("--only", type=notebook_list,
                   help="comma-separated notebook numbers, e.g. 01,04")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--reports-dir", help="default: reports/")
    p.add_argument("--models-dir", help="default: models/")
    p.add_argument("-q", "--quiet", action="store_true", help="no per-notebook progress")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("predict", help="classify image files with a trained model")
    p.add_argument("images", nargs="+", type=Path, help="JPEG/PNG files")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras)")
    p.add_argument("--json", action="store_true", help="one JSON line per image: top-3 "
                                                       "calibrated probabilities, flag, model")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("app", help="serve the random-galaxy button as a web page (Voila)")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras)")
    p.add_argument("--port", type=port, default=8866)
    p.add_argument("--seed", type=seed, default=0)
    p.set_defaults(func=_cmd_app)

    p = sub.add_parser("train", help="train the modern CNN on any Galaxy10-schema file")
    p.add_argument("--data", type=Path, required=True, help="a Galaxy10 .h5 file")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.keras)")
    p.add_argument("--profile", choices=CHOICES, default="faithful",
                   help="training budget (default faithful; 'full' is another name for it)")
    p.add_argument("--epochs", type=count,
                   help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--init", type=Path, help="fine-tune this pre-trained bundle (from "
                                             "`pretrain`) instead of training from scratch")
    p.add_argument("--jitter", choices=sorted(JITTERS), help="augmentation beyond flips and "
                   "rotations: default (zoom, brightness, colour), robust (zoom, stretch, noise, "
                   "blur, JPEG), full (both) or none; default: 'default', and 'robust' with "
                   "--init")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out (or its .json) that galaxy10 did not write")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("pretrain", help="pre-train the modern CNN on the synthetic set, for "
                                        "`train --init` and `bench real`")
    p.add_argument("--data", default="synthetic", help="a Galaxy10 .h5 file or 'synthetic' "
                                                      "(default: the profile's synthetic set)")
    p.add_argument("--out", type=Path, help="bundle to write (default "
                                            "models/pretrained_synthetic.keras)")
    p.add_argument("--profile", choices=CHOICES, default="faithful")
    p.add_argument("--epochs", type=count, help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--size", type=count, help="input side in px of the central crop (default: "
                                              "the profile's, 64 for faithful); fine-tuning "
                                              "keeps it")
    p.add_argument("--jitter", choices=sorted(JITTERS), default="full",
                   help="augmentation beyond flips and rotations (default full: zoom, "
                        "brightness, colour, stretch, noise, blur, JPEG)")
    p.add_argument("--real", default=None, help="labelled real images (folder or .h5) to score "
                   "sim-to-real on; default $GALAXY10_REAL_SAMPLE or the shared sample; 'none'")
    p.add_argument("--reports-dir", help="default: reports/")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out (or its .json) that galaxy10 did not write")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no per-epoch progress")
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser("bench", help="benchmarks that print figures: memory, inference, "
                                     "button, accuracy, real, layout, pipeline")
    p.add_argument("what", choices=["memory", "inference", "button", "accuracy", "real",
                                    "layout", "pipeline"])
    p.add_argument("--n", type=count, default=300, help="layout: images per file (default "
                   "300); pipeline: images per measurement (default 300)")
    p.add_argument("--data", help="a Galaxy10 .h5 file (default: the synthetic set)")
    p.add_argument("--profile", choices=CHOICES, default=None,
                   help="accuracy, real: training budget and data size (default: quick for "
                        "accuracy, faithful for real)")
    p.add_argument("--real-sample", default=None,
                   help="accuracy: folder of real images (class folders + manifest.csv)")
    p.add_argument("--real", help="real: labelled real images, a folder (class folders 0-9 or "
                                  "manifest.csv) or a Galaxy10 .h5 (default "
                                  "$GALAXY10_REAL_SAMPLE, else the shared sample)")
    p.add_argument("--init", help="real: the synthetic-pre-trained bundle to fine-tune (default "
                                  "models/pretrained_synthetic.keras; 'none' to leave it out)")
    p.add_argument("--folds", type=folds, help="real: cross-validation folds (default 5)")
    p.add_argument("--no-shifts", action="store_true",
                   help="real: skip scoring under other sources' shifts")
    p.add_argument("--finetune-jitter", choices=sorted(JITTERS), nargs="+",
                   default=["robust"],
                   help="real: augmentation(s) of the fine-tuned model; one model per name "
                        "(default: robust, train --init's; 'none robust' compares them)")
    p.add_argument("--scratch-jitter", choices=sorted(JITTERS), default="none",
                   help="real: augmentation of the from-scratch model (default none)")
    p.add_argument("--model", type=Path, help="button: model bundle (default "
                                              "models/galaxy_cnn.keras)")
    p.add_argument("--overlay", action="store_true",
                   help="button: with the 'show where the model looked' overlay on")
    p.add_argument("--models-dir", help="default: models/")
    p.add_argument("--reports-dir", help="default: reports/")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_cmd_bench)

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

    p = sub.add_parser("results", help="print README tables from the reference results "
                                       "(reports/reference/metrics.json, benchmarks.json)")
    p.add_argument("--reports-dir", help="default: reports/reference/ (committed); e.g. "
                                         "reports/ for your own run")
    p.add_argument("--update-readme", type=Path, metavar="README",
                   help="rewrite the results block of this README instead of printing")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("gallery", help="real-vs-synthetic example grid (PNG)")
    p.add_argument("--real", type=Path, default=None,
                   help="real images: class-folder tree, CSV or .h5 (default "
                        "$GALAXY10_REAL_SAMPLE, else the shared sample beside the checkout)")
    p.add_argument("--synthetic", default="synthetic",
                   help="synthetic .h5 file, or 'synthetic' for the default set")
    p.add_argument("--out", type=Path, default=Path("reports/figures/gallery_real_vs_synthetic.png"))
    p.add_argument("--per-class", type=count, default=5)
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out that galaxy10 did not write")
    p.add_argument("--seed", type=seed, default=0)
    p.set_defaults(func=_cmd_gallery)

    p = sub.add_parser("realism", help="per-class KS distances between real and synthetic "
                                       "image statistics (table, figure, metrics.json)")
    p.add_argument("--real", type=Path, help="real images: class folders 0-9, CSV manifest or "
                   ".h5 (default $GALAXY10_REAL_SAMPLE, else the shared sample beside the checkout)")
    p.add_argument("--synthetic", default="full", metavar="FILE.h5|PRESET",
                   help="a synthetic .h5 file, or a preset whose rows are rendered directly "
                        "(default full)")
    p.add_argument("--per-class", type=count, default=100,
                   help="images per class (default 100)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out-figure", type=Path,
                   help="PNG (default <reports-dir>/figures/realism_by_class.png)")
    p.add_argument("--reports-dir", help="default: reports/")
    p.set_defaults(func=_cmd_realism)
    return parser


TF_COMMANDS = frozenset({"predict", "train", "pretrain", "bench"})
"""Commands that load TensorFlow in this process: imported quietly before they run."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    TensorFlow's C++ start-up lines are kept off the terminal (:mod:`galaxy10.core.quiet`):
    ``TF_CPP_MIN_LOG_LEVEL=3`` is set first (unless the user set it; notebook kernels and
    Voila inherit it), and the commands that load TensorFlow import it with those lines
    filtered out, except under ``-v``.
    """
    import signal

    from galaxy10.core.quiet import import_tensorflow_quietly, quiet_environment

    quiet_environment()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a bad argument (2, already printed in one line)
        return exc.code if isinstance(exc.code, int) else 2
    # SIGTERM (a killed job, a closed terminal) unwinds like Ctrl-C, so atomic writers can
    # remove their temporary files; SIGKILL cannot be caught, but never leaves a torso either.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command in TF_COMMANDS and not args.verbose:
        import_tensorflow_quietly()
    return run_command(args.func, args, debug=args.debug, verbose=args.verbose)
