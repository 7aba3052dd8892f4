"""``bench active``: how many labels each way of choosing them needs, on real images whose
labels are hidden and revealed one batch at a time; and how fast one refit-and-rerank is.

The simulation (:func:`simulate`) plays a user with a pool of unlabelled galaxies: every
image is embedded once by the frozen pre-trained network; on each outer fold of
:func:`galaxy10.bench.real.cv_folds` the pool is the fold's training images and the test is
its test images. A small cold start is drawn at random from the pool (a user does not know
the classes of what they have not labelled, so it may not be stratified by hidden labels);
then batches are chosen by a strategy of :mod:`galaxy10.modeling.active`, revealed, and the
linear probe refitted (:func:`galaxy10.modeling.active.refit_and_rerank`, the step a labelling
panel runs), until each size of the curve is reached; there the probe is scored on the fold's
test images. Only revealed labels are ever read, which a test checks by permuting the hidden
ones. Every strategy starts from the same cold start, so the curves differ by the choosing
only.

:func:`finetune_curve` fine-tunes the shipped recipe on the first N galaxies each run revealed
(the full fine-tune's curve, minutes per point, so only when asked).
:func:`bench_refit` times one refit on a few hundred labelled vectors and one re-rank over
100,000 synthetic candidates of the embedding's width,
:func:`galaxy10.bench.clicks.bench_clicks` a click in the labelling panel (the kernel's share),
and :func:`galaxy10.bench.clicks.bench_browser_clicks` a click in the served page, in a browser.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from galaxy10.core.profiles import Profile

SIZES: tuple[int, ...] = (20, 50, 100, 200, 400)
"""The curve's default sizes (labels revealed per fold)."""
FINETUNE_STRATEGIES: tuple[str, ...] = ("random", "uncertainty")
"""Default strategies of the fine-tuning curve (the baseline and the probe's best)."""
START = 10
"""Default cold start: galaxies drawn at random from the pool and labelled first."""
BATCH = 10
"""Default batch: galaxies revealed between two refits of the probe."""
SEEDS = 3
"""Default repeats of each fold (each its own cold start and random picks)."""
CANDIDATES = 100_000
"""Default candidates re-ranked by :func:`bench_refit`."""
REFIT_LABELLED = 400
"""Labelled vectors the timed refit trains on (the curve's largest default size)."""
COLD_START = ("drawn uniformly at random from the pool (the same for every strategy of a run): "
              "a user does not know the classes of unlabelled galaxies, so a stratified start "
              "would use hidden labels")

Say = Callable[[str], None]


def run_seed(seed: int, repeat: int, fold: int) -> int:
    """The 32-bit seed of one run (one repeat of one fold), derived from ``seed``."""
    return int(np.random.SeedSequence([seed, repeat, fold]).generate_state(1)[0])


