"""The labelling panel: one galaxy at a time, one click or one key per answer.

It draws a :class:`~galaxy10.pipeline.labelling.LabellingSession` (which suggests, saves after
every answer, undoes and learns): the galaxy large, the three classes the model (or, once it
has refitted, the linear probe) finds most likely, the labelled galaxies nearest to it in the
embedding as thumbnails, a button per class and skip, "not a galaxy" and undo, the labels per
class and the estimated accuracy.

Keys: ipywidgets has no page-wide key events, so the panel has a small key box (a
``Text`` field): with it focused, ``1``-``9`` answer the first nine classes, ``0`` the
tenth, ``s`` skips, ``n`` is "not a galaxy", ``u`` or Backspace undoes. The box starts with a
few marker characters (:data:`MARKER`) and keeps what is typed, so that Backspace, which
deletes one, is a change the kernel sees (``u`` always works). It works in Jupyter, Colab and
Voilà alike.

A click runs no model: the probabilities and embeddings were computed when the session's
galaxies were drawn; the pictures are encoded on first use and the next suggestions' ahead
of time, and the neighbours' thumbnails reuse their widgets, so the next galaxy shows at once.
Every few labels the probe learns, after the next galaxy is shown, in a background thread:
it refits on the labels so far, re-ranks the suggestions that follow and redraws the guesses
of the galaxy on screen; then its cross-validated accuracy estimate (five more fits) updates
the estimate's line (:meth:`LabellingPanel.settle` waits for it). So the galaxy shown right
after a refit's label is still the previous ranking's choice; every later one is the
refitted probe's.

"Fine-tune on these labels" runs the full fine-tune in the background, as its own process:
``python -m galaxy10 train --init pretrained --data <labels> --out <models>/<labels>_finetuned.keras``
(:func:`fine_tune_command`, the ``train`` command's one workflow), while labelling goes on;
its progress and its last line (the saved model and its held-out score, or why it refused)
show under the button.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, N_CLASSES
from galaxy10.datasets.images import png_bytes
from galaxy10.pipeline.labelling import LabellingSession

KEYS: dict[str, int | str] = {**{str(k + 1): k for k in range(9)}, "0": 9, "s": "skip",
                              "n": "not a galaxy", "u": "undo", "backspace": "undo"}
"""What each key does: a class number, or an action."""
MARKER = "»" * 8
"""The key box's first content (see the module's description)."""
SIDE = 320
"""Side of the galaxy on screen, in pixels."""
THUMB = 72
"""Side of a neighbour's thumbnail."""
NEIGHBOURS = 6
AHEAD = 2
"""Suggestions whose pictures are encoded before they are shown."""


def fine_tune_command(labels: str | os.PathLike[str], out: str | os.PathLike[str]) -> list[str]:
    """The command the fine-tune button runs: ``train --init pretrained`` on the labels CSV."""
    return [sys.executable, "-m", "galaxy10", "train", "--init", "pretrained", "--data",
            os.fspath(labels), "--out", os.fspath(out), "-q"]


class FineTuneJob:
    """One background fine-tune: a ``train`` process whose output lines reach ``on_line``.

    ``on_line(text, code)`` is called from a reader thread with each non-empty line
    (``code`` None) and, at the end, with the last line and the exit status.
    """

    def __init__(self, on_line: Callable[[str, int | None], None]) -> None:
        self.on_line = on_line
        self.process: subprocess.Popen | None = None
        self.thread: threading.Thread | None = None

    def running(self) -> bool:
        """Whether a fine-tune started here is still running."""
        return self.process is not None and self.process.poll() is None

    def start(self, command: list[str]) -> None:
        """Start ``command``, its output followed by a daemon thread."""
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.thread = threading.Thread(target=self._follow, args=(self.process,), daemon=True)
        self.thread.start()

    def _follow(self, process: subprocess.Popen) -> None:
        last = ""
        for line in process.stdout:
            if line.strip():
                last = line.strip()
                self.on_line(last, None)
        self.on_line(last, process.wait())


def key_of(label: int) -> str:
    """The key that answers class ``label``."""
    return str((label + 1) % 10)


