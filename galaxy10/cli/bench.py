"""The ``bench`` command: benchmarks that print figures and record them (:mod:`galaxy10.bench`).

Each benchmark is one row of :data:`BENCHMARKS`: its name, its own options and the function
that runs it, so ``bench real --folds 5`` works and ``bench memory --folds 5`` is refused.
Adding a benchmark is a module in :mod:`galaxy10.bench` and a row here.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import galaxy10.cli.checks as checks
from galaxy10.cli.bench_active import active_arguments, active_check, active_run
from galaxy10.cli.bench_adapt import adapt_arguments, adapt_check, adapt_run
from galaxy10.cli.bench_select import select_arguments, select_check, select_run
from galaxy10.cli.boundary import count_at_most, folds
from galaxy10.cli.models import jitter_settings
from galaxy10.cli.options import (
    add_data,
    add_models_dir,
    add_profile,
    add_quiet,
    add_real,
    add_refit_all,
    add_reports_dir,
    add_seed,
)
from galaxy10.cli.outputs import check_out, metrics_store, note_after_checks
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError, NotEnoughDataError
from galaxy10.core.profiles import DEFAULT_PROFILE, RECIPE_PROFILE

Say = Callable[[str], None]


@dataclass(frozen=True)
class Benchmark:
    """One ``bench`` sub-command.

    ``add_arguments(parser)`` adds its own options (``--reports-dir`` and ``-q`` are every
    benchmark's); ``check(args)`` checks them all before any work (and before TensorFlow is
    imported, for the benchmarks with ``tensorflow``); ``run(args, say)`` measures, prints
    the figures and returns the file they were recorded in; ``say`` prints a progress line
    unless ``-q``.
    """

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Say], Path]
    check: Callable[[argparse.Namespace], None]
    tensorflow: bool = True


def _records(args: argparse.Namespace) -> Path:
    """``benchmarks.json`` of ``--reports-dir``, checked as an output (:func:`check_out`)."""
    from galaxy10.core.paths import get_reports_home

    return check_out(get_reports_home(args.reports_dir) / "benchmarks.json", "metrics",
                     lock=False)


# -- memory ------------------------------------------------------------------------------------
def _memory_arguments(p: argparse.ArgumentParser) -> None:
    add_data(p, why="'synthetic' being the full-size set, as large as the real file")


def _memory_check(args: argparse.Namespace) -> None:
    checks.trainable(args.data)  # a bad --data fails here, before any child runs
    args.records = _records(args)


def _memory(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.memory import bench_memory, format_memory
    from galaxy10.bench.records import record
    from galaxy10.datasets.fetch import resolve_data

    data = resolve_data(args.data, preset="full", seed=0)
    say(f"memory benchmark on {data} (each path in a fresh process)...")
    results = bench_memory(data)
    print(format_memory(results))
    return record("memory", {"data": str(data), "paths": results}, args.records)


# -- inference and the button -----------------------------------------------------------------
def _inference_check(args: argparse.Namespace) -> None:
    from galaxy10.core.paths import find_models_home

    folder = find_models_home(args.models_dir)
    for name in ("seed_cnn", "galaxy_cnn"):  # both are measured; a missing one records nothing
        checks.bundle(folder / f"{name}.keras", option="bench inference", kind=None)
    args.records = _records(args)


def _inference(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.inference import bench_inference, format_inference
    from galaxy10.bench.records import record

    results = bench_inference(args.models_dir)
    print(format_inference(results))
    return record("inference", results, args.records)


def _button_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="model bundle (default models/galaxy_cnn.keras)")
    p.add_argument("--overlay", action="store_true",
                   help="with the 'show where the model looked' overlay on")


def _button_check(args: argparse.Namespace) -> None:
    from galaxy10.core.paths import find_models_home

    args.model = checks.bundle(args.model or find_models_home() / "galaxy_cnn.keras",
                               option="--model", kind=None)
    args.records = _records(args)


def _button(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.inference import bench_button, format_button
    from galaxy10.bench.records import record

    r = bench_button(args.model, overlay=args.overlay)
    print(format_button(r))
    return record("button_overlay" if args.overlay else "button", r, args.records)


# -- accuracy and real images -----------------------------------------------------------------
def _accuracy_arguments(p: argparse.ArgumentParser) -> None:
    add_data(p)
    add_profile(p, DEFAULT_PROFILE)
    add_real(p, none="skips the comparison on real images")
    add_models_dir(p)
    add_seed(p)


def _accuracy_check(args: argparse.Namespace) -> None:
    from galaxy10.core.paths import get_models_home
    from galaxy10.core.profiles import get_profile
    from galaxy10.datasets.resample import check_splittable

    args.checked_profile = profile = get_profile(args.profile)
    checks.trainable(args.data)
    if args.real != "none":  # the default sample may be absent: the comparison is skipped
        found = checks.real_labels(args.real, required=args.real is not None, probe=True)
        if found is not None:
            try:
                check_splittable(found[1])
            except NotEnoughDataError as exc:
                raise GalaxyDataError(found[0], f"--real: too little to train on: {exc}"
                                      ) from None
    args.metrics = metrics_store(args.reports_dir)
    args.models_out = get_models_home(args.models_dir) / f"bench_{profile.name}"
    for name in ("galaxy_cnn", "seed_cnn"):  # the outputs last: their locks make the folder
        out = args.models_out / f"{name}.keras"
        check_out(out, "bundle", inputs=[args.data], companions=[out.with_suffix(".json")],
                  option="--models-dir")


def _accuracy(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.accuracy import bench_accuracy
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.reporting.metrics import update_metrics

    profile = args.checked_profile
    data = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    report = bench_accuracy(data, profile, seed=args.seed, real=args.real,
                            models_out=args.models_out)
    return update_metrics(args.metrics, f"bench_accuracy_{profile.name}", report)


def _real_arguments(p: argparse.ArgumentParser) -> None:
    from galaxy10.bench.real import MODEL_KINDS
    from galaxy10.modeling.augment import FINETUNE_JITTER, JITTERS

    add_real(p)
    add_profile(p, RECIPE_PROFILE)
    p.add_argument("--init", help="the synthetic-pre-trained bundle to fine-tune (default "
                                  "<models-dir>/pretrained_synthetic.keras; 'none' to leave "
                                  "it out)")
    add_models_dir(p)
    p.add_argument("--folds", type=folds, help="cross-validation folds (default: the "
                                               "profile's, 5 for faithful)")
    p.add_argument("--no-shifts", action="store_true",
                   help="skip scoring under other sources' shifts")
    p.add_argument("--cv", choices=["random", "region", "both"],
                   help="fold assignment: random (stratified, duplicates kept together; "
                        "recorded as real_cv), region (whole sky cells held out, so every test "
                        "galaxy's region is unseen in training; real_cv_region; needs sky "
                        "positions) or both, with their gap (default: both where the images "
                        "have sky positions, else random); with --seed N other than 0 the "
                        "sections end in _assignmentN")
    p.add_argument("--models", choices=list(MODEL_KINDS), nargs="+",
                   help="which models to train (default all; finetuned and linear_probe need "
                        "--init)")
    p.add_argument("--finetune-jitter", choices=sorted(JITTERS), nargs="+",
                   default=[FINETUNE_JITTER],
                   help="augmentation(s) of the fine-tuned model; one model per name "
                        f"(default: {FINETUNE_JITTER}, train --init's; 'robust "
                        f"{FINETUNE_JITTER}' compares them)")
    add_refit_all(p)
    p.add_argument("--scratch-jitter", choices=sorted(JITTERS), default="none",
                   help="augmentation of the from-scratch model (default none)")
    p.add_argument("--labels", type=count_at_most(10_000_000), nargs="+", metavar="N",
                   help="also a label-efficiency curve: every model trained again on N of each "
                        "fold's training images (stratified, nested), e.g. 100 200 400")
    p.add_argument("--out-figure", type=Path,
                   help="the curve's PNG, with --labels (default "
                        "<reports-dir>/figures/real_label_curve.png)")
    p.add_argument("--merge", action="store_true",
                   help="merge the models trained into the sections already in "
                        "<reports-dir>/metrics.json, each row with its own commit and "
                        "settings, instead of replacing them (a rerun of one model's recipe "
                        "beside the others; the folds must be the same, checked before "
                        "training)")
    add_seed(p)


def _real_check(args: argparse.Namespace) -> None:
    from galaxy10.core.profiles import get_profile

    args.checked_profile = profile = get_profile(args.profile)
    if args.refit_all:
        if args.init == "none":
            raise Galaxy10Error("--refit-all: it repeats the fine-tuning, which --init none "
                                "leaves out")
        args.checked_profile = profile = profile.with_overrides(finetune_refit_all=True)
    args.checked_init = None if args.init == "none" else checks.init_bundle(args.init,
                                                                            args.models_dir)
    source, labels = checks.real_labels(args.real, required=True, probe=True)
    args.checked_real = source
    from galaxy10.datasets.labelled import source_positions

    placed = source_positions(source) is not None
    if args.cv is None and not placed:
        note_after_checks(f"[galaxy10] --cv: {source} has no sky positions, so only the random "
                          "CV runs (the region-held-out one needs ra/dec)")
    cv = args.cv or ("both" if placed else "random")
    args.checked_splits = ["random", "region"] if cv == "both" else [cv]
    if "region" in args.checked_splits and not placed:
        checks.region_positions(source, f"--cv {args.cv}")
    if args.models and args.init == "none":
        needy = sorted({"finetuned", "linear_probe"} & set(args.models))
        if needy:
            raise Galaxy10Error(f"--models {' '.join(needy)}: these start from a pre-trained "
                                "bundle, which --init none leaves out")
    n_folds = checks.folds(labels, args.folds, profile, source)
    args.checked_labels = checks.label_sizes(args.labels, labels, n_folds, source)
    if args.out_figure is not None and args.checked_labels is None:
        raise Galaxy10Error(f"--out-figure {args.out_figure}: the figure is the label curve's; "
                            "give --labels too")
    args.metrics = metrics_store(args.reports_dir)
    args.checked_figure = None
    if args.checked_labels:
        from galaxy10.core.paths import get_reports_home

        figure = args.out_figure or (get_reports_home(args.reports_dir) / "figures"
                                     / "real_label_curve.png")
        args.checked_figure = check_out(figure, "figure", inputs=[source],
                                        option="--out-figure")


def _real(args: argparse.Namespace, say: Say) -> Path:
    import tempfile

    from galaxy10.bench.real import (
        bench_real,
        format_label_curve,
        format_real_cv,
        format_region_gap,
        real_cv_section,
        region_gap,
    )
    from galaxy10.bench.rerun import merge_rerun
    from galaxy10.datasets.importer import labelled_images_h5
    from galaxy10.reporting.metrics import update_metrics

    results = {}
    path = args.metrics
    with tempfile.TemporaryDirectory() as tmp:
        real = labelled_images_h5(args.checked_real, tmp)
        earlier = _sections_to_merge(args, real) if args.merge else {}
        for split in args.checked_splits:  # the label curve rides on the first CV only
            first = split == args.checked_splits[0]
            result = bench_real(
                real, args.checked_profile, init=args.checked_init, seed=args.seed,
                folds=args.folds, split=split, shifts=not args.no_shifts,
                finetune_jitters={name: jitter_settings(name) for name in args.finetune_jitter},
                scratch_jitter=jitter_settings(args.scratch_jitter), models=args.models,
                labels=args.checked_labels if first else None,
                out_figure=args.checked_figure if first else None)
            curve = result.pop("label_curve", None)
            print(format_real_cv(result))  # the run's own rows, before any merge
            if curve is not None:
                print(format_label_curve(curve))
                print(f"label curve figure written to {curve['figure']}")
                update_metrics(args.metrics, "label_curve", curve)
            if split in earlier:
                result = merge_rerun(earlier[split], result, _merge_note(args))
            # recorded as soon as it ends: a later CV that fails or is stopped loses only itself
            path = update_metrics(args.metrics, real_cv_section(split, args.seed), result)
            results[split] = result
    if len(results) == 2:
        results["region"]["gap_to_random"] = gap = region_gap(results["random"],
                                                              results["region"])
        path = update_metrics(args.metrics, real_cv_section("region", args.seed),
                              results["region"])
        print(format_region_gap(gap))
    return path


def _merge_note(args: argparse.Namespace) -> str:
    """How a ``bench real --merge`` run was made, for each merged row's provenance."""
    cv = "both" if len(args.checked_splits) == 2 else args.checked_splits[0]
    return " ".join(["bench real --cv", cv, *(["--models", *args.models] if args.models else []),
                     "--finetune-jitter", *args.finetune_jitter, "--seed", str(args.seed),
                     "--merge"])