def simulate(vectors: np.ndarray, y: np.ndarray, pool: np.ndarray, test: np.ndarray,
             strategy: str, sizes: Sequence[int], *, start: int = START, batch: int = BATCH,
             seed: int = 0) -> dict[str, Any]:
    """One run of the labelling loop on hidden labels (see the module's description).

    Parameters
    ----------
    vectors : ndarray (n, d)
        The frozen network's embedding of every image.
    y : ndarray of int (n,)
        Every image's label; a pool image's label is read only once it is revealed.
    pool, test : ndarray of int
        Rows of the unlabelled pool and of the test images.
    strategy : str
        One of :data:`galaxy10.modeling.active.STRATEGIES`.
    sizes : sequence of int
        Labelled sizes at which the probe is scored, each from ``start`` to ``len(pool)``.
    start, batch : int
        The cold start (random rows of the pool) and the galaxies revealed per refit.
    seed : int
        Seed of the cold start, the random picks and the probe.

    Returns
    -------
    dict
        ``order``: the revealed rows, in order; ``scores``: balanced accuracy on ``test`` by
        size.
    """
    from sklearn.metrics import balanced_accuracy_score

    from galaxy10.modeling.active import (
        NEEDS_PROBE,
        fit_probe,
        probe_probabilities,
        refit_and_rerank,
    )

    sizes = sorted(int(s) for s in sizes)
    if not start <= sizes[0] or sizes[-1] > len(pool):
        raise ValueError(f"sizes must lie from start ({start}) to the pool's {len(pool)}")
    rng = np.random.default_rng(seed)
    labelled = [int(i) for i in rng.choice(np.asarray(pool), size=start, replace=False)]
    scores: dict[int, float] = {}
    while True:
        known = np.asarray(labelled)
        revealed = y[known]  # the only labels of the pool ever read
        probe, fitted, picks = None, False, None
        if len(labelled) < sizes[-1]:
            left = np.setdiff1d(pool, known)
            goal = next(s for s in sizes if s > len(labelled))
            round_ = refit_and_rerank(vectors[known], revealed, vectors[left],
                                      min(batch, goal - len(labelled)), strategy=strategy,
                                      seed=int(rng.integers(2**32)))
            picks = left[round_.order]
            probe, fitted = round_.probe, strategy in NEEDS_PROBE
        if len(labelled) in sizes:
            if not fitted:
                probe = fit_probe(vectors[known], revealed, seed)
            guess = probe_probabilities(probe, revealed, vectors[test]).argmax(axis=1)
            scores[len(labelled)] = float(balanced_accuracy_score(y[test], guess))
        if picks is None:
            return {"order": np.asarray(labelled, dtype=np.int64), "scores": scores}
        labelled.extend(int(i) for i in picks)


def labels_to_match(sizes: Sequence[int], means: Sequence[float], target: float
                    ) -> float | None:
    """The labels a mean curve needs to reach ``target``: linearly interpolated between the
    two sizes around the first crossing; the first size when it starts above; None when the
    curve never reaches it."""
    for i, (size, mean) in enumerate(zip(sizes, means, strict=True)):
        if mean >= target:
            if i == 0:
                return float(size)
            s0, m0 = sizes[i - 1], means[i - 1]
            return float(s0 + (target - m0) * (size - s0) / (mean - m0))
    return None


def runs_summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean and sample sd over runs (sd 0 for one run), and the runs' values."""
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "sd": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "runs": [float(v) for v in arr]}


def curves(vectors: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
           strategies: Sequence[str], sizes: Sequence[int], *, seeds: int = SEEDS,
           start: int = START, batch: int = BATCH, seed: int = 0, say: Say = print,
           orders: dict[tuple[str, int, int], np.ndarray] | None = None) -> dict[str, Any]:
    """Every strategy's curve over ``folds`` x ``seeds`` runs, and the labels each needs to
    match random selection's accuracy at the largest size.

    ``orders``, when given, receives each run's revealed rows in order, keyed by
    ``(strategy, fold, repeat)`` (what :func:`finetune_curve` fine-tunes on).

    Returns
    -------
    dict
        ``curves[strategy][size]``: mean, sd and runs of the balanced accuracy;
        ``target``: random's mean at the largest size (with ``random`` among the
        strategies); ``labels_to_match[strategy]``: :func:`labels_to_match` of it, None for
        "not reached".
    """
    sizes = sorted(int(s) for s in sizes)
    runs: dict[str, dict[int, list[float]]] = {s: {n: [] for n in sizes} for s in strategies}
    for k, (pool, test) in enumerate(folds):
        for r in range(seeds):
            for strategy in strategies:
                run = simulate(vectors, y, pool, test, strategy, sizes, start=start,
                               batch=batch, seed=run_seed(seed, r, k))
                if orders is not None:
                    orders[(strategy, k, r)] = run["order"]
                for n in sizes:
                    runs[strategy][n].append(run["scores"][n])
            say(f"fold {k + 1}/{len(folds)} seed {r + 1}/{seeds}: "
                + _last_scores(runs, sizes[-1]))
    return _curve_summary(runs, sizes)


