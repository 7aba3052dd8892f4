"""Fetch the real Galaxy10 DECaLS file, and choose which data file to use.

The real file is 2.7 GB on Zenodo. pooch downloads it to a temporary name beside the target,
checks its SHA-256 and only then renames it, retrying a bounded number of times; a cached file
is reused only when its hash matches. We rely on that rather than rewrite it.

When no real file is present the project falls back to its synthetic data set (see
:mod:`galaxy10.datasets.synthetic`), generated once and cached under ``data/synthetic/``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from galaxy10.core.errors import GalaxyDataError
from galaxy10.core.identity import file_sha256
from galaxy10.core.paths import get_data_home
from galaxy10.datasets.release import GALAXY10_DECALS, RemoteFile, write_record

logger = logging.getLogger(__name__)

RAW_SUBDIR = "raw"
SYNTHETIC_SUBDIR = "synthetic"
DOWNLOAD_RETRIES = 2


def real_data_path(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Where the real file is (or would be) stored: ``<data_home>/raw/Galaxy10_DECals.h5``."""
    return get_data_home(data_home) / RAW_SUBDIR / GALAXY10_DECALS.name


def fetch(data_home: str | os.PathLike[str] | None = None, *, download_if_missing: bool = True,
          progressbar: bool = True, remote: RemoteFile = GALAXY10_DECALS,
          retries: int = DOWNLOAD_RETRIES) -> Path:
    """Return the path of the verified real data file, downloading it if needed.

    Parameters
    ----------
    data_home : path-like, optional
        Data folder; the file goes to ``<data_home>/raw/``. Default: ``$GALAXY10_DATA`` or
        ``<project>/data``.
    download_if_missing : bool, default True
        If False and no verified file is present, raise instead of downloading.
    progressbar : bool, default True
        Show a tqdm progress bar while downloading.
    remote : RemoteFile
        What to download; tests point this at a local server.
    retries : int, default 2
        Further attempts after a failed or corrupt download.

    Returns
    -------
    Path
        The file, whose SHA-256 matches ``remote.sha256``.

    Raises
    ------
    GalaxyDataError
        If the file is absent and ``download_if_missing`` is False, or the download fails
        (network error, checksum mismatch). A failed download leaves nothing at the final
        path, and a verified file already there is kept.
    """
    import pooch  # imported here: importing galaxy10 stays cheap

    folder = get_data_home(data_home) / RAW_SUBDIR
    target = folder / remote.name
    if not download_if_missing:
        if not target.is_file():
            raise GalaxyDataError(target, "real data file not found; run "
                                          "`python -m galaxy10 fetch` to download it (2.7 GB)")
        if file_sha256(target) != remote.sha256:
            raise GalaxyDataError(target, "SHA-256 does not match the published checksum; "
                                          "the file is corrupt or incomplete: delete it and "
                                          "run `python -m galaxy10 fetch`")
        write_record(target, remote.sha256)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    registry = pooch.create(path=folder, base_url="",
                            registry={remote.name: f"sha256:{remote.sha256}"},
                            urls={remote.name: remote.url}, retry_if_failed=retries)
    downloader = pooch.HTTPDownloader(progressbar=progressbar, timeout=60)
    try:
        path = Path(registry.fetch(remote.name, downloader=downloader))
    except ValueError as exc:  # pooch's hash mismatch
        raise GalaxyDataError(target, f"download from {remote.url} failed its checksum "
                                      f"after {retries + 1} attempts ({exc})") from None
    except Exception as exc:  # requests' network errors, HTTP status errors
        raise GalaxyDataError(target, f"download from {remote.url} failed "
                                      f"({type(exc).__name__}: {exc})") from None
    write_record(path, remote.sha256)  # pooch has checked the hash: say so for the reader
    return path


def synthetic_path(preset: str = "small", seed: int = 0,
                   data_home: str | os.PathLike[str] | None = None) -> Path:
    """Where the synthetic set of ``preset`` and ``seed`` is cached."""
    return get_data_home(data_home) / SYNTHETIC_SUBDIR / f"galaxy10_synthetic_{preset}_seed{seed}.h5"


def ensure_synthetic(preset: str = "small", seed: int = 0,
                     data_home: str | os.PathLike[str] | None = None, *,
                     progress: bool = True, workers: int = 1) -> Path:
    """Return the cached synthetic set, generating it first if absent or out of date.

    A cached file is reused only when it opens as a valid Galaxy10 file made by the current
    generator version with the same preset and seed; anything else is regenerated (the old
    file is replaced atomically, never half-overwritten).
    """
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.reader import Galaxy10File

    path = synthetic_path(preset, seed, data_home)
    if path.is_file():
        try:
            with Galaxy10File(path) as f:
                attrs = f.attrs
                # counts too: a tiny set made before its classes had 5 images each is stale
                counts = f.class_counts().tolist()
            if (attrs.get("generator_version") == synthetic.GENERATOR_VERSION
                    and attrs.get("preset") == preset and int(attrs.get("seed", -1)) == seed
                    and counts == synthetic.class_counts(synthetic.PRESETS[preset]).tolist()):
                return path
            logger.info("%s was made by another generator version; regenerating", path)
        except GalaxyDataError as exc:
            logger.warning("regenerating unreadable synthetic file: %s", exc)
    return synthetic.generate(path, preset=preset, seed=seed, progress=progress, workers=workers)


def resolve_data(data: str | os.PathLike[str] | None = None, *, preset: str = "small",
                 seed: int = 0, data_home: str | os.PathLike[str] | None = None,
                 progress: bool = True) -> Path:
    """Choose the data file, as every notebook and command does.

    Parameters
    ----------
    data : path-like, "synthetic", "real", "auto" or None
        A path is used as given. ``"real"`` needs the downloaded file (no download here).
        ``"synthetic"`` gives the synthetic set of ``preset``/``seed``, generated if needed.
        ``"auto"`` or None: the real file if it has been downloaded, else the synthetic set.

    Returns
    -------
    Path
        An existing file; open it with :class:`galaxy10.Galaxy10File`, whose ``source``
        attribute says whether the pixels are real or synthetic.
    """
    choice = "auto" if data is None else os.fspath(data)
    if choice == "real":
        target = real_data_path(data_home)
        if not target.is_file():
            raise GalaxyDataError(target, "real data file not found; run "
                                          "`python -m galaxy10 fetch` to download it (2.7 GB)")
        return target
    if choice == "auto":
        target = real_data_path(data_home)
        if target.is_file() and target.stat().st_size == GALAXY10_DECALS.size:
            return target
        choice = "synthetic"
    if choice == "synthetic":
        return ensure_synthetic(preset, seed, data_home, progress=progress)
    return Path(choice).expanduser()
