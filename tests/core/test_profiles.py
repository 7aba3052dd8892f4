"""Profile overrides as users pass them: a mapping, a JSON string, and one clear error if bad."""

from __future__ import annotations

import pytest

from galaxy10.core.errors import Galaxy10Error, ProfileError
from galaxy10.core.profiles import get_profile, parse_overrides, settings

QUICK = get_profile("quick")


@pytest.mark.parametrize("given", [
    {"ffn_epochs": 2, "galaxy_filters": [8, 16], "galaxy_crop": 1},  # papermill -y, a notebook
    '{"ffn_epochs": 2, "galaxy_filters": [8, 16], "galaxy_crop": 1}',  # papermill -p (JSON)
    '  {"ffn_epochs": 2, "galaxy_filters": [8, 16], "galaxy_crop": 1}\n'])
def test_a_mapping_and_its_json_string_give_the_same_profile(given):
    profile = QUICK.with_overrides(**parse_overrides(given))
    assert (profile.ffn_epochs, profile.galaxy_filters, profile.galaxy_crop) == (2, (8, 16), 1.0)
    assert isinstance(profile.galaxy_crop, float)
    assert profile.cnn_epochs == QUICK.cnn_epochs  # the rest is the profile's


@pytest.mark.parametrize("empty", [None, "", "  ", {}, "{}"])
def test_no_overrides_keep_the_profile(empty):
    assert QUICK.with_overrides(**parse_overrides(empty)) is QUICK


def test_settings_by_name_merge_with_overrides_and_none_keeps_the_profiles():
    merged = parse_overrides('{"ffn_epochs": 2}', galaxy_size=96, galaxy_epochs=None)
    assert merged == {"ffn_epochs": 2, "galaxy_size": 96}
    assert parse_overrides({"galaxy_size": 96}, galaxy_size=96) == {"galaxy_size": 96}
    assert parse_overrides({"galaxy_size": 96}, galaxy_size=None) == {"galaxy_size": 96}
    with pytest.raises(ProfileError, match=r"galaxy_size is given twice: 48, and 96 in overrides"):
        parse_overrides({"galaxy_size": 96}, galaxy_size=48)


@pytest.mark.parametrize(("given", "words"), [
    ("{ffn_epochs: 2}", ["not JSON", "double quotes", '{"ffn_epochs": 2}', "-y"]),
    ("ffn_epochs=2", ["not JSON"]),
    ("[1, 2]", ["must be a mapping", "[1, 2] (list)"]),
    ("2", ["must be a mapping", "2 (int)"]),
    (["ffn_epochs", 2], ["must be a mapping"]),
    ('{"ffn_epochz": 2}', ["unknown profile setting(s) ffn_epochz", "did you mean ffn_epochs",
                           "choose from", "ffn_folds", "galaxy_size"]),
    ('{"ffn_epochs": "two"}', ["ffn_epochs takes a whole number, not 'two' (str)"]),
    ('{"ffn_epochs": 2.5}', ["ffn_epochs takes a whole number, not 2.5 (float)"]),
    ('{"ffn_epochs": true}', ["ffn_epochs takes a whole number, not True (bool)"]),
    ('{"mixed_precision": 1}', ["mixed_precision takes true or false"]),
    ('{"galaxy_crop": "half"}', ["galaxy_crop takes a number"]),
    ('{"galaxy_filters": []}', ["galaxy_filters takes a list of whole numbers"]),
    ('{"galaxy_filters": [8, "16"]}', ["galaxy_filters takes a list of whole numbers"]),
    ('{"name": "faithful"}', ["unknown profile setting(s) name"])])
def test_a_bad_override_is_one_error_naming_the_key_and_what_is_allowed(given, words):
    with pytest.raises(ProfileError) as info:
        QUICK.with_overrides(**parse_overrides(given))
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert isinstance(info.value, Galaxy10Error) and isinstance(info.value, ValueError)
    assert info.value._render_traceback_() == [f"ProfileError: {message}"]  # one line in Jupyter


