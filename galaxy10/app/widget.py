"""The "Show me a random galaxy" button: an ipywidgets panel for notebooks and Voilà.

One click picks a random *test* image (never a training image), shows the 256 px colour
cut-out, the true class, the model's prediction with its probability, a top-3 bar chart and a
running tally of right answers. A file-upload control classifies one's own JPEG/PNG with the
same preprocessing; a bad file gives a message in the panel, never a traceback.

"More like this" shows the :data:`NEIGHBOURS` test galaxies nearest to the one on screen (or
to the uploaded picture) in the model's embedding, with their true classes: the same held-out
rows the button draws from, never a training image. Their embeddings are computed on the first
click and stored beside the data (:func:`galaxy10.modeling.embeddings.embed_file`), so later
clicks, and later sessions with the same bundle, only search.

The model is loaded once, when the panel is built (:class:`~galaxy10.modeling.predict.Predictor`);
a click reads one image from the HDF5 file and runs one prediction.

Probabilities are the bundle's calibrated ones; below the bundle's threshold, or for a picture
that does not look like a galaxy cut-out, the panel says so (:mod:`galaxy10.modeling.verdict`). The
"show where the model looked" checkbox overlays the Grad-CAM map (:mod:`galaxy10.modeling.saliency`).
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from galaxy10.core.classes import CLASS_NAMES, source_label
from galaxy10.core.errors import Galaxy10Error
from galaxy10.datasets.images import png_bytes
from galaxy10.datasets.reader import Galaxy10File
from galaxy10.modeling.predict import Predictor

BUTTON_TEXT = "Show me a random galaxy"
MORE_TEXT = "More like this"
NEIGHBOURS = 8
"""Galaxies "More like this" shows."""
THUMBNAIL = 96
"""Side of a neighbour's thumbnail, in pixels."""


def placeholder_png(side: int = 256) -> bytes:
    """What the picture shows before the first galaxy: a dark square with a faint ring.

    An empty image widget is drawn by browsers as a broken-image icon; this is a picture of
    nothing in particular, in the colours of the sky the galaxies will be shown on.
    """
    yy, xx = np.mgrid[:side, :side]
    radius = np.hypot(yy - side / 2, xx - side / 2) / (side / 2)
    ring = np.exp(-(((radius - 0.45) / 0.04) ** 2)) * 40
    sky = (14 + ring).astype(np.uint8)
    return png_bytes(np.stack([sky, sky, (sky + 10).clip(0, 255).astype(np.uint8)], axis=-1))


def page_note(choice) -> str:
    """The default-model line the page shows: the model's name, never its folder on the
    server (a visitor of the served page sees cell outputs)."""
    if choice.shipped:
        return (f"using the model shipped with galaxy10 ({choice.path.name}, pre-trained on "
                "synthetic galaxies)")
    return f"using {choice.path.name}"


def top3_html(probs: np.ndarray, true_label: int | None = None) -> str:
    """A small HTML bar chart of the three most probable classes."""
    rows = []
    for k in np.argsort(-probs)[:3]:
        width = max(1.0, float(probs[k]) * 100)
        colour = "#2a7a2a" if true_label is not None and k == true_label else "#4c72b0"
        rows.append(
            f"<div style='display:flex;align-items:center;gap:6px;margin:2px 0'>"
            f"<span style='width:190px;font-size:12px'>{k} {html.escape(CLASS_NAMES[k])}</span>"
            f"<span style='display:inline-block;height:12px;width:{width * 1.6:.0f}px;"
            f"background:{colour}'></span>"
            f"<span style='font-size:12px'>{probs[k]:.0%}</span></div>")
    return "<div><b style='font-size:12px'>Top 3 probabilities</b>" + "".join(rows) + "</div>"


