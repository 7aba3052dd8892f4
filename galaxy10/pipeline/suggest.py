"""The ``suggest`` workflow: which unlabelled galaxies to label next, as a CSV.

:func:`suggest` reads the calibrated probabilities and embeddings of every galaxy, from a
catalogue folder that ``classify --embeddings`` wrote or by classifying the inputs in this
process with :func:`~galaxy10.pipeline.catalogue.classify_catalogue` (into a temporary
catalogue, removed after), leaves out the rows that could not be classified, those flagged
"not a galaxy cut-out" (:mod:`galaxy10.modeling.verdict`: a label for them would teach the
model nothing about galaxies; ``--keep-not-cutouts`` keeps them) and those a ``--labelled``
manifest already labels, ranks the rest with
:func:`galaxy10.modeling.suggest.rank_suggestions` and writes the picks as a CSV
(:data:`HEADER`), atomically.

A catalogue stores each row's top three probabilities, not all ten: the rest of the
probability is spread evenly over the other seven classes (:func:`probabilities`), which
leaves the margin exact and makes the entropy an upper bound of the full one.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES, label_number
from galaxy10.core.errors import Galaxy10Error, GalaxyDataError
from galaxy10.pipeline.catalogue.layout import MARKER

HEADER = ("rank", "id", "path", "class", "class_name", "top1", "p1", "top2", "p2", "top3",
          "p3", "margin", "entropy", "reason")
"""The columns of a suggestions CSV: ``id`` as the catalogue names the row (the manifest's id,
``<folder>/<relative path>``, ``<file>:<row>``), ``path`` the picture file (empty for HDF5
and Parquet rows), the predicted class, the top three classes with their probabilities, the
margin and entropy, and why the row was picked (uncertain, diverse or random)."""
COLUMNS = ("id", "file", "class", "top3_classes", "top3_probs", "not_a_cutout")


class SuggestError(Galaxy10Error):
    """A suggestion that cannot be made: too few candidates, a catalogue without embeddings."""


def is_catalogue(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a catalogue folder that galaxy10's ``classify`` wrote."""
    return (Path(path) / MARKER).is_file()


def read_labelled(path: str | os.PathLike[str]) -> tuple[set[str], set[str]]:
    """The ids and the resolved picture paths a labels manifest names.

    The manifest is a CSV (UTF-8, a BOM allowed) with a ``label`` column (a class 0-9 in
    ASCII digits) and an ``id`` or a ``path`` (or ``file``) column, or both; paths are
    relative to the manifest's folder. An id or path that appears twice is refused.

    Raises
    ------
    GalaxyDataError
        Naming the manifest and the first bad line.
    """
    from galaxy10.core.files import csv_rows

    path = Path(path).expanduser()
    ids: set[str] = set()
    files: set[str] = set()

    def header(fields: list[str]) -> str | None:
        if "label" in fields and {"id", "path", "file"} & set(fields):
            return None
        return ("labels manifest needs a 'label' column and an 'id' or 'path' column "
                f"(found: {fields})")

    for line, row in csv_rows(path, what="labels manifest (CSV)", header=header):
        _labelled_row(path, line, row, ids, files)
    return ids, files


def _labelled_row(path: Path, line: int, row: dict, ids: set[str], files: set[str]) -> None:
    """Check one line of a labels manifest and add its id and path."""
    label = row["label"].strip()
    number = label_number(label)
    if number is None or not 0 <= number < N_CLASSES:
        raise GalaxyDataError(path, f"line {line}: label {label[:40]!r} is not a class "
                                    f"0-{N_CLASSES - 1}")
    ident = row.get("id", "").strip()
    name = (row.get("path") or row.get("file") or "").strip()
    if not ident and not name:
        raise GalaxyDataError(path, f"line {line}: neither an id nor a path")
    if ident:
        if ident in ids:
            raise GalaxyDataError(path, f"line {line}: id {ident[:60]!r} appears twice")
        ids.add(ident)
    if name:
        full = os.path.realpath(path.parent / name)
        if full in files:
            raise GalaxyDataError(path, f"line {line}: path {name[:60]!r} appears twice")
        files.add(full)


def probabilities(top3_classes: np.ndarray, top3_probs: np.ndarray) -> np.ndarray:
    """(m, 10) probabilities from a catalogue's top three: the rest spread evenly."""
    top3_classes = np.asarray(top3_classes, dtype=np.int64).reshape(-1, 3)
    top3_probs = np.asarray(top3_probs, dtype=np.float64).reshape(-1, 3)
    rest = np.clip(1.0 - top3_probs.sum(axis=1), 0.0, None) / (N_CLASSES - 3)
    probs = np.repeat(rest[:, None], N_CLASSES, axis=1)
    np.put_along_axis(probs, top3_classes, top3_probs, axis=1)
    return probs


