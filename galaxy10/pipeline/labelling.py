"""A labelling session: the next galaxy worth a label, every answer saved as it is given.

:class:`LabellingSession` is the labelling panel without its widgets
(:mod:`galaxy10.app.labelling` draws it). Given candidate galaxies with a model's calibrated
probabilities and embeddings (:class:`Candidates`) and the path of a labels CSV, it

* serves the next galaxy to label: the candidates are ranked by
  :func:`galaxy10.modeling.active.mix_ranking` (for the first labels the most typical galaxy
  of each large cluster no label covers yet; then ``suggest``'s
  :func:`galaxy10.modeling.suggest.rank_suggestions`: uncertainty, k-centre diversity, class
  caps, a random share), a few at a time, leaving out every galaxy already answered;
* records a class, a skip or "not a galaxy", with who answered and when (UTC, ISO 8601), and
  rewrites the file that changed atomically (:mod:`galaxy10.core.atomic`) after every
  answer, so a kernel that dies loses nothing already answered;
* undoes the last answer (the galaxy comes back on screen), counts the labels per class, and
  resumes from the files a previous session wrote;
* learns as it goes: every ``refit_every`` labels a linear probe
  (:mod:`galaxy10.modeling.probe`) is fitted on the labelled galaxies' embeddings, and a
  stratified cross-validation of the probe on the labels so far estimates its accuracy
  (:func:`galaxy10.modeling.probe.estimate_accuracy`); the probe's probabilities replace the
  model's, for the guesses shown and the ranking, once that estimate beats the model's own
  accuracy on the same labels (:func:`~galaxy10.modeling.probe.probe_is_better`). A probe on
  a handful of labels guesses worse than the model it learns from, and the model's accuracy
  on labels it never saw is an honest measure.

Two files are written. The labels CSV (:data:`LABEL_COLUMNS`: ``id``, ``file``, ``label`` as
the class number 0-9, ``class_name``, ``who``, ``when``) is a manifest that ``import``,
``train --data``, ``bench real`` (:func:`galaxy10.datasets.labelled.read_manifest`) and
``suggest --labelled`` read as it is: it holds labels only. Skips and "not a galaxy" go to
the file beside it, ``<name>.skipped.csv`` (:data:`DECISION_COLUMNS`), which only the session
reads, so they are never suggested again and never reach training. A galaxy that is not a
picture file (an HDF5 row) is saved as a PNG cut-out in ``<name>_cutouts/`` when it is
labelled, so that the manifest's ``file`` column always names a picture.
"""

from __future__ import annotations

import csv
import getpass
import io
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES, label_number
from galaxy10.core.errors import GalaxyDataError
from galaxy10.modeling.probe import Estimate, estimate_accuracy, probe_is_better

LABEL_COLUMNS = ("id", "file", "label", "class_name", "who", "when")
"""The columns of the labels CSV the session writes."""
DECISION_COLUMNS = ("id", "file", "decision", "who", "when")
"""The columns of the skips file beside it."""
SKIP = "skip"
NOT_A_GALAXY = "not a galaxy"
DECISIONS = (SKIP, NOT_A_GALAXY)
REFIT_EVERY = 5
"""Default labels between two refits of the linear probe."""
QUEUE = 20
"""Suggestions ranked at a time (the queue is ranked again when it runs out or after a refit)."""


class LabelsChangedError(GalaxyDataError):
    """A labels file changed on disk under a session (another panel saved to it)."""


def _read_bytes(path: Path) -> bytes | None:
    """A labels file's bytes, None when there is none (or it cannot be read: reading its
    rows then says why, naming the file)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def decisions_path(labels: str | os.PathLike[str]) -> Path:
    """The skips file of a labels CSV: ``<name>.skipped.csv`` beside it."""
    labels = Path(labels)
    return labels.with_name(f"{labels.stem}.skipped.csv")


def cutouts_folder(labels: str | os.PathLike[str]) -> Path:
    """Where a labels CSV's PNG cut-outs go: ``<name>_cutouts/`` beside it."""
    labels = Path(labels)
    return labels.with_name(f"{labels.stem}_cutouts")


