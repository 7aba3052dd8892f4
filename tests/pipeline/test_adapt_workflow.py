"""``adapt``: a new bundle fitted to a user's unlabelled images; the original is untouched."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from conftest import encode_png
from tiny_bundles import tiny_bundle

from galaxy10.core.errors import Galaxy10Error
from galaxy10.modeling.adapt import batch_norm_layers
from galaxy10.modeling.bundle import read_bundle, write_calibration
from galaxy10.modeling.predict import Predictor
from galaxy10.pipeline.adapt import adapt_bundle, class_shares, sample_positions


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("adapt")
    data = synthetic.generate(root / "mine.h5", n=40, seed=3, progress=False)
    model = tiny_bundle(root / "tiny.keras")
    write_calibration(model, {"temperature": 1.7})
    return {"root": root, "data": data, "model": model}


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _statistics(path) -> list[np.ndarray]:
    return [w for layer in batch_norm_layers(Predictor(path).model)
            for w in layer.get_weights()[2:]]


def test_writes_a_new_bundle_and_leaves_the_original_as_it_was(world, tmp_path) -> None:
    model = world["model"]
    before = (_digest(model), _digest(model.with_suffix(".json")))
    result = adapt_bundle(model, [world["data"]], tmp_path / "mine.keras", images=30,
                          progress=False)
    assert (_digest(model), _digest(model.with_suffix(".json"))) == before
    assert (result.rows, result.images, result.skipped, result.layers) == (40, 30, 0, 2)
    params = read_bundle(result.out)
    step = params.lineage[-1]
    assert step["stage"] == "adapt" and step["images"] == 30 and step["input_rows"] == 40
    assert params.calibration.temperature == 1.7  # kept: no label to fit another
    assert params.image == read_bundle(model).image and params.tta
    assert params.scores is None  # the source's scores were the network's before adaptation
    changed = [not np.allclose(a, b) for a, b in zip(_statistics(model), _statistics(result.out),
                                                     strict=True)]
    assert all(changed)
    assert np.isclose(result.before.sum(), 1) and np.isclose(result.after.sum(), 1)
    assert "adapted the 2 batch-normalisation layers" in "\n".join(result.lines())


def test_the_same_inputs_and_seed_give_the_same_bundle_another_seed_another(world,
                                                                            tmp_path) -> None:
    runs = {name: adapt_bundle(world["model"], [world["data"]], tmp_path / f"{name}.keras",
                               images=12, seed=seed, progress=False).out
            for name, seed in (("a", 0), ("b", 0), ("c", 1))}
    a, b, c = (_statistics(runs[k]) for k in "abc")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.allclose(x, z) for x, z in zip(a, c, strict=True))


def test_reads_what_classify_reads_and_leaves_out_what_is_not_a_cutout(world,
                                                                       tmp_path) -> None:
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(world["data"]) as f:
        images = f.read(np.arange(4))
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, image in enumerate(images):
        (folder / f"g{i}.png").write_bytes(encode_png(image))
    (folder / "blank.png").write_bytes(encode_png(np.zeros((256, 256, 3), np.uint8)))
    result = adapt_bundle(world["model"], [folder], tmp_path / "f.keras", progress=False)
    assert (result.rows, result.images, result.skipped) == (5, 4, 1)
    with pytest.raises(Galaxy10Error, match="none of the 1 sampled rows is a readable galaxy"):
        only_blank = tmp_path / "blank"
        only_blank.mkdir()
        (only_blank / "blank.png").write_bytes(encode_png(np.zeros((256, 256, 3), np.uint8)))
        adapt_bundle(world["model"], [only_blank], tmp_path / "g.keras", progress=False)
    assert not (tmp_path / "g.keras").exists()


def test_sample_positions_are_distinct_sorted_seeded_and_at_most_the_rows() -> None:
    picks = sample_positions(1000, 50, seed=4)
    assert len(picks) == len(np.unique(picks)) == 50 and np.all(np.diff(picks) > 0)
    assert picks.max() < 1000
    np.testing.assert_array_equal(picks, sample_positions(1000, 50, seed=4))
    assert not np.array_equal(picks, sample_positions(1000, 50, seed=5))
    np.testing.assert_array_equal(sample_positions(7, 50, seed=0), np.arange(7))


def test_class_shares_count_the_top_guesses() -> None:
    probs = np.eye(10)[[0, 0, 3, 9]]
    np.testing.assert_allclose(class_shares(probs), np.bincount([0, 0, 3, 9], minlength=10) / 4)


def test_the_command_writes_the_bundle_and_says_how_the_guesses_moved(world, tmp_path,
                                                                      capsys) -> None:
    from galaxy10.cli import main

    out = tmp_path / "cli.keras"
    argv = ["adapt", str(world["data"]), "--out", str(out), "--model", str(world["model"]),
            "--images", "10", "-q"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "predicted classes on those images, before -> after:" in text
    assert f"wrote {out}" in text and read_bundle(out).lineage[-1]["stage"] == "adapt"


def test_a_small_sample_is_adapted_to_with_a_warning(world, tmp_path) -> None:
    result = adapt_bundle(world["model"], [world["data"]], tmp_path / "few.keras", images=1,
                          progress=False)
    text = "\n".join(result.lines())
    assert "to 1 image (a seeded sample of 40 input rows)" in text
    assert "warning: statistics of fewer than 200 galaxies" in text