class LabellingPanel:
    """The panel; display ``panel.widget`` (or the object itself) in a notebook.

    Parameters
    ----------
    session : LabellingSession
    image : callable
        ``image(i)``: candidate ``i``'s uint8 cut-out.
    what : str
        The data and model, for the header (no folder of the server).
    tuned : path-like, optional
        Where the fine-tune button saves its model (default
        ``<models>/<labels name>_finetuned.keras``).
    """

    def __init__(self, session: LabellingSession, image: Callable[[int], np.ndarray],
                 what: str = "", tuned: str | os.PathLike[str] | None = None) -> None:
        import ipywidgets as w

        self.session = session
        session.defer_learning = True  # the next galaxy first, the refit after
        self._lock = threading.Lock()  # the session, between a click and the learning thread
        self._learner: threading.Thread | None = None
        self._learning = False  # a learning thread is at work (set and cleared under the lock)
        if tuned is None:
            from galaxy10.core.paths import get_models_home

            tuned = get_models_home() / f"{session.labels_path.stem}_finetuned.keras"
        self.tuned = Path(tuned)
        self.tune_status = w.HTML()
        self.job = FineTuneJob(self._on_tune_line)
        self.tune_button = w.Button(description="Fine-tune on these labels",
                                    icon="graduation-cap", layout=w.Layout(width="auto"))
        self.tune_button.on_click(lambda _b: self.fine_tune())
        self.read_image = image
        self._png: dict[int, bytes] = {}
        self._thumbs: dict[int, bytes] = {}
        self.image = w.Image(format="png", width=SIDE, height=SIDE,
                             layout=w.Layout(width=f"{SIDE}px", height=f"{SIDE}px",
                                             border="1px solid #ccc"))
        self.image.add_class("galaxy10-galaxy")  # the page's galaxy, for a browser to find
        self.caption = w.HTML()
        self.caption.add_class("galaxy10-caption")  # its id
        self.guesses = w.HTML(layout=w.Layout(min_width="340px"))
        self.neighbours = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        self._tiles = [self._tile(w) for _ in range(NEIGHBOURS)]
        self.class_buttons = []
        for label in range(N_CLASSES):
            button = w.Button(description=f"{key_of(label)} · {CLASS_NAMES[label]}",
                              tooltip=f"class {label}: {CLASS_NAMES[label]} "
                                      f"(key {key_of(label)})",
                              layout=w.Layout(width="230px"))
            button.on_click(lambda _b, label=label: self.press(key_of(label)))
            self.class_buttons.append(button)
        self.skip_button = self._action_button(w, "s · skip", "s", "forward")
        self.reject_button = self._action_button(w, "n · not a galaxy", "n", "ban")
        self.undo_button = self._action_button(w, "u · undo", "u", "undo")
        self.keys = w.Text(value=MARKER, description="Keys:", continuous_update=True,
                           placeholder="click here, then type 1-9, 0, s, n, u",
                           layout=w.Layout(width="260px"))
        self.keys.add_class("galaxy10-keys")
        self.keys.observe(self._on_keys, names="value")
        self.counts = w.HTML()
        self.accuracy = w.HTML()
        self.status = w.HTML()
        self.status.add_class("galaxy10-status")  # what the last key did
        header = w.HTML(f"<b>Label galaxies</b> &nbsp; {html.escape(what)} &nbsp; "
                        f"<b>Labels:</b> {html.escape(session.labels_path.name)} "
                        f"(as {html.escape(session.who)})")
        help_line = w.HTML("<span style='font-size:12px;color:#666'>Keys (click the key box "
                           "first): 1-9 and 0 the classes as numbered on the buttons, s skip, "
                           "n not a galaxy, u or Backspace undo.</span>")
        grid = w.GridBox(self.class_buttons, layout=w.Layout(
            grid_template_columns="repeat(2, 235px)", grid_gap="2px"))
        side = w.VBox([self.caption, self.guesses, grid,
                       w.HBox([self.skip_button, self.reject_button, self.undo_button]),
                       self.keys, help_line], layout=w.Layout(padding="0 0 0 12px"))
        nearest = w.HTML("<b style='font-size:13px'>Nearest labelled galaxies</b>")
        self.widget = w.VBox([header, w.HBox([self.image, side]), self.status, self.accuracy,
                              self.counts, w.HBox([self.tune_button, self.tune_status]),
                              nearest, self.neighbours])
        self.show()

    @staticmethod
    def _tile(w):
        """A neighbour's thumbnail and caption, made once and refilled on every click."""
        thumb = w.Image(format="png", width=THUMB, height=THUMB)
        thumb.add_class("galaxy10-neighbour")
        return w.VBox([thumb, w.HTML()], layout=w.Layout(margin="2px 4px"))

    def _action_button(self, w, text: str, key: str, icon: str):
        button = w.Button(description=text, icon=icon, layout=w.Layout(width="auto"))
        button.on_click(lambda _b: self.press(key))
        return button

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- answering ---------------------------------------------------------------------------
    def press(self, key: str) -> str:
        """Do what ``key`` (:data:`KEYS`) means; returns what was done, or why nothing was."""
        from galaxy10.pipeline.labelling import LabelsChangedError

        with self._lock:
            try:
                done = self._do(key)
            except LabelsChangedError as exc:  # another panel saved to the file: nothing lost
                done = f"not saved: {exc}"
            self.show(done)
            self._learn_after()
        return done

    # -- learning, after the next galaxy is shown ---------------------------------------------
    def _learn_after(self) -> None:
        """Start the refit the last answer made due, in the background: one thread at a
        time, which learns again before it ends if another refit fell due meanwhile. Called
        with the lock held."""
        if not self.session.learning_due or self._learning:
            return
        self._learning = True
        self._learner = threading.Thread(target=self._learn, args=(self.session.snapshot(),),
                                         daemon=True)
        self._learner.start()

    def _learn(self, snapshot) -> None:
        s = self.session
        try:
            while True:
                learned = s.learn(snapshot)
                with self._lock:
                    s.adopt(learned)
                    if s.current is not None:
                        self.guesses.value = self._guesses(s.current)
                    upcoming = s.upcoming(AHEAD)
                for j in upcoming:
                    self.png(j)
                self.accuracy.value = html.escape(s.estimate.line())
                with self._lock:
                    if not s.learning_due:
                        self._learning = False
                        return
                    snapshot = s.snapshot()
        except BaseException:
            with self._lock:
                self._learning = False
            raise

    def settle(self, timeout: float | None = None) -> None:
        """Wait for the probe's refit and estimate running in the background, if any."""
        if self._learner is not None:
            self._learner.join(timeout)

    def _do(self, key: str) -> str:
        """The answer or undo ``key`` stands for, done; what was done, in words."""
        what = KEYS.get(key.lower())
        s = self.session
        if what is None:
            done = f"key {key} does nothing (1-9, 0, s, n, u or Backspace)"
        elif what == "undo":
            answer = s.undo()
            done = "nothing to undo" if answer is None else (
                f"undone: {_said(answer)} for {answer.ident or answer.file}")
        elif s.current is None:
            done = "every galaxy is answered"
        else:
            ident = s.candidates.ids[s.current]
            answer = (s.label(what) if isinstance(what, int) else
                      s.skip() if what == "skip" else s.not_a_galaxy())
            done = f"saved: {_said(answer)} for {ident}"
        return done

    def _on_keys(self, change) -> None:
        """Keys typed in the key box: each character it added, in order, or one Backspace per
        character it lost. A fast typist's keys can reach the kernel as one change of several
        characters, so every one is answered. The kernel never rewrites the box, so its text
        and the browser's cannot disagree (a rewrite racing the next key would lose that
        key)."""
        old, new = change["old"] or "", change["new"] or ""
        if len(new) < len(old):
            keys = ["backspace"] * (len(old) - len(new))
        else:
            start = len(os.path.commonprefix([old, new]))
            keys = list(new[start:start + len(new) - len(old)])
        for key in keys:
            self.press(key)

    # -- fine-tuning -------------------------------------------------------------------------
    def fine_tune(self) -> str:
        """Start the full fine-tune on the labels saved so far (one at a time)."""
        if self.job.running():
            said = "already fine-tuning: it goes on while you label"
        else:
            self.job.start(fine_tune_command(self.session.labels_path, self.tuned))
            said = (f"fine-tuning on {sum(self.session.counts().values())} labels into "
                    f"{self.tuned.name} (minutes on a CPU; keep labelling)")
        self._tune_said(said)
        return said

    def _on_tune_line(self, text: str, code: int | None) -> None:
        if code is None:
            self._tune_said(f"fine-tuning: {text}")
        elif code == 0:
            self._tune_said(f"fine-tuned: {text}")
        else:
            self._tune_said(f"fine-tune stopped: {text}")

    def _tune_said(self, text: str) -> None:
        self.tune_status.value = f"<span style='font-size:12px'>{html.escape(text)}</span>"

    # -- drawing -----------------------------------------------------------------------------
    def png(self, index: int) -> bytes:
        """Candidate ``index``'s picture, encoded once."""
        if index not in self._png:
            self._png[index] = png_bytes(self.read_image(index))
        return self._png[index]

    def thumbnail(self, index: int) -> bytes:
        if index not in self._thumbs:
            import cv2

            small = cv2.resize(np.ascontiguousarray(self.read_image(index)), (THUMB, THUMB),
                               interpolation=cv2.INTER_AREA)
            self._thumbs[index] = png_bytes(small)
        return self._thumbs[index]

    def show(self, done: str = "") -> None:
        """Draw the galaxy on screen, its guesses and neighbours, the counts and the estimate;
        then encode the next suggestions' pictures."""
        s = self.session
        i = s.current
        buttons = [*self.class_buttons, self.skip_button, self.reject_button]
        for b in buttons:
            b.disabled = i is None
        if i is None:
            self.caption.value = "<b>Every galaxy here is answered.</b> Undo to change one."
            self.guesses.value = ""
            self.neighbours.children = ()
        else:
            self.image.value = self.png(i)
            self.caption.value = (f"<span style='font-size:13px'>{html.escape(s.candidates.ids[i])}"
                                  "</span>")
            self.guesses.value = self._guesses(i)
            self._draw_neighbours(i)
        labelled = sum(s.counts().values())
        self.counts.value = ("<span style='font-size:12px'><b>Labels per class:</b> " +
                             ", ".join(f"{CLASS_NAMES[c]} <span class='galaxy10-count'>{k}"
                                       "</span>" for c, k in s.counts().items()) +
                             f" &nbsp; (<b>{labelled}</b> in all)</span>")
        self.accuracy.value = html.escape(s.estimate.line())
        self.status.value = f"<span style='font-size:12px'>{html.escape(done)}</span>"
        for j in s.upcoming(AHEAD):
            self.png(j)

    def _guesses(self, index: int) -> str:
        """The top-3 guesses for candidate ``index``, and whose they are."""
        from galaxy10.app.widget import top3_html

        s = self.session
        return (top3_html(s.probs[index]) + "<span style='font-size:11px;color:#666'>guesses "
                f"of {html.escape(s.learner)}</span>")

    def _draw_neighbours(self, index: int) -> None:
        found = self.session.neighbours(index, NEIGHBOURS)
        for tile, (j, label, dist) in zip(self._tiles, found, strict=False):
            thumb, caption = tile.children
            thumb.value = self.thumbnail(j)
            caption.value = (f"<div style='width:{THUMB + 20}px;font-size:11px;line-height:1.2'>"
                             f"{html.escape(CLASS_NAMES[label])}<br><span style='color:#666'>"
                             f"distance {dist:.2f}</span></div>")
        self.neighbours.children = tuple(self._tiles[:len(found)])


