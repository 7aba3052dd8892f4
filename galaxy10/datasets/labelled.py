"""One reader of labelled images, whatever holds them.

Labelled cut-outs come in four shapes: a file with the Galaxy10 HDF5 schema (the download,
a synthetic set, an import), a folder with one sub-folder per class number (``0/`` ... ``9/``),
a CSV manifest with the columns ``file`` and ``label`` (paths relative to the CSV's
folder; a folder holding a ``manifest.csv`` means that manifest), or a Parquet file of encoded
images and labels (the Hugging Face layout, :mod:`galaxy10.datasets.parquet`). The realism
comparison, the real-vs-synthetic gallery, the duplicate audit and the importer all read them
through :func:`open_labelled`, so the same source gives the same images in the same order, and
the same error, everywhere.

:func:`open_labelled` reads only the listing (the labels, or the file names and labels);
pixels are decoded on demand, by rows (:meth:`LabelledImages.read`) or in batches
(:meth:`LabelledImages.iter_batches`), so memory stays bounded by what is asked for. Images
of folders and manifests are decoded and resized to 256 x 256 x 3 uint8 cut-outs exactly as
the importer writes them (:func:`galaxy10.datasets.images.load_cutout`), so a folder and its
import read the same pixels.

Each kind of source is a :class:`SourceKind` in a small registry: which paths it claims and
how to open them. Another layout is one more :class:`LabelledImages` subclass and one
:func:`register_source_kind` call, as Parquet is; no caller changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from galaxy10.core.classes import IMAGE_SHAPE, N_CLASSES, label_number
from galaxy10.core.errors import GalaxyDataError
from galaxy10.datasets.images import IMAGE_SUFFIXES, load_cutout
from galaxy10.datasets.parquet import (
    PARQUET_SUFFIXES,
    decode_blob,
    iter_parquet,
    parquet_layout,
    read_labels,
    read_parquet_rows,
)
from galaxy10.datasets.reader import Galaxy10File, read_in_batches

if TYPE_CHECKING:
    from galaxy10.datasets.sky import SkyPositions

__all__ = [
    "HDF5_SUFFIXES",
    "MANIFEST_NAME",
    "HDF5Images",
    "ImageFiles",
    "LabelledImages",
    "ParquetImages",
    "SourceKind",
    "list_images",
    "listed_source",
    "open_labelled",
    "read_manifest",
    "register_source_kind",
    "scan_images",
    "source_kind",
    "source_positions",
]

HDF5_SUFFIXES: tuple[str, ...] = (".h5", ".hdf5", ".he5")
"""File name endings read as Galaxy10 HDF5 files (whether or not the file exists)."""

MANIFEST_NAME = "manifest.csv"
"""A folder holding a file of this name is read through that manifest, not its class folders."""

_NOT_FOUND = "not found (expected a folder of class folders 0-9 or a CSV manifest file,label)"


# -- the readers ----------------------------------------------------------------------------
class LabelledImages:
    """Labelled cut-outs of one source: labels up front, pixels on demand.

    Subclasses set ``path``, ``labels`` and ``kind`` and implement :meth:`read` and
    :meth:`names`; batching, ``len`` and the context manager come from here.

    Attributes
    ----------
    path : Path
        What is read: the HDF5 file, the class-folder tree or the manifest file.
    labels : ndarray of uint8, shape (N,)
        Class 0-9 of every row, in row order.
    kind : str
        Name of the :class:`SourceKind` that opened it.
    """

    kind: str = ""

    def __init__(self, path: Path, labels: np.ndarray) -> None:
        self.path = Path(path)
        self.labels: np.ndarray = np.asarray(labels, dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.labels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({os.fspath(self.path)!r}, n={len(self)})"

    def __enter__(self) -> LabelledImages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release what the reader holds open (idempotent); nothing by default."""

    def names(self) -> list[str]:
        """A short name for every row, to show in reports (``row 7``, ``3/img.jpg``)."""
        raise NotImplementedError

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The images at ``rows``, in the order given, as uint8 of shape (len(rows), H, W, 3)."""
        raise NotImplementedError

    def iter_batches(self, rows: Sequence[int] | np.ndarray | None = None,
                     batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(rows, images)`` batches over ``rows`` (default: every row, in order).

        Memory holds one batch of images at a time.
        """
        return read_in_batches(self, rows, batch_size)