def test_every_setting_has_a_type_the_check_knows():
    from galaxy10.core.profiles import _WORDS

    kinds = settings()
    assert "name" not in kinds and "preset" not in kinds and "ffn_epochs" in kinds
    assert set(kinds.values()) <= set(_WORDS)
    for name, value in QUICK.to_dict().items():  # every current value passes its own check
        if name in kinds:
            assert getattr(QUICK.with_overrides(**{name: value}), name) == (
                tuple(value) if isinstance(value, list) else value)


def test_an_unknown_profile_is_a_profile_error():
    with pytest.raises(ProfileError, match="unknown profile 'quik'; choose from smoke"):
        get_profile("quik")


def test_open_run_takes_the_json_string_a_notebook_gets_from_papermill(tmp_path):
    from galaxy10.datasets import synthetic
    from galaxy10.pipeline.session import open_run

    data = synthetic.generate(tmp_path / "d.h5", n=30, seed=1, progress=False)
    folders = {"reports_dir": tmp_path / "r", "models_dir": tmp_path / "m", "progress": False}
    run = open_run(data, "smoke", overrides='{"ffn_epochs": 2}', **folders)
    assert run.profile.ffn_epochs == 2 and "Overridden: `ffn_epochs=2`" in run._repr_markdown_()
    run = open_run(data, "smoke", overrides={"ffn_epochs": 3}, galaxy_size=None, **folders)
    assert run.profile.ffn_epochs == 3 and run.profile.galaxy_size == 32
    with pytest.raises(ProfileError, match="ffn_epochz"):
        open_run(data, "smoke", overrides='{"ffn_epochz": 2}', **folders)


@pytest.mark.parametrize(("setting", "value", "words"), [
    ("finetune_label_smoothing", 1, "from 0 up to, not including, 1"),
    ("finetune_label_smoothing", -0.1, "not -0.1"),
    ("finetune_average_fraction", 1.5, "from 0 up to 1, not 1.5"),
])
def test_fractions_outside_their_range_are_refused(setting, value, words):
    with pytest.raises(ProfileError, match=words):
        QUICK.with_overrides(**{setting: value})
    assert QUICK.with_overrides(finetune_average_fraction=1).finetune_average_epochs == (
        QUICK.finetune_epochs)
    assert QUICK.with_overrides(finetune_label_smoothing=0).finetune_label_smoothing == 0


def test_the_finetuning_recipe_is_read_from_the_profile_alone():
    from galaxy10.core.profiles import FINETUNE_HEAD_LEARNING_RATE, FinetuneRecipe, get_profile

    faithful = get_profile("faithful")
    assert faithful.finetune_recipe() == FinetuneRecipe(
        epochs=160, head_epochs=3, patience=20, batch_size=32, learning_rate=1e-3,
        head_learning_rate=FINETUNE_HEAD_LEARNING_RATE, average_last=40, label_smoothing=0.1,
        refresh_batch_norm=True, refit_all=False)
    tuned = faithful.with_overrides(finetune_epochs=8, finetune_head_epochs=2,
                                    finetune_learning_rate=5e-4, finetune_patience=3,
                                    finetune_average_fraction=0.5, finetune_label_smoothing=0,
                                    finetune_refit_all=True, finetune_refresh_batch_norm=False,
                                    batch_size=16).finetune_recipe()
    assert tuned == FinetuneRecipe(epochs=8, head_epochs=2, patience=3, batch_size=16,
                                   learning_rate=5e-4, average_last=4, label_smoothing=0.0,
                                   refresh_batch_norm=False, refit_all=True)
    assert get_profile("smoke").finetune_recipe().epochs == 2