def network_score(y: np.ndarray, probs: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
                  ) -> dict[str, Any]:
    """The frozen network's own guesses (its calibrated probabilities' argmax, no label used)
    scored on each fold's test images: mean and sd over the folds, what a labelling panel
    shows before any label, and what the probe has to beat."""
    from sklearn.metrics import balanced_accuracy_score

    return runs_summary([float(balanced_accuracy_score(y[test], probs[test].argmax(axis=1)))
                     for _pool, test in folds])


def _last_scores(runs: dict[str, dict[int, list[float]]], size: int) -> str:
    """The progress line's scores: each strategy's latest run at ``size`` labels."""
    return ", ".join(f"{s} {by_size[size][-1]:.3f}" for s, by_size in runs.items()) \
        + f" at {size} labels"


def _curve_summary(runs: dict[str, dict[int, list[float]]], sizes: list[int]
                   ) -> dict[str, Any]:
    """Each strategy's mean, sd and runs by size; with ``random`` among them, its mean at the
    largest size (``target``) and the labels each strategy needs to reach it."""
    out: dict[str, Any] = {"curves": {s: {str(n): runs_summary(by_size[n]) for n in sizes}
                                      for s, by_size in runs.items()}}
    if "random" in runs:
        target = out["curves"]["random"][str(sizes[-1])]["mean"]
        out["target"] = target
        out["labels_to_match"] = {s: labels_to_match(
            sizes, [curve[str(n)]["mean"] for n in sizes], target)
            for s, curve in out["curves"].items()}
    return out


def finetune_curve(runner, folds: list[tuple[np.ndarray, np.ndarray]],
                   orders: dict[tuple[str, int, int], np.ndarray], strategies: Sequence[str],
                   sizes: Sequence[int], *, seeds: int = 1, seed: int = 0,
                   say: Say = print) -> dict[str, Any]:
    """The curve of the full fine-tune: the shipped recipe fine-tuned on the first ``n``
    galaxies each strategy revealed (in :func:`curves`' runs, ``orders``), for ``n`` in
    ``sizes``, and scored on the fold's test images.

    Parameters
    ----------
    runner : galaxy10.bench.selection.FinetuneRunner
        Fine-tunes the ``shipped`` recipe from the pre-trained bundle and scores it.
    folds : list of (pool, test)
        The folds of the runs in ``orders``.
    orders : dict
        :func:`curves`' ``orders``: the revealed rows of ``(strategy, fold, repeat)``.
    strategies, sizes
        The strategies and label counts to fine-tune at (each at most the runs' length).
    seeds : int, default 1
        Runs of each fold fine-tuned (the first ``seeds`` repeats of :func:`curves`).
    seed : int, default 0
        :func:`curves`' seed: each fine-tune trains with its run's :func:`run_seed`.

    Returns
    -------
    dict
        ``curves[strategy][size]``: mean, sd and runs of the balanced accuracy;
        ``target`` and ``labels_to_match`` as :func:`curves`' (with ``random``); the
        fine-tunes' mean seconds.
    """
    sizes = sorted(int(s) for s in sizes)
    runs: dict[str, dict[int, list[float]]] = {s: {n: [] for n in sizes} for s in strategies}
    seconds: list[float] = []
    for k, (_pool, test) in enumerate(folds):
        for r in range(seeds):
            for strategy in strategies:
                order = orders[(strategy, k, r)]
                for n in sizes:
                    got = runner.fit_and_score("shipped", order[:n], test, run_seed(seed, r, k))
                    runs[strategy][n].append(got["balanced_accuracy"])
                    seconds.append(got["train_seconds"])
            say(f"fine-tuned fold {k + 1}/{len(folds)} seed {r + 1}/{seeds}: "
                + _last_scores(runs, sizes[-1]))
    return {**_curve_summary(runs, sizes), "seeds": seeds,
            "train_seconds": float(np.mean(seconds))}