def check_embeddings(folder: str | os.PathLike[str]) -> None:
    """Refuse a catalogue folder whose parts hold no ``embedding`` column (read from the
    parts' schemas, not their rows)."""
    import pyarrow.parquet as pq

    for part in sorted(Path(folder).glob("*.parquet")):
        if "embedding" not in pq.read_schema(part).names:
            raise SuggestError(f"{folder}: the catalogue holds no embeddings (classify it "
                               "with --embeddings, or add --no-diversity)")


def read_candidates(catalogues: Sequence[str | os.PathLike[str]], *, embeddings: bool):
    """The classified rows of catalogue folders as one DataFrame (``embedding`` too when
    asked: a folder written without ``--embeddings`` is then refused)."""
    import pandas as pd

    from galaxy10.pipeline.catalogue.explore import read_catalogue

    tables = []
    for folder in catalogues:
        columns = list(COLUMNS)
        if embeddings:
            check_embeddings(folder)
            columns.append("embedding")
        if any(Path(folder).glob("*.parquet")):
            import pyarrow.dataset as ds

            present = set(ds.dataset(folder, format="parquet").schema.names)
            table = read_catalogue(folder, [c for c in columns if c in present])
            if "not_a_cutout" not in present:  # written before the flag had a column
                table["not_a_cutout"] = False
        else:
            table = pd.DataFrame(columns=columns)
        tables.append(table[table["class"].notna()])
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COLUMNS)


def not_cutouts(table) -> np.ndarray:
    """Mask of the rows of ``table`` that ``classify`` flagged "not a galaxy cut-out"."""
    return table["not_a_cutout"].fillna(False).to_numpy(dtype=bool)


def unlabelled(table, labelled: tuple[set[str], set[str]] | None) -> np.ndarray:
    """Mask of the rows of ``table`` that the labels (ids, resolved paths) do not name."""
    keep = np.ones(len(table), dtype=bool)
    if labelled is None:
        return keep
    ids, files = labelled
    keep &= ~table["id"].isin(ids).to_numpy()
    if files:  # resolved only when the labels name files: a syscall or more per row
        for i, file in enumerate(table["file"]):
            if keep[i] and isinstance(file, str) and file and os.path.realpath(file) in files:
                keep[i] = False
    return keep


@dataclass
class SuggestResult:
    """What :func:`suggest` wrote: the CSV, how many rows it holds, of how many candidates,
    how many rows were labelled already, how many flagged "not a galaxy cut-out" were left
    out and (inputs classified here) how many pictures and input shards could not be read."""

    out: Path
    rows: int
    candidates: int
    labelled: int
    reasons: dict[str, int]
    unread: tuple[int, int] = (0, 0)
    not_cutouts: int = 0

    def lines(self) -> list[str]:
        """The summary a person reads."""
        why = ", ".join(f"{v} {k}" for k, v in self.reasons.items() if v)
        return [f"suggestions {self.out}: {self.rows} of {self.candidates:,} unlabelled "
                f"galaxies ({why}); {self.labelled:,} already labelled left out"
                + (f"; {self.not_cutouts:,} flagged 'not a galaxy cut-out' left out "
                   "(--keep-not-cutouts keeps them)" if self.not_cutouts else "")
                + ("; could not be read (left out): {:,} picture(s), {:,} input part(s)".format(
                    *self.unread) if any(self.unread) else "")]


def suggestions_csv(table, probs: np.ndarray, order: np.ndarray, reasons: Sequence[str]) -> str:
    """The CSV text (:data:`HEADER`) of the rows ``order`` of ``table``, ranked from 1."""
    from galaxy10.modeling.suggest import entropy, margin

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    m, h = margin(probs[order]), entropy(probs[order])
    for rank, (i, why) in enumerate(zip(order, reasons, strict=True), start=1):
        row = table.iloc[int(i)]
        top = [int(c) for c in row["top3_classes"]]
        p = [float(v) for v in row["top3_probs"]]
        file = row["file"] if isinstance(row["file"], str) else ""
        cls = int(row["class"])
        writer.writerow([rank, row["id"], file, cls, CLASS_NAMES[cls],
                         top[0], f"{p[0]:.4f}", top[1], f"{p[1]:.4f}", top[2], f"{p[2]:.4f}",
                         f"{m[rank - 1]:.4f}", f"{h[rank - 1]:.4f}", why])
    return buffer.getvalue()


