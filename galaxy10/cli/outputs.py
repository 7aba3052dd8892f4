"""Decide whether a command may write its output file: never over what galaxy10 did not make.

Every ``--out`` of the command line goes through :func:`check_output` before any work starts,
so that a typo (``--out README.md``, ``--out notes.txt``, ``--out`` naming the input manifest)
costs an error line instead of a user's file. A file may be replaced only when galaxy10 can
tell that it wrote it itself:

* an HDF5 data set carrying the ``galaxy10_source`` attribute that
  :class:`~galaxy10.datasets.writer.Galaxy10Writer` records;
* a model bundle: ``NAME.keras`` with a ``NAME.json`` beside it that holds ``bundle_version``
  (:func:`~galaxy10.modeling.predict.save_bundle`);
* a PNG figure carrying the ``Software: galaxy10`` text chunk that
  :func:`~galaxy10.reporting.figures.save_figure` writes, or any PNG in the project's own
  ``reports/figures/`` folder (figures committed before the marker existed).

Everything else needs ``force=True`` (``--force``). Outputs equal to an input are refused even
with ``force``, since the input would be destroyed while it is being read. Whatever galaxy10
made or not, a name must end as its kind is written (``.keras`` for a bundle, ``.png`` for a
figure, ``.h5``/``.hdf5``/``.he5`` for a data set), and a named pipe, a device or a socket is
refused without being opened (a pipe would block until someone writes to it).

:func:`check_out`, the command line's door, also takes the output's write lock
(:func:`galaxy10.core.atomic.target_lock`) and holds it until the command ends
(:func:`release_outputs`), so that a second command writing the same file refuses in one line
while the first runs, instead of both finishing and one file silently replacing the other.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.files import inside_folder, special_kind

OutputKind = Literal["h5", "bundle", "figure", "metrics", "suggestions"]
SUFFIXES: dict[str, tuple[str, ...]] = {"h5": (".h5", ".hdf5", ".he5"), "bundle": (".keras",),
                                        "figure": (".png",), "metrics": (".json",),
                                        "suggestions": (".csv",)}
"""How the name of each kind of output must end (what its writer produces)."""
FIGURE_MARKER = "galaxy10"
"""Value of the PNG ``Software`` text chunk written by :func:`galaxy10.reporting.figures.save_figure`."""


class OutputError(Galaxy10Error):
    """An output path that galaxy10 refuses to write; the message names it and says why."""

    def __init__(self, path: str | os.PathLike[str], fault: str) -> None:
        self.path = Path(path)
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _check_folder(path: Path) -> None:
    """Refuse a target whose folder cannot exist or cannot be written."""
    folder = path.parent
    while not folder.exists():
        if folder.is_symlink():  # a dangling link: mkdir would fail on it
            raise OutputError(path, f"cannot create the folder {folder} (broken link)")
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(path, f"{folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(path, f"cannot write in {folder} (permission denied)")
    # access() says yes to root everywhere, and to pseudo file systems such as /proc: try it,
    # so that a long run (pre-training takes minutes) never fails only at its final write
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(path, f"cannot write in {folder} ({exc.strerror or exc})") from None


def _has_signature(path: Path, signature: bytes) -> bool:
    """True if the file at ``path`` starts with ``signature`` (e.g. HDF5's or PNG's 8 bytes)."""
    with open(path, "rb") as fh:
        return fh.read(len(signature)) == signature


def is_galaxy10_h5(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is an HDF5 file that galaxy10 wrote (it has ``galaxy10_source``)."""
    path = Path(path)
    try:
        if not _has_signature(path, b"\x89HDF\r\n\x1a\n"):
            return False
        import h5py

        from galaxy10.datasets.reader import SOURCE_ATTR

        with h5py.File(path, "r") as f:
            return SOURCE_ATTR in f.attrs
    except (OSError, ValueError):
        return False


