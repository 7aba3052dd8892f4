"""The ``python -m galaxy10`` command line.

Each sub-command is a thin wrapper over a package function; errors that a user can cause are
printed as one line (``error: <file>: <fault>``) with exit status 2, never as a traceback
(:mod:`galaxy10.cli.boundary`).

One module per command group, each adding its commands with ``register(sub)``:

* :mod:`~galaxy10.cli.data`: ``fetch``, ``synth``, ``info``, ``import``, ``repack``, ``audit``;
* :mod:`~galaxy10.cli.notebooks`: ``run``, ``app``;
* :mod:`~galaxy10.cli.models`: ``train``, ``pretrain``, ``adapt``, ``predict``;
* :mod:`~galaxy10.cli.catalogue`: ``classify``;
* :mod:`~galaxy10.cli.similar`: ``similar``;
* :mod:`~galaxy10.cli.suggest`: ``suggest``;
* :mod:`~galaxy10.cli.reports`: ``results``, ``gallery``, ``realism``;
* :mod:`~galaxy10.cli.bench`: ``bench`` and its benchmarks.

:mod:`~galaxy10.cli.outputs` decides whether an ``--out`` may be written.

Validate first, then work: a command registers ``check`` beside ``func``
(``set_defaults(func=..., check=...)``). :func:`main` runs the check (every argument, input
and output: :mod:`~galaxy10.cli.checks`, :mod:`~galaxy10.cli.outputs`), then, for commands
that set ``tensorflow=True``, imports TensorFlow, then runs the command: a refused argument
never waits for TensorFlow's import or any other work.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from galaxy10.cli import bench, catalogue, data, models, notebooks, reports, similar, suggest
from galaxy10.cli.boundary import OneLineParser, run_command
from galaxy10.cli.options import add_everywhere, quiet_before_command

GROUPS = (data, notebooks, models, catalogue, similar, suggest, reports, bench)
"""The command groups, in the order ``--help`` lists their commands."""


def build_parser() -> OneLineParser:
    """The argument parser (exposed for tests and for ``--help`` documentation)."""
    parser = OneLineParser(
        prog="python -m galaxy10",
        description="Galaxy10 DECaLS: fetch or synthesise the data, inspect it, import images.")
    add_everywhere(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    _add_to_commands(parser)
    return parser


def _add_to_commands(parser: argparse.ArgumentParser) -> None:
    """``-v`` and ``--debug`` in every command's parser, ``bench memory``'s too."""
    done: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if id(child) not in done:  # an alias names the same parser twice
                    done.add(id(child))
                    add_everywhere(child)
                    _add_to_commands(child)


TF_COMMANDS = frozenset({"predict", "train", "pretrain", "adapt", "similar", "bench"})
"""Commands of which some load TensorFlow in this process (each such parser sets
``tensorflow=True``): it is imported quietly after the command's check, before its work."""

KERAS_COMMANDS = TF_COMMANDS | {"classify", "suggest", "app", "run"}
"""Commands that run Keras in this process or in processes they start (classify's workers,
the page's and the notebooks' kernels), which check ``KERAS_BACKEND`` before their checks."""


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """While the block runs, SIGTERM (a killed job, a closed terminal) unwinds like Ctrl-C.

    It raises ``SystemExit(143)``, so atomic writers remove their temporary files (SIGKILL
    cannot be caught, but never leaves a torso either). The caller's handler comes back
    afterwards: :func:`main` also runs inside long-lived processes (a notebook kernel, a test
    session), which SIGTERM must still stop once the command is done. Outside the main thread,
    where Python cannot set handlers, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:  # None: a handler set outside Python, which cannot be put back; use the default
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def printable_output() -> Iterator[None]:
    """While the block runs, stdout and stderr write what their encoding lacks as ``\\xfc``.

    Under an ASCII-only locale (``LC_ALL=C``, ``PYTHONIOENCODING=ascii``, a minimal container)
    printing a file name such as ``galaxie_ü.png`` raised ``UnicodeEncodeError`` halfway
    through a command's answer. Python already does this for stderr; stdout follows it here.
    The streams' own setting comes back afterwards (:func:`main` also runs inside notebooks
    and tests); a stream that cannot be reconfigured (a notebook's) is left as it is.
    """
    saved = []
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        errors = getattr(stream, "errors", None)
        if reconfigure is not None and errors not in (None, "backslashreplace"):
            with contextlib.suppress(ValueError, OSError, TypeError):
                reconfigure(errors="backslashreplace")
                saved.append((stream, errors))
    try:
        yield
    finally:
        for stream, errors in saved:
            with contextlib.suppress(ValueError, OSError, TypeError):
                stream.reconfigure(errors=errors)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see :func:`_main`).

    Whatever it prints survives a terminal that cannot show every character
    (:func:`printable_output`).
    """
    with printable_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    """Run the command line; returns the exit status.

    TensorFlow's C++ start-up lines are kept off the terminal (:mod:`galaxy10.core.quiet`):
    ``TF_CPP_MIN_LOG_LEVEL=3`` is set first (unless the user set it; notebook kernels and
    Voila inherit it), and the commands that load TensorFlow import it with those lines
    filtered out, except under ``-v``.
    """
    from galaxy10.core.quiet import (
        check_keras_backend,
        import_tensorflow_quietly,
        quiet_environment,
    )

    quiet_environment()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        quiet_before_command(args, parser)
    except SystemExit as exc:  # --help (0) or a bad argument (2, already printed in one line)
        return exc.code if isinstance(exc.code, int) else 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from galaxy10.cli.outputs import notes_after_checks, release_outputs

    def then_tensorflow(args: argparse.Namespace) -> None:
        if args.command in KERAS_COMMANDS:  # a bad variable is refused before any work
            check_keras_backend()
        check = getattr(args, "check", None)
        if check is not None:
            with notes_after_checks():
                check(args)
        if getattr(args, "tensorflow", False) and not args.verbose:
            import_tensorflow_quietly()

    with sigterm_unwinds():
        try:
            return run_command(args.func, args, debug=args.debug, verbose=args.verbose,
                               check=then_tensorflow)
        finally:
            release_outputs()  # the locks check_out took