def _sections_to_merge(args: argparse.Namespace, real: Path) -> dict[str, dict[str, Any]]:
    """``--merge``: the sections of ``args.metrics`` the run's rows will join, by split, each
    checked to be of the folds the run is about to make (before any training)."""
    from galaxy10.bench.real import cv_folds, real_cv_section
    from galaxy10.bench.rerun import differing_folds
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.reporting.metrics import read_metrics

    recorded = read_metrics(args.metrics)
    with Galaxy10File(real) as f:
        n_images = len(f)
    n_folds = int(args.folds or args.checked_profile.cv_folds)
    found = {}
    for split in args.checked_splits:
        name = real_cv_section(split, args.seed)
        section = recorded.get(name)
        if not isinstance(section, dict):
            continue  # nothing to join: the run's section is recorded as it is
        _, about = cv_folds(real, n_folds, args.seed, split)
        differ = differing_folds(section, {**about, "n_images": n_images, "folds": n_folds,
                                           "profile": args.checked_profile.name})
        if differ:
            raise GalaxyDataError(args.metrics, f"--merge: its {name} is "
                                  f"of other folds (they differ in {', '.join(differ)}); "
                                  "record this run on its own (another --reports-dir)")
        found[split] = section
    return found


def _shipped_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bundle", type=Path, help="a bundle made by `pretrain` (default: the one "
                                               "shipped with galaxy10)")
    add_real(p, none="leaves sim-to-real out of the comparison")
    p.add_argument("--epochs", type=count_at_most(10_000), help="fewer epochs than the recipe's, for a quick "
                                                "try (the scores then differ)")


