"""The model commands: ``train``, ``pretrain`` (make a bundle), ``adapt`` (fit one to your
images) and ``predict`` (use one)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import galaxy10.cli.checks as checks
from galaxy10.cli.boundary import count, count_at_most
from galaxy10.cli.options import (
    add_data,
    add_force,
    add_profile,
    add_quiet,
    add_real,
    add_refit_all,
    add_reports_dir,
    add_seed,
)
from galaxy10.cli.outputs import check_out, note_after_checks
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError, NotEnoughDataError
from galaxy10.core.profiles import MAX_EPOCHS, RECIPE_PROFILE

PRETRAINED_WORD = "pretrained"
"""``train --init pretrained``: the user's pre-trained bundle, else the shipped one."""


def jitter_settings(name: str) -> dict:
    """The augmentation settings called ``name`` (a ``--jitter`` choice)."""
    from galaxy10.modeling.augment import JITTERS

    return JITTERS[name]


def is_labels_listing(value: str | os.PathLike[str] | None) -> bool:
    """Whether a ``--data`` value names labelled pictures rather than a Galaxy10 file or a
    data word: a CSV manifest (``file,label``, such as the labelling panel's ``labels.csv``)
    or a folder (class folders 0-9, or one holding a ``manifest.csv``)."""
    if value is None:
        return False
    path = Path(value).expanduser()
    return path.suffix.lower() == ".csv" or path.is_dir()


def _check_train(args: argparse.Namespace) -> None:
    from galaxy10.core.profiles import get_profile
    from galaxy10.modeling.augment import FINETUNE_JITTER

    args.checked_profile = get_profile(args.profile).with_epochs(args.epochs)
    if args.refit_all:
        if args.init is None:
            raise Galaxy10Error("--refit-all: it repeats a fine-tuning, so it needs --init "
                                "(a pre-trained bundle)")
        args.checked_profile = args.checked_profile.with_overrides(finetune_refit_all=True)
    if args.init is not None and str(args.init) == PRETRAINED_WORD:
        from galaxy10.modeling.shipped import pretrained_bundle

        choice = pretrained_bundle()
        note_after_checks(f"[galaxy10] --init {PRETRAINED_WORD}: {choice.note}")
        args.init = choice.path
    args.checked_jitter = jitter_settings(args.jitter or (FINETUNE_JITTER if args.init
                                                          else "default"))
    args.checked_labels = None
    if is_labels_listing(args.data):  # a labels CSV (the labelling panel's) or class folders
        from galaxy10.datasets.resample import check_splittable

        source, labels = checks.real_labels(args.data, required=True, option="--data",
                                            probe=True)
        try:
            check_splittable(labels)
        except NotEnoughDataError as exc:
            raise GalaxyDataError(source, f"--data: too little to train on: {exc}") from None
        args.checked_labels = source
    else:
        checks.trainable(args.data)
    if args.init is not None:
        checks.bundle(args.init, option="--init")
    check_out(args.out, "bundle", args.force, inputs=[args.data, args.init],
              companions=[args.out.with_suffix(".json")])


def _cmd_train(args: argparse.Namespace) -> int:
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.pipeline.training import leak_free_splits, train_bundle

    profile, jitter = args.checked_profile, args.checked_jitter
    if args.checked_labels is not None:
        from galaxy10.datasets.importer import imported_for_training

        data = imported_for_training(args.checked_labels)
        print(f"imported {args.checked_labels} into {data}", flush=True)
    else:
        data = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    with Galaxy10File(data) as f:
        try:
            splits, _ = leak_free_splits(f)
        except NotEnoughDataError as exc:  # a synthetic set made just now
            raise GalaxyDataError(data, f"too little to train on: {exc}") from None
        verb = f"fine-tuning {args.init}" if args.init else "training the modern CNN"
        if not args.quiet:
            from galaxy10.modeling.device import describe_device

            print(describe_device(), flush=True)
        print(f"{verb} on {len(splits.all_train):,} images of {f.path} ({f.source}); "
              f"{len(splits.test):,} held out for testing", flush=True)
        trained = train_bundle(f, splits.all_train, args.out, profile, seed=args.seed,
                               init=args.init, jitter=jitter, test_rows=splits.test, score=True,
                               progress=not args.quiet)
    r = trained.test
    lo, hi = r["balanced_accuracy_ci95"]
    print(f"saved {trained.path} (+ {trained.path.with_suffix('.json').name}); test accuracy "
          f"{r['accuracy']:.3f}, balanced accuracy {r['balanced_accuracy']:.3f} "
          f"[{lo:.3f}, {hi:.3f}], {trained.history['seconds']:.0f} s training")
    return 0


