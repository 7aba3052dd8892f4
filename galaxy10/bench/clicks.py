"""How long the labelling panel takes from a click to the next galaxy on screen.

:func:`bench_clicks` opens the panel of notebook 07 and the served label page
(:class:`galaxy10.app.labelling.LabellingPanel`) on real images, with a fresh labels CSV in a
temporary folder, and answers ``clicks`` suggestions with their true class, as a labeller
would. Each answer is timed from the click handler's start to the end of its redraw: the save
(atomic, under the file's lock) and the redraw of the next galaxy, its guesses and its
labelled neighbours. Every ``refit_every`` labels the probe's refit, its re-rank and the
accuracy estimate follow in the background, after the next galaxy is shown (they compete
for the cores with the next clicks, as they do for a user); ``refit`` times the answers that
start them. That is the kernel's share of a click. What the browser adds (one websocket
message each way and drawing a PNG) is not in it.

:func:`bench_browser_clicks` times the whole of it, as a user sees it: it serves the labelling
page as a user does (``python -m galaxy10 app --page label``, every image of the file drawn,
a fresh labels CSV in a temporary folder), opens it in headless Chromium (Playwright) and
answers ``clicks`` suggestions with their true class by clicking the class's button. Each
answer is timed in the page, with ``performance.now()``, from the click's dispatch (a
capturing listener) to the moment the next galaxy's picture is in the DOM (a
``MutationObserver`` on its ``src``) and decoded (``img.decode()``): the websocket message to
the kernel, the kernel's share above, the messages back and the PNG's decoding. The paint
that follows (one frame) is not in it.
"""

from __future__ import annotations

import csv
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CLICKS = 60
"""Default answers timed."""
PAGE_TIMEOUT_S = 600
"""Most seconds the served page may take to open (its kernel runs the model over every image
first) and an answer to show the next galaxy."""
_ARM = """timeout => {
  const galaxy = () => document.querySelector('img.galaxy10-galaxy');
  const before = galaxy().getAttribute('src');
  let start = null;
  window.__galaxy10Click = new Promise((resolve, reject) => {
    window.addEventListener('click', () => { start = performance.now(); },
                            {capture: true, once: true});
    const give_up = setTimeout(() => reject(new Error('no next galaxy')), timeout);
    const observer = new MutationObserver(() => {
      const img = galaxy();
      if (start === null || !img || img.getAttribute('src') === before) return;
      observer.disconnect();
      img.decode().then(() => { clearTimeout(give_up); resolve(performance.now() - start); },
                        reject);
    });
    observer.observe(document.body, {subtree: true, childList: true, attributes: true,
                                     attributeFilter: ['src']});
  });
}"""
"""Arms the timing of the next click (see the module's description); the page's
``window.__galaxy10Click`` then resolves to its milliseconds."""
_SHOWN = """before => {
  const caption = document.querySelector('.galaxy10-caption');
  const status = document.querySelector('.galaxy10-status');
  const img = document.querySelector('img.galaxy10-galaxy');
  const shown = caption ? caption.innerText.trim() : '';
  return img && img.getAttribute('src') && shown && shown !== before &&
    (before === '' || (status && status.innerText.trim().endsWith(' for ' + before)));
}"""
"""True once the page shows a galaxy other than ``before`` and says ``before``'s answer was
saved (the last thing a click redraws)."""