def now_utc() -> str:
    """The time now, UTC, ISO 8601 with microseconds (sortable as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def default_who() -> str:
    """Who is labelling, when the caller does not say: the login name, else ``unknown``."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@dataclass(frozen=True)
class Candidates:
    """The galaxies a session may suggest.

    Attributes
    ----------
    ids : tuple of str
        A unique id per candidate (``<file name>:<row>`` for an HDF5 row, as ``classify``
        names it).
    probs : ndarray (m, 10)
        The model's calibrated probabilities.
    embeddings : ndarray (m, d)
        The model's embeddings (what the probe learns from and k-centre spreads over).
    files : tuple of (str or None), optional
        The picture file of each candidate, when it is one.
    """

    ids: tuple[str, ...]
    probs: np.ndarray
    embeddings: np.ndarray
    files: tuple[str | None, ...] | None = None

    def __post_init__(self) -> None:
        m = len(self.ids)
        if m == 0:
            raise ValueError("no candidate galaxies to label")
        if np.shape(self.probs) != (m, N_CLASSES):
            raise ValueError(f"probs must be ({m}, {N_CLASSES}), got {np.shape(self.probs)}")
        if np.ndim(self.embeddings) != 2 or len(self.embeddings) != m:
            raise ValueError(f"embeddings must be ({m}, d), got {np.shape(self.embeddings)}")
        if self.files is not None and len(self.files) != m:
            raise ValueError(f"{len(self.files)} files for {m} candidates")
        if len(set(self.ids)) != m:
            raise ValueError("candidate ids must be unique")

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Answer:
    """One answer: a class (``label``) or a decision (:data:`DECISIONS`) about one galaxy."""

    ident: str
    file: str
    label: int | None
    decision: str | None
    who: str
    when: str


# -- the two files ------------------------------------------------------------------------
def read_answers(path: str | os.PathLike[str], *, decisions: bool = False) -> list[Answer]:
    """The answers of a labels CSV (or, with ``decisions``, of its skips file).

    Raises
    ------
    GalaxyDataError
        Naming the file and the first bad line: a missing column, a wrong number of fields,
        a label that is not a class 0-9 in ASCII digits, a decision that is not one of
        :data:`DECISIONS`, neither an id nor a file, or a galaxy answered twice.
    """
    from galaxy10.core.files import csv_rows

    path = Path(path).expanduser()
    value = "decision" if decisions else "label"
    answers: list[Answer] = []
    seen: set[str] = set()

    def header(fields: list[str]) -> str | None:
        if {value, "who", "when"} <= set(fields) and {"id", "file"} & set(fields):
            return None
        return f"needs the columns '{value}', 'who', 'when' and 'id' or 'file' (found: {fields})"

    for line, row in csv_rows(path, what="labels CSV", header=header):
        answer = _answer(path, line, row, value)
        key = answer.ident or os.path.realpath(path.parent / answer.file)
        if key in seen:
            raise GalaxyDataError(path, f"line {line}: {key[:60]!r} is answered twice")
        seen.add(key)
        answers.append(answer)
    return answers


def _answer(path: Path, line: int, row: dict, value: str) -> Answer:
    """One checked line of a labels CSV or skips file."""
    ident, file = (row.get("id") or "").strip(), (row.get("file") or "").strip()
    if not ident and not file:
        raise GalaxyDataError(path, f"line {line}: neither an id nor a file")
    text = row[value].strip()
    if value == "decision":
        if text not in DECISIONS:
            raise GalaxyDataError(path, f"line {line}: decision {text[:40]!r} is not "
                                        f"{' or '.join(map(repr, DECISIONS))}")
        return Answer(ident, file, None, text, row["who"], row["when"].strip())
    number = label_number(text)
    if number is None or not 0 <= number < N_CLASSES:
        raise GalaxyDataError(path, f"line {line}: label {text[:40]!r} is not a class "
                                    f"0-{N_CLASSES - 1}")
    return Answer(ident, file, number, None, row["who"], row["when"].strip())


