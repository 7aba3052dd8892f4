"""Keep TensorFlow's start-up chatter out of terminals and notebooks; real warnings still show.

TensorFlow writes log lines from C++ straight to file descriptor 2 while it is imported
(``I0000 ... oneDNN custom operations are on``, ``cudart_stub.cc ... Could not find cuda
drivers``, ``WARNING: All log messages before absl::InitializeLog() is called...``, and on a
GPU runtime such as Colab's ``Unable to register cuDNN factory`` and its cuFFT and cuBLAS
twins) and later while it works (``E0000 ... failed call to cuInit``, ``NodeDef mentions
attribute use_unbounded_threadpool``). ``TF_CPP_MIN_LOG_LEVEL=3`` silences the later ones, but
only if it is set before TensorFlow loads, and the lines written through absl during the import
ignore it. A Jupyter kernel shows whatever reaches descriptor 2 as a red stream in the
notebook, so the same lines would land in every executed notebook.

So galaxy10 code never imports TensorFlow or Keras itself: it calls :func:`load_tensorflow`
or :func:`load_keras`, which set :data:`QUIET_ENV` (unless the user set those variables) and
import TensorFlow once with descriptor 2 captured (:func:`import_tensorflow_quietly`);
captured lines that are not such log lines are passed on. That covers the command line, the
kernels of ``python -m galaxy10 run`` and a notebook opened in Colab or JupyterLab alike;
importing galaxy10 itself sets nothing. Python warnings and errors are untouched.

One Python log message is dropped as well: TensorFlow's "N out of the last M calls to
<function ...> triggered tf.function retracing" (:class:`RetracingNoticeFilter`). galaxy10 builds
a new model per fold, per search candidate and per label count by design, and each new model
traces its own step functions; TensorFlow counts those traces together and tells the student,
in red, to move a ``tf.function`` out of a loop that is not theirs. Every other record of the
``tensorflow`` logger still shows.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import tempfile

QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
"""Set (if unset) before TensorFlow is imported; kernels and child processes inherit it."""

LOG_LINE = re.compile(
    r"^(?:[IWEF]\d{4} [\d:. ]+\d+ [\w.\-]+:\d+\] "  # absl: level, date, time, thread, file:line
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] \S+:\d+\] "  # TensorFlow's older format
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|To enable the following instructions: .*rebuild TensorFlow)")  # cpu_feature_guard's 2nd
"""A C++ log line (absl/glog or TensorFlow's own format), absl's notice, or the second line of
TensorFlow's CPU-instructions notice."""


RETRACING_NOTICE = re.compile(r"\d+ out of the last \d+ calls to .* triggered tf\.function retracing")
"""TensorFlow's heuristic notice about repeated tracing (``polymorphic_function``)."""


class RetracingNoticeFilter(logging.Filter):
    """Drops :data:`RETRACING_NOTICE` records from the ``tensorflow`` logger; passes the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not RETRACING_NOTICE.search(record.getMessage())


def drop_retracing_notices() -> None:
    """Attach one :class:`RetracingNoticeFilter` to the ``tensorflow`` logger (idempotent)."""
    logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, RetracingNoticeFilter) for f in logger.filters):
        logger.addFilter(RetracingNoticeFilter())


def quiet_environment() -> None:
    """Set :data:`QUIET_ENV` in ``os.environ`` unless the user set those variables already."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


KERAS_BACKEND = "tensorflow"
"""The one Keras backend galaxy10 runs on: training, tf.data batches and Grad-CAM call
TensorFlow itself, so ``KERAS_BACKEND`` may only be unset, empty or this."""


def check_keras_backend() -> None:
    """Refuse a ``KERAS_BACKEND`` other than TensorFlow before Keras is imported.

    Keras reads the variable on import and fails deep inside (``No module named 'jax'``,
    ``Unable to import backend : nonsense``) or, with that backend installed, runs on it
    while galaxy10 hands it TensorFlow tensors.

    Raises
    ------
    SettingError
        Naming the variable, its value and what is allowed.
    """
    from galaxy10.core.errors import SettingError

    value = os.environ.get("KERAS_BACKEND", "")
    if value and value != KERAS_BACKEND:
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise SettingError(f"KERAS_BACKEND={shown}: galaxy10 runs Keras on TensorFlow only; "
                           f"unset KERAS_BACKEND or set it to {KERAS_BACKEND}")


def load_tensorflow():
    """The ``tensorflow`` module, imported quietly the first time (the one way galaxy10 code
    gets it; see the module docstring)."""
    import_tensorflow_quietly()
    import tensorflow

    return tensorflow


def load_keras():
    """The ``keras`` module, with TensorFlow imported quietly first (see :func:`load_tensorflow`)."""
    import_tensorflow_quietly()
    import keras

    return keras


def import_tensorflow_quietly() -> None:
    """Import TensorFlow and Keras (if installed and not yet imported) without the C++ lines.

    Sets :data:`QUIET_ENV` first (:func:`quiet_environment`). Descriptor 2 goes to a temporary
    file during the import; afterwards every captured line that does not look like a C++ log
    line (:data:`LOG_LINE`) is written to stderr, so an unexpected message is shown, not
    swallowed. A ``KERAS_BACKEND`` other than TensorFlow is refused first
    (:func:`check_keras_backend`). Every call also attaches the retracing filter
    (:func:`drop_retracing_notices`, once); the import itself is skipped when both are
    imported already, and a failing import is left to the code that needs TensorFlow. Under a
    ``ulimit -v`` too small for TensorFlow it raises
    :class:`~galaxy10.core.errors.ResourceLimitError` instead of importing it
    (:func:`~galaxy10.core.resources.check_tensorflow_address_space`).
    """
    drop_retracing_notices()
    wanted = [name for name in ("tensorflow", "keras") if name not in sys.modules]
    if not wanted:
        return
    if "keras" in wanted:
        check_keras_backend()
    if "tensorflow" in wanted:  # under a small `ulimit -v` it would abort, not raise
        from galaxy10.core.resources import check_tensorflow_address_space

        check_tensorflow_address_space()
    quiet_environment()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            for name in wanted:
                importlib.import_module(name)
        except ImportError:
            pass
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read().decode("utf-8", errors="replace")
    kept = [line for line in text.splitlines() if line.strip() and not LOG_LINE.match(line)]
    if kept:
        print("\n".join(kept), file=sys.stderr, flush=True)
