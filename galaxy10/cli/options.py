"""The options that mean the same thing in every command, each defined once.

A command that reads a data set takes ``--data`` (:func:`add_data`), one that reads labelled
real images takes ``--real`` (:func:`add_real`), one that trains takes ``--profile``
(:func:`add_profile`); the words, help and defaults come from here, so that ``run``, ``train``,
``pretrain`` and every ``bench`` spell them alike.
"""

from __future__ import annotations

import argparse

from galaxy10.cli.boundary import seed
from galaxy10.core.profiles import CHOICES, DEFAULT_PROFILE, RECIPE_PROFILE

DATA_WORDS = ("real", "synthetic", "auto")
"""The words ``--data`` takes besides a file (:func:`galaxy10.datasets.fetch.resolve_data`)."""


def add_data(parser: argparse.ArgumentParser, *, default: str | None = "auto",
             why: str = "") -> None:
    """``--data``: a Galaxy10 ``.h5`` file or one of :data:`DATA_WORDS`.

    Every command passes the value to :func:`galaxy10.datasets.fetch.resolve_data`, the one
    function that turns it into a file. ``default=None`` makes the option required; ``why``
    says why a command's default differs from ``auto``.
    """
    said = "required" if default is None else f"default: {default}"
    parser.add_argument(
        "--data", default=default, required=default is None, metavar="FILE.h5|WORD",
        help="the data set: a Galaxy10 .h5 file, 'real' (the downloaded Galaxy10_DECals.h5), "
             "'synthetic' (the synthetic set, made if needed) or 'auto' (real if downloaded, "
             f"else synthetic); {said}" + (f", {why}" if why else ""))


def add_real(parser: argparse.ArgumentParser, *, none: str = "") -> None:
    """``--real``: labelled real images; ``none`` says what ``--real none`` skips, if allowed.

    The value stays a string (``None`` when not given): each command passes it on, and
    :func:`galaxy10.core.paths.default_real_sample` supplies the default.
    """
    parser.add_argument(
        "--real", default=None, metavar="FOLDER|CSV|FILE.h5" + ("|none" if none else ""),
        help="labelled real images: a folder of class folders 0-9, a CSV manifest (file,label) "
             "or a Galaxy10 .h5; default $GALAXY10_REAL_SAMPLE, else the shared sample beside "
             "the checkout" + (f"; 'none' {none}" if none else ""))


PROFILE_REASONS = {
    DEFAULT_PROFILE: "for a first look: faithful takes over an hour on 2 CPU cores",
    RECIPE_PROFILE: "the budget of the reference figures and of train --init's recipe",
}
"""Why a command defaults to its profile, said in its ``--help`` (the rule is
:data:`galaxy10.core.profiles.DEFAULT_PROFILE`'s and :data:`~galaxy10.core.profiles.RECIPE_PROFILE`'s)."""


def add_profile(parser: argparse.ArgumentParser, default: str) -> None:
    """``--profile``: the training budget and data size (:mod:`galaxy10.core.profiles`)."""
    parser.add_argument(
        "--profile", choices=CHOICES, default=default,
        help="training budget and data size: smoke (seconds, for tests), quick (about 15 min "
             "on 2 CPU cores), faithful (the original's settings on the full-size data; 'full' "
             "is another name), gpu (a larger input and network, for a GPU); "
             f"default {default}, {PROFILE_REASONS[default]}")


def add_refit_all(parser: argparse.ArgumentParser) -> None:
    """``--refit-all``: fine-tune twice, the second time on every image (profile setting
    ``finetune_refit_all``)."""
    parser.add_argument(
        "--refit-all", action="store_true",
        help="fine-tune twice from the same start: first without the 10%% validation split, "
             "which calibrates it, then on every labelled image, keeping that calibration "
             "(twice the time; the profile setting finetune_refit_all)")


def add_seed(parser: argparse.ArgumentParser) -> None:
    """``--seed``: the random seed of the data, splits and training."""
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")


def add_quiet(parser: argparse.ArgumentParser, what: str = "no progress lines") -> None:
    """``-q``: silence progress (what is printed as the result stays)."""
    parser.add_argument("-q", "--quiet", action="store_true", help=what)


def add_everywhere(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-v``, ``--debug`` (and, before the command, ``-q``): taken before or after the command.

    Every error line says "run again with --debug", and a user adds it at the end of the line
    they ran, so each command's parser takes ``-v`` and ``--debug`` as well as the top-level one.
    A command's copies default to ``argparse.SUPPRESS``: a sub-parser's defaults overwrite
    the top level's, and a flag given before the command must survive the command's parser.
    ``-q`` before the command is kept apart (``quiet_before``) and :func:`quiet_before_command`
    hands it to the command's own ``-q``, whose meaning each command states.
    """
    default = False if top else argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="log progress details (and show tracebacks, like --debug)")
    parser.add_argument("--debug", action="store_true", default=default,
                        help="show the traceback of an unexpected error (for bug reports)")
    if top:
        parser.add_argument("-q", dest="quiet_before", action="store_true",
                            help="the command's -q (for the commands that have one)")


def quiet_before_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Give a ``-q`` typed before the command to the command's own ``-q``.

    A command without ``-q`` refuses it as it would after its name, in one line.
    """
    if not getattr(args, "quiet_before", False):
        return
    if not hasattr(args, "quiet"):
        name = " ".join(w for w in (args.command, getattr(args, "what", None)) if w)
        parser.error(f"argument -q: `{name}` has no -q (it prints no progress to silence)")
    args.quiet = True


def add_reports_dir(parser: argparse.ArgumentParser) -> None:
    """``--reports-dir``: where figures, ``metrics.json`` and ``benchmarks.json`` go."""
    parser.add_argument("--reports-dir", help="default: $GALAXY10_REPORTS or reports/")


def add_models_dir(parser: argparse.ArgumentParser) -> None:
    """``--models-dir``: where the model bundles are read and written."""
    parser.add_argument("--models-dir", help="default: $GALAXY10_MODELS or models/")


def add_force(parser: argparse.ArgumentParser, what: str = "--out") -> None:
    """``--force``: replace an output galaxy10 did not write (:mod:`galaxy10.cli.outputs`)."""
    parser.add_argument("--force", action="store_true",
                        help=f"replace an existing {what} that galaxy10 did not write")