def answers_csv(answers: Sequence[Answer], *, decisions: bool = False) -> str:
    """The CSV text of ``answers``: :data:`LABEL_COLUMNS`, or :data:`DECISION_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DECISION_COLUMNS if decisions else LABEL_COLUMNS)
    for a in answers:
        if decisions:
            writer.writerow([a.ident, a.file, a.decision, a.who, a.when])
        else:
            writer.writerow([a.ident, a.file, a.label, CLASS_NAMES[a.label], a.who, a.when])
    return buffer.getvalue()


@dataclass(frozen=True)
class Snapshot:
    """The labels a refit learns from, taken at once (:meth:`LabellingSession.snapshot`), so
    that the refit may run while labelling goes on."""

    rows: np.ndarray
    """Candidate indices of the labelled galaxies."""
    labels: np.ndarray
    """Their labels."""
    left: np.ndarray
    """The candidates unanswered then (the ones the refit ranks)."""
    answers: int
    """Answers given then (seeds the ranking's random picks)."""


@dataclass(frozen=True)
class Learned:
    """What a refit learned from a :class:`Snapshot` (:meth:`LabellingSession.learn`)."""

    probs: np.ndarray | None
    """The probabilities of every candidate from then on: the probe's, or the model's while
    the probe is not better (:func:`~galaxy10.modeling.probe.probe_is_better`); None with
    fewer than two classes labelled (nothing changes)."""
    order: list[int]
    """The next suggestions, best first, among the candidates unanswered then."""
    learner: str
    """Whose probabilities they are, in words."""
    estimate: Estimate
    """The probe's cross-validated accuracy on the snapshot's labels."""


# -- the session --------------------------------------------------------------------------
class LabellingSession:
    """Suggest, record, undo, learn; see the module's description.

    Parameters
    ----------
    candidates : Candidates
        The galaxies to suggest.
    labels : path-like
        The labels CSV; read (with its skips file) when it exists, so a session resumes.
    who : str, optional
        Who answers (default: the login name).
    refit_every : int, default :data:`REFIT_EVERY`
        Labels between two refits of the linear probe (at least 1).
    seed : int, default 0
        Seeds the ranking's random picks, the probe and the folds.
    by, random_share
        As :func:`galaxy10.modeling.suggest.rank_suggestions`.
    queue : int, default :data:`QUEUE`
        Suggestions ranked at a time.
    cutout : callable, optional
        ``cutout(index)``: the uint8 image of a candidate without a file, saved as a PNG in
        :func:`cutouts_folder` when it is labelled (without it, its ``file`` stays empty).
    defer_learning : bool, default False
        Leave the refit that an answer makes due (the probe's fit, the re-rank and the
        accuracy estimate) to the caller and set :attr:`learning_due` instead, so that a panel
        shows the next galaxy at once and learns after it, in the background
        (:meth:`snapshot`, :meth:`learn`, :meth:`adopt`).

    Raises
    ------
    GalaxyDataError
        A labels CSV or skips file that cannot be read, naming the file and line.
    """

    def __init__(self, candidates: Candidates, labels: str | os.PathLike[str], *,
                 who: str | None = None, refit_every: int = REFIT_EVERY, seed: int = 0,
                 by: str = "margin", random_share: float = 0.1, queue: int = QUEUE,
                 cutout: Callable[[int], np.ndarray] | None = None,
                 defer_learning: bool = False) -> None:
        if refit_every < 1 or queue < 1:
            raise ValueError("refit_every and queue must be at least 1")
        self.candidates = candidates
        self.labels_path = Path(labels).expanduser()
        self.decisions_path = decisions_path(self.labels_path)
        self.who = who or default_who()
        self.refit_every, self.seed, self.by = refit_every, seed, by
        self.random_share, self.queue_size, self.cutout = random_share, queue, cutout
        self.defer_learning, self.learning_due = defer_learning, False
        self._by_id = {ident: i for i, ident in enumerate(candidates.ids)}
        self._by_file = {os.path.realpath(f): i for i, f in enumerate(candidates.files or ())
                         if f}
        self.answers: list[Answer] = []  # oldest first: undo takes the last
        self._on_disk: dict[Path, bytes | None] = {}  # each file as this session knows it
        for path, decisions in ((self.labels_path, False), (self.decisions_path, True)):
            self._on_disk[path] = _read_bytes(path)
            if path.exists():
                self.answers += read_answers(path, decisions=decisions)
        self.answers.sort(key=lambda a: a.when)
        if not self.labels_path.exists():  # made now: an unwritable place fails before a click
            self.save(decisions=False)
        self.model_probs = self.probs = np.asarray(candidates.probs, dtype=np.float64)
        self.learner = "the model"
        self.estimate = Estimate(None, None, 0, 0, "no labels yet")
        self.since_refit = 0
        self.queue: list[int] = []
        self.current: int | None = None
        self.refit()
        self.advance()

    # -- what is known ---------------------------------------------------------------------
    def index_of(self, answer: Answer) -> int | None:
        """The candidate an answer is about (None: a galaxy outside this session's)."""
        if answer.ident in self._by_id:
            return self._by_id[answer.ident]
        if answer.file:
            return self._by_file.get(os.path.realpath(self.labels_path.parent / answer.file))
        return None

    def answered(self) -> set[int]:
        """The candidates answered (labelled, skipped or not galaxies)."""
        return {i for i in map(self.index_of, self.answers) if i is not None}

    def unanswered(self) -> np.ndarray:
        """The candidates not answered yet, in order."""
        return np.setdiff1d(np.arange(len(self.candidates)), list(self.answered()))

    def counts(self) -> dict[int, int]:
        """Labels per class, every class listed (labels of galaxies outside the candidates
        included)."""
        counts = dict.fromkeys(range(N_CLASSES), 0)
        for a in self.answers:
            if a.label is not None:
                counts[a.label] += 1
        return counts

    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """``(candidate indices, labels)`` of the labelled candidates."""
        pairs = [(i, a.label) for a in self.answers
                 if a.label is not None and (i := self.index_of(a)) is not None]
        rows = np.asarray([i for i, _ in pairs], dtype=np.int64)
        return rows, np.asarray([y for _, y in pairs], dtype=np.int64)

    def neighbours(self, index: int, k: int = 6) -> list[tuple[int, int, float]]:
        """The ``k`` labelled candidates nearest to candidate ``index`` in the embedding:
        ``(candidate, label, cosine distance)``, nearest first."""
        from galaxy10.modeling.suggest import normalise

        rows, labels = self.labelled()
        rows_labels = [(r, y) for r, y in zip(rows, labels, strict=True) if r != index]
        if not rows_labels:
            return []
        rows = np.asarray([r for r, _ in rows_labels])
        emb = normalise(self.candidates.embeddings[np.append(rows, index)])
        dist = 1.0 - emb[:-1] @ emb[-1]
        order = np.argsort(dist, kind="stable")[:k]
        return [(int(rows[j]), int(rows_labels[j][1]), float(dist[j])) for j in order]

    # -- suggesting ------------------------------------------------------------------------
    def rank(self) -> list[int]:
        """Rank the next :attr:`queue_size` unanswered candidates (the queue)."""
        self.queue = self._ranking(self.probs, self.unanswered(), self.labelled()[0],
                                   len(self.answers))
        return self.queue

    def _ranking(self, probs: np.ndarray, left: np.ndarray, labelled: np.ndarray,
                 answers: int) -> list[int]:
        """The best :attr:`queue_size` of candidates ``left`` by ``probs``, best first, with the
        candidates ``labelled`` so far (:func:`galaxy10.modeling.active.mix_ranking`: typical
        galaxies first, then uncertain ones)."""
        from galaxy10.modeling.active import mix_ranking

        if not left.size:
            return []
        embeddings = self.candidates.embeddings  # rows first: no copy of every candidate's
        order, _ = mix_ranking(embeddings[left], embeddings[labelled], probs[left],
                               min(self.queue_size, left.size), by=self.by,
                               random_share=self.random_share, seed=self.seed + answers)
        return [int(left[i]) for i in order]

    def advance(self) -> int | None:
        """Put the next suggestion on screen (:attr:`current`; None when all are answered)."""
        done = self.answered()
        self.queue = [i for i in self.queue if i not in done]
        if not self.queue:
            self.rank()
        self.current = self.queue.pop(0) if self.queue else None
        return self.current

    def upcoming(self, k: int = 2) -> list[int]:
        """The next ``k`` suggestions after the one on screen (to prepare their pictures)."""
        return self.queue[:k]

    # -- answering -------------------------------------------------------------------------
    def label(self, label: int) -> Answer:
        """Label the galaxy on screen as class ``label`` (0-9); save; show the next."""
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)) or \
                not 0 <= label < N_CLASSES:
            raise ValueError(f"label must be a class 0-{N_CLASSES - 1}, got {label!r}")
        return self._answer(int(label), None)

    def skip(self) -> Answer:
        """Skip the galaxy on screen (never suggested again); save; show the next."""
        return self._answer(None, SKIP)

    def not_a_galaxy(self) -> Answer:
        """Mark the picture on screen as not a galaxy; save; show the next."""
        return self._answer(None, NOT_A_GALAXY)

    def _answer(self, label: int | None, decision: str | None) -> Answer:
        if self.current is None:
            raise IndexError("every candidate is answered: nothing is on screen")
        i = self.current
        ident = self.candidates.ids[i]
        file = self._file_of(i, save=label is not None)
        answer = Answer(ident, file, label, decision, self.who, now_utc())
        self.answers.append(answer)
        try:
            self.save(decisions=label is None)
        except LabelsChangedError:
            self.answers.pop()
            raise
        if label is not None:
            self.since_refit += 1
            if self.since_refit >= self.refit_every:  # a refit every refit_every labels
                self.since_refit = 0
                if self.defer_learning:
                    self.learning_due = True
                else:
                    self.refit()
        self.advance()
        return answer

    def _file_of(self, index: int, save: bool) -> str:
        """The ``file`` cell of a candidate: its picture relative to the labels CSV's folder,
        or (``save``: a label) its PNG cut-out, written now, or empty."""
        from galaxy10.core.atomic import write_bytes

        files = self.candidates.files
        if files and files[index]:
            full = Path(files[index])
        elif self.cutout is not None and save:
            from galaxy10.datasets.images import png_bytes

            name = re.sub(r"[^A-Za-z0-9._-]+", "_", self.candidates.ids[index]).strip("._")
            full = write_bytes(cutouts_folder(self.labels_path) / f"{name or index}.png",
                               png_bytes(self.cutout(index)))
        else:  # a skip names no cut-out: none is written for it
            return ""
        try:
            return Path(os.path.relpath(full, self.labels_path.parent)).as_posix()
        except ValueError:  # another drive (Windows)
            return os.fspath(full)

    def undo(self) -> Answer | None:
        """Take back the last answer (this session's or a previous one's); save; put its
        galaxy back on screen. None when there is nothing to undo."""
        if not self.answers:
            return None
        answer = self.answers.pop()
        try:
            self.save(decisions=answer.label is None)
        except LabelsChangedError:
            self.answers.append(answer)
            raise
        if answer.label is not None:
            self.since_refit = max(0, self.since_refit - 1)
        index = self.index_of(answer)
        if index is not None:
            if self.current is not None:
                self.queue.insert(0, self.current)
            self.current = index
        return answer

    def save(self, decisions: bool) -> Path:
        """Rewrite the labels CSV (or the skips file) atomically from :attr:`answers`.

        Under the file's write lock (:func:`galaxy10.core.atomic.target_lock`, ``filelock``
        underneath, so on every OS), and only if the file still holds what this session last
        read or wrote: a second panel on the same file (another tab, a colleague's) that saved
        in between is never overwritten. The answer is then taken back and
        :class:`LabelsChangedError` says to reopen the panel, which reads both.
        """
        from galaxy10.core.atomic import target_lock, write_text

        chosen = [a for a in self.answers if (a.label is None) == decisions]
        path = self.decisions_path if decisions else self.labels_path
        text = answers_csv(chosen, decisions=decisions)
        with target_lock(path, blocking=True):
            if _read_bytes(path) != self._on_disk.get(path):
                raise LabelsChangedError(path, "changed on disk since this panel read it "
                                               "(another panel or session saved to it); open "
                                               "the panel again to carry on from both")
            written = write_text(path, text)
        self._on_disk[path] = text.encode("utf-8")
        return written

    def refit(self) -> Estimate:
        """Fit the linear probe on the labelled candidates, estimate its accuracy and rank
        with its probabilities (the model's while the probe is not better), at once.

        :meth:`snapshot`, :meth:`learn` and :meth:`adopt` in a row: a panel runs them apart
        (``defer_learning``), the fit and the estimate in the background. The probe is the
        one ``bench active`` measures the loop with
        (:func:`galaxy10.modeling.active.fit_probe`, as in
        :func:`~galaxy10.modeling.active.refit_and_rerank`), and the ranking is its ``mix``
        (:func:`~galaxy10.modeling.active.mix_ranking`)."""
        self.adopt(self.learn(self.snapshot()))
        return self.estimate

    def snapshot(self) -> Snapshot:
        """The labels now, for a refit (:meth:`learn`); clears :attr:`learning_due`."""
        rows, labels = self.labelled()
        self.learning_due = False
        return Snapshot(rows, labels, self.unanswered(), len(self.answers))

    def learn(self, snapshot: Snapshot) -> Learned:
        """Fit the probe on ``snapshot``'s labels and rank the candidates unanswered then by
        its probabilities, or by the model's while the probe is not better on those labels
        (:func:`~galaxy10.modeling.probe.probe_is_better`). Changes nothing (:meth:`adopt`
        does), so it may run in a thread while labelling goes on."""
        from galaxy10.modeling.active import fit_probe, probe_probabilities

        vectors = np.asarray(self.candidates.embeddings, dtype=np.float64)
        rows, labels = snapshot.rows, snapshot.labels
        probe = fit_probe(vectors[rows], labels, seed=self.seed)
        estimate = estimate_accuracy(vectors[rows], labels, self.seed)
        if probe is None:
            return Learned(None, [], self.learner, estimate)
        model = self.model_probs
        if probe_is_better(estimate, model[rows], labels):
            probs = probe_probabilities(probe, labels, vectors)
            learner = f"the linear probe on {len(rows)} labels"
        else:
            probs = model
            hits = int(np.sum(model[rows].argmax(axis=1) == labels))
            learner = (f"the model (right on {hits} of your {len(rows)} labels; the linear "
                       "probe is not better yet)")
        return Learned(probs, self._ranking(probs, snapshot.left, rows, snapshot.answers),
                       learner, estimate)

    def adopt(self, learned: Learned) -> None:
        """Rank with what a refit learned from then on: its probabilities, and its order for
        the next suggestions (less what was answered since and the galaxy on screen); keep
        its estimate (:attr:`estimate`)."""
        self.estimate = learned.estimate
        if learned.probs is None:
            return
        self.probs, self.learner = learned.probs, learned.learner
        done = self.answered()
        self.queue = [i for i in learned.order if i not in done and i != self.current]

