"""Shared fixtures: small Galaxy10-schema files made on the fly, and the real sample's path."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path

import h5py
import numpy as np
import pytest

REAL_SAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real-sample"


def write_h5(path: Path, images=None, ans=None, n: int = 20, size: int = 32, **extra) -> Path:
    """Write an HDF5 file with raw h5py (so tests can also write schema-breaking files)."""
    rng = np.random.default_rng(0)
    if images is None:
        images = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    if ans is None:
        ans = (np.arange(n if images is False else len(images)) % 10).astype(np.uint8)
    with h5py.File(path, "w") as f:
        if images is not False:
            f.create_dataset("images", data=images)
        if ans is not False:
            f.create_dataset("ans", data=ans)
        for key, value in extra.items():
            f.create_dataset(key, data=value)
    return path


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of one RGB uint8 image (lossless, so decoding gives the same pixels)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def write_parquet(path: Path, images: np.ndarray, labels=None, *, huggingface: bool = True,
                  nested: bool = True, row_group_size: int | None = None, ids=None,
                  image_column: str = "image") -> Path:
    """A Parquet file of PNG-encoded images as the Hugging Face hub stores them.

    ``nested``: the image is a ``{bytes, path}`` struct (the ``Image`` feature), else plain
    binary; ``huggingface``: with the ``datasets`` schema metadata, else none at all.
    """
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    blobs = [encode_png(img) for img in images]
    if nested:
        col = pa.array([{"bytes": b, "path": f"{i}.png"} for i, b in enumerate(blobs)],
                       type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]))
    else:
        col = pa.array(blobs, type=pa.binary())
    columns = {image_column: col}
    if labels is not None:
        columns["label"] = pa.array(np.asarray(labels), type=pa.uint8())
    if ids is not None:
        columns["id"] = pa.array([str(i) for i in ids], type=pa.string())
    table = pa.table(columns)
    if huggingface:
        features = {image_column: {"_type": "Image"}}
        if labels is not None:
            features["label"] = {"names": [str(k) for k in range(10)], "_type": "ClassLabel"}
        meta = {"info": {"features": features}}
        table = table.replace_schema_metadata({"huggingface": json.dumps(meta)})
    else:
        table = table.replace_schema_metadata(None)
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def without_timings(obj):
    """``obj`` with every ``seconds`` entry removed, at any depth (to compare bundle JSONs)."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k != "seconds"}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


@pytest.fixture
def small_h5(tmp_path: Path) -> Path:
    """A valid 20-image file of 32 px RGB noise with labels 0-9 twice."""
    return write_h5(tmp_path / "small.h5")


@pytest.fixture
def real_sample() -> Path:
    """The 1,000 real images; absent folder skips locally but fails in CI."""
    if not (REAL_SAMPLE / "manifest.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"real sample missing at {REAL_SAMPLE} (required in CI)")
        pytest.skip(f"real sample not found at {REAL_SAMPLE}")
    return REAL_SAMPLE


@pytest.fixture(scope="session")
def model_bundle(tmp_path_factory):
    """A small synthetic file, its splits and an (untrained) modern-CNN bundle beside them.

    The widget and the page only need *a* model: the tests check that what is shown is what
    the model predicts, not that it predicts well, so no training time is spent here.
    """
    from galaxy10.datasets import synthetic
    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.preprocess import ImageConfig
    from galaxy10.pipeline.session import open_run

    root = tmp_path_factory.mktemp("bundle")
    data = synthetic.generate(root / "synthetic.h5", n=300, seed=1, progress=False)
    run = open_run(data, "smoke", seed=0, reports_dir=root / "reports",
                   models_dir=root / "models", progress=False)
    run.make_splits()
    config = ImageConfig(size=32, color="rgb", crop=0.5)
    model = build_galaxy_cnn(config.shape, filters=(4, 8), seed=0)
    path = save_bundle(model, run.model_path("galaxy_cnn"), kind="galaxy", config=config,
                       tta=True, data=run.data_facts())
    run.galaxies.close()
    return {"model": path, "data": data, "models_dir": root / "models", "root": root}


TENSORFLOW_NOISE = ("cuInit", "Unable to register", "use_unbounded_threadpool", "oneDNN",
                    "absl::InitializeLog", "cpu_feature_guard", "cudart_stub",
                    "computation_placer", "TF-TRT")
"""Words of TensorFlow's C++ start-up and runtime log lines (never in a notebook's outputs)."""


def tensorflow_log_lines(notebook) -> list[str]:
    """Every output line of an executed notebook (an nbformat node) that is one of
    TensorFlow's C++ log lines (:data:`galaxy10.core.quiet.LOG_LINE`) or names their topics."""
    from galaxy10.core.quiet import LOG_LINE

    lines = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text") or "".join(
                str(v) for v in (output.get("data") or {}).values())
            lines += [line for line in str(text).splitlines()
                      if LOG_LINE.match(line) or any(w in line for w in TENSORFLOW_NOISE)]
    return lines


def bare_environment(folder: Path) -> tuple[Path, dict[str, str]]:
    """A Python environment without ``make setup``'s kernel config, and the variables to run it.

    A venv in ``folder/env`` whose Python sees this one's packages (``.venv``'s, with their own
    ``.pth`` files), so that its ``sys.prefix``, where kernels read their environment's config,
    is the test's own: what ``.venv/etc/ipython`` holds does not count, and what a test writes
    there does not reach ``.venv``. The variables put this checkout's galaxy10 first and keep a
    developer's user-level kernel specs and IPython profile out of the way.
    """
    home = folder / "env"
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "parent_environment.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(PYTHONPATH=os.fspath(Path(__file__).resolve().parents[1]),
               JUPYTER_DATA_DIR=os.fspath(folder / "jupyter"), IPYTHONDIR=os.fspath(folder / "ipython"))
    return python, env