class GalaxyButton:
    """The prediction panel. Display ``panel.widget`` (or the object itself) in a notebook.

    Parameters
    ----------
    predictor : Predictor
        A loaded model bundle.
    galaxies : Galaxy10File
        The data file the test rows belong to.
    rows : ndarray of int
        Rows the button may show: the held-out test set.
    seed : int, default 0
        Seeds the sequence of random galaxies, so a lecture can replay it.

    Attributes
    ----------
    shown_index : int or None
        File row of the galaxy on screen; ``shown_true`` / ``shown_pred`` / ``shown_probs``
        describe it. ``right`` and ``total`` are the tally.
    """

    def __init__(self, predictor: Predictor, galaxies: Galaxy10File, rows: np.ndarray,
                 seed: int = 0) -> None:
        import ipywidgets as w

        self.predictor = predictor
        self.galaxies = galaxies
        self.rows = np.asarray(rows, dtype=np.int64)
        if self.rows.size == 0:
            raise ValueError("the button needs at least one test image")
        self.rng = np.random.default_rng(seed)
        self.right = 0
        self.total = 0
        self.shown_index: int | None = None
        self.shown_true: int | None = None
        self.shown_pred: int | None = None
        self.shown_probs: np.ndarray | None = None

        self.button = w.Button(description=BUTTON_TEXT, button_style="primary", icon="random",
                               layout=w.Layout(width="auto", min_width="240px"),
                               tooltip="Pick a random galaxy from the held-out test set")
        self.image = w.Image(value=placeholder_png(), format="png", width=256, height=256,
                             layout=w.Layout(width="256px", height="256px",
                                             border="1px solid #ccc"))
        self.result = w.HTML(value="<i>Press the button.</i>",
                             layout=w.Layout(min_width="320px"))
        self.bars = w.HTML()
        self.tally = w.HTML(value="Tally: 0 right of 0")
        self.upload = w.FileUpload(accept="image/*", multiple=False,
                                   description="Classify my own image",
                                   layout=w.Layout(width="auto", min_width="220px"))
        self.message = w.HTML()
        self.show_map = w.Checkbox(value=False, description="show where the model looked",
                                   indent=False, layout=w.Layout(width="auto"))
        self.shown_image: np.ndarray | None = None
        self.shown_verdict = None
        self.more = w.Button(description=MORE_TEXT, icon="search", disabled=True,
                             layout=w.Layout(width="auto", min_width="140px"),
                             tooltip=f"The {NEIGHBOURS} most similar galaxies of the test set")
        self.neighbours_title = w.HTML()
        self.neighbours = w.HBox(layout=w.Layout(flex_flow="row wrap"))
        #: file rows of the galaxies "More like this" shows (empty: none shown)
        self.neighbour_rows: list[int] = []
        self._similar = None  # (Embeddings, NeighbourIndex) of self.rows, made on first click
        source = html.escape(source_label(galaxies.source))
        header = w.HTML(f"<b>Model:</b> {html.escape(predictor.name)} &nbsp; "
                        f"<b>Data:</b> {source}, {self.rows.size:,} test images")
        self.button.on_click(self.show_random)
        self.upload.observe(self._on_upload, names="value")
        self.show_map.observe(lambda _change: self._draw(), names="value")
        self.more.on_click(self.show_neighbours)
        right_panel = w.VBox([self.result, self.bars, self.tally],
                             layout=w.Layout(padding="0 0 0 12px"))
        self.widget = w.VBox([header, w.HBox([self.button, self.upload, self.show_map]),
                              w.HBox([self.image, right_panel]), self.message,
                              w.HBox([self.more, self.neighbours_title]), self.neighbours])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    # -- actions ---------------------------------------------------------------------------
    def _draw(self) -> None:
        """Show the current cut-out, with the Grad-CAM overlay when the checkbox is on."""
        if self.shown_image is None:
            return
        image = self.shown_image
        if self.show_map.value:
            from galaxy10.modeling.saliency import predictor_overlay

            image = predictor_overlay(self.predictor, image)
        self.image.value = png_bytes(image)

    def _verdict_html(self, image: np.ndarray, probs: np.ndarray) -> str:
        from galaxy10.modeling.verdict import NOT_A_CUTOUT, OK, judge

        self.shown_verdict = verdict = judge(probs, image, self.predictor.threshold)
        if verdict.flag == OK:
            return ""
        colour = "#b22222" if verdict.flag == NOT_A_CUTOUT else "#b8860b"
        return (f"<br><b style='color:{colour}'>{html.escape(verdict.flag)}</b> "
                f"<span style='color:#666;font-size:12px'>({html.escape(verdict.reason)})</span>")

    def show_random(self, _button=None) -> int:
        """Show a random test galaxy with the model's prediction; returns its file row."""
        index = int(self.rng.choice(self.rows))
        image = self.galaxies.image(index)
        probs = self.predictor.predict_proba(image[None])[0]
        true = int(self.galaxies.labels[index])
        pred = int(np.argmax(probs))
        self.total += 1
        self.right += int(pred == true)
        self.shown_index, self.shown_true, self.shown_pred, self.shown_probs = (
            index, true, pred, probs)
        verdict = ("<span style='color:#2a7a2a'>&#10004; right</span>" if pred == true else
                   "<span style='color:#b22222'>&#10008; wrong</span>")
        self.shown_image = image
        self._draw()
        self.result.value = (
            f"<div style='font-size:14px;line-height:1.6'>"
            f"<b>True class:</b> {true} {html.escape(CLASS_NAMES[true])}<br>"
            f"<b>Predicted:</b> {pred} {html.escape(CLASS_NAMES[pred])} "
            f"({probs[pred]:.0%}) {verdict}{self._verdict_html(image, probs)}<br>"
            f"<span style='color:#666;font-size:12px'>test image, file row {index}</span></div>")
        self.bars.value = top3_html(probs, true)
        self.tally.value = (f"Tally: <b>{self.right} right of {self.total}</b> "
                            f"({self.right / self.total:.0%})")
        self.message.value = ""
        self._new_query()
        return index

    def classify_bytes(self, content: bytes, name: str = "upload") -> np.ndarray | None:
        """Classify an uploaded picture; show a message instead if it cannot be read."""
        from galaxy10.datasets.images import load_cutout

        try:
            image = load_cutout(content, name)
        except Galaxy10Error as exc:
            self.message.value = (f"<span style='color:#b22222'>Could not classify "
                                  f"{html.escape(name)}: {html.escape(exc.fault)}. "
                                  "Upload a JPEG or PNG picture of a galaxy.</span>")
            return None
        probs = self.predictor.predict_proba(image[None])[0]
        pred = int(np.argmax(probs))
        self.shown_index = None  # the picture on screen is the upload
        self.shown_image = image
        self._draw()
        self.result.value = (
            f"<div style='font-size:14px;line-height:1.6'><b>Your image:</b> "
            f"{html.escape(name)}<br><b>Predicted:</b> {pred} {html.escape(CLASS_NAMES[pred])} "
            f"({probs[pred]:.0%}){self._verdict_html(image, probs)}<br>"
            f"<span style='color:#666;font-size:12px'>resized to "
            f"256 x 256; true class unknown</span></div>")
        self.bars.value = top3_html(probs)
        self.message.value = ""
        self._new_query()
        return probs

    # -- "More like this" ------------------------------------------------------------------
    def _new_query(self) -> None:
        """A new galaxy is on screen: the neighbours shown belong to the old one."""
        self.more.disabled = False
        self.neighbour_rows = []
        self.neighbours.children = ()
        self.neighbours_title.value = ""

    def similarity_index(self):
        """``(embeddings, index)`` of the button's test rows, computed on first use."""
        if self._similar is None:
            from galaxy10.evaluation.similarity import NeighbourIndex
            from galaxy10.modeling.embeddings import embed_file

            emb = embed_file(self.predictor, self.galaxies.path, rows=self.rows)
            self._similar = emb, NeighbourIndex(emb.vectors)
        return self._similar

    def show_neighbours(self, _button=None) -> list[int]:
        """Show the test galaxies nearest to the one on screen; returns their file rows.

        A test galaxy's own stored vector is the query and it is left out of its neighbours;
        an uploaded picture is embedded now, with the bundle's views.
        """
        import ipywidgets as w

        if self.shown_image is None:
            return []
        emb, index = self.similarity_index()
        if self.shown_index is not None:
            pos = int(np.flatnonzero(emb.rows == self.shown_index)[0])
            query, exclude = emb.vectors[pos], [pos]
            what = f"test galaxy {self.shown_index}"
        else:
            _, query = self.predictor.predict_and_embed(self.shown_image[None], views=emb.views)
            exclude, what = None, "your image"
        nn, dist = index.query(query, NEIGHBOURS, exclude=exclude)
        rows = [int(emb.rows[i]) for i in nn[0]]
        images = self.galaxies.read(np.asarray(rows))
        tiles = []
        for image, i, d in zip(images, nn[0], dist[0], strict=True):
            label = int(emb.labels[i])
            thumb = w.Image(value=png_bytes(_thumbnail(image)), format="png", width=THUMBNAIL,
                            height=THUMBNAIL)
            thumb.add_class("galaxy10-neighbour")
            caption = w.HTML(f"<div style='width:{THUMBNAIL}px;font-size:11px;line-height:1.2'>"
                             f"{label} {html.escape(CLASS_NAMES[label])}<br>"
                             f"<span style='color:#666'>distance {d:.3f}</span></div>")
            tiles.append(w.VBox([thumb, caption], layout=w.Layout(margin="2px 4px")))
        self.neighbours.children = tuple(tiles)
        self.neighbours_title.value = (
            f"<span style='font-size:13px'>&nbsp;The {len(rows)} test galaxies most like "
            f"{what} (true classes; cosine distance in the model's embedding)</span>")
        self.neighbour_rows = rows
        return rows

    def _on_upload(self, change) -> None:
        upload = first_upload(change["new"])
        if upload is None:
            return
        content, name = upload
        if not content:
            self.message.value = (f"<span style='color:#b22222'>Could not classify "
                                  f"{html.escape(name)}: the upload holds no picture (it may "
                                  "not have finished). Upload the JPEG or PNG again.</span>")
            return
        self.classify_bytes(content, name)