class HDF5Images(LabelledImages):
    """A Galaxy10 HDF5 file, read through :class:`galaxy10.datasets.reader.Galaxy10File`.

    Its pixels are returned as stored (the file's own image shape); its errors are the
    reader's (missing, not HDF5, truncated, breaking the schema: each names the file).
    """

    kind = "hdf5"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.file = Galaxy10File(path)
        super().__init__(self.file.path, self.file.labels)

    def close(self) -> None:
        self.file.close()

    def names(self) -> list[str]:
        return [f"row {i}" for i in range(len(self))]

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        return self.file.read(rows)

    def iter_batches(self, rows: Sequence[int] | np.ndarray | None = None,
                     batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self.file.iter_batches(rows, batch_size)


class ImageFiles(LabelledImages):
    """JPEG/PNG/... files with labels (a class-folder tree or a manifest), decoded on demand.

    Parameters
    ----------
    path : Path
        The folder or manifest that was listed.
    pairs : list of (Path, int)
        Image files and their labels, in row order.
    root : Path
        Folder that :meth:`names` are relative to.
    kind : str
        ``"folder"`` or ``"manifest"``.
    """

    def __init__(self, path: Path, pairs: list[tuple[Path, int]], root: Path, kind: str) -> None:
        super().__init__(path, np.array([label for _, label in pairs], dtype=np.uint8))
        self.files: list[Path] = [Path(p) for p, _ in pairs]
        self.root = Path(root)
        self.kind = kind

    def names(self) -> list[str]:
        names = []
        for path in self.files:
            try:
                names.append(os.fspath(path.relative_to(self.root)))
            except ValueError:  # a manifest may point outside its folder
                names.append(os.fspath(path))
        return names

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"image indices must be in 0-{len(self) - 1}")
        if not idx.size:
            return np.empty((0, *IMAGE_SHAPE), dtype=np.uint8)
        return np.stack([load_cutout(self.files[i]) for i in idx])


class ParquetImages(LabelledImages):
    """A Parquet file of encoded images and integer labels (the Hugging Face layout).

    Only the label column is read on opening; images are decoded on demand, and
    :meth:`iter_batches` over every row streams the file one row batch at a time.
    """

    kind = "parquet"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        path = Path(path)
        self.layout = parquet_layout(path)
        if self.layout.label is None:
            raise GalaxyDataError(path, "has no integer label column (label, labels or ans); "
                                        "unlabelled images can be classified (`classify`) "
                                        "but not imported or scored")
        column = read_labels(path, self.layout)
        if column is None or len(column) == 0:
            raise GalaxyDataError(path, "holds no images (0 rows)")
        missing = np.flatnonzero(column < 0)
        if missing.size:
            raise GalaxyDataError(path, f"label column '{self.layout.label}' has "
                                        f"{missing.size:,} label(s) missing (first at row "
                                        f"{missing[0]})")
        super().__init__(path, column.astype(np.uint8))

    def names(self) -> list[str]:
        return [f"row {i}" for i in range(len(self))]

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        if not idx.size:
            return np.empty((0, *IMAGE_SHAPE), dtype=np.uint8)
        blobs = read_parquet_rows(self.path, idx, self.layout)
        return np.stack([decode_blob(b, f"{self.path} row {i}")
                         for b, i in zip(blobs, idx, strict=True)])

    def iter_batches(self, rows: Sequence[int] | np.ndarray | None = None,
                     batch_size: int = 256) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if rows is not None:
            yield from super().iter_batches(rows, batch_size)
            return
        for batch in iter_parquet(self.path, batch_size=batch_size, layout=self.layout):
            yield batch.rows, np.stack([decode_blob(b, f"{self.path} row {i}")
                                        for b, i in zip(batch.blobs, batch.rows, strict=True)])


