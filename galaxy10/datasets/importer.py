"""Turn a folder of JPEG/PNG cut-outs into a file with the Galaxy10 HDF5 schema.

Users with their own cut-outs (or the 1,000-image real sample) get a file that every part of
galaxy10 reads the same way as the official download. Two layouts are accepted:

* a folder with one sub-folder per class number (``0/``, ``1/``, ... ``9/``);
* a CSV manifest with columns ``file`` and ``label`` (paths relative to the CSV's folder).

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
from galaxy10.datasets.labelled import listed_source, scan_images
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
    """

    pairs: list[tuple[Path, int]]
    ignored: list[tuple[Path, str]] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)

    def warnings(self) -> list[str]:
        """One line per ignored or refused entry, for the command line to print."""
        return ([f"{path}: ignored ({why})" for path, why in self.ignored]
                + [f"{path}: refused ({why})" for path, why in self.refused])


def plan_import(source: str | os.PathLike[str], *, strict: bool = False,
                check_images: bool = True) -> ImportPlan:
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
    plan = ImportPlan(pairs, ignored, refused)
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
    pairs = plan.pairs
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
