"""What kind of thing a path names, said in words, without opening it.

Every check of an input file (a data set, an image, a manifest, a model bundle) and of an
output path asks :func:`unreadable_reason` or :func:`special_kind` first, so that a named pipe,
a device such as ``/dev/zero``, a socket or a folder is called what it is, instead of "file not
found" or "file is empty (0 bytes)", and is never opened: opening a named pipe blocks until
another process writes to it, and reading ``/dev/zero`` never ends. Both use ``os.stat`` only.
"""

from __future__ import annotations

import csv
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"),
            (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"),
            (stat.S_ISSOCK, "a socket"))


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """``"a named pipe (FIFO)"``, ``"a character device"``... for a special file, else None.

    Follows symbolic links (a link to a pipe is a pipe to whoever opens it); a path that does
    not exist, a regular file and a folder give None.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    for test, name in _SPECIAL:
        if test(mode):
            return name
    return None


def inside_folder(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (which need not exist) lies under the existing folder ``folder``.

    An output there would change what a command reads: the next read of the folder (a class
    tree, a catalogue's pictures) meets the output among the inputs. Links are followed.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        return False
    try:
        Path(path).expanduser().resolve().relative_to(folder.resolve())
    except (ValueError, OSError, RuntimeError):  # elsewhere, or a link loop
        return False
    return True


def unreadable_reason(path: str | os.PathLike[str], *, what: str = "file",
                      allow_empty: bool = False) -> str | None:
    """Why ``path`` is not a readable regular file, in a few words; None when it is one.

    Parameters
    ----------
    path : path-like
        The path a command was given.
    what : str, default "file"
        What the command expected there ("image file", "HDF5 file", "model file"), used in
        the words: ``"is a folder, not an image file"``.
    allow_empty : bool, default False
        Accept a file of 0 bytes.

    Returns
    -------
    str or None
        For instance ``"file not found"``, ``"is a broken symbolic link"``,
        ``"is a folder, not an HDF5 file"``, ``"is a named pipe (FIFO), not a regular file"``,
        ``"cannot be read (permission denied)"``, ``"is empty (0 bytes)"``. The file is not
        opened (a pipe would block, a device would never end).
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if path.is_symlink():
            return f"is a broken symbolic link (to {os.readlink(path)})"
        return "file not found"
    except NotADirectoryError:
        return "file not found (a part of the path is a file, not a folder)"
    except PermissionError:
        return "cannot be reached (permission denied on a folder above it)"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if stat.S_ISDIR(st.st_mode):
        return f"is a folder, not {_article(what)}"
    for test, name in _SPECIAL:
        if test(st.st_mode):
            return f"is {name}, not a regular file; give {_article(what)}"
    if not stat.S_ISREG(st.st_mode):
        return f"is not a regular file; give {_article(what)}"
    if not os.access(path, os.R_OK):
        return "cannot be read (permission denied)"
    if st.st_size == 0 and not allow_empty:
        return "is empty (0 bytes)"
    return None


def _article(what: str) -> str:
    return f"an {what}" if what[:1].lower() in "aeiou" or what.startswith("HDF") else f"a {what}"


def free_space_reason(folder: str | os.PathLike[str], needed: int) -> str | None:
    """Why ``needed`` bytes will not fit in ``folder``'s file system; None when they fit.

    The nearest existing folder above ``folder`` is measured (the output's folder may not
    exist yet). A file system that cannot be measured is given the benefit of the doubt. A
    file size limit (``ulimit -f``) below ``needed`` is a reason too: the write would stop at it.
    """
    here = Path(folder).absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    try:
        free = shutil.disk_usage(here).free
    except OSError:
        return None
    if needed > free:
        return (f"needs about {format_bytes(needed)} but {here} has {format_bytes(free)} "
                "free")
    from galaxy10.core.resources import soft_limit

    largest = soft_limit("FSIZE")
    if largest is not None and needed > largest:
        return (f"needs about {format_bytes(needed)} but this process may write files of at "
                f"most {format_bytes(largest)} (the file size limit, ulimit -f)")
    return None


def format_bytes(n: float) -> str:
    """``1.6 kB``, ``19.7 GB``: decimal units, as file managers and ``df -H`` show them."""
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} PB"  # pragma: no cover - the loop returns


def csv_rows(path: str | os.PathLike[str], *, what: str,
             header: Callable[[list[str]], str | None]) -> Iterator[tuple[int, dict[str, str]]]:
    """Each row of a CSV file with its line number, after the checks every reader makes.

    The one reader of galaxy10's CSV inputs (manifests, labels, a catalogue's list): the path
    must be a readable regular file (:func:`unreadable_reason`: a pipe is never opened), UTF-8
    (a byte-order mark, Excel's "CSV UTF-8", is fine), its header accepted by ``header``
    (which returns what is wrong, or None), and every row must have as many fields as the
    header. The caller checks the values.

    Parameters
    ----------
    path : path-like
    what : str
        What the file is, in words ("CSV manifest", "labels CSV"), for the messages.
    header : callable
        ``header(fieldnames)``: None when the columns will do, else the fault in words.

    Yields
    ------
    (int, dict)
        The line number (of the row's last line) and the row.

    Raises
    ------
    GalaxyDataError
        Naming the file and, for a bad row, its line.
    """
    from galaxy10.core.errors import GalaxyDataError

    path = Path(path)
    why = unreadable_reason(path, what=what)
    if why:
        raise GalaxyDataError(path, why)
    line = 1
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = list(reader.fieldnames or [])
            fault = header(fields)
            if fault:
                raise GalaxyDataError(path, fault)
            for row in reader:
                line = reader.line_num
                if None in row or None in row.values():
                    got = len(fields) + len(row.get(None) or []) - sum(
                        v is None for v in row.values())
                    raise GalaxyDataError(path, f"line {line}: {got} field(s), expected "
                                                f"{len(fields)} ({', '.join(fields)})")
                yield line, row
    except UnicodeDecodeError:
        raise GalaxyDataError(path, f"not a UTF-8 {what}") from None
    except csv.Error as exc:
        raise GalaxyDataError(path, f"line {line + 1}: not valid CSV ({exc})") from None
    except OSError as exc:
        raise GalaxyDataError(path, f"cannot be read ({exc.strerror or exc})") from None

