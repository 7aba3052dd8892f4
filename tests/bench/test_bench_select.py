"""``bench select``: nested recipe selection never lets a choice see the images it is scored on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.cli import main


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory):
    """A 300-image Galaxy10 file with sky positions, standing in for real images."""
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("real")
    return synthetic.generate(root / "real.h5", n=300, seed=4, progress=False)


@pytest.mark.slow
def test_nested_selection_chooses_on_training_images_only(tmp_path, tiny_real, model_bundle,
                                                         capsys, monkeypatch):
    from galaxy10.bench import selection
    from galaxy10.bench.real import cv_folds

    calls = []
    original = selection.FinetuneRunner.fit_and_score

    def spy(self, name, rows, test, seed, full=False):
        calls.append((name, np.asarray(rows), np.asarray(test), full))
        return original(self, name, rows, test, seed, full)

    monkeypatch.setattr(selection.FinetuneRunner, "fit_and_score", spy)
    reports = tmp_path / "reports"
    assert main(["bench", "select", "--real", str(tiny_real), "--init",
                 str(model_bundle["model"]), "--profile", "smoke", "--folds", "2",
                 "--candidates", "shipped", "no_augmentation",
                 "--reports-dir", str(reports), "-q"]) == 0
    out = capsys.readouterr().out
    metrics = json.loads((reports / "metrics.json").read_text())
    record = metrics["recipe_selection_region"]
    partial = metrics["recipe_selection_region_partial"]
    assert record["complete"] is True and partial["complete"] is False
    assert len(partial["folds"]) == 1 and len(record["folds"]) == 2
    outer = cv_folds(tiny_real, 2, seed=0, split="region")[0]
    inner_calls = [c for c in calls if not c[3]]
    assert len(inner_calls) == 2 * 2 * 2  # outer folds x candidates x inner folds
    for k in range(len(outer)):
        row = record["folds"][k]
        for name in ("shipped", "no_augmentation"):
            scores = row["inner"][name]["balanced_accuracy"]
            assert len(scores) == 2 and row["inner"][name]["mean"] == pytest.approx(
                np.mean(scores))
        best = max(row["inner"]["shipped"]["mean"], row["inner"]["no_augmentation"]["mean"])
        assert row["inner"][row["chosen"]]["mean"] == best
        if row["inner"]["shipped"]["mean"] == best:
            assert row["chosen"] == "shipped"  # the first candidate wins ties
    # every inner fit trains and scores inside one outer fold's training images
    for _, rows, test, _ in inner_calls:
        assert any(set(rows) | set(test) <= set(train) for train, _ in outer)
        assert not set(rows) & set(test)
    scored = [c for c in calls if c[3]]
    assert [sorted(c[2]) for c in scored] == [sorted(test) for _, test in outer]
    nested = record["nested"]["balanced_accuracy"]
    assert nested["folds"] == [r["outer"]["balanced_accuracy"] for r in record["folds"]]
    assert nested["mean"] == pytest.approx(np.mean(nested["folds"]))
    assert sum(record["chosen"].values()) == 2 and "brighter cores, noisier sky" in record["nested"]
    assert "nested estimate:" in out

    # a second selection takes shipped's inner scores from the first instead of fine-tuning;
    # its new candidate trains from scratch
    from galaxy10.pipeline import training

    calls.clear()
    inits = []
    train_bundle = training.train_bundle

    def spy_train(*args, init=None, **kwargs):
        inits.append(init)
        return train_bundle(*args, init=init, **kwargs)

    monkeypatch.setattr(training, "train_bundle", spy_train)
    again = tmp_path / "again"
    assert main(["bench", "select", "--real", str(tiny_real), "--init",
                 str(model_bundle["model"]), "--profile", "smoke", "--folds", "2",
                 "--candidates", "shipped", "no_pretraining", "--reuse-inner",
                 str(reports / "metrics.json"), "--reports-dir", str(again), "-q"]) == 0
    assert "(--reuse-inner)" in capsys.readouterr().out
    second = json.loads((again / "metrics.json").read_text())["recipe_selection_region"]
    assert {c[0] for c in calls if not c[3]} == {"no_pretraining"}
    assert len([c for c in calls if not c[3]]) == 2 * 2  # outer folds x inner folds, new only
    scratch_fits = 4 + second["chosen"]["no_pretraining"]  # inner fits, chosen outer ones
    assert inits.count(None) == scratch_fits  # from scratch, not from the pre-trained bundle
    assert {str(i) for i in inits if i is not None} <= {str(model_bundle["model"])}
    assert second["order"] == ["shipped", "no_pretraining"]
    assert second["candidates"]["no_pretraining"]["pretrained"] is False
    for first, later in zip(record["folds"], second["folds"], strict=True):
        assert later["inner"]["shipped"]["reused"] is True
        assert later["inner"]["no_pretraining"]["reused"] is False
        for key in ("balanced_accuracy", "mean", "brighter cores, noisier sky"):
            assert later["inner"]["shipped"][key] == first["inner"]["shipped"][key]
    assert second["seed"] == 0 and second["init_sha256"] == record["init_sha256"]


def test_reuse_takes_the_same_models_scores_only(tiny_real):
    from galaxy10.bench.real import cv_folds
    from galaxy10.bench.selection import _reusable
    from galaxy10.core.profiles import SETTINGS_ADDED, get_profile
    from galaxy10.modeling.augment import ROBUST_JITTER, SURVEY_JITTER

    _, about = cv_folds(tiny_real, 2, seed=0, split="region")
    fold = {"balanced_accuracy": 0.7, "recall": [0.7] * 10, "train_seconds": 3.0,
            "shifts": {"brighter cores, noisier sky": 0.6}}
    section = {"cv": about["cv"], "profile": "faithful",
               "finetune_jitters": {"galaxy_cnn_finetuned_robust": json.loads(
                   json.dumps(ROBUST_JITTER))},
               "models": {"galaxy_cnn_finetuned_robust": {"folds": [fold, fold]}}}
    faithful = get_profile("faithful").with_overrides(**SETTINGS_ADDED)  # kept no settings
    reused = _reusable(section, about, faithful, "robust")
    assert reused is not None and reused[0]["balanced_accuracy"] == 0.7
    assert reused[0]["brighter cores, noisier sky"] == 0.6
    assert _reusable(section, about, get_profile("smoke"), "robust") is None
    assert _reusable(section, about, faithful, "shipped") is None  # another augmentation
    assert _reusable({**section, "cv": "another"}, about, faithful, "robust") is None
    shipped = {**section, "finetune_jitters": {"galaxy_cnn_finetuned_survey": json.loads(
        json.dumps(SURVEY_JITTER))}, "models": {"galaxy_cnn_finetuned_survey": {"folds": [fold]}}}
    assert _reusable(shipped, about, faithful, "shipped") is not None
    assert _reusable(shipped, about, faithful, "no_label_smoothing") is None  # other settings
    now = get_profile("faithful")  # a setting added since, not at its value of before
    assert _reusable(shipped, about, now, "shipped") is None
    kept = {**shipped, "profile_settings": now.to_dict()}
    assert _reusable(kept, about, now, "shipped") is not None
    assert _reusable(kept, about, faithful, "shipped") is None
    merged = json.loads(json.dumps(shipped))  # the model rerun later, beside older ones
    merged["models"]["galaxy_cnn_finetuned_survey"]["profile_settings"] = now.to_dict()
    assert _reusable(merged, about, now, "shipped") is not None  # its own settings count
    assert _reusable(merged, about, faithful, "shipped") is None


def _before():
    """Profile faithful as it was before the settings added since (the records' profile)."""
    from galaxy10.core.profiles import SETTINGS_ADDED, get_profile

    return get_profile("faithful").with_overrides(**SETTINGS_ADDED)


def _selection(jitter_settings=True, **changes):
    """A recorded two-fold selection of the shipped recipe and 80 epochs."""
    from galaxy10.bench.selection import _settings
    from galaxy10.core.identity import file_sha256
    from galaxy10.modeling.shipped import shipped_bundle

    candidates = {"then_shipped": _settings("shipped"), "half": _settings("80_epochs")}
    if not jitter_settings:  # records before the full settings were kept name the jitter only
        candidates = {k: {x: y for x, y in v.items() if x != "jitter_settings"}
                      for k, v in candidates.items()}
    inner = {"balanced_accuracy": [0.7, 0.8], "mean": 0.75,
             "brighter cores, noisier sky": 0.7, "train_seconds": 3.0}
    record = {"cv": "folds", "profile": "faithful", "inner_folds": 2,
              "profile_settings": _before().to_dict(),
              "init": str(shipped_bundle()), "init_sha256": file_sha256(shipped_bundle()),
              "candidates": candidates,
              "folds": [{"fold": k, "inner_sizes": [[40, 40], [40, 40]],
                         "inner": {"then_shipped": inner, "half": {**inner, "mean": 0.6}}}
                        for k in range(2)]}
    return {**record, **changes}


def test_inner_reuse_takes_only_candidates_measured_the_same_way():
    from galaxy10.bench.selection import _settings, inner_reuse
    from galaxy10.core.profiles import get_profile
    from galaxy10.modeling.shipped import shipped_bundle

    faithful, init = _before(), shipped_bundle()
    names = ["shipped", "80_epochs", "no_label_smoothing"]
    found = inner_reuse(_selection(), names, faithful, init, 2)
    assert set(found) == {"shipped", "80_epochs"}  # matched by settings, not by name
    assert found["80_epochs"][1]["scores"]["mean"] == 0.6
    assert found["shipped"][0]["sizes"] == [[40, 40], [40, 40]]
    assert set(inner_reuse(_selection(False), names, faithful, init, 2)) == {"shipped",
                                                                             "80_epochs"}
    assert inner_reuse(_selection(), names, get_profile("smoke"), init, 2) == {}
    assert inner_reuse(_selection(), names, faithful, init, 3) == {}
    assert inner_reuse(_selection(init_sha256="0" * 64), names, faithful, init, 2) == {}
    settings = {**faithful.to_dict(), "finetune_epochs": 7}
    assert set(inner_reuse(_selection(profile_settings=settings), names, faithful, init,
                           2)) == {"80_epochs"}  # its override makes up for what differs
    settings["finetune_label_smoothing"] = 0.3
    assert inner_reuse(_selection(profile_settings=settings), names, faithful, init, 2) == {}
    older = {k: v for k, v in faithful.to_dict().items()
             if k != "finetune_refresh_batch_norm"}  # made before the setting existed
    assert set(inner_reuse(_selection(profile_settings=older), names, faithful, init,
                           2)) == {"shipped", "80_epochs"}
    now = get_profile("faithful")  # refreshes the statistics, as no older record did
    assert inner_reuse(_selection(profile_settings=older), names, now, init, 2) == {}
    adopted = _selection()  # a candidate's override, later the default: found under its name
    adopted["candidates"]["refreshed"] = {**_settings("shipped"),
                                          "overrides": {"finetune_refresh_batch_norm": True}}
    for row in adopted["folds"]:
        row["inner"]["refreshed"] = {**row["inner"]["then_shipped"], "mean": 0.9}
    found = inner_reuse(adopted, ["shipped", "no_refreshed_statistics"], now, init, 2)
    assert found["shipped"][0]["scores"]["mean"] == 0.9
    assert found["no_refreshed_statistics"][0]["scores"]["mean"] == 0.75  # the recipe then
    assert inner_reuse(adopted, ["shipped"], faithful, init, 2)["shipped"][0]["scores"][
        "mean"] == 0.75
    scratch = _selection()  # the same augmentation and settings, but not pre-trained
    scratch["candidates"]["then_shipped"]["pretrained"] = False
    assert set(inner_reuse(scratch, names, faithful, init, 2)) == {"80_epochs"}
    assert inner_reuse(_selection(False), ["no_pretraining", "shipped"], faithful, init,
                       2).keys() == {"shipped"}  # a record without the flag was pre-trained
    other = _selection()
    other["candidates"]["then_shipped"]["jitter_settings"] = {"noise": [0, 1]}
    assert set(inner_reuse(other, names, faithful, init, 2)) == {"80_epochs"}
    for broken in (_selection(folds="x"), _selection(candidates=[1]), [],
                   _selection(folds=[{"fold": 0, "inner_sizes": [], "inner": {
                       "then_shipped": {"mean": "high"}}}])):
        assert inner_reuse(broken, names, faithful, init, 2) == {}


def test_inner_scores_of_other_outer_folds_are_refused_before_training(tiny_real):
    from galaxy10.bench.selection import OtherFoldsError, select_recipe
    from galaxy10.modeling.shipped import shipped_bundle

    with pytest.raises(OtherFoldsError, match="other outer folds"):  # "folds" is no CV's
        select_recipe(tiny_real, _before(), ["shipped", "80_epochs"],
                      init=shipped_bundle(), outer_folds=2, reuse_inner=_selection())


def test_inner_scores_that_match_no_candidate_are_said_to_be_unused(tiny_real):
    from galaxy10.bench.selection import select_recipe
    from galaxy10.modeling.shipped import shipped_bundle

    said = []

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("--reuse-inner"):
            raise KeyboardInterrupt  # stop here: the line comes before any training

    with pytest.raises(KeyboardInterrupt):
        select_recipe(tiny_real, _before(), ["shipped", "80_epochs"], init=shipped_bundle(),
                      outer_folds=2, reuse_inner=_selection(init_sha256="0" * 64), say=say)
    assert said[-1].startswith("--reuse-inner: no candidate's inner scores in it")


@pytest.mark.parametrize(("extra", "expected"), [
    (["--candidates", "shipped"], "at least two different recipes"),
    (["--candidates", "shipped", "shipped"], "at least two different recipes"),
    (["--inner-folds", "1"], "--inner-folds"),
])
def test_bad_selection_arguments_are_refused_in_one_line(tmp_path, tiny_real, extra, expected,
                                                         capsys):
    code = main(["bench", "select", "--real", str(tiny_real), *extra,
                 "--reports-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()


def test_reuse_must_be_a_bench_real_record(tmp_path, tiny_real, capsys):
    bad = tmp_path / "m.json"
    bad.write_text("{not json")
    code = main(["bench", "select", "--real", str(tiny_real), "--reuse", str(bad),
                 "--reports-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and str(bad) in err and "not a JSON file" in err
    bad.write_text(json.dumps({"real_cv": {}}))
    code = main(["bench", "select", "--real", str(tiny_real), "--reuse", str(bad),
                 "--reports-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "no 'real_cv_region' record" in err


def test_region_selection_needs_sky_positions(tmp_path, small_h5, capsys, monkeypatch):
    table = tmp_path / "nowhere" / "Galaxy10_coord.csv"
    monkeypatch.setenv("GALAXY10_COORDS", str(table))
    code = main(["bench", "select", "--real", str(small_h5), "--reports-dir",
                 str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "no sky positions" in err and str(small_h5) in err
    assert f"GALAXY10_COORDS; the published table is not at {table}" in err  # every way out
    assert len(err.strip().splitlines()) == 1