def _shipped_check(args: argparse.Namespace) -> None:
    from galaxy10.modeling.shipped import shipped_bundle

    args.bundle = checks.bundle(args.bundle or shipped_bundle(), option="--bundle")
    args.checked_real = None
    if args.real != "none":
        checked = checks.real_labels(args.real, required=args.real is not None)
        args.checked_real = checked[0] if checked else None
    args.records = _records(args)


def _shipped(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.records import record
    from galaxy10.bench.shipped import bench_shipped, format_shipped

    result = bench_shipped(args.bundle, real=args.checked_real, epochs=args.epochs, say=say)
    print(format_shipped(result))
    return record("shipped", result, args.records)


# -- HDF5 layouts and input pipelines ---------------------------------------------------------
MAX_BENCH_IMAGES = 20_000
"""Most images ``bench layout`` and ``bench pipeline`` take (``--n``): more than the real file."""


def _n_arguments(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--n", type=count_at_most(MAX_BENCH_IMAGES), default=300,
                   help=f"{what} (default 300, at most {MAX_BENCH_IMAGES:,})")
    add_seed(p)


def _layout_check(args: argparse.Namespace) -> None:
    import tempfile

    if args.n < 2:
        raise Galaxy10Error(f"--n {args.n}: the layout benchmark needs at least 2 images")
    # four files of n full-size images each, in a temporary folder
    checks.free_space(tempfile.gettempdir(), 4 * args.n, "bench layout")
    args.records = _records(args)


def _layout(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.layout import bench_layout, format_layout
    from galaxy10.bench.records import record

    say(f"layout benchmark: {args.n} synthetic images in four layouts...")
    results = bench_layout(args.n, seed=args.seed)
    print(format_layout(results))
    return record("layout", results, args.records)


def _pipeline_check(args: argparse.Namespace) -> None:
    args.records = _records(args)


def _pipeline(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.pipeline import bench_pipelines, format_pipelines
    from galaxy10.bench.records import record

    say(f"input pipelines: {args.n} random images, NumPy vs tf.data, alone and in one "
        "training epoch...")
    results = bench_pipelines(args.n, seed=args.seed)
    print(format_pipelines(results))
    return record("pipeline", results, args.records)


# -- catalogue classification ---------------------------------------------------------------
def _cores(text: str) -> list[int]:
    """argparse type: comma-separated numbers of cores, each at least 1 (``1,2,16``)."""
    values = [count_at_most(4096)(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("give at least one number of cores")
    return sorted(set(values))


def _classify_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="model bundle (default models/galaxy_cnn.keras, "
                                              "else the bundle shipped with galaxy10)")
    p.add_argument("--n", type=count_at_most(100_000_000), default=100_000,
                   help="images in the generated catalogue (default 100,000)")
    p.add_argument("--shards", type=count_at_most(100_000), default=10, help="files it is split into "
                                                             "(default 10)")
    p.add_argument("--cores", type=_cores, help="local Dask cluster sizes to time, e.g. 1,2,16 "
                                                "(default 1, 2, 4, ... and all cores)")
    p.add_argument("--tta-shards", type=count_at_most(100_000), default=1,
                   help="shards classified with the 8 test-time views (default 1)")
    p.add_argument("--batch-size", type=count_at_most(65_536), default=256, help="images per batch "
                                                                  "(default 256)")
    p.add_argument("--workdir", type=Path, help="where the catalogue is generated (default: "
                                                "the system's temporary folder; about 200 kB "
                                                "per image of one shard)")
    add_seed(p)


def _classify_check(args: argparse.Namespace) -> None:
    from galaxy10.modeling.shipped import default_model

    if args.shards > args.n:
        raise Galaxy10Error(f"--shards {args.shards}: more shards than the {args.n} images")
    if args.workdir is not None:
        if not args.workdir.is_dir():
            raise Galaxy10Error(f"{args.workdir}: --workdir must be an existing folder")
        if not os.access(args.workdir, os.W_OK | os.X_OK):
            raise Galaxy10Error(f"{args.workdir}: --workdir: cannot write there "
                                "(permission denied)")
    # the disk holds one shard: the others are links to it
    checks.free_space(args.workdir or tempfile.gettempdir(), -(-args.n // args.shards),
                      "--workdir")
    args.model = checks.bundle(args.model or default_model().path, option="--model", kind=None)
    args.records = _records(args)


def _classify(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.classify import bench_classify, format_classify
    from galaxy10.bench.records import record

    model = args.model
    say(f"classify benchmark: {args.n:,} images in {args.shards} shards, model {model}, "
        "CPU only...")
    results = bench_classify(model, args.n, args.shards, cores=args.cores,
                             batch_size=args.batch_size, tta_shards=args.tta_shards,
                             workdir=args.workdir, seed=args.seed, say=say)
    print(format_classify(results))
    return record("classify", results, args.records)


# -- similarity search ------------------------------------------------------------------------
def _similar_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, help="model bundle (default: the pre-trained bundle, "
                                              "models/pretrained_synthetic.keras, else the "
                                              "one shipped with galaxy10)")
    add_real(p)
    p.add_argument("--n", type=count_at_most(10_000_000), default=100_000,
                   help="vectors searched for the query time (default 100,000)")
    p.add_argument("--queries", type=count_at_most(100_000), default=200,
                   help="queries timed (default 200)")
    add_seed(p)


def _similar_check(args: argparse.Namespace) -> None:
    from galaxy10.modeling.shipped import pretrained_bundle

    if args.model is None:
        choice = pretrained_bundle()
        note_after_checks(f"[galaxy10] bench similar: {choice.note}")
        args.model = choice.path
    args.model = checks.bundle(args.model, option="--model", kind=None)
    checks.real_labels(args.real, required=True)
    args.records = _records(args)


def _similar(args: argparse.Namespace, say: Say) -> Path:
    from galaxy10.bench.records import record
    from galaxy10.bench.similar import bench_similar, format_similar

    results = bench_similar(args.model, args.real, n=args.n, queries=args.queries,
                            seed=args.seed, say=say)
    print(format_similar(results))
    return record("similar", results, args.records)


BENCHMARKS: tuple[Benchmark, ...] = (
    Benchmark("memory", "peak memory and wall time of each data path, each in a fresh process",
              _memory_arguments, _memory, _memory_check, tensorflow=False),
    Benchmark("inference", "batch inference images/s of the saved models", add_models_dir,
              _inference, _inference_check),
    Benchmark("button", "click-to-result latency of the prediction button", _button_arguments,
              _button, _button_check),
    Benchmark("accuracy", "the seed CNN and the modern CNN on the same split, on a data set "
                          "and on real images", _accuracy_arguments, _accuracy, _accuracy_check),
    Benchmark("real", "every model cross-validated on real images, and under other sources' "
                      "shifts", _real_arguments, _real, _real_check),
    Benchmark("select", "choose a fine-tuning recipe by nested CV: no choice sees the images "
                        "it is scored on", select_arguments, select_run, select_check),
    Benchmark("shipped", "remake the pre-trained bundle shipped with galaxy10 and compare its "
                         "scores", _shipped_arguments, _shipped, _shipped_check),
    Benchmark("layout", "the reader's speed over four HDF5 layouts",
              lambda p: _n_arguments(p, "images per file"), _layout, _layout_check,
              tensorflow=False),
    Benchmark("pipeline", "images/s of the NumPy and tf.data augmentation, alone and in "
                          "training", lambda p: _n_arguments(p, "images per measurement"),
              _pipeline, _pipeline_check),
    Benchmark("classify", "a generated catalogue classified end to end: vs the forward pass, "
                          "one process vs local Dask, throughput per core, memory per worker",
              _classify_arguments, _classify, _classify_check),
    Benchmark("similar", "similarity search: precision at 1 and 10 on real images, query time "
                         "over 100,000 vectors, 'More like this' latency",
              _similar_arguments, _similar, _similar_check),
    Benchmark("active", "active labelling on real images with hidden labels: balanced accuracy "
                        "by labels for random, uncertainty, diversity, typical and mix; "
                        "refit-and-rerank seconds", active_arguments, active_run, active_check),
    Benchmark("adapt", "batch-normalisation statistics re-estimated on the galaxies to classify "
                       "(adapt): balanced accuracy before and after, on real images as they are "
                       "and under other sources' shifts", adapt_arguments, adapt_run,
              adapt_check),
)
"""Every ``bench`` sub-command, in the order ``bench --help`` lists them."""


def _cmd_bench(args: argparse.Namespace) -> int:
    def say(line: str) -> None:  # progress, silenced by -q (the figures always print)
        if not args.quiet:
            print(line, flush=True)

    path = args.benchmark.run(args, say)
    print(f"figures written to {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` and one sub-command per row of :data:`BENCHMARKS` to ``sub``."""
    p = sub.add_parser("bench", help="benchmarks that print figures: "
                                     + ", ".join(b.name for b in BENCHMARKS))
    benchmarks = p.add_subparsers(dest="what", required=True, metavar="BENCHMARK")
    for bench in BENCHMARKS:
        q = benchmarks.add_parser(bench.name, help=bench.help, description=bench.help)
        bench.add_arguments(q)
        add_reports_dir(q)
        add_quiet(q)
        q.set_defaults(func=_cmd_bench, benchmark=bench, check=bench.check,
                       tensorflow=bench.tensorflow)
