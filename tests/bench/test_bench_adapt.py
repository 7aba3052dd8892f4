"""``bench adapt``: plain and adapted scores per condition, and the network left as it was."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_bundles import tiny_bundle

from galaxy10.bench.adapt import (
    AS_THEY_ARE,
    WAYS,
    bench_adapt,
    format_adapt,
    plain_and_adapted,
    survey_mix,
)
from galaxy10.modeling.adapt import batch_norm_layers
from galaxy10.modeling.predict import Predictor


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("bench_adapt")
    return {"data": synthetic.generate(root / "real.h5", n=40, seed=5, progress=False),
            "model": tiny_bundle(root / "tiny.keras")}


def test_scores_plain_then_adapted_and_puts_the_statistics_back(world) -> None:
    from galaxy10.datasets.reader import Galaxy10File

    predictor = Predictor(world["model"])
    saved = [w.copy() for layer in batch_norm_layers(predictor.model)
             for w in layer.get_weights()]
    with Galaxy10File(world["data"]) as f:
        images, labels = f.read(np.arange(20)), f.labels[:20]
    scores = plain_and_adapted(predictor, images, labels)
    assert set(scores) == set(WAYS) and all(0 <= v <= 1 for v in scores.values())
    after = [w for layer in batch_norm_layers(predictor.model) for w in layer.get_weights()]
    for a, b in zip(saved, after, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_record_has_every_condition_and_the_gain_is_adapted_less_plain(world) -> None:
    lines: list[str] = []
    result = bench_adapt(world["data"], world["model"], n_folds=2, shifts=["noise x2"],
                         say=lines.append)
    section = result["splits"]["random"]["frozen"]
    assert list(section) == [AS_THEY_ARE, "noise x2"] == result["conditions"]
    for row in section.values():
        assert len(row["plain"]["runs"]) == 2
        for way in WAYS[1:]:
            np.testing.assert_allclose(row[f"{way}_gain"]["runs"],
                                       np.subtract(row[way]["runs"], row["plain"]["runs"]))
    assert len(lines) == 2 and "plain -> adapted" in lines[0]
    table = format_adapt(result)
    assert "== adapt, random CV, frozen network" in table and "noise x2" in table
    again = bench_adapt(world["data"], world["model"], n_folds=2, shifts=["noise x2"],
                        say=lines.append)
    assert again["splits"] == result["splits"]  # seeded: the same numbers


def test_the_markdown_has_a_row_per_condition_and_three_columns_per_model(world) -> None:
    from galaxy10.bench.adapt import adapt_markdown

    result = bench_adapt(world["data"], world["model"], n_folds=2, shifts=["blur 1.5 px"],
                         say=lambda line: None)
    lines = adapt_markdown(result)
    header = next(line for line in lines if line.startswith("| condition"))
    assert header.count("|") == 5 and "frozen: adapted, survey's mix" in header
    rows = [line for line in lines if line.startswith("| as they are") or
            line.startswith("| blur 1.5 px")]
    assert len(rows) == 2
    gain = result["splits"]["random"]["frozen"]["blur 1.5 px"]["survey_mix_gain"]["mean"]
    assert rows[1].endswith(f"({gain:+.3f}) |")


def test_a_survey_mix_follows_the_data_sets_class_shares() -> None:
    from galaxy10.core.classes import REAL_CLASS_COUNTS

    labels = np.repeat(np.arange(10), 100)  # equal classes, as a fold of the sample
    rows = survey_mix(labels, seed=0)
    assert len(rows) == len(labels)
    got = np.bincount(labels[rows], minlength=10) / len(rows)
    want = np.asarray(REAL_CLASS_COUNTS) / sum(REAL_CLASS_COUNTS)
    assert np.abs(got - want).max() < 0.03
    np.testing.assert_array_equal(rows, survey_mix(labels, seed=0))
