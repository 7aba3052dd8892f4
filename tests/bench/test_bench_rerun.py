"""A later bench real run of one model, merged beside the older rows of its section."""

import pytest


def _section(models, commit, settings=None, **extra):
    row = {"balanced_accuracy": {"mean": 0.78, "sd": 0.02}, "folds": [{"x": 1}]}
    return {"cv": "StratifiedGroupKFold(5, shuffle=True, random_state=0)", "n_images": 1000,
            "folds": 5, "duplicate_rows": 1, "profile": "faithful",
            "profile_settings": settings, "model_order": list(models),
            "finetune_jitters": {m: {"noise": [0, 1]} for m in models if "finetuned" in m},
            "models": {m: {**row, "balanced_accuracy": {"mean": s, "sd": 0.02}}
                       for m, s in models.items()},
            "provenance": {"commit": commit, "wall_minutes": 50.0}, **extra}


def test_a_rerun_replaces_its_rows_and_keeps_its_own_provenance_and_settings():
    from galaxy10.bench.rerun import merge_rerun
    from galaxy10.core.profiles import get_profile, model_settings

    now = get_profile("faithful").to_dict()
    old = _section({"seed_cnn": 0.3, "galaxy_cnn_finetuned_survey": 0.79}, "aaa1111")
    rerun = _section({"galaxy_cnn_finetuned_survey": 0.80, "galaxy_cnn_finetuned_new": 0.7},
                     "bbb2222", settings=now)
    merged = merge_rerun(old, rerun, note="bench real --models finetuned")
    assert merged["model_order"] == ["seed_cnn", "galaxy_cnn_finetuned_survey",
                                     "galaxy_cnn_finetuned_new"]
    survey = merged["models"]["galaxy_cnn_finetuned_survey"]
    assert survey["balanced_accuracy"]["mean"] == 0.80
    assert survey["provenance"] == {"commit": "bbb2222", "wall_minutes": 50.0,
                                    "note": "bench real --models finetuned"}
    assert model_settings(merged, "galaxy_cnn_finetuned_survey") == now
    assert model_settings(merged, "seed_cnn") is None  # the section's: kept none
    assert "provenance" not in merged["models"]["seed_cnn"]
    assert merged["provenance"]["commit"] == "aaa1111"  # the section's own run
    assert set(merged["finetune_jitters"]) == {"galaxy_cnn_finetuned_survey",
                                               "galaxy_cnn_finetuned_new"}
    assert old["models"]["galaxy_cnn_finetuned_survey"]["balanced_accuracy"]["mean"] == 0.79


@pytest.mark.parametrize(("key", "value"), [
    ("cv", "StratifiedGroupKFold(5, shuffle=True, random_state=1)"), ("n_images", 999),
    ("folds", 3), ("profile", "quick"), ("regions", {"groups": 59})])
def test_a_rerun_of_other_folds_is_refused(key, value):
    from galaxy10.bench.rerun import merge_rerun
    from galaxy10.core.errors import Galaxy10Error

    old = _section({"seed_cnn": 0.3}, "aaa1111")
    with pytest.raises(Galaxy10Error, match=f"differ in {key}"):
        merge_rerun(old, {**_section({"seed_cnn": 0.4}, "bbb2222"), key: value})
