"""The labelling session without widgets or a model: small random embeddings in clusters."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from labelling_candidates import clustered

from galaxy10.core.errors import GalaxyDataError
from galaxy10.datasets.labelled import read_manifest
from galaxy10.pipeline.labelling import (
    NOT_A_GALAXY,
    SKIP,
    Candidates,
    Estimate,
    LabellingSession,
    decisions_path,
    estimate_accuracy,
    probe_is_better,
    read_answers,
)
from galaxy10.pipeline.suggest import read_labelled

ROOT = Path(__file__).resolve().parents[2]


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_label_is_saved_at_once_as_a_manifest_import_and_suggest_read(tmp_path):
    cands, truth = clustered(files=tmp_path / "pics")
    labels = tmp_path / "labels.csv"
    session = LabellingSession(cands, labels, who="ada", refit_every=100)
    shown = []
    for k in range(4):
        shown.append(session.current)
        session.label(int(truth[session.current]))
        assert len(rows(labels)) == k + 1  # on disk after every click
    assert len(set(shown)) == 4 and session.current not in shown
    saved = rows(labels)
    assert [r["who"] for r in saved] == ["ada"] * 4
    assert all(r["when"].endswith("+00:00") and "T" in r["when"] for r in saved)
    assert [r["class_name"] for r in saved][0] != ""
    pairs = read_manifest(labels)  # what import, train --data and bench real read
    assert [p.name for p, _ in pairs] == [f"g{i}.png" for i in shown]
    assert [y for _, y in pairs] == [int(truth[i]) for i in shown]
    ids, files = read_labelled(labels)  # what suggest --labelled reads
    assert ids == {f"set.h5:{i}" for i in shown} and len(files) == 4
    assert session.counts()[int(truth[shown[0]])] >= 1 and sum(session.counts().values()) == 4


def test_skips_and_not_a_galaxy_are_kept_apart_and_never_suggested_again(tmp_path):
    cands, _ = clustered(files=tmp_path)
    labels = tmp_path / "labels.csv"
    session = LabellingSession(cands, labels, who="bo")
    skipped = session.current
    session.skip()
    rejected = session.current
    session.not_a_galaxy()
    assert rows(labels) == []  # the manifest holds labels only
    with pytest.raises(GalaxyDataError, match="lists no images"):
        read_manifest(labels)
    kept = rows(decisions_path(labels))
    assert [r["decision"] for r in kept] == [SKIP, NOT_A_GALAXY]
    again = LabellingSession(cands, labels, who="bo")
    seen = set()
    while again.current is not None:
        seen.add(again.current)
        again.skip()
    assert skipped not in seen and rejected not in seen and len(seen) == len(cands) - 2


def test_undo_takes_back_the_last_answer_and_shows_its_galaxy_again(tmp_path):
    cands, _ = clustered(files=tmp_path)
    labels = tmp_path / "labels.csv"
    session = LabellingSession(cands, labels)
    first = session.current
    session.label(2)
    second = session.current
    session.skip()
    assert session.undo().decision == SKIP and session.current == second
    assert rows(decisions_path(labels)) == []
    assert session.undo().label == 2 and session.current == first
    assert rows(labels) == []
    assert session.undo() is None
    session.label(1)  # the next answer goes to the galaxy undone
    assert rows(labels)[0]["id"] == f"set.h5:{first}"


def test_a_new_session_resumes_where_the_last_stopped(tmp_path):
    cands, truth = clustered(files=tmp_path)
    labels = tmp_path / "labels.csv"
    first = LabellingSession(cands, labels, refit_every=100)
    done = []
    for _ in range(5):
        done.append(first.current)
        first.label(int(truth[first.current]))
    skipped = first.current
    first.skip()
    resumed = LabellingSession(cands, labels, refit_every=100)
    assert resumed.answered() == {*done, skipped}
    assert resumed.counts() == first.counts() and resumed.current not in resumed.answered()
    assert resumed.undo().decision == SKIP  # undo reaches the previous session's answers
    assert resumed.undo().label == int(truth[done[-1]]) and resumed.current == done[-1]
    assert len(rows(labels)) == 4


@pytest.mark.parametrize(("text", "says"), [
    ("id,file,label,who,when\nx,,3,a,t\nx,,4,a,t\n", "line 3: 'x' is answered twice"),
    ("id,file,label,who,when\nx,,3,a,t\ny,,12,a,t\n", "line 3: label '12' is not a class 0-9"),
    ("id,file,label,who,when\nx,,3,a,t\ny,,²,a,t\n", "line 3: label '²' is not a class"),
    ("id,file,label,who,when\nx,,3,a,t\ny,,3,a\n", "line 3: 4 field(s), expected 5"),
    ("id,file,label,who,when\nx,,3,a,t\n,,3,a,t\n", "line 3: neither an id nor a file"),
    ("id,label\nx,3\n", "needs the columns 'label', 'who', 'when'"),
    (b"id,file,label,who,when\n\xff,,3,a,t\n", "not a UTF-8 labels CSV"),
])
def test_a_malformed_labels_csv_is_refused_naming_the_file_and_line(tmp_path, text, says):
    labels = tmp_path / "labels.csv"
    labels.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = labels.read_bytes()
    with pytest.raises(GalaxyDataError) as info:
        LabellingSession(clustered()[0], labels)
    assert str(info.value).startswith(f"{labels}: ") and says in str(info.value)
    assert "\n" not in str(info.value) and labels.read_bytes() == before  # nothing lost


def test_a_bad_skips_file_is_refused_too(tmp_path):
    labels = tmp_path / "labels.csv"
    decisions_path(labels).write_text("id,file,decision,who,when\nx,,maybe,a,t\n")
    with pytest.raises(GalaxyDataError, match=r"labels\.skipped\.csv: line 2: decision 'maybe'"):
        LabellingSession(clustered()[0], labels)


def test_the_probe_refits_every_few_labels_and_reranks(tmp_path):
    cands, truth = clustered(n=90, files=tmp_path)
    session = LabellingSession(cands, tmp_path / "labels.csv", refit_every=3, random_share=0)
    assert session.learner == "the model"
    model_probs = session.probs.copy()
    labelled_classes = set()
    while not session.learner.startswith("the linear probe on"):
        # the model (random guesses here) keeps them while the probe cannot be tested: a
        # class with one label
        assert session.learner.startswith("the model") and np.allclose(session.probs,
                                                                        model_probs)
        labelled_classes.add(int(truth[session.current]))
        session.label(int(truth[session.current]))
        assert len(session.labelled()[0]) <= 12
    assert session.estimate.mean is not None and len(session.labelled()[0]) % 3 == 0
    assert not np.allclose(session.probs, model_probs)
    # the probe learnt the clusters: its guess for the unlabelled is their true class
    left = np.setdiff1d(np.arange(90), session.labelled()[0])
    seen = np.isin(truth[left], sorted(labelled_classes))
    assert np.mean(session.probs[left][seen].argmax(axis=1) == truth[left][seen]) > 0.9


def test_the_model_keeps_its_guesses_while_the_probe_is_not_better(tmp_path):
    """A model right on every label stays the one guessing: the probe's estimate on the same
    labels cannot beat it. The rule itself: a better estimate, or nothing to compare."""
    cands, truth = clustered(n=60, files=tmp_path)
    sure = np.eye(10)[truth] * 0.9 + 0.01
    cands = Candidates(cands.ids, sure, cands.embeddings, cands.files)
    session = LabellingSession(cands, tmp_path / "labels.csv", refit_every=3)
    for _ in range(12):
        session.label(int(truth[session.current]))
    assert session.estimate.mean is not None  # the probe was tested, and lost or tied
    assert session.learner == ("the model (right on 12 of your 12 labels; the linear probe "
                               "is not better yet)")
    np.testing.assert_allclose(session.probs, sure)
    labels = np.array([0, 1, 1])
    guesses = np.eye(10)[[0, 1, 0]]  # the model: 2 of 3
    assert probe_is_better(Estimate(0.7, 0.1, 2, 3), guesses, labels)
    assert not probe_is_better(Estimate(0.6, 0.1, 2, 3), guesses, labels)
    assert not probe_is_better(Estimate(None, None, 0, 3, "too few"), guesses, labels)


def test_a_deferred_refit_learns_what_a_refit_at_once_does(tmp_path):
    """``defer_learning`` (the panel's way): the answer only marks the refit due; snapshot,
    learn and adopt, run later, give the probabilities a session refitting at once on the
    same labels has, and never suggest the galaxy on screen or an answered one."""
    cands, truth = clustered(n=60, files=tmp_path)
    labels = tmp_path / "labels.csv"
    session = LabellingSession(cands, labels, refit_every=4, defer_learning=True)
    for _ in range(4):
        session.label(int(truth[session.current]) % 2)  # two classes, so the probe fits
    assert session.learning_due and session.learner == "the model"
    assert session.since_refit == 0  # the next refit falls due four labels on, meanwhile too
    snapshot = session.snapshot()
    session.label(int(truth[session.current]) % 2)  # an answer while the probe learns
    learned = session.learn(snapshot)
    assert session.learner == "the model" and not session.learning_due  # learn changes nothing
    session.adopt(learned)
    assert session.learner == "the linear probe on 4 labels"
    assert session.current not in session.queue and not set(session.queue) & session.answered()
    at_once = LabellingSession(cands, tmp_path / "copy.csv", refit_every=4)
    at_once.answers = session.answers[:4]
    at_once.refit()
    np.testing.assert_allclose(learned.probs, at_once.probs)
    assert learned.estimate == at_once.estimate == session.estimate


def test_the_accuracy_estimate_waits_for_two_labels_of_every_class():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(size=(6, 4)), rng.normal(size=(6, 4)) + 20])
    labels = np.array([0] * 6 + [1] * 6)
    assert "two classes" in estimate_accuracy(vectors[:6], labels[:6]).reason
    lonely = estimate_accuracy(vectors[:7], labels[:7])
    assert lonely.mean is None and lonely.reason.endswith("one of: Merging")
    assert lonely.line().startswith("Estimated accuracy: not yet")
    good = estimate_accuracy(vectors, labels)
    assert good.mean == 1.0 and good.sd == 0.0 and good.folds == 5 and good.labels == 12
    assert good.line().startswith("Estimated accuracy: 1.00 ± 0.00 (5-fold")
    noisy = estimate_accuracy(rng.normal(size=(40, 4)), np.arange(40) % 2, seed=1)
    assert 0.0 <= noisy.mean < 0.9 and noisy.sd > 0


def test_galaxies_without_a_file_are_saved_as_png_cutouts(tmp_path):
    from galaxy10.datasets.images import load_cutout

    cands, _ = clustered()
    images = np.random.default_rng(1).integers(0, 256, size=(len(cands), 256, 256, 3),
                                               dtype=np.uint8)
    labels = tmp_path / "labels.csv"
    session = LabellingSession(cands, labels, cutout=lambda i: images[i])
    shown = session.current
    session.label(4)
    ((path, label),) = read_manifest(labels)
    assert label == 4 and path.parent.name == "labels_cutouts"
    assert np.array_equal(load_cutout(path), images[shown])  # lossless
    session.skip()  # a skip writes no picture, and names none
    assert len(list(path.parent.iterdir())) == 1
    assert rows(decisions_path(labels))[0]["file"] == ""


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from galaxy10.pipeline.labelling import Candidates, LabellingSession
    rng = np.random.default_rng(0)
    n = 400
    cands = Candidates(tuple(f"r{i}" for i in range(n)), rng.dirichlet(np.ones(10), size=n),
                       rng.normal(size=(n, 8)), tuple(f"g{i}.png" for i in range(n)))
    session = LabellingSession(cands, sys.argv[1], refit_every=4)
    k = 0
    while True:
        session.label(k % 10)
        k += 1
        print(k, flush=True)
""")


