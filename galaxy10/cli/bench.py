"""The ``bench`` command: benchmarks that print figures and record them (:mod:`galaxy10.bench`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from galaxy10.cli.boundary import count, folds, seed
from galaxy10.cli.models import jitter_settings
from galaxy10.core.errors import Galaxy10Error


def _cmd_bench(args: argparse.Namespace) -> int:
    from galaxy10.bench.records import record
    from galaxy10.core.paths import get_reports_home

    if args.profile is None:
        args.profile = "faithful" if args.what == "real" else "quick"
    records = get_reports_home(args.reports_dir) / "benchmarks.json"

    def say(line: str) -> None:  # progress, silenced by -q (the figures always print)
        if not args.quiet:
            print(line, flush=True)

    if args.what == "layout":
        from galaxy10.bench.layout import bench_layout, format_layout

        say(f"layout benchmark: {args.n} synthetic images in four layouts...")
        results = bench_layout(args.n, seed=args.seed)
        print(format_layout(results))
        path = record("layout", results, records)
    elif args.what == "memory":
        from galaxy10.bench.memory import bench_memory, format_memory
        from galaxy10.datasets.fetch import resolve_data
        from galaxy10.datasets.reader import Galaxy10File

        data = resolve_data(args.data or "synthetic", preset="full", seed=0)
        Galaxy10File(data).close()  # a bad --data fails here, in one line, before any child runs
        say(f"memory benchmark on {data} (each path in a fresh process)...")
        results = bench_memory(data)
        print(format_memory(results))
        path = record("memory", {"data": str(data), "paths": results}, records)
    elif args.what == "inference":
        from galaxy10.bench.inference import bench_inference

        results = bench_inference(args.models_dir)
        for name, r in results.items():
            print(f"{name:<12} " + ("  ".join(f"{k}={v:.0f}" if isinstance(v, float) else
                                             f"{k}={v}" for k, v in r.items())))
        path = record("inference", results, records)
    elif args.what == "button":
        from galaxy10.bench.inference import bench_button

        r = bench_button(args.model, overlay=args.overlay)
        print(f"button ({r['model']}, {r['tta_views']} view(s), overlay "
              f"{'on' if args.overlay else 'off'}): click-to-result median "
              f"{r['click_median_ms']:.1f} ms, p95 {r['click_p95_ms']:.1f} ms over "
              f"{r['clicks']} clicks; one-image predict {r['predict_one_median_ms']:.1f} ms")
        path = record("button_overlay" if args.overlay else "button", r, records)
    elif args.what == "pipeline":
        say(f"input pipelines: {args.n} random images, NumPy vs tf.data, alone and in one "
            "training epoch...")
        from galaxy10.bench.pipeline import bench_pipelines, format_pipelines

        results = bench_pipelines(args.n, seed=args.seed)
        print(format_pipelines(results))
        path = record("pipeline", results, records)
    elif args.what == "real":
        path = _bench_real(args)
    else:
        path = _bench_accuracy(args)
    print(f"figures written to {path}")
    return 0


def _bench_accuracy(args: argparse.Namespace) -> Path:
    from galaxy10.bench.accuracy import bench_accuracy
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


def _bench_real(args: argparse.Namespace) -> Path:
    import tempfile

    from galaxy10.bench.real import bench_real, format_real_cv
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
                            finetune_jitters={name: jitter_settings(name)
                                              for name in args.finetune_jitter},
                            scratch_jitter=jitter_settings(args.scratch_jitter))
    print(format_real_cv(result))
    return update_metrics(get_reports_home(args.reports_dir) / "metrics.json", "real_cv", result)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` commands to ``sub``."""
    from galaxy10.core.profiles import CHOICES
    from galaxy10.modeling.augment import JITTERS

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
