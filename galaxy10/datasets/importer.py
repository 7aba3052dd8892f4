"""Turn a folder of JPEG/PNG cut-outs, or Parquet files, into a file with the Galaxy10 HDF5 schema.

Users with their own cut-outs (or the 1,000-image real sample) get a file that every part of
galaxy10 reads the same way as the official download. Three layouts are accepted:

* a folder with one sub-folder per class number (``0/``, ``1/``, ... ``9/``);
* a CSV manifest with columns ``file`` and ``label`` (paths relative to the CSV's folder);
* Parquet files of encoded images and labels (:func:`import_parquet`): the Hugging Face copy
  of Galaxy10 DECaLS, whose train/test split the file keeps.

Images are decoded and resized to 256 x 256 one batch at a time, so memory stays bounded,
and the output file appears only when every image has been written. Listing the folder or
manifest is :mod:`galaxy10.datasets.labelled`'s job, shared with every reader of them.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galaxy10.core.classes import IMAGE_SHAPE
from galaxy10.core.errors import GalaxyDataError, ImageTooLargeError
from galaxy10.datasets.images import load_cutout, probe_image
from galaxy10.datasets.labelled import (
    MANIFEST_NAME,
    ParquetImages,
    listed_source,
    scan_images,
)
from galaxy10.datasets.parquet import PARQUET_SUFFIXES
from galaxy10.datasets.reader import SPLIT_FIELD, SPLIT_NAMES_ATTR
from galaxy10.datasets.sky import SkyPositions
from galaxy10.datasets.writer import Galaxy10Writer

logger = logging.getLogger(__name__)


@dataclass
class ImportPlan:
    """What an import will read, and what it leaves out (and why).

    Attributes
    ----------
    pairs : list of (Path, int)
        Images to import with their labels, in
        :func:`galaxy10.datasets.labelled.list_images` order.
    ignored : list of (Path, str)
        Folders and files of the source that are not part of the layout (``01/``,
        ``spiral/``, a text file in a class folder), with the reason.
    refused : list of (Path, str)
        Listed images whose header shows unreasonable dimensions (see ``MAX_SIDE``).
    positions : SkyPositions, optional
        The sky position of every pair, in order, when the source's manifest gives them
        (:func:`plan_positions`); the import writes them as the ``ra`` and ``dec`` columns.
    """

    pairs: list[tuple[Path, int]]
    ignored: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    positions: SkyPositions | None = None

    def warnings(self) -> list[str]:
        """One line per ignored or refused entry, for the command line to print."""
        return ([f"{path}: ignored ({why})" for path, why in self.ignored]
                + [f"{path}: refused ({why})" for path, why in self.refused])


def plan_positions(source: str | os.PathLike[str], pairs: list[tuple[Path, int]],
                   coordinates: str | os.PathLike[str] | None = None) -> SkyPositions | None:
    """The sky position of every listed image, when a manifest gives them.

    ``source`` is a CSV manifest, or a folder: its ``manifest.csv``, when it has one, gives
    the positions of the class folders' images it lists (the real sample is laid out both
    ways). Positions come from the manifest's ``ra``/``dec`` columns, or from its ``h5_row``
    column joined with the published table (:func:`galaxy10.datasets.sky.manifest_positions`).
    None when there is no manifest, it has neither, or it does not list every image.

    Raises
    ------
    GalaxyDataError
        On a bad position or h5 row (naming the manifest and line), an unreadable table of
        positions, or ``coordinates`` given for a source without a manifest.
    """
    from galaxy10.datasets.labelled import read_manifest
    from galaxy10.datasets.sky import manifest_positions

    source = Path(source)
    manifest = listed_source(source) if source.is_dir() else source
    if not manifest.is_file():
        if coordinates is not None:
            raise GalaxyDataError(source, f"--coords {coordinates}: positions are joined on a "
                                          "manifest's h5_row column, and this folder has no "
                                          f"{MANIFEST_NAME}")
        return None
    positions = manifest_positions(manifest, coordinates)
    if positions is None:
        return None
    where = {os.path.abspath(path): i for i, (path, _) in enumerate(read_manifest(manifest))}
    idx = [where.get(os.path.abspath(path)) for path, _ in pairs]
    if any(i is None for i in idx):  # class folders with images the manifest does not list
        return None
    return SkyPositions(positions.ra[idx], positions.dec[idx], positions.origin)


def plan_import(source: str | os.PathLike[str], *, strict: bool = False,
                check_images: bool = True,
                coordinates: str | os.PathLike[str] | None = None) -> ImportPlan:
    """List what an import of ``source`` will read, and what it ignores or refuses.

    Parameters
    ----------
    source : path-like
        Folder with sub-folders ``0``-``9``, or a CSV manifest ``file,label``.
    strict : bool, default False
        Raise instead of leaving anything out, so that nothing is lost silently.
    check_images : bool, default True
        Read every image's header (not its pixels): oversized images are refused here, so
        that one of them does not stop the import of the others; an unreadable image raises.
    coordinates : path-like, optional
        The table of published positions to join on the manifest's ``h5_row``
        (:func:`plan_positions`; default :func:`galaxy10.core.paths.default_coordinates`
        where it exists).

    Raises
    ------
    GalaxyDataError
        On a bad folder or manifest; with ``strict``, when anything would be left out.
    ImageError
        If an image is missing or not a picture (named), before anything is written.
    """
    source = Path(source)
    pairs, ignored = scan_images(source)
    refused: list[tuple[Path, str]] = []
    if check_images:
        kept = []
        for path, label in pairs:
            try:
                probe_image(path)
            except ImageTooLargeError as exc:  # skipped; an unreadable file still stops it
                refused.append((path, exc.fault))
            else:
                kept.append((path, label))
        pairs = kept
    plan = ImportPlan(pairs, ignored, refused, plan_positions(source, pairs, coordinates))
    left_out = len(ignored) + len(refused)
    if strict and left_out:
        first = (ignored + refused)[0]
        raise GalaxyDataError(source, f"{left_out} entr{'y' if left_out == 1 else 'ies'} would "
                                      f"be left out (first: {first[0]}: {first[1]}); --strict "
                                      "imports all or nothing")
    if not pairs:
        raise GalaxyDataError(source, f"none of its {len(refused)} image(s) can be used "
                                      f"(first: {refused[0][0]}: {refused[0][1]})")
    return plan


def import_images(source: str | os.PathLike[str], out: str | os.PathLike[str], *,
                  batch_size: int = 64, progress: bool = True, strict: bool = False,
                  plan: ImportPlan | None = None) -> Path:
    """Import a class-folder tree or CSV manifest into a Galaxy10-schema HDF5 file.

    Parameters
    ----------
    source : path-like
        Folder with sub-folders ``0``-``9``, or a CSV manifest ``file,label``.
    out : path-like
        HDF5 file to write; replaced only when the import succeeds.
    batch_size : int, default 64
        Images decoded and held in memory at once.
    progress : bool, default True
        Show a tqdm progress bar.
    strict : bool, default False
        Fail instead of leaving out ignored folders or refused images (see
        :func:`plan_import`); without it, what is left out is logged as warnings.
    plan : ImportPlan, optional
        A plan already made by :func:`plan_import` (the command line prints its warnings
        itself); made here when not given.

    Returns
    -------
    Path
        ``out``. Its rows follow :func:`galaxy10.datasets.labelled.list_images`' order;
        the file attribute ``galaxy10_source`` is ``"imported"`` and ``origin`` names ``source``.
        With the plan's positions, the file has ``ra`` and ``dec`` columns, and its attribute
        ``positions`` says where they came from.

    Raises
    ------
    GalaxyDataError, ImageError
        On a bad folder or manifest, or an image whose pixels cannot be decoded (named).
    """
    from tqdm.auto import tqdm

    if plan is None:
        plan = plan_import(source, strict=strict)
        for line in plan.warnings():
            logger.warning(line)
    pairs, positions = plan.pairs, plan.positions
    out = Path(out)
    attrs = {"origin": os.fspath(Path(source).resolve())}
    columns = None
    if positions is not None:
        attrs["positions"] = positions.origin
        columns = {"ra": np.float64, "dec": np.float64}
    with Galaxy10Writer(out, len(pairs), IMAGE_SHAPE, source="imported", attrs=attrs,
                        columns=columns) as writer, \
            tqdm(total=len(pairs), desc=f"import {Path(source).name}", unit="img",
                 disable=not progress) as bar:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            images = np.stack([load_cutout(path) for path, _ in batch])
            labels = np.array([label for _, label in batch], dtype=np.uint8)
            sky = (None if positions is None else
                   {"ra": positions.ra[start:start + len(batch)],
                    "dec": positions.dec[start:start + len(batch)]})
            writer.write(start, images, labels, sky)
            bar.update(len(batch))
    return out


SPLIT_ORDER: tuple[str, ...] = ("train", "validation", "test")
"""Splits in the order an import writes them; others follow, by name."""


def parquet_sources(source: str | os.PathLike[str]) -> list[Path] | None:
    """The Parquet files an import of ``source`` reads, or None if it is another layout.

    ``source`` is a ``.parquet`` file, or a folder holding Parquet files anywhere below it
    (the Hugging Face layout: ``data/train-00000-of-00005.parquet``, ...) and neither class
    folders ``0``-``9`` nor a ``manifest.csv``.
    """
    source = Path(source)
    if source.suffix.lower() in PARQUET_SUFFIXES:
        return [source]
    if not source.is_dir() or (source / MANIFEST_NAME).is_file() or any(
            (source / str(k)).is_dir() for k in range(10)):
        return None
    files = sorted(p for p in source.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES
                   and p.is_file() and not any(part.startswith(".") for part in
                                               p.relative_to(source).parts))
    return files or None


def split_of(path: str | os.PathLike[str]) -> str | None:
    """The split a Parquet file belongs to, from its name as the Hugging Face hub writes it.

    ``train-00000-of-00005.parquet`` is ``train``; a file in a folder named ``train``,
    ``test`` or ``validation`` takes that name; otherwise None.
    """
    import re

    path = Path(path)
    match = re.fullmatch(r"(?P<split>[A-Za-z][\w.]*?)-\d+-of-\d+", path.stem)
    if match:
        return match.group("split")
    return path.parent.name if path.parent.name in SPLIT_ORDER else None


def import_parquet(source: str | os.PathLike[str], out: str | os.PathLike[str], *,
                   batch_size: int = 64, progress: bool = True) -> Path:
    """Import Parquet files of encoded images and labels into a Galaxy10 HDF5 file.

    Every file is checked (readable, an image column, labels in 0-9) before anything is
    written; then the rows are streamed, one batch of images in memory at a time. When the
    files name their split (:func:`split_of`), the file records it: the ``split`` dataset
    and its ``split_names`` attribute (:meth:`galaxy10.datasets.reader.Galaxy10File.splits`),
    and the rows follow :data:`SPLIT_ORDER`, so the train/test split of the Hugging Face
    copy survives the import.

    Parameters
    ----------
    source : path-like
        A ``.parquet`` file or a folder of them (:func:`parquet_sources`).
    out : path-like
        HDF5 file to write; replaced only when the import succeeds.
    batch_size : int, default 64
        Images decoded and held in memory at once.
    progress : bool, default True
        Show a tqdm progress bar.

    Raises
    ------
    GalaxyDataError, ImageError
        Naming the file (and row) that cannot be read or breaks the layout.
    """
    from tqdm.auto import tqdm

    files = parquet_sources(source)
    if not files:
        raise GalaxyDataError(source, "holds no Parquet files")
    splits = {f: split_of(f) for f in files}
    named = any(s is not None for s in splits.values())
    if named:
        splits = {f: s or "other" for f, s in splits.items()}
    rank = {name: i for i, name in enumerate(SPLIT_ORDER)}
    files.sort(key=lambda f: (rank.get(splits[f], len(rank)), splits[f] or "", f))
    opened = []
    try:
        for f in files:
            opened.append(ParquetImages(f))
        names = sorted(set(splits.values()), key=lambda n: (rank.get(n, len(rank)), n)) \
            if named else []
        total = sum(len(images) for images in opened)
        attrs = {"origin": os.fspath(Path(source).resolve())}
        if named:
            import json

            attrs[SPLIT_NAMES_ATTR] = json.dumps(names)
        row = 0
        with Galaxy10Writer(out, total, IMAGE_SHAPE, source="imported", attrs=attrs,
                            columns={SPLIT_FIELD: np.uint8} if named else None) as writer, \
                tqdm(total=total, desc=f"import {Path(source).name}", unit="img",
                     disable=not progress) as bar:
            for images in opened:
                code = names.index(splits[images.path]) if named else None
                for rows, batch in images.iter_batches(batch_size=batch_size):
                    extra = ({SPLIT_FIELD: np.full(len(rows), code, np.uint8)} if named
                             else None)
                    writer.write(row, batch, images.labels[rows], extra)
                    row += len(rows)
                    bar.update(len(rows))
    finally:
        for images in opened:
            images.close()
    return Path(out)


def labelled_images_h5(source: str | os.PathLike[str] | None,
                       scratch: str | os.PathLike[str]) -> Path:
    """A Galaxy10 file of labelled (real) images, for the commands that evaluate on them.

    ``source`` is a Galaxy10 ``.h5`` file (used as it is), or a folder of class folders
    ``0``-``9``, a folder holding a ``manifest.csv`` or a CSV manifest itself (imported into
    ``scratch``, a temporary folder the caller owns): whatever
    :func:`galaxy10.datasets.labelled.open_labelled` reads. ``None`` means
    :func:`galaxy10.core.paths.default_real_sample`.

    Raises
    ------
    Galaxy10Error
        When there are no labelled images there; the message says how to make some.
    """
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.core.paths import default_real_sample
    from galaxy10.datasets.labelled import source_kind

    path = Path(source) if source else default_real_sample()
    if not path.exists():
        raise Galaxy10Error(
            f"{path}: no labelled real images there. Put JPEG/PNG cut-outs in class folders "
            "0-9 (or list them in a CSV manifest file,label) and run `python -m galaxy10 "
            "import FOLDER --out real.h5`, then pass --real real.h5 (or set "
            "GALAXY10_REAL_SAMPLE)")
    if source_kind(path).name == "hdf5":
        return path
    return import_images(listed_source(path), Path(scratch) / "real_images.h5", progress=False)


def imported_for_training(source: str | os.PathLike[str],
                          data_home: str | os.PathLike[str] | None = None) -> Path:
    """A Galaxy10 file of a labels manifest (or class folders), for ``train --data``.

    The images are imported afresh into the data folder's cache,
    ``<data>/interim/imported/<name>-<digest>.h5`` (the digest of the source's resolved path,
    so two manifests of one name do not meet), replaced atomically only when the import
    succeeds: a labels CSV that grew since the last run is trained on as it is now, and the
    bundle's lineage names a file that stays (the file's ``source`` attribute names the
    manifest).
    """
    import hashlib

    from galaxy10.core.paths import get_data_home

    path = Path(source).expanduser().resolve()
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:10]
    out = get_data_home(data_home) / "interim" / "imported" / f"{path.stem}-{digest}.h5"
    out.parent.mkdir(parents=True, exist_ok=True)
    return import_images(listed_source(path), out, progress=False)