@pytest.mark.parametrize(("overrides", "words"), [
    ({"ffn_epochs": -3}, "profile setting ffn_epochs takes a number from 1 to 10,000, not -3"),
    ({"galaxy_epochs": 10**9}, "galaxy_epochs takes a number from 1 to 10,000, not 1000000000"),
    ({"galaxy_crop": float("nan")}, "profile setting galaxy_crop takes a number from 0.01 to "
                                    "1.0, not nan"),
    ({"finetune_learning_rate": float("inf")}, "finetune_learning_rate takes a number from"),
    ({"finetune_learning_rate": -0.001}, "not -0.001"),
    ({"batch_size": 0}, "batch_size takes a number from 1 to 65,536, not 0"),
    ({"cv_folds": 1}, "cv_folds takes a number from 2 to 100, not 1"),
    ({"galaxy_filters": [8, -1]}, "galaxy_filters takes numbers from 1 to 4,096, not (8, -1)"),
    ({"galaxy_size": 4096}, "profile setting galaxy_size 4096: larger than the 256 px cut-outs"),
    ({"galaxy_size": 3}, "galaxy_size 3: the quick profile's network halves its input 4 times; "
                         "give at least 16 px"),
    ({"finetune_label_smoothing": float("nan")}, "finetune_label_smoothing takes a fraction"),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_a_notebooks_overrides_are_range_checked_as_the_command_line_is(overrides, words):
    """Issue #39: negative, NaN or absurd overrides ran on (NaN crops, -3 epochs)."""
    with pytest.raises(ProfileError) as info:
        QUICK.with_overrides(**parse_overrides(overrides))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_the_command_line_and_the_overrides_share_one_bound():
    from galaxy10.cli import build_parser
    from galaxy10.cli.checks import galaxy_size
    from galaxy10.core.profiles import MAX_EPOCHS

    parser = build_parser()
    assert parser.parse_args(["train", "--data", "x.h5", "--out", "m.keras", "--epochs",
                              str(MAX_EPOCHS)]).epochs == MAX_EPOCHS
    with pytest.raises(SystemExit):
        parser.parse_args(["pretrain", "--epochs", str(MAX_EPOCHS + 1)])
    with pytest.raises(ProfileError):
        QUICK.with_overrides(galaxy_epochs=MAX_EPOCHS + 1)
    for size in (3, 7, 300):
        with pytest.raises(Galaxy10Error) as cli:
            galaxy_size(get_profile("smoke"), size)
        with pytest.raises(ProfileError) as notebook:
            get_profile("smoke").with_overrides(galaxy_size=size)
        assert str(cli.value).split(": ", 1)[1] == str(notebook.value).split(": ", 1)[1]


def test_open_run_refuses_a_bad_override_before_it_reads_the_data(tmp_path):
    from galaxy10.pipeline.session import open_run

    with pytest.raises(ProfileError, match=r"ffn_epochs takes a number from 1 to 10,000, not -1"):
        open_run(tmp_path / "absent.h5", "smoke", overrides={"ffn_epochs": -1},
                 reports_dir=tmp_path / "r", models_dir=tmp_path / "m", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_record_stands_for_a_profile_only_with_the_same_settings():
    """A record made before a setting existed ran with that setting's value of before."""
    import json

    from galaxy10.core.profiles import SETTINGS_ADDED, get_profile, same_settings

    faithful = get_profile("faithful")
    recorded = json.loads(json.dumps(faithful.to_dict()))
    assert same_settings(recorded, faithful)
    assert not same_settings(recorded, get_profile("smoke"))
    assert not same_settings({**recorded, "finetune_epochs": 80}, faithful)
    before = faithful.with_overrides(**SETTINGS_ADDED)  # as every run was before them
    older = {k: v for k, v in json.loads(json.dumps(before.to_dict())).items()
             if k not in SETTINGS_ADDED}
    assert same_settings(older, before) and same_settings(None, before)
    assert faithful.finetune_refresh_batch_norm != before.finetune_refresh_batch_norm
    assert not same_settings(older, faithful) and not same_settings(None, faithful)
    assert not same_settings(["not", "a", "record"], faithful)