def _thumbnail(image: np.ndarray) -> np.ndarray:
    """A :data:`THUMBNAIL` px copy of a cut-out, for the neighbour gallery."""
    import cv2

    return cv2.resize(np.ascontiguousarray(image), (THUMBNAIL, THUMBNAIL),
                      interpolation=cv2.INTER_AREA)


def first_upload(value) -> tuple[bytes | None, str] | None:
    """``(content, name)`` of the first file in a ``FileUpload`` value, or None if empty.

    ipywidgets 8 gives a tuple of dicts with ``name`` and ``content``; ipywidgets 7, which
    Google Colab ships, gives a dict ``{name: {"metadata": {...}, "content": bytes}}``.
    Both work, so the button runs in Colab without upgrading its ipywidgets. An entry
    without content (an upload that did not finish, a front end that sends only the file's
    details) gives ``(None, name)``, for the widget to say so instead of raising.
    """
    if not value:
        return None
    if isinstance(value, Mapping):
        name, item = next(iter(value.items()))
        details = item.get("metadata") if isinstance(item, Mapping) else None
        name = details.get("name", name) if isinstance(details, Mapping) else name
    else:
        item = next(iter(value), None)
        name = item.get("name", "upload") if isinstance(item, Mapping) else "upload"
    content = item.get("content") if isinstance(item, Mapping) else None
    buffer = isinstance(content, (bytes, bytearray, memoryview))  # bytes(12) is 12 zeros
    return (bytes(content) if buffer else None), str(name)


