"""``bench active``: the labelling simulation on hidden labels (tiny synthetic embeddings), and
the command end to end on a tiny file with an untrained bundle (no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.bench.active import (
    curves,
    finetune_curve,
    labels_to_match,
    run_seed,
    simulate,
)
from galaxy10.modeling.active import STRATEGIES


def _world(n: int = 240, d: int = 8, seed: int = 0):
    """Embeddings around ten class centres, their labels, a pool and a test split."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    vectors = rng.normal(size=(10, d))[y] * 1.5 + rng.normal(size=(n, d))
    return vectors, y, np.arange(0, 180), np.arange(180, n)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_choosing_never_reads_a_hidden_label(strategy):
    """Permute every label not yet revealed (the pool's rest and the test's): the galaxies
    chosen up to then, and the next batch, stay the same."""
    vectors, y, pool, test = _world()
    first = simulate(vectors, y, pool, test, strategy, [20, 60], start=10, batch=10, seed=4)
    order = first["order"]
    assert len(order) == 60 == len(set(order.tolist()))
    assert set(order.tolist()) <= set(pool.tolist())
    for known in (10, 30):  # after the cold start, and after two batches
        hidden = np.setdiff1d(np.arange(len(y)), order[:known])
        shuffled = y.copy()
        shuffled[hidden] = np.random.default_rng(known).permutation(y[hidden])
        assert (shuffled[hidden] != y[hidden]).any()
        again = simulate(vectors, shuffled, pool, test, strategy, [20, 60], start=10,
                         batch=10, seed=4)["order"]
        assert again[:known + 10].tolist() == order[:known + 10].tolist()


def test_a_run_follows_its_seed_and_every_strategy_shares_the_cold_start():
    vectors, y, pool, test = _world()
    runs = {s: simulate(vectors, y, pool, test, s, [20, 40], seed=7) for s in STRATEGIES}
    again = simulate(vectors, y, pool, test, "mix", [20, 40], seed=7)
    assert again["order"].tolist() == runs["mix"]["order"].tolist()
    assert again["scores"] == runs["mix"]["scores"]
    assert sorted(runs["mix"]["scores"]) == [20, 40]
    starts = {tuple(r["order"][:10].tolist()) for r in runs.values()}
    assert len(starts) == 1  # the same cold start for every strategy
    other = simulate(vectors, y, pool, test, "mix", [20, 40], seed=8)
    assert other["order"][:10].tolist() != runs["mix"]["order"][:10].tolist()
    assert run_seed(0, 1, 2) == run_seed(0, 1, 2) != run_seed(0, 2, 1)


def test_choosing_by_the_probe_beats_chance_and_the_curve_is_scored_at_each_size():
    vectors, y, pool, test = _world()
    folds = [(pool, test), (np.arange(60, 240), np.arange(0, 60))]
    lines = []
    got = curves(vectors, y, folds, STRATEGIES, [20, 50], seeds=2, say=lines.append)
    assert len(lines) == 4  # a line per fold and seed
    for strategy in STRATEGIES:
        for size in ("20", "50"):
            point = got["curves"][strategy][size]
            assert len(point["runs"]) == 4
            assert point["mean"] == pytest.approx(np.mean(point["runs"]))
            assert point["sd"] == pytest.approx(np.std(point["runs"], ddof=1))
        assert got["curves"][strategy]["50"]["mean"] > 0.3  # chance is 0.1
    assert got["target"] == got["curves"]["random"]["50"]["mean"]
    assert got["labels_to_match"]["random"] <= 50  # random reaches its own figure


def test_labels_to_match_interpolates_on_the_mean_curve():
    sizes = [20, 50, 100, 200, 400]
    assert labels_to_match(sizes, [0.3, 0.5, 0.6, 0.7, 0.74], 0.74) == 400
    assert labels_to_match(sizes, [0.3, 0.5, 0.6, 0.7, 0.8], 0.74) == pytest.approx(280)
    assert labels_to_match(sizes, [0.3, 0.5, 0.8, 0.8, 0.8], 0.65) == pytest.approx(75)
    assert labels_to_match(sizes, [0.8] * 5, 0.74) == 20
    assert labels_to_match(sizes, [0.3, 0.5, 0.6, 0.7, 0.73], 0.74) is None


def test_sizes_outside_the_pool_are_refused():
    vectors, y, pool, test = _world()
    with pytest.raises(ValueError, match="sizes must lie from start"):
        simulate(vectors, y, pool, test, "random", [5, 20], start=10)
    with pytest.raises(ValueError, match="sizes must lie from start"):
        simulate(vectors, y, pool, test, "random", [200], start=10)


class _SpyRunner:
    """Stands in for FinetuneRunner: records each fine-tune, scores it by its size."""

    def __init__(self):
        self.calls = []

    def fit_and_score(self, name, rows, test, seed):
        self.calls.append((name, [int(r) for r in rows], [int(t) for t in test], seed))
        return {"balanced_accuracy": len(rows) / 100, "train_seconds": 2.0}