def test_a_session_killed_midway_keeps_every_saved_label(tmp_path):
    labels = tmp_path / "labels.csv"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(labels)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    saved = 0
    try:
        for line in child.stdout:
            saved = int(line)
            if saved >= 25:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    pairs = read_manifest(labels)  # whole: never half a file
    assert len(pairs) >= saved and [y for _, y in pairs] == [k % 10 for k in range(len(pairs))]
    assert len(read_answers(labels)) == len(pairs)


def test_two_sessions_on_one_file_never_overwrite_each_other(tmp_path):
    from galaxy10.pipeline.labelling import LabelsChangedError

    cands, truth = clustered(files=tmp_path / "pics")
    labels = tmp_path / "labels.csv"
    first = LabellingSession(cands, labels, who="ada", refit_every=100)
    second = LabellingSession(cands, labels, who="bo", refit_every=100)
    first.label(int(truth[first.current]))
    saved = rows(labels)
    with pytest.raises(LabelsChangedError, match="changed on disk since this panel read it"):
        second.label(int(truth[second.current]))
    assert rows(labels) == saved and len(second.answers) == 0  # ada's label kept, bo's taken back
    third = LabellingSession(cands, labels, who="bo", refit_every=100)  # reopened: reads both
    third.label(int(truth[third.current]))
    assert [r["who"] for r in rows(labels)] == ["ada", "bo"]