def _check_pretrain(args: argparse.Namespace) -> None:
    from galaxy10.core.paths import get_models_home, get_reports_home
    from galaxy10.core.profiles import get_profile

    args.checked_profile = checks.galaxy_size(get_profile(args.profile), args.size
                                              ).with_epochs(args.epochs)
    args.checked_jitter = jitter_settings(args.jitter)
    checks.trainable(args.data)
    args.checked_real = None
    if args.real != "none":  # sim-to-real scoring; the default sample may be absent
        args.checked_real = checks.real_labels(args.real, required=args.real is not None,
                                               probe=True)
    args.metrics = check_out(get_reports_home(args.reports_dir) / "metrics.json", "metrics",
                             lock=False)
    out = Path(args.out) if args.out else get_models_home() / "pretrained_synthetic.keras"
    # refuse a bad --out before the (possibly minutes-long) synthetic set is made
    args.out = check_out(out, "bundle", args.force, inputs=[args.data],
                         companions=[out.with_suffix(".json")])


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.pipeline.training import pretrain_bundle
    from galaxy10.reporting.metrics import update_metrics

    profile = args.checked_profile
    data = resolve_data(args.data, preset=profile.preset, seed=args.seed)
    if args.checked_real is None and args.real != "none":
        print("(sim-to-real will be skipped: no real sample; pass --real)")
    report = pretrain_bundle(data, args.out, profile, seed=args.seed, jitter=args.checked_jitter,
                             real=args.checked_real[0] if args.checked_real else None,
                             progress=not args.quiet)
    path = update_metrics(args.metrics, "pretrain", report)
    print(f"figures written to {path} (and into {args.out.with_suffix('.json').name})")
    return 0


def _check_adapt(args: argparse.Namespace) -> None:
    """Inputs, bundle (a modern CNN) and output, before the bundle is loaded."""
    from galaxy10.cli.catalogue import check_inputs, checked_model
    from galaxy10.modeling.bundle import read_bundle

    check_inputs(args.inputs)
    args.model = checked_model(args.model, args.quiet)
    kind = read_bundle(args.model).kind
    if kind != "galaxy":
        raise Galaxy10Error(f"{args.model}: a '{kind}' bundle has no batch-normalisation layer "
                            "to adapt (--model); adapt a modern-CNN bundle")
    args.out = check_out(args.out, "bundle", args.force, inputs=[*args.inputs, args.model],
                         companions=[Path(args.out).with_suffix(".json")])


def _cmd_adapt(args: argparse.Namespace) -> int:
    from galaxy10.pipeline.adapt import adapt_bundle

    result = adapt_bundle(args.model, args.inputs, args.out, images=args.images,
                          seed=args.seed, progress=not args.quiet)
    print("\n".join(result.lines()))
    return 0


def _check_predict(args: argparse.Namespace) -> None:
    from galaxy10.modeling.shipped import default_model

    checks.image_files(args.images)
    if not args.model:
        choice = default_model()
        note_after_checks(f"[galaxy10] {choice.note}", sys.stderr)
        args.model = choice.path
    args.model = checks.bundle(args.model, option="--model", kind=None)


