"""``bench real --labels``: the label-efficiency curve, on a tiny file and the smoke profile."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from galaxy10.cli import main


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory):
    """A 300-image Galaxy10 file standing in for real images (at least 5 per class)."""
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("real")
    return synthetic.generate(root / "real.h5", n=300, seed=4, progress=False)


@pytest.mark.slow
def test_label_curve_has_every_size_and_model_on_nested_subsets(tmp_path, tiny_real,
                                                                 model_bundle, capsys,
                                                                 monkeypatch):
    import galaxy10.modeling.train as train_module

    rows_by_seed: dict[int, list[np.ndarray]] = {}  # the seed CNN's training rows, per fold
    original = train_module.train_seed_cnn

    def spy(galaxies, train_rows, profile, seed=0):
        rows_by_seed.setdefault(seed, []).append(np.asarray(train_rows))
        return original(galaxies, train_rows, profile, seed)

    monkeypatch.setattr(train_module, "train_seed_cnn", spy)
    reports = tmp_path / "reports"
    assert main(["bench", "real", "--real", str(tiny_real), "--init", str(model_bundle["model"]),
                 "--profile", "smoke", "--cv", "random", "--folds", "2", "--labels", "40", "20",
                 "--finetune-jitter", "none", "--reports-dir", str(reports)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((reports / "metrics.json").read_text())
    cv, curve = metrics["real_cv"], metrics["label_curve"]
    models = ["seed_cnn", "galaxy_cnn_scratch", "galaxy_cnn_finetuned", "linear_probe"]
    assert cv["model_order"] == curve["model_order"] == models
    assert "label_curve" not in cv
    assert curve["sizes"] == ["20", "40", "all"]
    for size in curve["sizes"]:
        for name in models:
            point = curve["points"][size][name]
            scores = [f["balanced_accuracy"] for f in point["folds"]]
            assert len(scores) == 2
            assert point["balanced_accuracy"]["mean"] == pytest.approx(np.mean(scores))
            assert point["balanced_accuracy"]["sd"] == pytest.approx(np.std(scores, ddof=1))
            assert point["train_seconds"]["mean"] >= 0
            n_train = [f["n_train"] for f in point["folds"]]
            if size == "all":  # the CV's own rows
                assert scores == [f["balanced_accuracy"] for f in cv["models"][name]["folds"]]
                assert sum(n_train) == 300  # 2 folds: each image trains once
            else:
                assert n_train == [int(size)] * 2
    # the CV's confusion matrix: each image tested once, its class's row, the folds' sum
    with h5py.File(tiny_real, "r") as f:
        per_class = np.bincount(f["ans"][:], minlength=10).tolist()
    for name in models:
        confusion = np.array(cv["models"][name]["confusion"])
        assert confusion.shape == (10, 10)
        assert confusion.sum(axis=1).tolist() == per_class
        assert confusion.tolist() == np.sum(
            [f["confusion"] for f in cv["models"][name]["folds"]], axis=0).tolist()
    # the probe is in the CV too, with the shifts (only there) and neighbours
    probe = cv["models"]["linear_probe"]
    assert "shift" in probe and "asinh stretch" in probe["shift"]["by_shift"]
    assert "off-centre 1-2 px" in probe["shift"]["by_shift"]
    assert "shift" not in curve["points"]["20"]["linear_probe"]
    assert "p@10" in curve["points"]["20"]["seed_cnn"]["neighbours"]
    # nested, stratified subsets of each fold's training rows: its 20 inside its 40
    with h5py.File(tiny_real, "r") as f:
        labels = f["ans"][:]
    assert sorted(rows_by_seed) == [0, 1]
    for rows20, rows40, rows_all in rows_by_seed.values():
        assert (len(rows20), len(rows40)) == (20, 40)
        assert set(rows20) < set(rows40) < set(rows_all)
        share = np.bincount(labels[rows_all], minlength=10) / len(rows_all)
        for rows in (rows20, rows40):
            counts = np.bincount(labels[rows], minlength=10)
            assert np.abs(counts - len(rows) * share).max() <= 1.0 + 1e-9
    # the table and the figure
    assert "label efficiency" in out and "linear_probe" in out and "all (150)" in out
    figure = reports / "figures" / "real_label_curve.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert curve["figure"] == str(figure)


def test_label_curve_section_summarises_folds_and_the_table_shows_every_size():
    from galaxy10.bench.real import format_label_curve, label_curve_section

    def row(n, ba):
        return {"n_train": n, "balanced_accuracy": ba, "macro_f1": ba, "train_seconds": 2.0,
                "neighbours": {"p@1": 0.5, "p@10": 0.4, "chance": 0.1}}

    points = {"100": {"a": [row(100, 0.5), row(100, 0.7)], "b": [row(100, 0.3), row(100, 0.3)]},
              "all": {"a": [row(798, 0.8), row(802, 0.9)], "b": [row(798, 0.4), row(802, 0.6)]}}
    curve = label_curve_section(points, ["a", "b"])
    assert curve["points"]["100"]["a"]["balanced_accuracy"] == pytest.approx(
        {"mean": 0.6, "sd": np.std([0.5, 0.7], ddof=1)})
    assert curve["points"]["all"]["a"]["n_train"] == 800
    text = format_label_curve({**curve, "folds": 2, "profile": "smoke"})
    lines = text.splitlines()
    assert "all (800)" in lines[1] and "100" in lines[1]
    assert lines[2].split()[0] == "a" and "0.600 +- 0.141" in lines[2] and "0.850" in lines[2]
    assert lines[3].split()[0] == "b" and "0.300 +- 0.000" in lines[3]


def test_a_size_above_a_fold_is_refused_before_training():
    from galaxy10.bench.real import _check_fold_sizes
    from galaxy10.core.errors import Galaxy10Error

    _check_fold_sizes([100, 798], [798, 802], 1000)
    with pytest.raises(Galaxy10Error, match=r"--labels 800: the smallest fold trains on 798"):
        _check_fold_sizes([100, 800], [798, 802], 1000)


def test_region_folds_hold_out_whole_sky_cells_and_keep_the_classes_shares(tiny_real):
    from galaxy10.bench.real import cv_folds
    from galaxy10.datasets.sky import sky_cells

    folds, about = cv_folds(tiny_real, 3, seed=0, split="region")
    with h5py.File(tiny_real, "r") as f:
        cells, labels = sky_cells(f["ra"][:], f["dec"][:]), f["ans"][:]
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(labels)))  # each image tested once
    for train, test in folds:
        assert not set(cells[train]) & set(cells[test])
        assert set(np.unique(labels[test])) == set(range(10))
    assert about["split"] == "region" and "sky cells of 15 x 10 deg" in about["cv"]
    assert about["regions"]["groups"] == len(np.unique(cells))
    assert sum(fp["n"] for fp in about["regions"]["test_footprints"]) == len(labels)
    random_folds, random_about = cv_folds(tiny_real, 3, seed=0, split="random")
    assert "regions" not in random_about
    # the random assignment mixes cells across its folds; the region one never does
    assert any(set(cells[tr]) & set(cells[te]) for tr, te in random_folds)


@pytest.mark.slow
def test_bench_real_both_cvs_record_their_sections_and_the_gap(tmp_path, tiny_real,
                                                              model_bundle, capsys):
    reports = tmp_path / "reports"
    assert main(["bench", "real", "--real", str(tiny_real), "--init", str(model_bundle["model"]),
                 "--profile", "smoke", "--folds", "2", "--no-shifts", "--cv", "both",
                 "--models", "seed_cnn", "linear_probe", "--reports-dir", str(reports)]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((reports / "metrics.json").read_text())
    random, region = metrics["real_cv"], metrics["real_cv_region"]
    assert random["model_order"] == region["model_order"] == ["seed_cnn", "linear_probe"]
    assert random["split"] == "random" and region["split"] == "region"
    assert region["regions"]["cell_deg"] == [15.0, 10.0]
    for name, gap in region["gap_to_random"].items():
        assert gap["random"] == random["models"][name]["balanced_accuracy"]["mean"]
        assert gap["region"] == region["models"][name]["balanced_accuracy"]["mean"]
        assert gap["gap"] == pytest.approx(gap["random"] - gap["region"])
    assert "random CV against region-held-out CV" in out and "held-out regions:" in out


def test_bench_real_refuses_a_region_cv_without_positions_before_any_work(tmp_path, small_h5,
                                                                          capsys):
    code = main(["bench", "real", "--real", str(small_h5), "--init", "none", "--cv", "region",
                 "--reports-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "no sky positions" in err and str(small_h5) in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()
    code = main(["bench", "real", "--real", str(small_h5), "--init", "none", "--cv", "random",
                 "--models", "finetuned", "seed_cnn"])
    err = capsys.readouterr().err
    assert code == 2 and "--models finetuned" in err and "--init none" in err


@pytest.mark.slow
def test_bench_real_merge_puts_a_rerun_model_beside_the_older_rows(tmp_path, tiny_real,
                                                                  model_bundle, capsys):
    reports = tmp_path / "reports"
    common = ["bench", "real", "--real", str(tiny_real), "--init", str(model_bundle["model"]),
              "--profile", "smoke", "--folds", "2", "--no-shifts", "--cv", "both",
              "--reports-dir", str(reports)]
    assert main([*common, "--models", "seed_cnn", "linear_probe"]) == 0
    first = json.loads((reports / "metrics.json").read_text())
    assert main([*common, "--models", "linear_probe", "--merge"]) == 0
    capsys.readouterr()
    merged = json.loads((reports / "metrics.json").read_text())
    for section in ("real_cv", "real_cv_region"):
        rows = merged[section]["models"]
        assert merged[section]["model_order"] == ["seed_cnn", "linear_probe"]
        assert rows["seed_cnn"] == first[section]["models"]["seed_cnn"]  # left alone
        assert rows["linear_probe"]["provenance"]["note"] == (
            "bench real --cv both --models linear_probe --finetune-jitter survey --seed 0 "
            "--merge")
        assert rows["linear_probe"]["profile_settings"] == first[section]["profile_settings"]
    gap = merged["real_cv_region"]["gap_to_random"]
    assert set(gap) == {"seed_cnn", "linear_probe"}
    before = (reports / "metrics.json").read_bytes()
    code = main([*common, "--models", "linear_probe", "--merge", "--folds", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "--merge: its real_cv is of other folds (they differ in cv, folds" in err
    assert str(reports / "metrics.json") in err and "Traceback" not in err
    assert (reports / "metrics.json").read_bytes() == before  # refused before any training


def test_a_finished_cv_is_recorded_when_the_next_one_fails(tmp_path, tiny_real, monkeypatch,
                                                           capsys):
    import galaxy10.bench.real as real
    from galaxy10.core.errors import Galaxy10Error

    trained = real.bench_real

    def region_fails(*args, split="random", **kwargs):
        if split == "region":
            raise Galaxy10Error("the region CV stopped")
        return trained(*args, split=split, **kwargs)

    monkeypatch.setattr(real, "bench_real", region_fails)
    reports = tmp_path / "reports"
    code = main(["bench", "real", "--real", str(tiny_real), "--init", "none", "--profile",
                 "smoke", "--folds", "2", "--no-shifts", "--cv", "both", "--models",
                 "seed_cnn", "--seed", "1", "--reports-dir", str(reports)])
    assert code != 0 and "the region CV stopped" in capsys.readouterr().err
    metrics = json.loads((reports / "metrics.json").read_text())
    # the random CV, finished first, is kept; fold assignment 1 beside assignment 0's name
    assert set(metrics) == {"real_cv_assignment1"}
    assert metrics["real_cv_assignment1"]["model_order"] == ["seed_cnn"]
    assert "random_state=1" in metrics["real_cv_assignment1"]["cv"]


def test_each_fold_assignment_has_a_section_of_its_own():
    from galaxy10.bench.real import real_cv_section

    assert real_cv_section("random") == "real_cv"
    assert real_cv_section("region", 0) == "real_cv_region"
    assert real_cv_section("random", 1) == "real_cv_assignment1"  # as the results page reads
    assert real_cv_section("region", 2) == "real_cv_region_assignment2"
