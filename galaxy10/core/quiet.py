"""Keep TensorFlow's start-up chatter off the terminal, so a command prints only its answer.

TensorFlow writes log lines from C++ straight to file descriptor 2 while it is imported
(``I0000 ... oneDNN custom operations are on``, ``cudart_stub.cc ... Could not find cuda
drivers``, ``WARNING: All log messages before absl::InitializeLog() is called...``) and later
when it looks for a GPU (``E0000 ... failed call to cuInit``). ``TF_CPP_MIN_LOG_LEVEL=3``
silences the later ones, but only if it is set before TensorFlow loads, and the lines written
through absl during the import ignore it. So the command line sets the variable first
(:func:`quiet_environment`) and imports TensorFlow with descriptor 2 captured
(:func:`import_tensorflow_quietly`); captured lines that are not such log lines are passed on.
Python warnings and errors are untouched.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
"""Set (if unset) before TensorFlow is imported; kernels and child processes inherit it."""

LOG_LINE = re.compile(r"^(?:[IWEF]\d{4} [\d:. ]+\d+ [\w.\-]+:\d+\] |WARNING: All log messages "
                      r"before absl::InitializeLog\(\) is called)")
"""A C++ log line (absl/glog format: level, date, time, thread, file:line) or absl's notice."""


def quiet_environment() -> None:
    """Set :data:`QUIET_ENV` in ``os.environ`` unless the user set those variables already."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (if installed and not yet imported) without its C++ start-up lines.

    Descriptor 2 goes to a temporary file during the import; afterwards every captured line
    that does not look like a C++ log line (:data:`LOG_LINE`) is written to stderr, so an
    unexpected message is shown, not swallowed. Does nothing when TensorFlow is already
    imported; a failing import is left to the code that needs TensorFlow.
    """
    if "tensorflow" in sys.modules:
        return
    quiet_environment()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow  # noqa: F401 - imported for its side effect, once, here
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