def _cmd_predict(args: argparse.Namespace) -> int:
    import json

    from galaxy10.core.classes import CLASS_NAMES
    from galaxy10.datasets.images import load_cutout
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.verdict import OK, assess

    predictor = Predictor(args.model)
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``train``, ``pretrain``, ``adapt`` and ``predict`` commands to ``sub``."""
    from galaxy10.modeling.augment import FINETUNE_JITTER, JITTERS
    from galaxy10.pipeline.adapt import ADAPT_IMAGES

    p = sub.add_parser("train", help="train the modern CNN on any Galaxy10-schema file")
    add_data(p, default=None, why="since a bundle records the data it learned from: name it; "
                                  "also a labels CSV (file,label: the labelling panel's "
                                  "labels.csv) or class folders 0-9, imported first into "
                                  "<data>/interim/imported/")
    p.add_argument("--out", type=Path, required=True, help="model file to write (.keras)")
    add_profile(p, RECIPE_PROFILE)
    p.add_argument("--epochs", type=count_at_most(MAX_EPOCHS),
                   help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--init", type=Path, help="fine-tune this pre-trained bundle (from "
                                             "`pretrain`) instead of training from scratch; "
                                             f"'{PRETRAINED_WORD}': your "
                                             "models/pretrained_synthetic.keras, else the one "
                                             "shipped with galaxy10")
    p.add_argument("--jitter", choices=sorted(JITTERS), help="augmentation beyond flips and "
                   "rotations: default (zoom, brightness, colour), robust (zoom, stretch, noise, "
                   "blur, JPEG), survey (robust and the galaxies' flux scale), full (default "
                   f"and robust) or none; default: 'default', and '{FINETUNE_JITTER}' with "
                   "--init")
    add_refit_all(p)
    add_force(p, "--out (or its .json)")
    add_seed(p)
    add_quiet(p, "no per-epoch progress")
    p.set_defaults(func=_cmd_train, check=_check_train, tensorflow=True)

    p = sub.add_parser("pretrain", help="pre-train the modern CNN on the synthetic set, for "
                                        "`train --init` and `bench real`")
    add_data(p, default="synthetic", why="so that the real images stay unseen for "
                                         "fine-tuning and scoring")
    p.add_argument("--out", type=Path, help="bundle to write (default "
                                            "models/pretrained_synthetic.keras)")
    add_profile(p, RECIPE_PROFILE)
    p.add_argument("--epochs", type=count_at_most(MAX_EPOCHS),
                   help="maximum epochs (early stopping may end sooner)")
    p.add_argument("--size", type=count, help="input side in px of the central crop (default: "
                                              "the profile's, 64 for faithful); fine-tuning "
                                              "keeps it")
    p.add_argument("--jitter", choices=sorted(JITTERS), default="full",
                   help="augmentation beyond flips and rotations (default full: zoom, "
                        "brightness, colour, stretch, noise, blur, JPEG)")
    add_real(p, none="skips scoring sim-to-real on them")
    add_reports_dir(p)
    add_force(p, "--out (or its .json)")
    add_seed(p)
    add_quiet(p, "no per-epoch progress")
    p.set_defaults(func=_cmd_pretrain, check=_check_pretrain, tensorflow=True)

    p = sub.add_parser("adapt", help="fit a bundle to your own unlabelled images (another "
                                     "survey or pipeline): batch-normalisation statistics "
                                     "re-estimated, AdaBN")
    p.description = ("Write a copy of the bundle whose batch-normalisation statistics are those "
                     "of a seeded random sample of your images (AdaBN: no label read, no weight "
                     "trained), for cut-outs whose depth, noise, stretch or scale differ from "
                     "the images the network learned from. Use it as classify's, suggest's or "
                     "predict's --model, or in the labelling panel (fine-tuning learns the "
                     "statistics of its own images anyway).")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="what classify reads: Galaxy10 .h5, .parquet, CSV manifests, folders "
                        "of images, image files")
    p.add_argument("--out", type=Path, required=True, help="the adapted bundle to write (.keras)")
    p.add_argument("--model", type=Path, help="the bundle to adapt (default as classify: "
                                              "models/galaxy_cnn.keras, else the shipped one)")
    p.add_argument("--images", type=count_at_most(1_000_000), default=ADAPT_IMAGES,
                   help=f"rows sampled from the inputs (default {ADAPT_IMAGES})")
    add_force(p, "--out (or its .json)")
    add_seed(p)
    add_quiet(p, "no progress lines")
    p.set_defaults(func=_cmd_adapt, check=_check_adapt, tensorflow=True)

    p = sub.add_parser("predict", help="classify image files with a trained model")
    p.add_argument("images", nargs="+", type=Path, help="JPEG/PNG files")
    p.add_argument("--model", type=Path, help="a .keras bundle (default: models/galaxy_cnn.keras, "
                                              "else the bundle shipped with galaxy10)")
    p.add_argument("--json", action="store_true", help="one JSON line per image: top-3 "
                                                       "calibrated probabilities, flag, model")
    p.set_defaults(func=_cmd_predict, check=_check_predict, tensorflow=True)