# -- listing folders and manifests -----------------------------------------------------------
def list_images(source: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """List ``(image path, label)`` pairs of a class-folder tree or a CSV manifest.

    Class folders are read in label order and files in name order, so the same folder always
    gives the same rows. A folder is listed by its class folders even when it holds a
    ``manifest.csv`` (:func:`open_labelled` prefers the manifest).

    Raises
    ------
    GalaxyDataError
        If ``source`` is missing, holds no images, or the manifest is malformed.
    """
    return scan_images(source)[0]


def scan_images(source: str | os.PathLike[str]
                ) -> tuple[list[tuple[Path, int]], list[tuple[Path, str]]]:
    """:func:`list_images`' pairs, and what the listing left out with the reason.

    Left out are folders that are not class folders (``01/``, ``spiral/``), images outside
    the class folders, sub-folders and non-image files inside them; hidden entries are
    skipped silently. A manifest leaves nothing out: a bad line is an error.
    """
    source = Path(source)
    if not source.exists():
        raise GalaxyDataError(source, _NOT_FOUND)
    if source.is_file():
        return read_manifest(source), []
    pairs: list[tuple[Path, int]] = []
    ignored: list[tuple[Path, str]] = []
    classes = {str(label): label for label in range(N_CLASSES)}
    try:
        entries = sorted(source.iterdir())
    except OSError as exc:
        raise GalaxyDataError(source, f"cannot be listed ({exc.strerror or exc})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir() and entry.name not in classes:
            ignored.append((entry, "not a class folder: class folders are named 0 to 9"))
        elif entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            ignored.append((entry, "image outside the class folders 0-9"))
    for name, label in classes.items():
        folder = source / name
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if p.name.startswith("."):
                continue
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                pairs.append((p, label))
            else:
                ignored.append((p, "a folder inside a class folder" if p.is_dir() else
                                   f"not an image file ({', '.join(sorted(IMAGE_SUFFIXES))})"))
    if not pairs:
        raise GalaxyDataError(source, "holds no images in class folders 0-9 "
                                      f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    return pairs, ignored


def read_manifest(manifest: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """``(image path, label)`` pairs of a CSV manifest with the columns ``file`` and ``label``.

    Paths are relative to the manifest's folder. Nothing is skipped: the first bad line
    (wrong number of fields, a label that is not a whole number in 0-9, an empty file name)
    raises, with its line number.

    Raises
    ------
    GalaxyDataError
        Naming the manifest and what is wrong with it.
    """
    from galaxy10.core.files import csv_rows

    manifest = Path(manifest)
    pairs = []
    for line, row in csv_rows(manifest, what="CSV manifest", header=lambda fields: None if {
            "file", "label"} <= set(fields) else "CSV manifest needs the columns 'file' and "
            f"'label' (found: {fields or None})"):
        label = label_number(row["label"])
        if label is None:
            raise GalaxyDataError(manifest, f"line {line}: label {row['label'][:40]!r} is not "
                                            "a whole number")
        if not 0 <= label < N_CLASSES:
            raise GalaxyDataError(manifest, f"line {line}: label {label} is outside "
                                            f"0-{N_CLASSES - 1}")
        if not row["file"].strip():
            raise GalaxyDataError(manifest, f"line {line}: the file name is empty")
        pairs.append((manifest.parent / row["file"], label))
    if not pairs:
        raise GalaxyDataError(manifest, "CSV manifest lists no images")
    return pairs


def listed_source(source: str | os.PathLike[str]) -> Path:
    """The manifest of a folder that holds a ``manifest.csv``, else ``source`` itself."""
    source = Path(source)
    manifest = source / MANIFEST_NAME
    return manifest if source.is_dir() and manifest.is_file() else source


def _open_manifest(source: Path) -> ImageFiles:
    manifest = listed_source(source)
    return ImageFiles(manifest, read_manifest(manifest), manifest.parent, "manifest")


def _open_folder(source: Path) -> ImageFiles:
    return ImageFiles(source, list_images(source), source, "folder")


# -- the registry of source kinds -----------------------------------------------------------
@dataclass(frozen=True)
class SourceKind:
    """One way labelled images can be stored.

    Attributes
    ----------
    name : str
        Short name (``"hdf5"``, ``"manifest"``, ``"folder"``), the reader's ``kind``.
    claims : callable (Path) -> bool
        Whether a path is of this kind; it may look at the path's name alone (an absent
        ``x.h5`` is still an HDF5 source, whose reader then says it is missing).
    open : callable (Path) -> LabelledImages
        Opens it: reads the listing, checks it, raises :class:`GalaxyDataError` naming the
        path and the fault.
    """

    name: str
    claims: Callable[[Path], bool]
    open: Callable[[Path], LabelledImages]


_KINDS: list[SourceKind] = []


def register_source_kind(kind: SourceKind) -> None:
    """Add ``kind`` (or replace the one of the same name); it is tried before earlier ones.

    The built-in kinds are registered most general first (any folder, then any file or a
    folder with a manifest, then HDF5 names), so a kind added later that claims a name
    ending (``.parquet``) is tried before the catch-all manifest kind.
    """
    _KINDS[:] = [k for k in _KINDS if k.name != kind.name]
    _KINDS.insert(0, kind)


register_source_kind(SourceKind("folder", Path.is_dir, _open_folder))
register_source_kind(SourceKind(
    "manifest", lambda p: p.is_file() or (p.is_dir() and (p / MANIFEST_NAME).is_file()),
    _open_manifest))
register_source_kind(SourceKind("hdf5", lambda p: p.suffix.lower() in HDF5_SUFFIXES,
                                HDF5Images))
register_source_kind(SourceKind("parquet", lambda p: p.suffix.lower() in PARQUET_SUFFIXES,
                                ParquetImages))


def source_kind(source: str | os.PathLike[str]) -> SourceKind:
    """The registered kind that claims ``source``.

    Raises
    ------
    GalaxyDataError
        If nothing does: ``source`` does not exist (or is neither a file nor a folder).
    """
    from galaxy10.core.files import special_kind

    path = Path(source)
    special = special_kind(path)
    if special:  # never handed to a reader: opening a pipe blocks, a device never ends
        raise GalaxyDataError(path, f"is {special}, not a file or folder of labelled images")
    for kind in _KINDS:
        if kind.claims(path):
            return kind
    raise GalaxyDataError(path, _NOT_FOUND if not path.exists() else
                          "is neither a file nor a folder of labelled images")


def source_positions(source: str | os.PathLike[str],
                     coordinates: str | os.PathLike[str] | None = None) -> SkyPositions | None:
    """The positions of a labelled source's rows, in the order every reader gives them.

    A Galaxy10 HDF5 file: its ``ra``/``dec`` columns; a CSV manifest (or a folder holding
    ``manifest.csv``): :func:`galaxy10.datasets.sky.manifest_positions`; other sources (class
    folders, Parquet): None, as for a file or manifest without positions.
    """
    from galaxy10.datasets.sky import SkyPositions, check_positions, manifest_positions

    path = Path(source)
    kind = source_kind(path).name
    if kind == "hdf5":
        with Galaxy10File(path) as f:
            ra, dec = f.metadata("ra"), f.metadata("dec")
        if ra is None or dec is None:
            return None
        ra, dec = check_positions(ra, dec, path)
        return SkyPositions(ra, dec, "the file's ra/dec")
    if kind == "manifest":
        return manifest_positions(listed_source(path), coordinates)
    return None


def open_labelled(source: str | os.PathLike[str]) -> LabelledImages:
    """Open labelled images: Galaxy10 HDF5, Parquet, class folders ``0``-``9`` or a CSV manifest.

    Parameters
    ----------
    source : path-like
        An ``.h5``/``.hdf5``/``.he5`` file; a ``.parquet`` file of encoded images and labels;
        a folder holding a ``manifest.csv`` (read through it) or class folders; a CSV manifest
        ``file,label``; or any kind registered with :func:`register_source_kind`.

    Returns
    -------
    LabelledImages
        Labels read, pixels not yet; use it as a context manager to close an HDF5 file.

    Raises
    ------
    GalaxyDataError
        If ``source`` is missing, holds no images, or breaks its layout (named).
    """
    path = Path(source)
    return source_kind(path).open(path)
