"""The galaxies a labelling session offers: a sample of some data, with a model's answers.

:func:`label_source` turns what the user has into :class:`~galaxy10.pipeline.labelling.Candidates`
(ids, calibrated probabilities, embeddings, picture files) and a way to read each galaxy's
cut-out for the panel, from

* a Galaxy10 HDF5 file, or ``"auto"``/``"real"``/``"synthetic"`` (as the notebooks choose
  their data): its rows, named ``<file name>:<row>`` as ``classify`` names them;
* a folder of pictures (JPEG, PNG, ... at any depth): each picture, named by its path;
* a catalogue folder that ``classify --embeddings`` wrote: its classified rows with the
  probabilities and embeddings it stored (no model is run).

At most ``n`` galaxies are drawn (seeded), and the model runs once over them, when the
source is made: the panel then answers every click from memory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galaxy10.core.errors import GalaxyDataError
from galaxy10.pipeline.labelling import Candidates

DEFAULT_N = 300
"""Galaxies drawn by default: a few minutes of labelling at most, seconds of prediction."""


@dataclass
class LabelSource:
    """Candidates and their pictures: ``image(i)`` is candidate ``i``'s 256 px cut-out;
    ``what`` names the data and ``model`` the bundle, for the panel's header."""

    candidates: Candidates
    image: Callable[[int], np.ndarray]
    what: str
    model: str


def _sample(total: int, n: int, seed: int) -> np.ndarray:
    """``min(n, total)`` sorted indices of ``total``, drawn without replacement."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if n >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def _predict(predictor, read: Callable[[np.ndarray], np.ndarray], count: int,
             batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and embeddings of ``count`` galaxies, read ``batch_size`` at a time."""
    probs, emb = [], []
    for start in range(0, count, batch_size):
        p, e = predictor.predict_and_embed(read(np.arange(start, min(count, start + batch_size))))
        probs.append(p)
        emb.append(e)
    return np.concatenate(probs), np.concatenate(emb)


def _pictures(folder: Path) -> list[Path]:
    from galaxy10.datasets.images import IMAGE_SUFFIXES

    found = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    if not found:
        raise GalaxyDataError(folder, "holds no pictures to label "
                                      f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def _from_catalogue(folder: Path, n: int, seed: int) -> LabelSource:
    from galaxy10.pipeline.catalogue.explore import catalogue_images, read_catalogue
    from galaxy10.pipeline.suggest import check_embeddings, probabilities

    check_embeddings(folder)
    table = read_catalogue(folder, ["id", "file", "source", "row", "class", "top3_classes",
                                    "top3_probs", "embedding", "model"])
    table = table[table["class"].notna()].reset_index(drop=True)
    if table.empty:
        raise GalaxyDataError(folder, "the catalogue holds no classified galaxies to label")
    table = table.iloc[_sample(len(table), n, seed)].reset_index(drop=True)
    probs = probabilities(np.stack(table["top3_classes"]), np.stack(table["top3_probs"]))
    files = tuple(f if isinstance(f, str) and f else None for f in table["file"])
    cands = Candidates(tuple(table["id"]), probs,
                       np.stack(table["embedding"]).astype(np.float64), files)
    return LabelSource(cands, lambda i: catalogue_images(table.iloc[[i]])[0],
                       f"catalogue {folder.name}", str(table["model"].iloc[0]))


def label_source(model: str | os.PathLike[str] | None = None,
                 data: str | os.PathLike[str] | None = None, *, n: int = DEFAULT_N,
                 seed: int = 0, models_dir: str | os.PathLike[str] | None = None
                 ) -> LabelSource:
    """The galaxies to label, with the model's probabilities and embeddings.

    Parameters
    ----------
    model : path-like, optional
        The bundle (default: the user's ``models/galaxy_cnn.keras``, else the pre-trained
        or shipped one, :func:`galaxy10.modeling.shipped.default_model`); unused for a
        catalogue, which holds its model's answers.
    data : path-like or str, optional
        A Galaxy10 HDF5 file, ``"auto"``/``"real"``/``"synthetic"`` (None: ``"auto"``), a
        folder of pictures or a catalogue folder (see the module's description).
    n : int
        Most galaxies to draw.
    seed : int
        Seeds the draw.
    models_dir : path-like, optional
        Where the default bundle is looked for (default: the models folder).

    Raises
    ------
    GalaxyDataError, ModelError
        Bad data or bundle, named in one line.
    """
    from galaxy10.pipeline.suggest import is_catalogue

    if data is not None and Path(data).is_dir():
        folder = Path(data)
        if is_catalogue(folder):
            return _from_catalogue(folder, n, seed)
    predictor, name = _predictor(model, models_dir)
    if data is not None and Path(data).is_dir():
        from galaxy10.datasets.images import load_cutout

        found = _pictures(folder)
        files = [found[i] for i in _sample(len(found), n, seed)]
        probs, emb = _predict(predictor, lambda r: np.stack([load_cutout(files[i]) for i in r]),
                              len(files))
        cands = Candidates(tuple(os.fspath(f) for f in files), probs, emb,
                           tuple(os.fspath(f) for f in files))
        return LabelSource(cands, lambda i: load_cutout(files[i]), f"folder {folder.name}", name)
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.datasets.reader import Galaxy10File

    galaxies = Galaxy10File(resolve_data(data))
    rows = _sample(len(galaxies), n, seed)
    probs, emb = _predict(predictor, lambda r: galaxies.read(rows[r]), len(rows))
    cands = Candidates(tuple(f"{galaxies.path.name}:{r}" for r in rows), probs, emb)
    return LabelSource(cands, lambda i: galaxies.image(int(rows[i])),
                       f"{galaxies.path.name}, {len(rows):,} of {len(galaxies):,} rows", name)


def _predictor(model: str | os.PathLike[str] | None,
               models_dir: str | os.PathLike[str] | None = None):
    """The loaded bundle and the name the panel shows (never its folder)."""
    from galaxy10.modeling.predict import Predictor
    from galaxy10.modeling.shipped import default_model

    if model:
        return Predictor(model), Path(model).name
    choice = default_model(models_dir)
    return Predictor(choice.path), choice.path.name