def _embed(real_h5: str | os.PathLike[str], init: str | os.PathLike[str], say: Say
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Every image's label, calibrated probabilities and embedding by the frozen ``init``,
    and the seconds the embedding took."""
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.modeling.predict import Predictor

    with Galaxy10File(real_h5) as f:
        y = f.labels.astype(np.int64)
        images = f.read(np.arange(len(f)))
    say(f"embedding {len(y):,} images with {init} (frozen)...")
    clock = time.perf_counter()
    probs, vectors = Predictor(init).predict_and_embed(images)
    return y, probs, vectors, time.perf_counter() - clock


def _finetune_section(real_h5, init, profile: Profile | None, folds, orders, strategies,
                      sizes, seeds: int, seed: int, say: Say) -> dict[str, Any]:
    """:func:`finetune_curve` with its own runner, and the budget it ran under."""
    from galaxy10.bench.selection import CANDIDATES, FinetuneRunner
    from galaxy10.core.profiles import RECIPE_PROFILE, get_profile

    profile = profile or get_profile(RECIPE_PROFILE)
    say(f"fine-tuning at {', '.join(map(str, sorted(sizes)))} labels: {len(folds)} folds x "
        f"{seeds} seeds x {len(strategies)} strategies (minutes each)...")
    runner = FinetuneRunner(real_h5, profile, init)
    try:
        found = finetune_curve(runner, folds, orders, strategies, sizes, seeds=seeds,
                               seed=seed, say=say)
    finally:
        runner.close()
    return {"recipe": CANDIDATES["shipped"].about, "profile": profile.name, **found}


def bench_refit(width: int, *, candidates: int = CANDIDATES, labelled: int = REFIT_LABELLED,
                batch: int = BATCH, seed: int = 0, repeats: int = 3) -> dict[str, Any]:
    """Seconds of one refit-and-rerank (:func:`galaxy10.modeling.active.refit_and_rerank`) per
    strategy: a probe refitted on ``labelled`` random vectors of ``width`` with random labels,
    then ``candidates`` random vectors ranked for a batch; the median over ``repeats``."""
    from galaxy10.modeling.active import STRATEGIES, refit_and_rerank

    rng = np.random.default_rng(seed)
    known = rng.normal(size=(labelled, width)).astype(np.float32)
    labels = np.arange(labelled) % 10
    pool = rng.normal(size=(candidates, width)).astype(np.float32)
    out: dict[str, Any] = {"candidates": candidates, "labelled": labelled, "width": width,
                           "batch": batch, "repeats": repeats, "strategies": {}}
    for strategy in STRATEGIES:
        fit, rank, total = [], [], []
        for r in range(repeats):
            start = time.perf_counter()
            got = refit_and_rerank(known, labels, pool, batch, strategy=strategy, seed=seed + r)
            total.append(time.perf_counter() - start)
            fit.append(got.fit_seconds)
            rank.append(got.rank_seconds)
        out["strategies"][strategy] = {"fit_s": float(np.median(fit)),
                                       "rank_s": float(np.median(rank)),
                                       "total_s": float(np.median(total))}
    return out


def _click_sections(real_h5: str | os.PathLike[str], init: str | os.PathLike[str],
                    probs: np.ndarray, vectors: np.ndarray, clicks: int, browser_clicks: int,
                    seed: int, say: Say) -> dict[str, Any]:
    """``clicks`` (the kernel's share, :func:`galaxy10.bench.clicks.bench_clicks`) and
    ``clicks_browser`` (the served page in a browser,
    :func:`galaxy10.bench.clicks.bench_browser_clicks`), each when asked for."""
    from galaxy10.bench.clicks import bench_browser_clicks, bench_clicks

    out = {}
    if clicks:
        say(f"timing {clicks} answers in the labelling panel...")
        out["clicks"] = bench_clicks(real_h5, probs, vectors, clicks=clicks, seed=seed)
    if browser_clicks:
        say(f"timing {browser_clicks} answers in the served labelling page (headless "
            "Chromium)...")
        out["clicks_browser"] = bench_browser_clicks(real_h5, init, clicks=browser_clicks,
                                                     seed=seed)
    return out


def bench_active(real_h5: str | os.PathLike[str], init: str | os.PathLike[str], *,
                 splits: Sequence[str] = ("random",), n_folds: int = 5, seeds: int = SEEDS,
                 sizes: Sequence[int] = SIZES, start: int = START, batch: int = BATCH,
                 candidates: int = CANDIDATES, clicks: int = 0, browser_clicks: int = 0,
                 seed: int = 0,
                 finetune_sizes: Sequence[int] = (),
                 finetune_strategies: Sequence[str] = FINETUNE_STRATEGIES,
                 finetune_seeds: int = 1, profile: Profile | None = None,
                 out_figure: str | os.PathLike[str] | None = None, say: Say = print
                 ) -> dict[str, Any]:
    """The active-labelling benchmark on a Galaxy10 ``.h5`` of labelled real images.

    Parameters
    ----------
    real_h5 : path-like
        The labelled images (labels hidden from the choosing, revealed batch by batch).
    init : path-like
        The frozen pre-trained bundle whose embedding the probe learns on.
    splits : sequence of {"random", "region"}
        The fold assignments of :func:`galaxy10.bench.real.cv_folds`, one section each.
    n_folds, seeds : int
        Outer folds, and runs of each fold (each its own cold start and random picks).
    sizes, start, batch : as :func:`simulate`.
    candidates : int
        Candidates of the timed re-rank (:func:`bench_refit`).
    clicks : int, default 0
        Answers timed in the labelling panel (:func:`galaxy10.bench.clicks.bench_clicks`);
        0 times none.
    browser_clicks : int, default 0
        Answers timed in the served page in headless Chromium, on ``init``
        (:func:`galaxy10.bench.clicks.bench_browser_clicks`); 0 times none.
    seed : int
        Seed of the folds and of every run (:func:`run_seed`).
    finetune_sizes, finetune_strategies, finetune_seeds
        The full fine-tune's curve (:func:`finetune_curve`, each split's ``finetune``): at
        these label counts (none by default: each point is a fine-tune of minutes), for these
        strategies, on the first ``finetune_seeds`` runs of each fold.
    profile : Profile, optional
        The fine-tunes' budget (default :data:`galaxy10.core.profiles.RECIPE_PROFILE`'s).
    out_figure : path-like, optional
        The curves' PNG (:func:`galaxy10.reporting.figures.active_curve`), written atomically.

    Returns
    -------
    dict
        The run's settings, ``splits[split]`` (:func:`curves`' result with the CV's
        description), ``refit`` (:func:`bench_refit`), the embedding's seconds and width, the
        figure's path, ``clicks`` (with ``clicks``), ``clicks_browser`` (with
        ``browser_clicks``) and the provenance; with
        ``finetune_sizes`` each split's ``finetune`` too.

    Raises
    ------
    Galaxy10Error
        When the largest size exceeds a fold's pool (checked before the embedding).
    """
    from galaxy10.bench.real import cv_folds
    from galaxy10.core.errors import Galaxy10Error
    from galaxy10.modeling.active import STRATEGIES
    from galaxy10.reporting.metrics import provenance

    started = time.time()
    folds = {split: cv_folds(real_h5, n_folds, seed, split) for split in splits}
    smallest = min(len(train) for found, _ in folds.values() for train, _ in found)
    if max(sizes) > smallest:
        raise Galaxy10Error(f"--sizes {' '.join(map(str, sizes))}: the smallest fold's pool "
                            f"holds {smallest} images (duplicate groups kept together); give "
                            f"sizes of at most {smallest}")
    y, probs, vectors, embed_seconds = _embed(real_h5, init, say)
    out: dict[str, Any] = {
        "n_images": int(len(y)), "init": os.fspath(init), "folds": n_folds, "seeds": seeds,
        "sizes": sorted(int(s) for s in sizes), "start": start, "batch": batch, "seed": seed,
        "cold_start": COLD_START, "strategies": list(STRATEGIES),
        "embedding_width": int(vectors.shape[1]), "embed_seconds": embed_seconds, "splits": {}}
    for split, (found, about) in folds.items():
        say(f"{split} CV: {n_folds} folds x {seeds} seeds x {len(STRATEGIES)} strategies...")
        orders: dict[tuple[str, int, int], np.ndarray] = {}
        out["splits"][split] = {**about, **curves(vectors, y, found, STRATEGIES, sizes,
                                                  seeds=seeds, start=start, batch=batch,
                                                  seed=seed, say=say, orders=orders),
                                "network": network_score(y, probs, found)}
        if finetune_sizes:
            out["splits"][split]["finetune"] = _finetune_section(
                real_h5, init, profile, found, orders, finetune_strategies, finetune_sizes,
                min(finetune_seeds, seeds), seed, say)
    say(f"timing a refit and a re-rank over {candidates:,} candidates...")
    out["refit"] = bench_refit(int(vectors.shape[1]), candidates=candidates, batch=batch,
                               seed=seed)
    out.update(_click_sections(real_h5, init, probs, vectors, clicks, browser_clicks, seed,
                               say))
    if out_figure is not None:
        from galaxy10.reporting.figures import active_curve, save_figure

        out["figure"] = os.fspath(save_figure(active_curve(out, title=(
            f"Active labelling on real images: {len(y):,} images, {n_folds} folds x {seeds} "
            "seeds, linear probe on the frozen network")), out_figure))
    out["provenance"] = provenance(started)
    return out


def _curve_lines(title: str, summary: dict[str, Any], what: str) -> list[str]:
    """A :func:`_curve_summary`'s table: ``title``, a row per strategy (mean +- sd by size) and
    the labels each needs to match random's largest-size ``what``."""
    sizes = sorted(int(n) for n in next(iter(summary["curves"].values())))
    lines = [title, f"{'strategy':<12} " + " ".join(f"{n:>15}" for n in sizes)]
    for strategy, curve in summary["curves"].items():
        lines.append(f"{strategy:<12} " + " ".join(
            f"{curve[str(n)]['mean']:>7.3f} +- {curve[str(n)]['sd']:.3f}" for n in sizes))
    if "target" in summary:
        needs = ", ".join(f"{s} {'not reached' if n is None else f'{n:.0f}'}"
                          for s, n in summary["labels_to_match"].items() if s != "random")
        lines.append(f"labels to match random's {sizes[-1]}-label {what} "
                     f"({summary['target']:.3f}): {needs}")
    return lines


