"""The labelling panel's widgets, driven as a user would, on a session without a model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from labelling_candidates import clustered

from galaxy10.app.labelling import KEYS, MARKER, LabellingPanel, key_of
from galaxy10.core.classes import CLASS_NAMES
from galaxy10.pipeline.labelling import Candidates, LabellingSession, decisions_path


def saved(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def panel(tmp_path):
    cands, _ = clustered(n=40, files=tmp_path)
    images = np.random.default_rng(0).integers(0, 256, size=(40, 64, 64, 3), dtype=np.uint8)
    session = LabellingSession(cands, tmp_path / "labels.csv", who="tess", refit_every=3)
    reads: list[int] = []

    def image(i: int) -> np.ndarray:
        reads.append(i)
        return images[i]

    made = LabellingPanel(session, image, "test data")
    made.reads = reads
    return made


def test_keys_map_one_to_nine_and_zero_to_the_ten_classes():
    assert [KEYS[key_of(c)] for c in range(10)] == list(range(10))
    assert key_of(0) == "1" and key_of(9) == "0"
    assert {KEYS[k] for k in "snu"} == {"skip", "not a galaxy", "undo"}


def test_a_click_on_a_class_saves_it_and_shows_the_next_galaxy(panel):
    labels = panel.session.labels_path
    first, picture = panel.session.current, panel.image.value
    assert picture and "Merging" in panel.class_buttons[1].description
    panel.class_buttons[1].click()
    assert saved(labels)[0]["id"] == f"set.h5:{first}" and saved(labels)[0]["label"] == "1"
    assert saved(labels)[0]["class_name"] == CLASS_NAMES[1] and saved(labels)[0]["who"] == "tess"
    assert panel.session.current != first and panel.image.value != picture
    assert "saved: 1 Merging" in panel.status.value
    assert ">1</span>" in panel.counts.value and "(<b>1</b> in all)" in panel.counts.value
    panel.skip_button.click()
    panel.reject_button.click()
    assert [r["decision"] for r in saved(decisions_path(labels))] == ["skip", "not a galaxy"]
    panel.undo_button.click()
    assert len(saved(decisions_path(labels))) == 1


def type_key(panel, key: str) -> None:
    """What the browser sends when a key is typed at the end of the key box."""
    panel.keys.value = panel.keys.value[:-1] if key == "Backspace" else panel.keys.value + key


def test_keys_typed_in_the_key_box_answer_and_backspace_undoes(panel):
    labels = panel.session.labels_path
    first = panel.session.current
    assert panel.keys.value == MARKER
    type_key(panel, "3")  # key 3: the third class
    assert saved(labels)[0]["label"] == "2"
    type_key(panel, "0")  # key 0: the tenth
    assert saved(labels)[1]["label"] == "9"
    type_key(panel, "S")
    assert saved(decisions_path(labels))[0]["decision"] == "skip"
    type_key(panel, "n")
    assert saved(decisions_path(labels))[1]["decision"] == "not a galaxy"
    type_key(panel, "Backspace")
    assert len(saved(decisions_path(labels))) == 1
    type_key(panel, "u")
    type_key(panel, "Backspace")
    assert len(saved(labels)) == 1 and panel.session.current != first
    text = panel.keys.value
    panel.keys.value = text[:3] + "u" + text[3:]  # a key typed in the middle of the text
    assert saved(labels) == [] and panel.session.current == first
    type_key(panel, "x")
    assert "key x does nothing" in panel.status.value


def test_keys_that_reach_the_kernel_together_are_each_answered(panel):
    labels = panel.session.labels_path
    panel.keys.value = panel.keys.value + "202"  # three keys typed faster than one sync
    assert [r["label"] for r in saved(labels)] == ["1", "9", "1"]
    panel.keys.value = panel.keys.value[:-2]  # two Backspaces at once: two undos
    assert [r["label"] for r in saved(labels)] == ["1"]


def test_neighbours_guesses_and_the_estimate_follow_the_labels(panel):
    s = panel.session
    assert panel.neighbours.children == () and "not yet" in panel.accuracy.value
    assert "guesses of the model" in panel.guesses.value
    truth = np.arange(40) % 3
    for _ in range(12):
        panel.press(key_of(int(truth[s.current])))
    assert len(panel.neighbours.children) == 6
    panel.settle()  # the refit of the twelfth label redraws the guesses of the galaxy shown
    assert "guesses of the linear probe on 12 labels" in panel.guesses.value
    assert "Estimated accuracy: 1.00 ± 0.00 (" in panel.accuracy.value
    assert "on 12 labels" in panel.accuracy.value
    tiles = panel.neighbours.children
    panel.press(key_of(int(truth[s.current])))
    assert panel.neighbours.children == tiles  # the same widgets, refilled


def test_the_probe_learns_after_the_next_galaxy_is_shown(panel, monkeypatch):
    import threading

    import galaxy10.modeling.active as active
    import galaxy10.pipeline.labelling as labelling

    where, shown = [], []

    def spy(name, original):
        def spied(*args, **kwargs):
            where.append((name, threading.current_thread() is threading.main_thread(),
                          panel.session.current))
            return original(*args, **kwargs)
        return spied

    monkeypatch.setattr(active, "fit_probe", spy("fit", active.fit_probe))
    monkeypatch.setattr(labelling, "estimate_accuracy",
                        spy("estimate", labelling.estimate_accuracy))
    s = panel.session
    truth = np.arange(40) % 3
    for _ in range(6):  # two refits (every 3 labels)
        panel.press(key_of(int(truth[s.current])))
        shown.append(s.current)
        panel.settle()
    assert [name for name, _, _ in where] == ["fit", "estimate"] * 2
    assert not any(main for _, main, _ in where)  # never on the click's thread
    assert [on for _, _, on in where] == [shown[2]] * 2 + [shown[5]] * 2  # the next was shown
    assert not s.learning_due and "on 6 labels" in panel.accuracy.value
    assert s.learner == "the linear probe on 6 labels"
    assert s.current not in s.queue and not set(s.queue) & s.answered()


def test_labels_given_while_the_probe_learns_are_learned_from_next(panel, monkeypatch):
    import galaxy10.pipeline.labelling as labelling

    s = panel.session
    truth = np.arange(40) % 3
    learned, original = [], labelling.LabellingSession.learn

    def slow_learn(self, snapshot):
        if not learned:  # the first refit: three more labels are given before it ends
            for _ in range(3):
                panel.press(key_of(int(truth[s.current])))
        learned.append(len(snapshot.rows))
        return original(self, snapshot)

    monkeypatch.setattr(labelling.LabellingSession, "learn", slow_learn)
    for _ in range(3):
        panel.press(key_of(int(truth[s.current])))
    panel.settle()
    assert learned == [3, 6]  # the refit due meanwhile ran in the same thread, after
    assert s.learner == "the linear probe on 6 labels" and not s.learning_due
    assert not panel._learning


def test_pictures_are_encoded_once_and_ahead_of_the_click(panel):
    ahead = panel.session.upcoming(2)
    assert ahead and all(i in panel._png for i in ahead)
    reads = len(panel.reads)
    panel.press("1")
    assert panel.session.current == ahead[0]
    assert ahead[0] not in panel.reads[reads:]  # shown from the prepared picture


def test_every_galaxy_answered_disables_the_answers(tmp_path):
    cands = Candidates(("a", "b"), np.full((2, 10), 0.1), np.eye(2))
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    panel = LabellingPanel(LabellingSession(cands, tmp_path / "l.csv"), lambda i: images[i])
    panel.press("s")
    panel.press("s")
    assert panel.session.current is None and all(b.disabled for b in panel.class_buttons)
    assert "every galaxy is answered" in panel.press("2")
    panel.press("u")
    assert not panel.class_buttons[0].disabled


def test_a_label_another_panel_saved_first_is_said_not_lost(panel, tmp_path):
    other = LabellingSession(panel.session.candidates, panel.session.labels_path, who="bo",
                             refit_every=100)
    other.label(0)
    done = panel.press("1")
    assert done.startswith("not saved:") and "open the panel again" in done
    assert [r["who"] for r in saved(panel.session.labels_path)] == ["bo"]
    assert "not saved" in panel.status.value


def test_the_fine_tune_button_runs_train_on_the_labels_in_the_background(panel, monkeypatch,
                                                                         tmp_path):
    import sys

    import galaxy10.app.labelling as labelling

    command = labelling.fine_tune_command(panel.session.labels_path, panel.tuned)
    assert command[1:] == ["-m", "galaxy10", "train", "--init", "pretrained", "--data",
                           str(panel.session.labels_path), "--out", str(panel.tuned), "-q"]
    # a stand-in train: two lines, then the exit status a refusal has
    script = ("import sys; print('fine-tuning on 12 images'); "
              "print('error: labels.csv: --data: too little to train on'); sys.exit(2)")
    monkeypatch.setattr(labelling, "fine_tune_command",
                        lambda labels, out: [sys.executable, "-c", script])
    said = panel.fine_tune()
    assert said.startswith("fine-tuning on") and panel.tuned.name in said
    assert panel.fine_tune() == "already fine-tuning: it goes on while you label" or \
        not panel.job.running()
    panel.job.thread.join(timeout=60)
    assert "fine-tune stopped: error: labels.csv: --data: too little" in panel.tune_status.value
    ok = "print('saved m.keras (+ m.json); test accuracy 0.700')"
    monkeypatch.setattr(labelling, "fine_tune_command",
                        lambda labels, out: [sys.executable, "-c", ok])
    panel.fine_tune()
    panel.job.thread.join(timeout=60)
    assert "fine-tuned: saved m.keras" in panel.tune_status.value
    panel.press("1")  # labelling goes on
    assert len(saved(panel.session.labels_path)) == 1
