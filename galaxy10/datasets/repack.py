"""Copy a Galaxy10 file into the layout that makes random single-image reads fast.

A file whose ``images`` chunks span many rows (h5py's automatic chunks for the full file are
(555, 16, 16, 1)) must decompress a whole slab of rows to return one image; the widget and
any random access pay that on every read. :func:`repack` writes a copy with one image per
chunk, gzip-compressed with the shuffle filter, so one read decompresses one image and the
file stays about as small as the original.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from galaxy10.core.errors import GalaxyDataError
from galaxy10.datasets.reader import Galaxy10File

logger = logging.getLogger(__name__)

REPACK_GZIP_LEVEL = 4
"""gzip level of repacked images: level 4 is within a few per cent of level 9's size on
galaxy cut-outs and decompresses as fast."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _check_target(src: Path, dst: Path, force: bool = False) -> None:
    """Refuse to write over the source or over a file that is not a Galaxy10 file."""
    from galaxy10.core.files import special_kind

    if _same_file(src, dst):
        raise GalaxyDataError(dst, "is the source file itself; choose another --out")
    if dst.is_dir():
        raise GalaxyDataError(dst, "is a folder; --out must be a file name")
    special = special_kind(dst)
    if special:
        raise GalaxyDataError(dst, f"is {special}, not a regular file; choose another --out")
    if dst.exists() and not force:
        try:
            Galaxy10File(dst).close()
        except GalaxyDataError:
            raise GalaxyDataError(dst, "exists and is not a Galaxy10 file; refusing to "
                                       "overwrite it") from None


def repack(src: str | os.PathLike[str], dst: str | os.PathLike[str], *,
           level: int = REPACK_GZIP_LEVEL, batch_size: int = 256, force: bool = False) -> Path:
    """Write a copy of ``src`` with one image per chunk, gzip + shuffle; ``src`` is untouched.

    Parameters
    ----------
    src : path-like
        A Galaxy10 file (validated as :class:`galaxy10.Galaxy10File` does).
    dst : path-like
        The copy. It appears only once complete (written to a temporary file beside it and
        renamed). An existing Galaxy10 file there is replaced; any other file is refused.
    level : int, default 4
        gzip level 0-9.
    batch_size : int, default 256
        Images held in memory at once (256 images of 256 px: 50 MB).
    force : bool, default False
        Replace an existing ``dst`` even if it is not a Galaxy10 file (``repack --force``).

    Returns
    -------
    Path
        ``dst``. Its ``images`` hold the same pixels in chunks of ``(1, H, W, 3)``; every
        other dataset and every attribute (file, datasets) is copied as it is, and the file
        attribute ``galaxy10_source`` records the source's
        :attr:`~galaxy10.datasets.reader.Galaxy10File.source` (a copy of the verified release
        has its own checksum, so only galaxy10's attribute can say it holds the release; the
        attribute also tells the output check that galaxy10 wrote the copy).

    Raises
    ------
    GalaxyDataError
        If ``src`` is not a valid Galaxy10 file, ``dst`` is ``src``, a folder, or an
        existing file that is not a Galaxy10 file.
    """
    from galaxy10.core.atomic import atomic_path
    from galaxy10.datasets.writer import h5_for_writing

    src, dst = Path(src), Path(dst)
    if not 0 <= level <= 9:
        raise ValueError(f"gzip level must be 0-9, got {level}")
    from galaxy10.datasets.reader import SOURCE_ATTR

    with Galaxy10File(src) as galaxies:
        _check_target(src, dst, force)
        raw = galaxies._h5
        images = raw["images"]
        with atomic_path(dst, suffix=".h5") as tmp:
            with h5_for_writing(tmp) as out:
                for key, value in raw.attrs.items():
                    out.attrs[key] = value
                # galaxy10 wrote the copy: its attribute says so, and what the source was
                out.attrs[SOURCE_ATTR] = galaxies.source
                for name in raw:
                    if name != "images":
                        raw.copy(raw[name], out, name=name)
                target = out.create_dataset(
                    "images", shape=images.shape, dtype=images.dtype,
                    chunks=(1, *images.shape[1:]), compression="gzip",
                    compression_opts=level, shuffle=True)
                for key, value in images.attrs.items():
                    target.attrs[key] = value
                for start in range(0, len(galaxies), batch_size):
                    stop = min(start + batch_size, len(galaxies))
                    target[start:stop] = galaxies.read(np.arange(start, stop))
                    logger.info("repacked %d of %d images", stop, len(galaxies))
            Galaxy10File(tmp).close()  # the copy must open as a valid file before it appears
    return dst


def repack_hint(path: str | os.PathLike[str]) -> str | None:
    """A one-line suggestion to repack ``path`` when its layout is slow for random reads."""
    with Galaxy10File(path) as galaxies:
        layout = galaxies.layout()
    if layout["fast_random_reads"]:
        return None
    fast = Path(path).with_name(Path(path).stem + "_repacked.h5")
    return (f"tip: {Path(path).name} stores {layout['rows_per_chunk']} images per chunk, so "
            f"random single-image reads are slow; `python -m galaxy10 repack {path} --out "
            f"{fast}` writes a copy with one image per chunk")