def format_active(result: dict[str, Any]) -> str:
    """``bench active``'s tables: balanced accuracy (mean +- sd) by strategy and size for each
    CV, the labels each strategy needs to match random's largest-size accuracy, and the
    refit-and-rerank seconds; and the clicks' milliseconds, the kernel's share and the
    browser's whole, when they were timed."""
    lines = []
    for split, section in result["splits"].items():
        lines += _curve_lines(
            f"== active labelling, {split} CV: balanced accuracy of the linear probe (mean +- sd "
            f"over {result['folds']} folds x {result['seeds']} seeds) by labels ==",
            section, "accuracy")
        if "network" in section:
            net = section["network"]
            lines.append(f"the frozen network's own guesses, no label: {net['mean']:.3f} +- "
                         f"{net['sd']:.3f} (over the folds)")
        tuned = section.get("finetune")
        if tuned:
            lines += _curve_lines(
                f"== {split} CV: balanced accuracy of the full fine-tune ({tuned['profile']}) on "
                f"the first labels each strategy revealed (mean +- sd over {result['folds']} "
                f"folds x {tuned['seeds']} seeds; {tuned['train_seconds']:.0f} s per "
                "fine-tune) ==", tuned, "fine-tune")
    refit = result["refit"]
    lines.append(f"== refit on {refit['labelled']} labelled vectors and re-rank of "
                 f"{refit['candidates']:,} candidates (width {refit['width']}), median of "
                 f"{refit['repeats']}, seconds ==")
    lines.append(", ".join(f"{s} {t['total_s']:.2f} (fit {t['fit_s']:.2f}, rank "
                           f"{t['rank_s']:.2f})" for s, t in refit["strategies"].items()))
    if "clicks" in result:
        from galaxy10.bench.clicks import format_clicks

        lines.append(format_clicks(result["clicks"]))
    if "clicks_browser" in result:
        from galaxy10.bench.clicks import format_browser_clicks

        lines.append(format_browser_clicks(result["clicks_browser"]))
    return "\n".join(lines)
