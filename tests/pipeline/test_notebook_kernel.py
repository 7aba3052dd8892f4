"""Notebooks as users run them: quiet kernels, and ``overrides`` passed the ways papermill can.

Two notebooks run in a kernel whose environment, as in Colab, sets no ``TF_CPP_MIN_LOG_LEVEL``:
01 with ``overrides`` as a JSON string (``papermill -p overrides '{"ffn_epochs": 2}'``), then
03, which loads TensorFlow, with a mapping (``-y``) and one more cell that raises a warning.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from conftest import tensorflow_log_lines

ROOT = Path(__file__).resolve().parents[2]
WARNING_CELL = ('import sys, warnings\n'
                'print("tensorflow loaded:", "tensorflow" in sys.modules)\n'
                'warnings.warn("a real warning from the notebook", UserWarning)')


def _execute(source: Path, target: Path, **parameters):
    """papermill's execute_notebook, with a kernel that shows descriptor 2 as users see it.

    ipykernel forwards what C++ code writes to descriptor 2 into the notebook, except when
    ``PYTEST_CURRENT_TEST`` is set (it leaves the capture to pytest then): without this, the
    kernel would send TensorFlow's lines to the terminal and the check would see nothing.
    """
    import papermill as pm

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("PYTEST_CURRENT_TEST", raising=False)
        return pm.execute_notebook(source, target, parameters=parameters, cwd=ROOT,
                                   kernel_name="python3", progress_bar=False)


def _text(notebook) -> str:
    return "\n".join(str(o.get("text") or o.get("data", {}).get("text/markdown", ""))
                     for c in notebook.cells for o in c.get("outputs", []))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from galaxy10.datasets import synthetic

    root = tmp_path_factory.mktemp("kernel")
    data = synthetic.generate(root / "data.h5", n=300, seed=5, progress=False)
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith(("TF_CPP", "GALAXY10_"))]:
            mp.delenv(name)  # as in a Colab kernel (main() in this process may have set it)
        mp.setenv("PYTHONPATH", os.fspath(ROOT))  # this checkout's galaxy10 in the kernel
        yield {"root": root, "data": os.fspath(data), "profile": "smoke", "seed": 0,
               "reports_dir": os.fspath(root / "reports"), "models_dir": os.fspath(root / "models")}


@pytest.fixture(scope="module")
def executed(folder):
    common = {k: v for k, v in folder.items() if k != "root"}
    eda = _execute(ROOT / "notebooks" / "01_eda.ipynb", folder["root"] / "01.ipynb",
                   overrides='{"ffn_epochs": 2}', **common)
    source = nbformat.read(ROOT / "notebooks" / "03_feedforward.ipynb", as_version=4)
    source.cells.append(nbformat.v4.new_code_cell(WARNING_CELL))
    nbformat.write(source, folder["root"] / "03_source.ipynb")
    ffn = _execute(folder["root"] / "03_source.ipynb", folder["root"] / "03.ipynb",
                   overrides={"ffn_epochs": 2}, **common)
    return {"01": eda, "03": ffn}


@pytest.mark.slow
def test_a_tensorflow_notebook_shows_no_cpp_log_lines_but_shows_real_warnings(executed):
    ffn = executed["03"]
    assert "tensorflow loaded: True" in _text(ffn)  # the check below has something to find
    assert tensorflow_log_lines(ffn) == []
    assert tensorflow_log_lines(executed["01"]) == []
    last = ffn.cells[-1].outputs
    assert any(o.get("name") == "stderr" and "UserWarning: a real warning from the notebook"
               in o["text"] for o in last), last


@pytest.mark.slow
def test_overrides_work_as_a_json_string_and_as_a_mapping(executed):
    for name in ("01", "03"):
        assert "Overridden: `ffn_epochs=2`" in _text(executed[name]), name


@pytest.mark.slow
@pytest.mark.parametrize(("overrides", "words"), [
    ('{"ffn_epochz": 2}', ["unknown profile setting(s) ffn_epochz", "choose from", "ffn_epochs"]),
    ("{ffn_epochs: 2}", ["not JSON", "double quotes"]),
    ({"ffn_epochs": "two"}, ["ffn_epochs takes a whole number"])], ids=["key", "json", "type"])
def test_a_bad_override_stops_the_notebook_with_one_named_error(folder, overrides, words):
    import papermill as pm

    common = {k: v for k, v in folder.items() if k != "root"}
    with pytest.raises(pm.PapermillExecutionError) as info:
        _execute(ROOT / "notebooks" / "01_eda.ipynb", folder["root"] / "bad.ipynb",
                 overrides=overrides, **common)
    assert info.value.ename == "ProfileError"
    for word in words:
        assert word in info.value.evalue