def _is_bundle_json(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "bundle_version" in doc


def is_galaxy10_bundle(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a ``.keras`` archive with galaxy10's bundle JSON beside it."""
    path = Path(path)
    return (path.is_file() and zipfile.is_zipfile(path)
            and _is_bundle_json(path.with_suffix(".json")))


def is_galaxy10_figure(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a PNG that galaxy10 saved (marker chunk, or in its reports folder)."""
    path = Path(path)
    try:
        if not _has_signature(path, b"\x89PNG\r\n\x1a\n"):
            return False
        from PIL import Image

        with Image.open(path) as img:
            if str(img.info.get("Software", "")).startswith(FIGURE_MARKER):
                return True
    except (OSError, ValueError, SyntaxError):
        return False
    from galaxy10.core.paths import project_root

    figures = project_root() / "reports" / "figures"
    return figures.is_dir() and path.resolve().parent == figures.resolve()


def is_json_store(path: str | os.PathLike[str]) -> bool:
    """True for any regular file: the metrics store merges a JSON object's sections and moves
    anything else aside to ``<name>.corrupt`` (:func:`galaxy10.reporting.metrics.update_metrics`),
    so no content is lost."""
    return Path(path).is_file()


def is_galaxy10_suggestions(path: str | os.PathLike[str]) -> bool:
    """True for a CSV whose first line is ``suggest``'s header
    (:data:`galaxy10.pipeline.suggest.HEADER`)."""
    from galaxy10.pipeline.suggest import HEADER

    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.readline(4096).rstrip("\r\n") == ",".join(HEADER)
    except (OSError, UnicodeDecodeError):
        return False


_KIND_TEST = {"h5": (is_galaxy10_h5, "a Galaxy10 HDF5 file that galaxy10 wrote"),
              "bundle": (is_galaxy10_bundle, "a model bundle that galaxy10 wrote"),
              "figure": (is_galaxy10_figure, "a figure that galaxy10 wrote"),
              "metrics": (is_json_store, "a metrics file"),
              "suggestions": (is_galaxy10_suggestions, "a suggestions CSV that galaxy10 wrote")}
_KIND_WORDS = {"h5": "a Galaxy10 data set is an HDF5 file", "bundle": "a model bundle is a "
               "Keras file", "figure": "a figure is a PNG image", "metrics": "metrics are JSON",
               "suggestions": "suggestions are a CSV file"}


def check_output(path: str | os.PathLike[str], *, kind: OutputKind,
                 inputs: Iterable[str | os.PathLike[str] | None] = (),
                 force: bool | None = None, companions: Iterable[str | os.PathLike[str]] = (),
                 option: str = "--out") -> str | None:
    """Check that ``path`` may be written; say so when it replaces an earlier galaxy10 file.

    Parameters
    ----------
    path : path-like
        The output file a command is about to write.
    kind : {"h5", "bundle", "figure"}
        What the command writes, which decides what an existing file must be to be replaced.
    inputs : iterable of path-like
        Files and folders the command reads (None entries are ignored). The output may not be
        any of them, nor a companion of ``path`` (a bundle's JSON) be one.
    force : bool or None, default None
        Allow replacing a file galaxy10 did not make (never an input). None: the command has
        no ``--force``, so a refusal does not suggest one.
    companions : iterable of path-like
        Further files written beside ``path`` (a bundle's ``.json``); checked the same way.
    option : str, default "--out"
        The option that named ``path``, for the messages.

    Returns
    -------
    str or None
        A sentence to print when an existing file will be replaced, else None.

    Raises
    ------
    OutputError
        If ``path`` is a folder, lies under a file or an unwritable folder, equals an input
        or lies inside an input folder, or is an existing file galaxy10 did not write and ``force`` is False.
    """
    path = Path(path).expanduser()
    targets = [path, *(Path(c).expanduser() for c in companions)]
    for target in targets:
        for given in inputs:
            if given is not None and _same(target, Path(given).expanduser()):
                raise OutputError(target, "is also an input of this command; writing it would "
                                          f"destroy the input (choose another {option})")
            if given is not None and inside_folder(target, given):
                raise OutputError(target, f"is inside the input folder {given}; writing there "
                                          "would change what this command reads (choose "
                                          f"another {option})")
    for target in targets:  # before anything opens it: opening a named pipe blocks
        special = special_kind(target)
        if special:
            raise OutputError(target, f"is {special}, not a regular file; galaxy10 writes "
                                      f"files only (choose another {option})")
        if target.is_dir():
            raise OutputError(target, f"is a folder; {option} needs a file name")
    _check_folder(path)
    test, what = _KIND_TEST[kind]
    existing = [t for t in targets if t.exists() or t.is_symlink()]
    note = None
    if existing:
        if path.exists():
            ours = test(path)
        else:  # only a companion is there: a bundle's JSON left behind is still galaxy10's
            ours = kind == "bundle" and all(_is_bundle_json(t) for t in existing)
        if not ours and not force:
            hint = f"another {option}" + (", or add --force" if force is not None else "")
            raise OutputError(existing[0], f"already exists and is not {what}; galaxy10 does "
                                           f"not overwrite files it did not make (choose {hint})")
        names = ", ".join(str(t) for t in existing)
        if kind != "metrics":  # the metrics store is updated section by section, not replaced
            note = f"replacing {names} ({what})" if ours else f"replacing {names} (--force)"
    suffixes = SUFFIXES[kind]
    if path.suffix.lower() not in suffixes:
        raise OutputError(path, f"{_KIND_WORDS[kind]}: give a name ending in "
                                f"{' or '.join(suffixes)}")
    return note


_HELD = contextlib.ExitStack()
_HELD_PATHS: set[Path] = set()


def check_out(out: str | os.PathLike[str], kind: OutputKind, force: bool | None = None,
              inputs: Iterable = (), companions: Iterable = (), *, lock: bool = True,
              option: str = "--out") -> Path:
    """The command line's output check: :func:`check_output`, then the output's write lock.

    Refuses in one line (:class:`OutputError`), or prints :func:`check_output`'s note on
    stderr. With ``lock`` (every ``--out``), the output's lock is taken and held until
    :func:`release_outputs` (the end of the command): a second command writing the same file
    meanwhile is refused. Files that many commands update by sections (``metrics.json``,
    ``benchmarks.json``) pass ``lock=False``: their writer locks them for each short update.

    Returns
    -------
    Path
        ``out``, with ``~`` expanded.
    """
    out = Path(out).expanduser()
    note = check_output(out, kind=kind, inputs=inputs, force=force, companions=companions,
                        option=option)
    if lock:
        hold_lock(out)
    if note:
        note_after_checks(note, sys.stderr)
    return out


_PENDING_NOTES: list[tuple[str, Any]] | None = None


def note_after_checks(note: str, stream: Any = None) -> None:
    """Print ``note`` (to ``stream``, default standard output) once every check has passed.

    A check that chooses something for the user (the shipped bundle for want of their own)
    says so; if a later check refuses the command, only the refusal is printed.
    """
    stream = sys.stdout if stream is None else stream
    if _PENDING_NOTES is not None:
        _PENDING_NOTES.append((note, stream))
    else:
        print(note, file=stream, flush=True)


@contextlib.contextmanager
def notes_after_checks():
    """Hold back :func:`check_out`'s "replacing ..." notes until the checks have all passed.

    A command that is refused by a later check replaces nothing, so it must not have said
    that it would; :func:`galaxy10.cli.main` runs every command's check inside this.
    """
    global _PENDING_NOTES
    _PENDING_NOTES = []
    try:
        yield
        for note, stream in _PENDING_NOTES:
            print(note, file=stream, flush=True)
    finally:
        _PENDING_NOTES = None


def hold_lock(out: str | os.PathLike[str]) -> None:
    """Take ``out``'s write lock until :func:`release_outputs`; refuse if another holds it.

    The output's folder is created first (the lock file lives there). Taking a lock this
    process already holds does nothing.
    """
    from galaxy10.core.atomic import TargetLockedError, target_lock

    out = Path(out).expanduser()
    key = out.parent.resolve() / out.name
    if key in _HELD_PATHS:
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _HELD.enter_context(target_lock(out))
    except TargetLockedError as exc:
        raise OutputError(out, f"{exc.strerror}; wait for it to finish, or choose another "
                               "output") from None
    except OSError as exc:
        raise OutputError(out, f"cannot write in {out.parent} ({exc.strerror or exc})") from None
    _HELD_PATHS.add(key)


def release_outputs() -> None:
    """Release every lock :func:`check_out` took (the end of a command)."""
    _HELD.close()
    _HELD_PATHS.clear()


def metrics_store(reports_dir: str | os.PathLike[str] | None) -> Path:
    """``metrics.json`` of ``--reports-dir`` (default ``reports/``), checked as an output
    (:func:`check_out`): where a benchmark records its sections."""
    from galaxy10.core.paths import get_reports_home

    return check_out(get_reports_home(reports_dir) / "metrics.json", "metrics", lock=False)

