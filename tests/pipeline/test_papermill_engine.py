"""papermill run directly: ``--engine galaxy10`` starts kernels without ipykernel's TCP notice.

Both runs use an environment without ``make setup``'s kernel config
(:func:`conftest.bare_environment`): in ``.venv`` that config quiets papermill's own engine too,
and the comparison would show nothing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import tomllib
from conftest import bare_environment

ROOT = Path(__file__).resolve().parents[2]
NOTICE = "running over TCP without encryption"
RUN = """
import sys
import papermill as pm
from papermill.engines import papermill_engines
from galaxy10.pipeline.papermill_engine import QuietKernelEngine

papermill_engines.register("galaxy10", QuietKernelEngine)  # as the entry point does once installed
engine = sys.argv[3] if sys.argv[3] != "default" else None
pm.execute_notebook(sys.argv[1], sys.argv[2], parameters={"x": 2}, engine_name=engine,
                    kernel_name="python3", progress_bar=False)
"""


def _run(tmp_path: Path, engine: str) -> tuple[str, nbformat.NotebookNode]:
    python, env = bare_environment(tmp_path / engine)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(x * 21)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # as the notebooks have it
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    out = tmp_path / f"out-{engine}.ipynb"
    done = subprocess.run([python, "-c", RUN, tmp_path / "tiny.ipynb", out, engine],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stderr, nbformat.read(out, as_version=4)


def test_the_galaxy10_engine_runs_a_notebook_without_the_kernels_tcp_notice(tmp_path):
    quiet, executed = _run(tmp_path, "galaxy10")
    assert NOTICE not in quiet, quiet
    assert executed.cells[-1].outputs[0]["text"] == "42\n"  # the parameter reached the kernel
    loud, _ = _run(tmp_path, "default")
    assert NOTICE in loud  # papermill's own engine: what the engine hides is there to hide


def test_papermill_finds_the_engine_through_galaxy10s_entry_point():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["papermill.engine"] == {
        "galaxy10": "galaxy10.pipeline.papermill_engine:QuietKernelEngine"}
