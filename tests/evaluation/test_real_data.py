"""Real-data features: other sources' shifts, robust augmentation, fine-tuning, bench real."""

from __future__ import annotations

import json

import numpy as np
import pytest

from galaxy10.cli import main
from galaxy10.modeling import shifts


def _sky(n: int = 4, size: int = 64, sigma: float = 3.0, seed: int = 0) -> np.ndarray:
    """Noisy dark sky with a bright centred blob: a stand-in cut-out."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2
    blob = 150 * np.exp(-(xx ** 2 + yy ** 2) / (2 * (size / 10) ** 2))
    images = 30 + blob[None, :, :, None] + rng.normal(0, sigma, (n, size, size, 3))
    return np.clip(np.rint(images), 0, 255).astype(np.uint8)


def test_noise_shift_scales_the_measured_noise():
    x = _sky(sigma=3.0)
    before = shifts.background_sigma(x)
    assert before == pytest.approx(3.0, rel=0.15)
    after = shifts.background_sigma(shifts.add_noise(x, 2.0, np.random.default_rng(1)))
    np.testing.assert_allclose(after / before, 2.0, rtol=0.15)


def test_gamma_below_one_brightens_and_keeps_black_and_white():
    x = _sky()
    bright = shifts.gamma_stretch(x, 0.7)
    assert bright.mean() > x.mean()
    edges = shifts.gamma_stretch(np.array([[0, 255]], dtype=np.uint8), 1.4)
    assert edges.tolist() == [[0, 255]]


def test_rescale_keeps_the_galaxy_centred_and_changes_its_size():
    x = _sky(n=1)
    centre = (x[0, ..., 0] > 100).sum()
    larger = (shifts.rescale(x, 1.25)[0, ..., 0] > 100).sum()
    smaller = (shifts.rescale(x, 0.8)[0, ..., 0] > 100).sum()
    assert larger == pytest.approx(centre * 1.25 ** 2, rel=0.2)
    assert smaller == pytest.approx(centre * 0.8 ** 2, rel=0.2)
    big = shifts.rescale(x, 1.25)[0, ..., 0]
    ys, xs = np.nonzero(big > 100)
    assert abs(ys.mean() - 31.5) < 1 and abs(xs.mean() - 31.5) < 1


def test_blur_and_jpeg_change_pixels_but_not_shape():
    x = _sky()
    for name in shifts.SHIFTS:
        out = shifts.apply_shift(x, name, seed=0)
        assert out.shape == x.shape and out.dtype == np.uint8
        assert not np.array_equal(out, x), name
    assert shifts.blur(x, 1.5).std() < x.std()
    with pytest.raises(ValueError, match="unknown shift"):
        shifts.apply_shift(x, "fisheye")


def test_noise_shift_is_seeded():
    x = _sky()
    np.testing.assert_array_equal(shifts.apply_shift(x, "noise x2", seed=3),
                                  shifts.apply_shift(x, "noise x2", seed=3))


def test_robust_jitter_is_seeded_and_varies_per_image():
    from galaxy10.modeling.augment import ROBUST_JITTER
    from galaxy10.modeling.batches import AugmentedBatches

    x = np.repeat(_sky(n=1), 8, axis=0)
    a, b = (AugmentedBatches(x, np.arange(8), 8, seed=5, **ROBUST_JITTER)[0][0] for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8
    centres = a[:, 28:36, 28:36].reshape(8, -1).mean(axis=1)
    assert len(np.unique(np.round(centres, 1))) > 4  # each image got its own change


def test_profile_overrides_replace_only_given_numbers():
    from galaxy10.core.profiles import get_profile

    quick = get_profile("quick")
    changed = quick.with_overrides(galaxy_epochs=3, galaxy_size=None, galaxy_filters=[8, 16])
    assert (changed.galaxy_epochs, changed.galaxy_size) == (3, quick.galaxy_size)
    assert changed.galaxy_filters == (8, 16)
    assert get_profile("full") is get_profile("faithful")
    with pytest.raises(ValueError, match="unknown profile setting"):
        quick.with_overrides(epochz=3)


def test_finetuning_warms_up_the_head_first():
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.train import finetune_galaxy_cnn

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)
    model = build_galaxy_cnn((16, 16, 3), filters=(4, 8), seed=0)
    conv_before = model.get_layer("conv0").get_weights()[0].copy()
    head = finetune_galaxy_cnn(model, x, y, epochs=0, head_epochs=1, patience=1,
                               batch_size=16)["head"]
    assert len(head["loss"]) == 1
    # epochs=0 trains nothing after the head phase: the features are untouched...
    np.testing.assert_array_equal(model.get_layer("conv0").get_weights()[0], conv_before)
    assert all(layer.trainable for layer in model.layers)  # ...and unfrozen again
    history = finetune_galaxy_cnn(model, x, y, epochs=1, head_epochs=0, patience=1,
                                  batch_size=16)
    assert not np.array_equal(model.get_layer("conv0").get_weights()[0], conv_before)
    assert len(history["loss"]) == 1 and history["val_rows"]


@pytest.fixture(scope="module")
def tiny_real(tmp_path_factory):
    """A 300-image Galaxy10 file standing in for real images (at least 5 per class)."""
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("real")
    return synthetic.generate(root / "real.h5", n=300, seed=4, progress=False)


@pytest.mark.slow
def test_pretrain_then_train_init_records_the_lineage(tmp_path, tiny_real, capsys):
    from galaxy10.datasets import synthetic

    synth = synthetic.generate(tmp_path / "synth.h5", n=300, seed=5, progress=False)
    pre = tmp_path / "pre.keras"
    assert main(["pretrain", "--data", str(synth), "--out", str(pre), "--profile", "smoke",
                 "--size", "24", "--real", str(tiny_real), "--reports-dir", str(tmp_path / "r"),
                 "-q"]) == 0
    out = capsys.readouterr().out
    assert "sim-to-real: balanced accuracy" in out
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["pretrain"]["sim_to_real"]["n_test"] == 300
    assert metrics["pretrain"]["provenance"]["wall_minutes"] >= 0
    tuned = tmp_path / "tuned.keras"
    assert main(["train", "--data", str(tiny_real), "--init", str(pre), "--out", str(tuned),
                 "--profile", "smoke"]) == 0
    captured = capsys.readouterr()
    assert "epoch 1/" in captured.err  # progress per epoch, on stderr
    params = json.loads(tuned.with_suffix(".json").read_text())
    assert params["image"]["size"] == 24  # --size 24 (smoke's own is 32); fine-tuning keeps it
    lineage = params["lineage"]
    assert [step["stage"] for step in lineage] == ["pre-train", "fine-tune"]
    assert lineage[0]["data"]["path"] == str(synth.resolve())
    assert lineage[1]["data"]["path"] == str(tiny_real.resolve())
    assert lineage[0]["jitter"]["brightness"] == [0.6, 1.6]  # pre-training: every jitter
    assert lineage[1]["jitter"]["gamma"] == [0.7, 1.4] and "brightness" not in lineage[1]["jitter"]


@pytest.mark.slow
def test_bench_real_cross_validates_every_model_and_scores_shifts(tmp_path, tiny_real,
                                                                  model_bundle, capsys):
    reports = tmp_path / "reports"
    assert main(["bench", "real", "--real", str(tiny_real), "--init", str(model_bundle["model"]),
                 "--profile", "smoke", "--cv", "random", "--folds", "2",
                 "--finetune-jitter", "none", "robust",
                 "--reports-dir", str(reports)]) == 0
    table = capsys.readouterr().out
    assert "galaxy_cnn_finetuned" in table and "+-" in table
    cv = json.loads((reports / "metrics.json").read_text())["real_cv"]
    assert cv["model_order"] == ["seed_cnn", "galaxy_cnn_scratch", "galaxy_cnn_finetuned",
                                 "galaxy_cnn_finetuned_robust", "linear_probe"]
    assert set(cv["models"]) == set(cv["model_order"])
    assert cv["provenance"]["machine"]["cpu_cores"] >= 1 and "commit" in cv["provenance"]
    for r in cv["models"].values():
        assert len(r["folds"]) == 2
        scores = [f["balanced_accuracy"] for f in r["folds"]]
        assert r["balanced_accuracy"]["mean"] == pytest.approx(np.mean(scores))
        assert r["balanced_accuracy"]["sd"] == pytest.approx(np.std(scores, ddof=1))
        assert set(r["shift"]["by_shift"]) == set(shifts.SHIFTS)
        assert r["shift"]["worst_mean"] == min(v["mean"] for v in r["shift"]["by_shift"].values())
        assert len(r["recall"]) == 10
        p10 = [f["neighbours"]["p@10"] for f in r["folds"]]
        assert r["neighbours"]["p@10"]["mean"] == pytest.approx(np.mean(p10))
        assert 0 < r["neighbours"]["chance"]["mean"] < 0.2
    assert "p@10 nn: how often the 10 nearest" in table


def test_bench_real_without_real_images_says_how_to_make_them(tmp_path, capsys):
    code = main(["bench", "real", "--real", str(tmp_path / "nowhere"), "--init", "none"])
    err = capsys.readouterr().err
    assert code == 2 and "python -m galaxy10 import" in err and "Traceback" not in err


@pytest.mark.slow
def test_notebook_session_finetunes_a_pretrained_bundle_on_real_data_only(tmp_path, tiny_real,
                                                                          model_bundle):
    import shutil

    import h5py

    from galaxy10.pipeline.session import open_run

    imported = shutil.copy(tiny_real, tmp_path / "imported.h5")
    with h5py.File(imported, "r+") as f:
        f.attrs["galaxy10_source"] = "imported"  # as `python -m galaxy10 import` marks it
    synthetic_run = open_run(tiny_real, "smoke", reports_dir=tmp_path / "r1",
                             models_dir=tmp_path / "m1", progress=False)
    assert "applies to real images" in synthetic_run.finetune_pretrained(model_bundle["model"])[
        "summary"]
    run = open_run(imported, "smoke", reports_dir=tmp_path / "r2", models_dir=tmp_path / "m2",
                   progress=False)
    assert "python -m galaxy10 pretrain" in run.finetune_pretrained(tmp_path / "none.keras")[
        "summary"]
    run.make_splits()
    tuned = run.finetune_pretrained(model_bundle["model"])
    params = json.loads((tmp_path / "m2" / "galaxy_cnn_finetuned.json").read_text())
    assert params["lineage"][-1]["stage"] == "fine-tune"
    assert params["lineage"][-1]["data"]["source"] == "imported"
    assert params["calibration"]["temperature"] > 0
    assert params["history"]["label_smoothing"] == 0.1  # the profile's fine-tuning recipe
    assert params["history"]["head"]["label_smoothing"] == 0.1
    assert tuned["bundle"].endswith("galaxy_cnn_finetuned.keras")


def test_finetuning_a_loaded_bundle_gives_the_same_weights_whatever_ran_before(tmp_path):
    """A loaded model's dropout draws its mask seed from Python's random state at loading;
    fine-tuning sets it from its own seed, so one seed gives one model."""
    import random

    from tiny_bundles import tiny_bundle

    from galaxy10.modeling.models import load_model
    from galaxy10.modeling.train import finetune_galaxy_cnn

    bundle = tiny_bundle(tmp_path / "start.keras")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)
    runs = []
    for before in (1, 2):  # what ran before the load consumed Python's random numbers
        random.seed(before)
        model = load_model(bundle)
        assert any(layer.name.startswith("dropout") for layer in model.layers)
        finetune_galaxy_cnn(model, x, y, epochs=2, head_epochs=1, patience=1, batch_size=16,
                            seed=3, average_last=1)
        runs.append(model.get_weights())
    for a, b in zip(runs[0], runs[1], strict=True):
        np.testing.assert_array_equal(a, b)
    seed_state = [v for v in model.variables if v.name == "seed_generator_state"]
    assert seed_state and int(np.asarray(seed_state[0])[1]) > 0  # its masks were drawn


def test_finetuning_ends_with_the_mean_weights_of_its_last_epochs():
    """Weight averaging: every epoch runs (no early stop) and the model ends on the mean of
    the weights recorded after each of the last ``average_last`` epochs."""
    from galaxy10.core.quiet import load_keras
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.train import finetune_galaxy_cnn

    keras = load_keras()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)
    model = build_galaxy_cnn((16, 16, 3), filters=(4, 8), seed=0)
    seen: list[list[np.ndarray]] = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([np.array(w) for w in self.model.get_weights()])

    import galaxy10.modeling.train as train

    fit = train.fit_galaxy_cnn

    def recording_fit(*args, callbacks=None, **kwargs):
        return fit(*args, callbacks=[*(callbacks or []), Record()], **kwargs)

    train.fit_galaxy_cnn = recording_fit
    try:
        history = finetune_galaxy_cnn(model, x, y, epochs=4, head_epochs=0, patience=1,
                                      batch_size=16, average_last=2)
    finally:
        train.fit_galaxy_cnn = fit
    assert len(history["loss"]) == 4 and history["averaged_epochs"] == 2  # patience ignored
    expected = [(a + b) / 2 for a, b in zip(seen[2], seen[3], strict=True)]
    for got, want in zip(model.get_weights(), expected, strict=True):
        if np.issubdtype(got.dtype, np.floating):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.get_layer("conv0").get_weights()[0],
                           seen[3][[w.name for w in model.weights].index(
                               model.get_layer("conv0").weights[0].name)])


def test_finetuning_can_end_on_the_training_images_own_statistics():
    """``refresh_batch_norm``: after the weight average, each batch-normalisation layer holds
    the mean of its input over the training rows' eight views, the validation rows left out;
    the averaged statistics it replaces were not those."""
    from galaxy10.core.quiet import load_keras
    from galaxy10.modeling.adapt import batch_norm_layers
    from galaxy10.modeling.augment import dihedral
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.train import finetune_galaxy_cnn

    keras = load_keras()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 16, 16, 3), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6)

    def input_mean(model, rows) -> np.ndarray:
        first = batch_norm_layers(model)[0]
        sub = keras.Model(model.inputs, first.input)
        seen = np.concatenate([np.asarray(sub(dihedral(x[rows], v), training=False))
                               for v in range(8)])
        return seen.reshape(-1, seen.shape[-1]).mean(axis=0)

    models, histories = [], []
    for refresh in (False, True):
        model = build_galaxy_cnn((16, 16, 3), filters=(4, 8), seed=0)
        histories.append(finetune_galaxy_cnn(model, x, y, epochs=2, head_epochs=0, patience=1,
                                             batch_size=16, average_last=2,
                                             refresh_batch_norm=refresh))
        models.append(model)
    plain, refreshed = models
    assert "batch_norm_refreshed" not in histories[0]
    assert histories[1]["batch_norm_refreshed"] == len(batch_norm_layers(refreshed)) > 0
    train_rows = np.setdiff1d(np.arange(len(x)), histories[1]["val_rows"])
    mean = np.asarray(batch_norm_layers(refreshed)[0].moving_mean)
    np.testing.assert_allclose(mean, input_mean(refreshed, train_rows), rtol=1e-5, atol=1e-6)
    assert np.abs(mean - input_mean(refreshed, np.arange(len(x)))).max() > 1e-4  # val left out
    assert not np.allclose(np.asarray(batch_norm_layers(plain)[0].moving_mean), mean,
                           rtol=1e-3, atol=1e-3)
    for a, b in zip(plain.get_layer("conv0").get_weights(),
                    refreshed.get_layer("conv0").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # the same training: only the statistics differ


def test_profiles_average_the_last_quarter_of_fine_tuning():
    from galaxy10.core.profiles import get_profile

    faithful = get_profile("faithful")
    assert faithful.finetune_average_epochs == 40  # of 160
    assert faithful.with_epochs(2).finetune_average_epochs == 1
    assert faithful.with_overrides(finetune_average_fraction=0).finetune_average_epochs == 0


def test_sky_gain_scales_the_galaxy_and_keeps_the_sky():
    x = _sky(sigma=1.0)
    brighter = shifts.sky_gain(x, 1.2)
    sky = shifts.sky_level(x)
    np.testing.assert_allclose(shifts.sky_level(brighter), sky, atol=1.0)
    centre = x[:, 32, 32].astype(float)
    np.testing.assert_allclose(brighter[:, 32, 32], sky[:, 0, 0] + 1.2 * (centre - sky[:, 0, 0]),
                               atol=1.0)
    per_image = shifts.sky_gain(x, np.array([1.0, 1.0, 1.5, 1.5]))
    np.testing.assert_array_equal(per_image[:2], x[:2])
    assert (per_image[2:, 32, 32] > x[2:, 32, 32]).all()


def test_the_other_export_shift_brightens_cores_and_raises_the_sky_noise():
    x = _sky(n=8, size=128, sigma=10.0)  # noise well above the MAD's whole-count steps
    out = shifts.apply_shift(x, "brighter cores, noisier sky", seed=1)
    assert (out[:, 64, 64] > x[:, 64, 64]).all()
    ratio = shifts.background_sigma(out) / shifts.background_sigma(x)
    np.testing.assert_allclose(ratio, 1.24, rtol=0.08)


def test_survey_jitter_varies_the_flux_scale_and_leaves_other_settings_alone():
    from galaxy10.modeling.augment import (
        JITTERS,
        ROBUST_JITTER,
        SURVEY_JITTER,
        augment_batch,
        jitter_source,
    )

    assert JITTERS["survey"] is SURVEY_JITTER
    assert {k: v for k, v in SURVEY_JITTER.items() if k != "contrast"} == ROBUST_JITTER
    x = _sky(n=8, sigma=1.0)
    out = jitter_source(x, np.random.default_rng(0), contrast=(0.8, 1.25))
    change = out[:, 32, 32].astype(int) - x[:, 32, 32].astype(int)
    assert (change > 0).any() and (change < 0).any()  # brighter and fainter cores
    same = augment_batch(x, np.random.default_rng(3), **SURVEY_JITTER)
    np.testing.assert_array_equal(same, augment_batch(x, np.random.default_rng(3),
                                                      **SURVEY_JITTER))
