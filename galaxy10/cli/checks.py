"""Input checks that every command runs before its first expensive step.

A command checks all its arguments here (data files, labelled real images, model bundles,
sizes and fold counts against the data), then its outputs (:mod:`galaxy10.cli.outputs`),
and only then imports TensorFlow, renders a synthetic set or trains: a mistake costs a line
in well under two seconds, never minutes of work first. Each check reads as little as it
can: a data file's labels (not its pixels), a folder's listing, a bundle's JSON.

Each function raises a :class:`~galaxy10.core.errors.Galaxy10Error` that names the argument
or file and what is wrong with it (:mod:`galaxy10.cli.boundary` prints it as one line).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from galaxy10.core.errors import Galaxy10Error, GalaxyDataError, ModelError, NotEnoughDataError
from galaxy10.core.files import free_space_reason, unreadable_reason
from galaxy10.core.profiles import Profile


def data_labels(value: str | os.PathLike[str] | None, *, what: str = "--data"
                ) -> tuple[Path, np.ndarray] | None:
    """Check a ``--data`` value; the file and its labels, or None for a set still to be made.

    A file (or ``real``, the downloaded file) is opened and validated as
    :class:`~galaxy10.datasets.reader.Galaxy10File` does (schema, labels, declared size),
    reading its labels only. ``synthetic`` (and ``auto`` without a downloaded file) gives
    None: that set is made, if needed, as the command's work.
    """
    from galaxy10.datasets.fetch import GALAXY10_DECALS, real_data_path
    from galaxy10.datasets.reader import Galaxy10File

    choice = "auto" if value is None else os.fspath(value)
    if choice == "synthetic":
        return None
    if choice == "auto":
        real = real_data_path()
        if not (real.is_file() and real.stat().st_size == GALAXY10_DECALS.size):
            return None
        path = real
    elif choice == "real":
        path = real_data_path()
        if not path.is_file():
            raise GalaxyDataError(path, "real data file not found; run `python -m galaxy10 "
                                        "fetch` to download it (2.7 GB)")
    else:
        path = Path(choice).expanduser()
    with Galaxy10File(path) as f:
        return f.path, f.labels


def trainable(value: str | os.PathLike[str] | None) -> Path | None:
    """:func:`data_labels`, and enough images of every class for the splits training uses."""
    from galaxy10.datasets.resample import check_splittable

    found = data_labels(value)
    if found is None:
        return None
    path, labels = found
    try:
        check_splittable(labels)
    except NotEnoughDataError as exc:
        raise GalaxyDataError(path, f"too little to train on: {exc}") from None
    return path


def real_labels(value: str | os.PathLike[str] | None, *, required: bool,
                option: str | None = "--real", probe: bool = False
                ) -> tuple[Path, np.ndarray] | None:
    """Check labelled real images (``--real``): the source and its labels, or None.

    ``value`` is a Galaxy10 ``.h5`` file, a folder of class folders 0-9 (or holding a
    ``manifest.csv``), or a CSV manifest; None means the default sample
    (:func:`galaxy10.core.paths.default_real_sample`). Only the listing is read (labels, file
    names), never the pixels; with ``probe``, the header of every listed picture is read too
    (:func:`galaxy10.datasets.importer.plan_import`), for the commands that will import them
    after minutes of training.

    Returns None when ``value`` is None, the default sample is absent and ``required`` is
    False (the command then skips what needs real images, and says so); ``"none"`` is the
    caller's business.

    Raises
    ------
    Galaxy10Error
        When the images named (or, with ``required``, the default ones) cannot be used.
    """
    from galaxy10.core.paths import default_real_sample
    from galaxy10.datasets.labelled import open_labelled

    path = Path(value).expanduser() if value else default_real_sample()
    if value is None and not required and not path.exists():
        return None
    said = f"{option}: " if option else ""
    if not path.exists() and not path.is_symlink():
        raise GalaxyDataError(path, f"{said}no labelled images there (not found). Put "
                                    "JPEG/PNG cut-outs in class folders 0-9 or list them in a "
                                    "CSV manifest (file,label), or make an .h5 with `python -m "
                                    "galaxy10 import FOLDER --out real.h5`"
                                    + ("" if value else "; or set GALAXY10_REAL_SAMPLE"))
    if not path.is_dir():
        why = unreadable_reason(path, what="labelled-images file (.h5 or CSV)")
        if why:
            raise GalaxyDataError(path, f"{said}{why}")
    with open_labelled(path) as images:
        labels = np.asarray(images.labels)
        kind = images.kind
    if probe and kind != "hdf5":
        from galaxy10.datasets.importer import plan_import
        from galaxy10.datasets.labelled import listed_source

        plan_import(listed_source(path))
    return path, labels


def bundle(path: str | os.PathLike[str], *, option: str, kind: str | None = "galaxy") -> Path:
    """Check a model bundle without loading it: the ``.keras`` archive and its JSON.

    ``kind`` is the bundle kind the command needs (``"galaxy"``, the modern CNN, for
    fine-tuning); None accepts either.
    """
    import zipfile

    from galaxy10.modeling.bundle import read_bundle

    path = Path(path).expanduser()
    why = unreadable_reason(path, what="model file")
    if why:
        if why == "file not found":
            why = (f"model file not found ({option}); train one with `python -m galaxy10 "
                   "train` (or `pretrain` for a bundle to fine-tune)")
        raise ModelError(path, f"{why} ({option})" if option not in why else why)
    if path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ModelError(path, f"not a Keras model bundle, a .keras archive with its .json "
                               f"beside it ({option})")
    found = read_bundle(path).kind
    if kind is not None and found != kind:
        raise ModelError(path, f"a '{found}' bundle ({option}); only a modern-CNN "
                               f"bundle (kind '{kind}') can be fine-tuned: make one with "
                               "`python -m galaxy10 pretrain`")
    return path


def init_bundle(value: str | os.PathLike[str] | None, models_dir=None, *,
                option: str = "--init", kind: str | None = "galaxy") -> Path:
    """The pre-trained bundle a command starts from, checked (:func:`bundle`): ``value``, else
    the user's own pre-trained bundle in ``models_dir``, else the one shipped with galaxy10
    (a note after the checks says which)."""
    if value:
        return bundle(value, option=option, kind=kind)
    from galaxy10.cli.outputs import note_after_checks
    from galaxy10.modeling.shipped import pretrained_bundle

    choice = pretrained_bundle(models_dir)
    note_after_checks(f"[galaxy10] {option}: {choice.note}")
    return bundle(choice.path, option=option, kind=kind)


def image_files(paths: list[Path]) -> None:
    """Refuse, before a model is loaded, image arguments that are not readable files.

    Pictures are decoded later, one by one (an undecodable one is reported and the others
    still answered); a folder, a pipe or a missing file is a wrong argument, refused here.
    """
    bad = [(p, why) for p in paths if (why := unreadable_reason(p, what="image file"))]
    if bad:
        (first, why), rest = bad[0], len(bad) - 1
        more = f" (and {rest} more argument{'s' if rest > 1 else ''} that cannot be read)"
        raise Galaxy10Error(f"{first}: {why}{more if rest else ''}")


def galaxy_size(profile: Profile, size: int | None) -> Profile:
    """``profile`` with ``--size`` set, refused unless the network can take it.

    The rule is :meth:`~galaxy10.core.profiles.Profile.size_fault`'s, which a notebook's
    ``overrides`` meet too; here it is said as ``--size``.
    """
    if size is not None:
        fault = replace(profile, galaxy_size=size).size_fault()
        if fault:
            raise Galaxy10Error(f"--size {size}: {fault}")
    return profile.with_overrides(galaxy_size=size)


def folds(labels: np.ndarray, n_folds: int | None, profile: Profile, source: Path) -> int:
    """The number of folds (``--folds``, else the profile's), refused unless the labelled
    images can fill them (``bench real``)."""
    from galaxy10.datasets.resample import check_folds

    given = n_folds is not None
    n_folds = int(n_folds if given else profile.cv_folds)
    try:
        check_folds(labels, n_folds)
    except NotEnoughDataError as exc:
        said = f"--folds {n_folds}" if given else f"{n_folds} folds (the {profile.name} profile's)"
        raise GalaxyDataError(source, f"{said}: {exc}") from None
    return n_folds


def label_sizes(sizes: list[int] | None, labels: np.ndarray, n_folds: int, source: Path
                ) -> list[int] | None:
    """The sizes of ``bench real --labels``, sorted; refused unless every fold can hold them.

    Each size is given once and is at least
    :data:`~galaxy10.datasets.resample.MIN_LABELS` (two images of each class); none may
    exceed the images a fold trains on. The folds keep duplicate groups together, so their
    exact sizes are known only once the images are read (``bench_real`` checks them then,
    before training); here no size may exceed the average fold's, which the smallest fold
    never exceeds.
    """
    from galaxy10.datasets.resample import MIN_LABELS

    if not sizes:
        return None
    given = " ".join(map(str, sizes))
    twice = sorted({n for n in sizes if sizes.count(n) > 1})
    if twice:
        raise Galaxy10Error(f"--labels {given}: give each size once ({', '.join(map(str, twice))} "
                            "given more than once)")
    small = [n for n in sizes if n < MIN_LABELS]
    if small:
        raise Galaxy10Error(f"--labels {given}: each size must be at least {MIN_LABELS} (two "
                            "images of each class: one to train on, one to validate), got "
                            f"{', '.join(map(str, small))}")
    most = len(labels) * (n_folds - 1) // n_folds
    large = [n for n in sizes if n > most]
    if large:
        raise GalaxyDataError(source, f"--labels {given}: {n_folds}-fold cross-validation of "
                                      f"{len(labels)} images trains on at most {most} per fold; "
                                      f"{', '.join(map(str, large))} is more (the full size is "
                                      "the curve's 'all' point anyway)")
    return sorted(sizes)


def region_positions(source: Path, option: str) -> None:
    """Refuse a region-held-out CV (``option``, e.g. ``--cv region``) of ``source`` when its
    images have no sky positions, saying every way to give them."""
    from galaxy10.core.paths import ENV_COORDINATES, default_coordinates
    from galaxy10.datasets.labelled import source_positions

    if source_positions(source) is not None:
        return
    table = default_coordinates()
    where = "" if table.is_file() else f"; the published table is not at {table}"
    raise GalaxyDataError(source, f"{option}: no sky positions, which the region-held-out CV "
                                  "needs: give an .h5 with ra/dec, or a manifest with ra and "
                                  "dec columns (or h5_row, joined with the published table: "
                                  f"--coords of `import`, or {ENV_COORDINATES}{where}); or "
                                  "--cv random")


def free_space(folder: str | os.PathLike[str], n_images: int, what: str,
               image_bytes: int = 256 * 256 * 3) -> None:
    """Refuse writing ``n_images`` cut-outs into ``folder`` when they cannot fit on its disk."""
    why = free_space_reason(folder, n_images * image_bytes)
    if why:
        raise Galaxy10Error(f"{what}: {n_images:,} images {why}")
