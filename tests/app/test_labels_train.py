"""The manifest the labelling panel writes is training data: ``import labels.csv`` reads it
as it is (HDF5 rows saved as PNG cut-outs) and ``train --init`` fine-tunes on the import."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_bundles import tiny_bundle

from galaxy10.cli import main


@pytest.mark.slow
def test_import_and_train_init_read_the_labels_the_panel_wrote(tmp_path, monkeypatch):
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.reader import Galaxy10File
    from galaxy10.pipeline.label_sources import label_source
    from galaxy10.pipeline.labelling import LabellingSession

    data = synthetic.generate(tmp_path / "sky.h5", n=400, seed=3, progress=False)
    tiny = tiny_bundle(tmp_path / "tiny.keras")
    source = label_source(tiny, data, n=400)
    labels = tmp_path / "labelling" / "labels.csv"
    session = LabellingSession(source.candidates, labels, who="t", refit_every=20,
                               cutout=source.image)
    with Galaxy10File(data) as f:
        truth = f.labels.astype(int)
        while session.current is not None:
            row = int(source.candidates.ids[session.current].split(":")[1])
            if row % 17 == 0:
                session.skip()  # left out of the manifest
            else:
                session.label(int(truth[row]))
        images = f.read(np.arange(len(f)))
    rows, given = session.labelled()
    imported = tmp_path / "imported.h5"
    assert main(["import", str(labels), "--out", str(imported), "-q"]) == 0
    with Galaxy10File(imported) as f:
        assert len(f) == len(rows) and sorted(f.labels.tolist()) == sorted(given.tolist())
        first = int(source.candidates.ids[rows[0]].split(":")[1])
        assert np.array_equal(f.image(0), images[first])  # the cut-out, pixel for pixel
    tuned = tmp_path / "tuned.keras"
    assert main(["train", "--data", str(imported), "--init", str(tiny), "--out", str(tuned),
                 "--profile", "smoke"]) == 0
    assert tuned.is_file()
    # train --data labels.csv imports the labels itself, into the data folder's cache
    monkeypatch.setenv("GALAXY10_DATA", str(tmp_path / "data"))
    direct = tmp_path / "direct.keras"
    assert main(["train", "--data", str(labels), "--init", str(tiny), "--out", str(direct),
                 "--profile", "smoke", "-q"]) == 0
    import json

    step = json.loads(direct.with_suffix(".json").read_text())["lineage"][-1]
    trained_on = step["data"]["path"]
    assert trained_on.startswith(str(tmp_path / "data" / "interim" / "imported"))
    with Galaxy10File(trained_on) as f:
        assert sorted(f.labels.tolist()) == sorted(given.tolist())


def test_train_refuses_a_labels_csv_too_small_to_split(tmp_path, capsys):
    from PIL import Image

    rows = ["file,label"]
    for k in range(3):
        Image.new("RGB", (32, 32), (k, k, k)).save(tmp_path / f"g{k}.png")
        rows.append(f"g{k}.png,{k}")
    labels = tmp_path / "labels.csv"
    labels.write_text("\n".join(rows) + "\n")
    code = main(["train", "--data", str(labels), "--out", str(tmp_path / "m.keras")])
    err = capsys.readouterr().err
    assert code == 2 and str(labels) in err and "too little to train on" in err
    assert not (tmp_path / "m.keras").exists()

