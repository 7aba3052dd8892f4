"""``pretrain``'s workflow records its scores in the bundle, and ``bench shipped`` remakes it."""

from __future__ import annotations

import json

import pytest

from galaxy10.bench.shipped import bench_shipped, compare_scores, shipped_recipe
from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.profiles import get_profile


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A bundle pre-trained by pretrain_bundle on the tiny synthetic preset (smoke profile)."""
    import os

    from galaxy10.datasets.fetch import ensure_synthetic
    from galaxy10.pipeline.training import pretrain_bundle

    home = tmp_path_factory.mktemp("data_home")
    os.environ["GALAXY10_DATA"] = str(home)  # bench_shipped finds the same set here
    data = ensure_synthetic("tiny", 0, home, progress=False)
    out = tmp_path_factory.mktemp("bundle") / "pretrained_synthetic.keras"
    report = pretrain_bundle(data, out, get_profile("smoke"), seed=1, say=lambda _: None)
    yield out, report
    del os.environ["GALAXY10_DATA"]


def test_pretrain_writes_its_scores_and_provenance_into_the_bundle(pretrained):
    out, report = pretrained
    params = json.loads(out.with_suffix(".json").read_text())
    test = params["scores"]["test"]
    assert test["balanced_accuracy"] == report["test"]["balanced_accuracy"]
    lo, hi = test["balanced_accuracy_ci95"]
    assert lo <= test["balanced_accuracy"] <= hi and test["n_test"] == report["test"]["n_test"]
    assert "sim_to_real" not in params["scores"]  # no real images given
    assert set(params["provenance"]) >= {"commit", "machine"}
    assert [s["stage"] for s in params["lineage"]] == ["pre-train"]


def test_the_recipe_is_read_back_from_the_bundle(pretrained):
    recipe = shipped_recipe(pretrained[0])
    assert recipe["profile"] == "smoke" and recipe["seed"] == 1
    assert recipe["size"] == get_profile("smoke").galaxy_size
    assert recipe["synthetic"]["preset"] == "tiny"


def test_a_bundle_without_scores_is_not_a_recipe(pretrained, tmp_path):
    out = tmp_path / "b.keras"
    out.write_bytes(pretrained[0].read_bytes())
    params = json.loads(pretrained[0].with_suffix(".json").read_text())
    del params["scores"]
    out.with_suffix(".json").write_text(json.dumps(params))
    with pytest.raises(Galaxy10Error, match="nothing to remake"):
        shipped_recipe(out)


def test_within_noise_compares_the_difference_with_both_intervals():
    a = {"test": {"balanced_accuracy": 0.80, "balanced_accuracy_ci95": [0.78, 0.82]}}
    near = {"test": {"balanced_accuracy": 0.79, "balanced_accuracy_ci95": [0.77, 0.81]}}
    far = {"test": {"balanced_accuracy": 0.70, "balanced_accuracy_ci95": [0.68, 0.72]}}
    assert compare_scores(a, near)["test"]["within_noise"]
    row = compare_scores(a, far)["test"]
    assert not row["within_noise"] and row["difference"] == pytest.approx(-0.10)
    assert row["noise"] == pytest.approx((0.02 ** 2 + 0.02 ** 2) ** 0.5)


@pytest.mark.slow
def test_a_remade_bundle_scores_like_the_one_it_remakes(pretrained):
    result = bench_shipped(pretrained[0], say=lambda _: None)
    row = result["comparison"]["test"]
    assert row["within_noise"], row
    assert result["recipe"]["seed"] == 1