def test_the_fine_tuning_curve_trains_on_the_rows_each_strategy_revealed():
    vectors, y, pool, test = _world()
    folds = [(pool, test), (test, pool[:60])]
    orders = {}
    curves(vectors, y, folds, ["random", "uncertainty"], [20, 40], seeds=2, start=10, batch=10,
           say=lambda _: None, orders=orders)
    assert set(orders) == {(s, k, r) for s in ("random", "uncertainty") for k in (0, 1)
                           for r in (0, 1)}
    runner = _SpyRunner()
    tuned = finetune_curve(runner, folds, orders, ["random", "uncertainty"], [40, 20], seeds=1,
                           seed=7, say=lambda _: None)
    assert len(runner.calls) == 2 * 1 * 2 * 2  # folds x seeds x strategies x sizes
    for name, rows, tested, seed in runner.calls:
        assert name == "shipped" and len(rows) in (20, 40)
        k = 0 if tested == test.tolist() else 1
        assert tested == folds[k][1].tolist() and seed == run_seed(7, 0, k)
        assert any(rows == orders[(s, k, 0)][:len(rows)].tolist()
                   for s in ("random", "uncertainty"))
        assert not set(rows) & set(tested)  # never trained on a test image
    assert tuned["curves"]["random"]["40"]["runs"] == [0.4, 0.4]
    assert tuned["target"] == 0.4 and tuned["labels_to_match"]["uncertainty"] == 40.0
    assert tuned["train_seconds"] == 2.0 and tuned["seeds"] == 1


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory):
    """A 100-image Galaxy10 file standing in for the real sample, and an untrained bundle."""
    from tiny_bundles import tiny_bundle

    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("active")
    real = synthetic.generate(root / "real.h5", n=100, seed=4, progress=False)
    return real, tiny_bundle(root / "tiny.keras")


def test_the_command_prints_the_tables_and_records_the_curves(tmp_path, tiny_real, capsys):
    from galaxy10.cli import main

    real, bundle = tiny_real
    reports = tmp_path / "reports"
    assert main(["bench", "active", "--real", str(real), "--init", str(bundle), "--cv",
                 "random", "--folds", "2", "--seeds", "2", "--start", "4", "--batch", "4",
                 "--sizes", "20", "8", "--candidates", "500", "--clicks", "12",
                 "--reports-dir", str(reports), "-q"]) == 0
    out = capsys.readouterr().out
    assert "== active labelling, random CV: balanced accuracy" in out
    assert "labels to match random's 20-label accuracy" in out
    assert "re-rank of 500 candidates" in out
    record = json.loads((reports / "active_labelling.json").read_text())["active_labelling"]
    assert record["sizes"] == [8, 20] and record["strategies"] == list(STRATEGIES)
    assert list(record["splits"]) == ["random"]
    assert "cold start" not in record["cold_start"] and "at random" in record["cold_start"]
    for strategy in STRATEGIES:
        assert len(record["splits"]["random"]["curves"][strategy]["20"]["runs"]) == 4
    assert set(record["refit"]["strategies"]) == set(STRATEGIES)
    network = record["splits"]["random"]["network"]  # the network's own guesses, per fold
    assert len(network["runs"]) == 2 and all(0 <= v <= 1 for v in network["runs"])
    assert f"the frozen network's own guesses, no label: {network['mean']:.3f}" in out
    assert record["machine"] and (reports / "figures" / "active_curve.png").is_file()
    assert "== labelling panel: 12 answers" in out
    clicks = record["clicks"]
    assert clicks["clicks"] == clicks["saved"] == 12  # every timed answer was saved
    assert clicks["refit"]["n"] == 12 // clicks["refit_every"]
    assert clicks["plain"]["n"] + clicks["refit"]["n"] == clicks["all"]["n"] == 12
    assert 0 < clicks["all"]["median_ms"] <= clicks["all"]["p95_ms"] <= clicks["all"]["max_ms"]


@pytest.mark.slow
def test_the_command_fine_tunes_at_the_sizes_asked(tmp_path, tiny_real, capsys):
    from galaxy10.cli import main

    real, bundle = tiny_real
    reports = tmp_path / "reports"
    assert main(["bench", "active", "--real", str(real), "--init", str(bundle), "--cv",
                 "random", "--folds", "2", "--seeds", "1", "--start", "4", "--batch", "4",
                 "--sizes", "8", "20", "--candidates", "200", "--clicks", "0",
                 "--finetune-sizes", "20", "--finetune-strategies", "random", "--profile",
                 "smoke", "--reports-dir", str(reports), "-q"]) == 0
    out = capsys.readouterr().out
    assert "random CV: balanced accuracy of the full fine-tune (smoke)" in out
    record = json.loads((reports / "active_labelling.json").read_text())["active_labelling"]
    tuned = record["splits"]["random"]["finetune"]
    assert tuned["profile"] == "smoke" and list(tuned["curves"]) == ["random"]
    assert len(tuned["curves"]["random"]["20"]["runs"]) == 2  # one per fold
    assert 0.0 <= tuned["curves"]["random"]["20"]["mean"] <= 1.0
    assert "clicks" not in record
