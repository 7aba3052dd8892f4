"""Kernels that start quietly: the one setting, on a kernel's command line or in its config file.

ipykernel 7 logs a warning at every kernel start that its local TCP sockets are not encrypted
(the usual Jupyter set-up: loopback only, every message signed with the connection file's
key), six times a ``run``, as if something were wrong. :data:`KERNEL_SETTINGS` lowers the
kernel app's log level to ERROR, so its errors still show; the notebooks' own warnings go into
the notebooks either way.

Two ways carry the setting to a kernel:

* ``python -m galaxy10 run`` and ``papermill --engine galaxy10`` start each kernel with
  :data:`KERNEL_ARGUMENTS` (wherever galaxy10 is installed);
* plain ``papermill IN OUT`` passes no arguments of ours, so ``make setup`` writes the setting
  into the environment's IPython config folder, ``<sys.prefix>/etc/ipython/`` (IPython's
  documented per-environment location, read by every kernel that environment's Python starts,
  before it opens its sockets): ``python -m galaxy10.pipeline.kernels`` (:func:`main`). A
  user's own profile (``~/.ipython/profile_default``) is read after it and wins.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from galaxy10.core.errors import Galaxy10Error, GalaxyDataError

KERNEL_SETTINGS: dict[str, dict[str, str]] = {"IPKernelApp": {"log_level": "ERROR"}}
"""What galaxy10 sets on each kernel, as traitlets config (section, then trait)."""

KERNEL_ARGUMENTS: tuple[str, ...] = tuple(
    f"--{section}.{trait}={value}"
    for section, traits in KERNEL_SETTINGS.items() for trait, value in traits.items())
""":data:`KERNEL_SETTINGS` as kernel command-line arguments (``run``, the papermill engine)."""

CONFIG_NAME = "ipython_kernel_config.json"
"""The file IPython's kernel app reads from each config folder (``ipython_kernel`` + ``_config``)."""


def kernel_config_path(prefix: str | os.PathLike[str] | None = None) -> Path:
    """The kernel config file of the Python environment at ``prefix`` (default: this one)."""
    return Path(sys.prefix if prefix is None else prefix) / "etc" / "ipython" / CONFIG_NAME


def install_kernel_config(prefix: str | os.PathLike[str] | None = None) -> Path:
    """Add :data:`KERNEL_SETTINGS` to an environment's kernel config file; return its path.

    What the file already holds is kept, its own values included (a ``log_level`` set there
    stays), so running this again, or after a user's edit, changes nothing they chose. The file
    is written atomically, and only when something is added.

    Parameters
    ----------
    prefix : path-like, optional
        The environment's ``sys.prefix`` (``.venv`` for ``make setup``); default: this Python's.

    Raises
    ------
    GalaxyDataError
        When the file exists but is not a JSON object of sections (a hand edit gone wrong); it
        is left as it is.
    """
    from galaxy10.core.atomic import write_json

    path = kernel_config_path(prefix)
    current = _read_config(path)
    merged = {section: dict(traits) for section, traits in current.items()}
    for section, traits in KERNEL_SETTINGS.items():
        for trait, value in traits.items():
            merged.setdefault(section, {}).setdefault(trait, value)
    if merged != current:
        write_json(path, merged)
    return path


def _read_config(path: Path) -> dict[str, dict]:
    """The config file's sections, ``{}`` when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise GalaxyDataError(path, f"cannot read this kernel config file ({exc})") from None
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GalaxyDataError(path, f"not JSON ({exc.msg} at line {exc.lineno}); fix or "
                                    "remove it, galaxy10 leaves it as it is") from None
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise GalaxyDataError(path, "not a kernel config (a JSON object of sections, such as "
                                    '{"IPKernelApp": {...}}); fix or remove it')
    return config


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m galaxy10.pipeline.kernels``: install the setting into this environment.

    One line either way: where the setting is, or ``error: <file>: <what is wrong>`` with exit
    status 2 (an unreadable or malformed config file, a folder that cannot be written, an
    argument: it takes none).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    if args:
        print(f"error: python -m galaxy10.pipeline.kernels takes no arguments (got {args[0]!r})",
              file=sys.stderr)
        return 2
    try:
        path = install_kernel_config()
    except Galaxy10Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = exc.filename or kernel_config_path()
        print(f"error: {where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"[galaxy10] this environment's kernels start without the TCP notice: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