def _said(answer) -> str:
    return (f"{answer.label} {CLASS_NAMES[answer.label]}" if answer.label is not None
            else answer.decision)


def labelling_from_model(model: str | os.PathLike[str] | None = None,
                         data: str | os.PathLike[str] | None = None,
                         labels: str | os.PathLike[str] = "labels.csv", *,
                         who: str | None = None, n: int | None = None, seed: int = 0,
                         refit_every: int | None = None,
                         models_dir: str | os.PathLike[str] | None = None) -> LabellingPanel:
    """The panel on a model's answers about some data (what notebook 07 and the served page
    open).

    Parameters
    ----------
    model, data, n, seed, models_dir
        As :func:`galaxy10.pipeline.label_sources.label_source` (``n`` None: its default).
    labels : path-like
        The labels CSV (resumed when it exists; checked before the model runs).
    who : str, optional
        Who labels (default: the login name).
    refit_every : int, optional
        Labels between refits of the linear probe (None: the session's default).
    """
    from galaxy10.pipeline.label_sources import DEFAULT_N, label_source
    from galaxy10.pipeline.labelling import REFIT_EVERY, decisions_path, read_answers

    labels = os.path.expanduser(labels)
    for path, skips in ((labels, False), (decisions_path(labels), True)):
        if os.path.exists(path):  # a broken file is refused before the model's minutes
            read_answers(path, decisions=skips)
    source = label_source(model, data, n=n or DEFAULT_N, seed=seed, models_dir=models_dir)
    session = LabellingSession(source.candidates, labels, who=who, seed=seed,
                               refit_every=refit_every or REFIT_EVERY,
                               cutout=source.image)
    return LabellingPanel(session, source.image, f"{source.what} · model {source.model}")
