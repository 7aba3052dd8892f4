"""Turn a folder of JPEG/PNG cut-outs into a file with the Galaxy10 HDF5 schema.

Users with their own cut-outs (or the 1,000-image real sample) get a file that every part of
galaxy10 reads the same way as the official download. Two layouts are accepted:

* a folder with one sub-folder per class number (``0/``, ``1/``, ... ``9/``);
* a CSV manifest with columns ``file`` and ``label`` (paths relative to the CSV's folder).

Images are decoded and resized to 256 x 256 one batch at a time, so memory stays bounded,
and the output file appears only when every image has been written.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from galaxy10.classes import IMAGE_SHAPE, N_CLASSES
from galaxy10.errors import GalaxyDataError
from galaxy10.images import IMAGE_SUFFIXES, load_cutout
from galaxy10.writer import Galaxy10Writer


def list_images(source: str | os.PathLike[str]) -> list[tuple[Path, int]]:
    """List ``(image path, label)`` pairs of a class-folder tree or a CSV manifest.

    Class folders are read in label order and files in name order, so the same folder always
    gives the same file.

    Raises
    ------
    GalaxyDataError
        If ``source`` is missing, holds no images, or the manifest is malformed.
    """
    source = Path(source)
    if not source.exists():
        raise GalaxyDataError(source, "not found (expected a folder of class folders 0-9 "
                                      "or a CSV manifest file,label)")
    if source.is_file():
        return _read_manifest(source)
    pairs: list[tuple[Path, int]] = []
    for label in range(N_CLASSES):
        folder = source / str(label)
        if folder.is_dir():
            pairs += [(p, label) for p in sorted(folder.iterdir())
                      if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not pairs:
        raise GalaxyDataError(source, "holds no images in class folders 0-9 "
                                      f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    return pairs


def _read_manifest(manifest: Path) -> list[tuple[Path, int]]:
    pairs = []
    try:
        with open(manifest, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"file", "label"} <= set(reader.fieldnames):
                raise GalaxyDataError(manifest, "CSV manifest needs the columns 'file' and "
                                                f"'label' (found: {reader.fieldnames})")
            for line, row in enumerate(reader, start=2):
                try:
                    label = int(row["label"])
                except (TypeError, ValueError):
                    raise GalaxyDataError(manifest, f"line {line}: label {row['label']!r} "
                                                    "is not a whole number") from None
                if not 0 <= label < N_CLASSES:
                    raise GalaxyDataError(manifest, f"line {line}: label {label} is outside "
                                                    f"0-{N_CLASSES - 1}")
                pairs.append((manifest.parent / row["file"], label))
    except UnicodeDecodeError:
        raise GalaxyDataError(manifest, "not a UTF-8 CSV manifest") from None
    if not pairs:
        raise GalaxyDataError(manifest, "CSV manifest lists no images")
    return pairs


def import_images(source: str | os.PathLike[str], out: str | os.PathLike[str], *,
                  batch_size: int = 64, progress: bool = True) -> Path:
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

    Returns
    -------
    Path
        ``out``. Its rows follow :func:`list_images`' order; the file attribute
        ``galaxy10_source`` is ``"imported"`` and ``origin`` names ``source``.

    Raises
    ------
    GalaxyDataError, ImageError
        On a bad folder or manifest, or an image that cannot be decoded (named).
    """
    from tqdm.auto import tqdm

    pairs = list_images(source)
    out = Path(out)
    attrs = {"origin": os.fspath(Path(source).resolve())}
    with Galaxy10Writer(out, len(pairs), IMAGE_SHAPE, source="imported", attrs=attrs) as writer, \
            tqdm(total=len(pairs), desc=f"import {Path(source).name}", unit="img",
                 disable=not progress) as bar:
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start:start + batch_size]
            images = np.stack([load_cutout(path) for path, _ in batch])
            labels = np.array([label for _, label in batch], dtype=np.uint8)
            writer.write(start, images, labels)
            bar.update(len(batch))
    return out
