"""The command line's error boundary: every failure a user can cause is one line, exit 2.

Three layers, so that no traceback from argparse, h5py, Pillow or the csv module reaches a
user who made a typo:

* :class:`OneLineParser` reports bad arguments as ``error: argument --n: ...`` (argparse's own
  usage block is two lines more and does not start with ``error:``);
* argparse ``type=`` callables (:func:`count`, :func:`count_at_most`, :func:`seed`,
  :func:`port`, :func:`seconds`, :func:`notebook_list`) reject bad values at parse time, before any work
  starts;
* :func:`run_command` turns a :class:`~galaxy10.core.errors.Galaxy10Error`, an ``OSError`` (with the
  file it names), a ``MemoryError``, a ``csv.Error`` or a Pillow refusal into
  ``error: <what>: <why>`` with exit status 2. Anything else is a bug in galaxy10: one line
  saying so and how to see the traceback (``--debug``), exit status 1.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from galaxy10.core.errors import Galaxy10Error

USER_ERROR = 2
"""Exit status of a failure caused by the arguments, files or environment."""
BUG = 1
"""Exit status of an unexpected exception (a bug in galaxy10)."""


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are the house's one line on stderr, exit status 2.

    A file whose name starts with ``-`` (``predict -rf``) is read as an unknown option, so
    the error names it and says how to pass it as a file (:func:`dash_file_hint`).
    """

    _words: list[str] = []

    def parse_known_args(self, args=None, namespace=None):  # noqa: ANN001, ANN201 - argparse's
        self._words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """Print ``error: <message>`` and how to get help, then exit with status 2."""
        unrecognized = message.startswith("unrecognized arguments: ")
        words = message.split(": ", 1)[1].split() if unrecognized else self._words
        hint = dash_file_hint(self, words) if unrecognized or "required" in message else ""
        self.exit(USER_ERROR, f"error: {message}{hint} (see `{self.prog} --help`)\n")


def dash_file_hint(parser: argparse.ArgumentParser, words: list[str]) -> str:
    """``; `-rf` looks like an option ...`` for the first ``-word`` that is no option of ``parser``.

    argparse takes any word starting with ``-`` for an option, so a file named ``-rf`` is
    "unrecognized", and a command that needs files says only that they are required.
    Negative numbers, ``-``, long options (a mistyped ``--nn`` is no file) and whatever
    follows ``--`` are left alone.
    """
    known = [s for a in parser._actions for s in a.option_strings if not s.startswith("--")]
    for word in words:
        if word == "--":
            break
        if word.startswith("--") or not word.startswith("-") or word == "-" \
                or parser._negative_number_matcher.match(word):
            continue
        if not any(word.startswith(s) for s in known):  # -n5 is -n 5
            return (f"; `{word}` looks like an option: if it is a file, write `-- {word}` "
                    f"or `./{word}`")
    return ""


def count(text: str) -> int:
    """argparse type: a whole number of at least 1 (images, workers, epochs, examples)."""
    return _int_at_least(text, 1)


def folds(text: str) -> int:
    """argparse type: a number of cross-validation folds, at least 2."""
    return _int_at_least(text, 2)


def count_at_most(high: int, low: int = 1) -> Callable[[str], int]:
    """argparse type: a whole number from ``low`` (default 1) to ``high`` (a bound that keeps
    memory sane)."""
    def bounded(text: str) -> int:
        value = _int_at_least(text, low)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:,}, got {_shown(value)}")
        return value

    bounded.__name__ = "count"  # argparse names the type in some messages
    return bounded


MAX_SEED = 2**32 - 1
"""Largest seed: NumPy's legacy seeding and Keras accept 32-bit seeds only."""


def seed(text: str) -> int:
    """argparse type: a random seed, a whole number from 0 to :data:`MAX_SEED`."""
    value = _int_at_least(text, 0)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is at most {MAX_SEED} (2**32 - 1), got "
                                         f"{_shown(value)}")
    return value


def _int_at_least(text: str, low: int) -> int:
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {_shown(value)}")
    return value


def _shown(value: int) -> str:
    """The number as typed when a reader can take it in, ``a 50-digit number`` beyond that."""
    digits = len(str(abs(value)))
    return str(value) if digits <= 15 else f"a {digits}-digit number"


def port(text: str) -> int:
    """argparse type: a TCP port number, 1-65535."""
    value = _int_at_least(text, 1)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {_shown(value)}")
    return value


MAX_SECONDS = 86_400
"""Longest wait an option may set (a day): beyond it a wait is a hang by another name."""


def seconds(text: str) -> float:
    """argparse type: a wait in seconds, more than 0 and at most :data:`MAX_SECONDS`."""
    shown = repr(text) if len(text) <= 40 else repr(text[:37] + "...")
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown} is not a number of seconds") from None
    if not value > 0:  # NaN too
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {shown}")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SECONDS:,} seconds (a day), "
                                         f"got {shown}")
    return value


def notebook_list(text: str) -> str:
    """argparse type: comma-separated notebook numbers or names that exist (``01,04``)."""
    from galaxy10.pipeline.runner import select_notebooks

    try:
        if not select_notebooks(text):
            raise ValueError("no notebook named")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def describe(exc: BaseException) -> str | None:
    """The one-line message for an exception a user can cause, or None for a bug."""
    if isinstance(exc, Galaxy10Error):
        return str(exc)
    import csv

    if isinstance(exc, csv.Error):
        return f"CSV file: {exc}"
    pil = sys.modules.get("PIL.Image")
    if pil is not None and isinstance(exc, pil.DecompressionBombError):
        return f"image refused as a possible decompression bomb ({exc})"
    if pil is not None and isinstance(exc, pil.UnidentifiedImageError):
        return str(exc)
    if isinstance(exc, MemoryError):  # the machine's or `ulimit -v`'s limit, not a file's fault
        step = f" ({exc})" if str(exc) else ""
        return (f"out of memory{step}: this process may not allocate enough memory (free some, "
                "or raise `ulimit -v`)")
    if isinstance(exc, OSError):
        why = exc.strerror or str(exc) or type(exc).__name__
        if exc.filename is not None:
            return f"{exc.filename}: {why}"
        return why
    return None


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace,
                debug: bool = False, verbose: bool = False,
                check: Callable[[argparse.Namespace], None] | None = None) -> int:
    """Run a sub-command; map its failure to one line on stderr and an exit status.

    Parameters
    ----------
    func : callable
        The sub-command; returns its exit status.
    args : argparse.Namespace
        Parsed arguments passed to ``func``.
    debug : bool, default False
        Also print the traceback of any failure (``--debug``), for bug reports.
    verbose : bool, default False
        Print the traceback of a bug, but keep user errors to their one line (``-v``).
    check : callable, optional
        Run first, inside the same boundary: the command's checks of its arguments, inputs
        and outputs (see :mod:`galaxy10.cli`).

    Returns
    -------
    int
        ``func``'s status; 2 for a user error; 1 for a bug; 130 on Ctrl-C.
    """
    try:
        if check is not None:
            check(args)
        return func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - this is the boundary: nothing passes it raw
        message = describe(exc)
        if debug or (verbose and message is None):
            traceback.print_exc()
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return USER_ERROR
        hint = "" if debug or verbose else "; run again with --debug to see the traceback"
        text = f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
        print(f"error: internal error, a bug in galaxy10 ({text}){hint}", file=sys.stderr)
        return BUG