def _quantiles(seconds: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of ``seconds``, in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    if not ms.size:
        return {}
    return {"n": int(ms.size), "median_ms": float(np.median(ms)),
            "p95_ms": float(np.percentile(ms, 95)), "max_ms": float(ms.max())}


def bench_clicks(real_h5: str | os.PathLike[str], probs: np.ndarray, vectors: np.ndarray, *,
                 clicks: int = CLICKS, seed: int = 0) -> dict[str, Any]:
    """Time ``clicks`` answers in the labelling panel (see the module's description).

    Parameters
    ----------
    real_h5 : path-like
        A Galaxy10 ``.h5`` of labelled images; each suggestion is answered with its label.
    probs, vectors : ndarray
        The model's calibrated probabilities (n, 10) and embeddings (n, d) of every image,
        as the panel's candidates carry them.
    clicks : int, default :data:`CLICKS`
        Answers to time, at most the images.
    seed : int, default 0
        The session's seed (ranking, probe, folds).

    Returns
    -------
    dict
        ``all``, ``plain`` (answers without a refit) and ``refit`` (answers that started the
        probe's refit in the background): ``n``, ``median_ms``, ``p95_ms`` and ``max_ms`` of
        each; the settings; and what the timing covers.
    """
    from galaxy10.app.labelling import LabellingPanel, key_of
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.pipeline.labelling import Candidates, LabellingSession

    with Galaxy10File(real_h5) as f, tempfile.TemporaryDirectory() as tmp:
        y = f.labels.astype(np.int64)
        if not 1 <= clicks <= len(y):
            raise ValueError(f"clicks must be 1 to {len(y)} (the images), got {clicks}")
        candidates = Candidates(tuple(f"row:{i}" for i in range(len(y))), probs, vectors)
        session = LabellingSession(candidates, os.path.join(tmp, "labels.csv"), who="bench",
                                   seed=seed, cutout=f.image)
        panel = LabellingPanel(session, f.image, "bench active", tuned=os.path.join(
            tmp, "tuned.keras"))
        plain: list[float] = []
        refit: list[float] = []
        for _ in range(clicks):
            if session.current is None:
                break
            refits = session.since_refit + 1 >= session.refit_every
            clock = time.perf_counter()
            panel.press(key_of(int(y[session.current])))
            (refit if refits else plain).append(time.perf_counter() - clock)
        panel.settle()  # the last estimate, before its folder goes
        saved = sum(session.counts().values())
    return {"clicks": len(plain) + len(refit), "saved": int(saved),
            "refit_every": session.refit_every, "all": _quantiles(plain + refit),
            "plain": _quantiles(plain), "refit": _quantiles(refit),
            "covers": "the kernel's share of a click: save and redraw (every few labels the "
                      "probe's refit, re-rank and accuracy estimate run after, in the "
                      "background); not the browser's round trip"}


def _answer_in_page(page, y: np.ndarray, clicks: int, refit_every: int
                    ) -> tuple[list[float], list[float]]:
    """Answer ``clicks`` suggestions of the open page with their class ``y[row]`` (the row is
    in the caption, ``<file>:<row>``); the seconds of the answers without and with a refit."""
    from galaxy10.app.labelling import key_of
    from galaxy10.core.classes import CLASS_NAMES

    wait_ms = PAGE_TIMEOUT_S * 1000
    page.wait_for_function(_SHOWN, arg="", timeout=wait_ms)
    plain: list[float] = []
    refit: list[float] = []
    for k in range(1, clicks + 1):
        shown = page.locator(".galaxy10-caption").inner_text().strip()
        label = int(y[int(shown.rpartition(":")[2])])
        page.evaluate(_ARM, wait_ms)
        page.get_by_role("button", name=f"{key_of(label)} · {CLASS_NAMES[label]}",
                         exact=True).click(timeout=wait_ms)
        ms = page.evaluate("() => window.__galaxy10Click")
        (refit if k % refit_every == 0 else plain).append(ms / 1000.0)
        page.wait_for_function(_SHOWN, arg=shown, timeout=wait_ms)
    return plain, refit


def bench_browser_clicks(real_h5: str | os.PathLike[str], model: str | os.PathLike[str], *,
                         clicks: int = CLICKS, seed: int = 0) -> dict[str, Any]:
    """Time ``clicks`` answers in the served labelling page, in headless Chromium (see the
    module's description).

    Parameters
    ----------
    real_h5 : path-like
        A Galaxy10 ``.h5`` of labelled images; every row is drawn by the page, and each
        suggestion is answered with its label.
    model : path-like
        The bundle the page runs over the images (``app --model``).
    clicks : int, default :data:`CLICKS`
        Answers to time, fewer than the images (each shows a next galaxy).
    seed : int, default 0
        The page's seed (``app --seed``: ranking, probe, folds).

    Returns
    -------
    dict
        ``all``, ``plain`` (answers without a refit) and ``refit`` (answers that started the
        probe's refit in the background): ``n``, ``median_ms``, ``p95_ms`` and ``max_ms`` of
        each; ``saved`` (rows of the labels CSV at the end), the galaxies the page drew, the
        settings; and what the timing covers.

    Raises
    ------
    ValueError
        When ``clicks`` is not from 1 to the images less one.
    RuntimeError
        When the page cannot be served (with the command's stderr).
    """
    from playwright.sync_api import sync_playwright

    import galaxy10
    from galaxy10.bench.browser import CHROMIUM, CHROMIUM_ARGS, AppProcess, free_port
    from galaxy10.core.paths import project_root
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.pipeline.labelling import REFIT_EVERY

    with Galaxy10File(real_h5) as f:
        y = f.labels.astype(np.int64)
    if not 1 <= clicks < len(y):
        raise ValueError(f"clicks must be 1 to {len(y) - 1} (the images less one), got {clicks}")
    package = Path(galaxy10.__file__).resolve().parent
    checkout = project_root(package)  # this galaxy10's, whose notebooks/ holds the page
    with tempfile.TemporaryDirectory(prefix="galaxy10-clicks-") as tmp:
        labels = Path(tmp).resolve() / "labels.csv"
        args = ["--page", "label", "--model", os.fspath(Path(model).resolve()), "--galaxies",
                os.fspath(Path(real_h5).resolve()), "--labels", os.fspath(labels), "--n",
                str(len(y)), "--who", "bench", "--seed", str(seed), "--port", str(free_port())]
        with AppProcess(args, labels.parent / "tmp",
                        cwd=checkout if checkout != package else None) as app:
            url = app.url(timeout=PAGE_TIMEOUT_S)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1200, "height": 900})
                    page.goto(url, timeout=PAGE_TIMEOUT_S * 1000)
                    plain, refit = _answer_in_page(page, y, clicks, REFIT_EVERY)
                finally:
                    browser.close()
            app.stop(signal.SIGINT)
        with open(labels, newline="") as fh:
            saved = sum(1 for _ in csv.DictReader(fh))
    return {"clicks": len(plain) + len(refit), "saved": saved, "galaxies": int(len(y)),
            "refit_every": REFIT_EVERY, "all": _quantiles(plain + refit),
            "plain": _quantiles(plain), "refit": _quantiles(refit),
            "covers": "a click in the served page (app --page label) in headless Chromium, from "
                      "the click's dispatch to the next galaxy's picture in the DOM and "
                      "decoded, timed in the page with performance.now(): the websocket "
                      "message each way, the kernel's share (save and redraw; every few "
                      "labels the probe's refit, re-rank and estimate run after, in the "
                      "background) and the PNG's decoding; not the paint after it"}


def _rows(result: dict[str, Any]) -> list[str]:
    """One line per kind of click: median, 95th percentile and maximum."""
    lines = []
    for kind in ("all", "plain", "refit"):
        q = result[kind]
        if q:
            lines.append(f"{kind:<6} n {q['n']:>3}  median {q['median_ms']:7.1f}  p95 "
                         f"{q['p95_ms']:7.1f}  max {q['max_ms']:7.1f}")
    return lines


def format_clicks(result: dict[str, Any]) -> str:
    """:func:`bench_clicks`' table: a line per kind of click."""
    return "\n".join([
        f"== labelling panel: {result['clicks']} answers, click to the next galaxy drawn "
        f"(kernel side; the probe refits every {result['refit_every']} labels, after the "
        "next galaxy is shown), ms ==",
        *_rows(result)])


def format_browser_clicks(result: dict[str, Any]) -> str:
    """:func:`bench_browser_clicks`' table: a line per kind of click."""
    return "\n".join([
        f"== served labelling page: {result['clicks']} answers, click to the next galaxy "
        f"decoded in headless Chromium (websocket and kernel; the probe refits every "
        f"{result['refit_every']} labels, after the next galaxy is shown), ms ==",
        *_rows(result)])
