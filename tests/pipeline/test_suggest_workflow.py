"""The suggest workflow without a model: labels manifests, the probabilities a catalogue
keeps, labelled rows left out, and a CSV from a catalogue folder."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from galaxy10.core.errors import GalaxyDataError
from galaxy10.pipeline.suggest import (
    HEADER,
    SuggestError,
    count_candidates,
    probabilities,
    read_labelled,
    suggest,
    unlabelled,
)


def fake_catalogue(folder: Path, n: int = 40, seed: int = 0, odd: tuple[int, ...] | None = ()
                   ) -> Path:
    """A catalogue folder (marker and one part) of ``n`` pictures with embeddings; the rows
    ``odd`` flagged "not a galaxy cut-out" (None: no such column, as in older catalogues)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from galaxy10.pipeline.catalogue import MARKER

    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(10) * 0.5, n)
    top3 = np.argsort(-probs, axis=1)[:, :3]
    folder.mkdir()
    (folder / MARKER).write_text("")
    files = [str(folder / f"g{i}.png") for i in range(n)]
    columns = {
        "id": [f"cut/g{i}.png" for i in range(n)], "file": files,
        "class": pa.array(top3[:, 0], pa.int8()),
        "top3_classes": top3.tolist(),
        "top3_probs": np.take_along_axis(probs, top3, axis=1).astype(np.float32).tolist(),
        "embedding": rng.normal(size=(n, 6)).astype(np.float32).tolist()}
    if odd is not None:
        columns["not_a_cutout"] = [i in odd for i in range(n)]
    pq.write_table(pa.table(columns), folder / "part.parquet")
    return folder


def test_a_labels_manifest_gives_ids_and_resolved_paths(tmp_path):
    (tmp_path / "sub").mkdir()
    labels = tmp_path / "sub" / "labels.csv"
    labels.write_text("\ufeffid,path,label\ng1,,3\n,../pics/a.png,0\ng2,b.png,9\n",
                      encoding="utf-8")
    ids, files = read_labelled(labels)
    assert ids == {"g1", "g2"}
    assert files == {str((tmp_path / "pics" / "a.png").resolve()),
                     str((tmp_path / "sub" / "b.png").resolve())}


@pytest.mark.parametrize(("text", "fault"), [
    ("path,label\na.png,1\n./a.png,2\n", "line 3: path './a.png' appears twice"),
    ("id,label\nx,10\n", "line 2: label '10' is not a class 0-9"),
    ("id,label\nx,\u00b2\n", "line 2: label '\u00b2' is not a class 0-9"),
    ("id,label\n,1\n", "line 2: neither an id nor a path"),
    ("id,class\nx,1\n", "labels manifest needs a 'label' column"),
])
def test_a_bad_labels_manifest_is_one_line_naming_it(tmp_path, text, fault):
    labels = tmp_path / "labels.csv"
    labels.write_text(text, encoding="utf-8")
    with pytest.raises(GalaxyDataError, match=fault) as caught:
        read_labelled(labels)
    assert str(caught.value).startswith(str(labels))


def test_the_rest_of_the_probability_is_spread_evenly_and_the_margin_kept():
    probs = probabilities(np.array([[4, 1, 7]]), np.array([[0.5, 0.2, 0.09]]))
    assert probs.sum() == pytest.approx(1.0)
    assert probs[0, [4, 1, 7]] == pytest.approx([0.5, 0.2, 0.09])
    assert probs[0, 0] == pytest.approx(0.21 / 7)


def test_labelled_rows_are_left_out_by_id_or_by_file(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"id": ["a", "b", "c", "d"],
                          "file": [None, str(tmp_path / "b.png"), "", str(tmp_path / "d.png")]})
    mask = unlabelled(table, ({"a"}, {str((tmp_path / "d.png").resolve())}))
    assert mask.tolist() == [False, True, True, False]
    assert unlabelled(table, None).all()


def test_suggest_writes_the_csv_and_skips_the_labelled(tmp_path):
    cat = fake_catalogue(tmp_path / "cat")
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\n" + "".join(f"cut/g{i}.png,1\n" for i in range(30)))
    result = suggest([cat], tmp_path / "next.csv", n=8, labelled=labels, seed=3)
    assert (result.rows, result.candidates, result.labelled) == (8, 10, 30)
    with open(tmp_path / "next.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == HEADER
    assert all(int(r["id"][5:-4]) >= 30 for r in rows)  # none of the labelled ones
    assert sum(r["reason"] == "random" for r in rows) == 1
    first = (tmp_path / "next.csv").read_bytes()
    suggest([cat], tmp_path / "next.csv", n=8, labelled=labels, seed=3)
    assert (tmp_path / "next.csv").read_bytes() == first
    with pytest.raises(SuggestError, match="--n 11: there are only 10 unlabelled"):
        suggest([cat], tmp_path / "other.csv", n=11, labelled=labels)
    assert not (tmp_path / "other.csv").exists()


def test_rows_flagged_not_a_cutout_are_left_out_unless_kept(tmp_path):
    odd = (0, 3, 7)
    cat = fake_catalogue(tmp_path / "cat", n=12, odd=odd)
    assert count_candidates([cat], None) == 9
    assert count_candidates([cat], None, keep_not_cutouts=True) == 12
    result = suggest([cat], tmp_path / "next.csv", n=9, random_share=0.0, seed=1)
    assert (result.rows, result.candidates, result.not_cutouts) == (9, 9, 3)
    assert "3 flagged 'not a galaxy cut-out' left out" in result.lines()[0]
    with open(tmp_path / "next.csv", newline="") as fh:
        picked = {int(r["id"][5:-4]) for r in csv.DictReader(fh)}
    assert picked == set(range(12)) - set(odd)
    kept = suggest([cat], tmp_path / "all.csv", n=12, keep_not_cutouts=True)
    assert (kept.candidates, kept.not_cutouts) == (12, 0)
    with pytest.raises(SuggestError, match="--n 10: there are only 9 .*3 flagged 'not a galaxy "
                                           "cut-out' left out: --keep-not-cutouts keeps them"):
        suggest([cat], tmp_path / "ten.csv", n=10)


def test_a_catalogue_without_the_flag_column_ranks_every_row(tmp_path):
    cat = fake_catalogue(tmp_path / "cat", n=12, odd=None)
    assert count_candidates([cat], None) == 12
    result = suggest([cat], tmp_path / "next.csv", n=12)
    assert (result.candidates, result.not_cutouts) == (12, 0)
