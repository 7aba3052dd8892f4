"""Notebook 07 opens the labelling panel headless (papermill): on a data file and a model, with
the labels CSV it names made at once (a broken one is one line)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import write_h5
from tiny_bundles import tiny_bundle

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "07_label.ipynb"


def execute(target: Path, **parameters):
    import papermill as pm

    return pm.execute_notebook(NOTEBOOK, target, parameters=parameters, cwd=ROOT,
                               kernel_name="python3", progress_bar=False,
                               engine_name="galaxy10")


@pytest.mark.slow
def test_notebook_07_opens_the_panel_and_refuses_a_broken_labels_file(tmp_path):
    import numpy as np
    import papermill as pm

    images = np.random.default_rng(0).integers(0, 256, size=(24, 64, 64, 3), dtype=np.uint8)
    data = write_h5(tmp_path / "sky.h5", images=images)
    model = tiny_bundle(tmp_path / "tiny.keras")
    labels = tmp_path / "labels.csv"
    done = execute(tmp_path / "out.ipynb", data=os.fspath(data), model=os.fspath(model),
                   labels=os.fspath(labels), who="nb", n=10)
    views = [o for c in done.cells for o in c.get("outputs", [])
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views, "the panel was not displayed"
    assert labels.read_text() == "id,file,label,class_name,who,when\n"
    labels.write_text("id,file,label,who,when\na,,x,nb,t\n")
    with pytest.raises(pm.PapermillExecutionError) as info:
        execute(tmp_path / "bad.ipynb", data=os.fspath(data), model=os.fspath(model),
                labels=os.fspath(labels))
    assert info.value.evalue == f"{labels}: line 2: label 'x' is not a class 0-9"
