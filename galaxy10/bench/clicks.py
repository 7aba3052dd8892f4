"""How long the labelling panel takes from a click to the next galaxy on screen.

:func:`bench_clicks` opens the panel of notebook 07 and the served label page
(:class:`galaxy10.app.labelling.LabellingPanel`) on real images, with a fresh labels CSV in a
temporary folder, and answers ``clicks`` suggestions with their true class, as a labeller
would. Each answer is timed from the click handler's start to the end of its redraw: the save
(atomic, under the file's lock), every ``refit_every`` labels the probe's refit and re-rank,
and the redraw of the next galaxy, its guesses and its labelled neighbours. The accuracy
estimate that follows a refit runs in the background (it competes for the cores with the
next clicks, as it does for a user). That is the kernel's share of a click. What the browser
adds (one websocket message each way and drawing a PNG) is not in it.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np

CLICKS = 60
"""Default answers timed."""


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
        ``all``, ``plain`` (answers without a refit) and ``refit`` (answers that refitted the
        probe): ``n``, ``median_ms``, ``p95_ms`` and ``max_ms`` of each; the settings; and
        what the timing covers.
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
            "covers": "the kernel's share of a click: save, refit and re-rank every few labels, "
                      "redraw (the accuracy estimate runs after, in the background); not the "
                      "browser's round trip"}


def format_clicks(result: dict[str, Any]) -> str:
    """One line per kind of click: median, 95th percentile and maximum."""
    lines = [f"== labelling panel: {result['clicks']} answers, click to the next galaxy drawn "
             f"(kernel side; the probe refits every {result['refit_every']} labels), ms =="]
    for kind in ("all", "plain", "refit"):
        q = result[kind]
        if q:
            lines.append(f"{kind:<6} n {q['n']:>3}  median {q['median_ms']:7.1f}  p95 "
                         f"{q['p95_ms']:7.1f}  max {q['max_ms']:7.1f}")
    return "\n".join(lines)