def button_from_model(model_path: str | os.PathLike[str] | None = None, seed: int = 0,
                      data: str | os.PathLike[str] | None = None) -> GalaxyButton:
    """Build the panel from a saved model bundle alone (what the served page does).

    The galaxies come from ``data``, else the file the bundle's JSON names when it is here,
    else the data folder's file (:func:`galaxy10.datasets.fetch.resolve_data`, as the
    notebooks choose it). The button draws only rows the model never trained on: the
    bundle's recorded test rows when the galaxies are its own data file, else the held-out
    rows of that file's splits (saved ``splits.npz`` beside the model, or made now: the same
    rows whoever makes them).

    Parameters
    ----------
    model_path : path-like, optional
        Default: the user's ``models/galaxy_cnn.keras``, else the bundle shipped with galaxy10
        (:func:`galaxy10.modeling.shipped.default_model`, said in one line).
    seed : int
        Seeds the sequence of random galaxies.
    data : path-like, "auto", "real" or "synthetic", optional
        The galaxies to draw from.
    """
    from galaxy10.core.errors import MissingStepError
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.datasets.resample import make_splits
    from galaxy10.modeling.shipped import default_model
    from galaxy10.pipeline.session import load_splits

    if model_path:
        model_path = Path(model_path)
    else:
        choice = default_model()
        model_path = choice.path
        print(f"[galaxy10] button: {page_note(choice)}", flush=True)
    predictor = Predictor(model_path)
    own = predictor.bundle.data.path if predictor.bundle.data else None
    if data is None and own and Path(own).is_file():
        data = own
    galaxies = Galaxy10File(resolve_data(data))
    own_file = bool(own) and Path(own).is_file() and Path(own).samefile(galaxies.path)
    if own_file and predictor.bundle.test_rows:  # bundles made by train_bundle
        return GalaxyButton(predictor, galaxies, np.asarray(predictor.bundle.test_rows),
                            seed=seed)
    try:  # the splits saved beside the model, when they are this file's
        test = load_splits(model_path.parent / "splits.npz", galaxies.labels).test
    except MissingStepError:  # none, or another file's: the same rows, made now
        test = make_splits(galaxies.labels).test
    return GalaxyButton(predictor, galaxies, test, seed=seed)