def count_candidates(inputs: Sequence[str | os.PathLike[str]],
                     labelled: tuple[set[str], set[str]] | None,
                     keep_not_cutouts: bool = False) -> int:
    """How many rows :func:`suggest` may pick from, found without classifying: the
    unlabelled classified rows of catalogue folders (without those flagged not a cut-out,
    unless kept), else the rows the inputs hold."""
    if all(is_catalogue(p) for p in inputs):
        table = read_candidates(inputs, embeddings=False)
        keep = unlabelled(table, labelled)
        if not keep_not_cutouts:
            keep &= ~not_cutouts(table)
        return int(keep.sum())
    from galaxy10.pipeline.catalogue.plan import plan_catalogue

    return sum(s.rows for s in plan_catalogue(inputs) if s.error is None)


def suggest(inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
            model: str | os.PathLike[str] | None = None, *, n: int = 50,
            by: str = "margin", random_share: float = 0.1, seed: int = 0,
            labelled: str | os.PathLike[str] | None = None, diversity: bool = True,
            keep_not_cutouts: bool = False, workers: int | None = 1,
            progress: bool = True) -> SuggestResult:
    """Write the ``n`` galaxies most worth labelling next to the CSV ``out``.

    Parameters
    ----------
    inputs : sequence of path-like
        Catalogue folders that ``classify`` wrote (all of them), or anything ``classify``
        reads (classified here, in a temporary catalogue, with embeddings).
    out : path-like
        The CSV to write (:data:`HEADER`), atomically.
    model : path-like, optional
        The bundle that classifies raw inputs (``classify``'s default when None).
    n, by, random_share, seed
        As :func:`galaxy10.modeling.suggest.rank_suggestions`.
    labelled : path-like, optional
        A labels manifest (:func:`read_labelled`); the rows it names are left out.
    diversity : bool, default True
        Spread the picks by k-centre on the embeddings (a catalogue needs them).
    keep_not_cutouts : bool, default False
        Rank the rows flagged "not a galaxy cut-out" too (left out by default).
    workers : int or None, default 1
        ``classify``'s worker processes for raw inputs (None: one per core).
    progress : bool, default True
        Show ``classify``'s progress bar.

    Raises
    ------
    SuggestError
        Fewer candidates than ``n``, or a catalogue without embeddings with ``diversity``.
    GalaxyDataError, CatalogueError, ModelError
        A bad labels manifest, input or bundle.
    """
    from galaxy10.modeling.suggest import rank_suggestions

    unread = (0, 0)
    known = read_labelled(labelled) if labelled is not None else None
    if all(is_catalogue(p) for p in inputs):
        table = read_candidates(inputs, embeddings=diversity)
    else:
        from galaxy10.pipeline.catalogue.run import classify_catalogue

        with tempfile.TemporaryDirectory(prefix="galaxy10-suggest-") as tmp:
            done = classify_catalogue(inputs, Path(tmp) / "catalogue", model, workers=workers,
                                      embeddings=diversity, progress=progress)
            unread = (done.failed_images, len(done.failed_shards))
            table = read_candidates([Path(tmp) / "catalogue"], embeddings=diversity)
    keep = unlabelled(table, known)
    odd = np.zeros(len(table), dtype=bool) if keep_not_cutouts else keep & not_cutouts(table)
    table = table[keep & ~odd].reset_index(drop=True)
    if n > len(table):
        raise SuggestError(f"--n {n}: there are only {len(table):,} unlabelled galaxies "
                           "classified to suggest from" + (
                               f" ({int(odd.sum()):,} flagged 'not a galaxy cut-out' left "
                               "out: --keep-not-cutouts keeps them)" if odd.any() else ""))
    probs = probabilities(np.stack(table["top3_classes"]), np.stack(table["top3_probs"]))
    emb = np.stack(table["embedding"]).astype(np.float64) if diversity else None
    picks = rank_suggestions(probs, emb, n, by=by, random_share=random_share, seed=seed)
    from galaxy10.core.atomic import write_text

    out = write_text(Path(out).expanduser(),
                     suggestions_csv(table, probs, picks.order, picks.reasons))
    return SuggestResult(out, n, len(table), int((~keep).sum()),
                         {r: picks.reasons.count(r) for r in ("uncertain", "diverse", "random")},
                         unread, int(odd.sum()))
