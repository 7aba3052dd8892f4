"""The machine's limits are ordinary errors: ``ulimit -f`` (RLIMIT_FSIZE), a full disk and
``ulimit -v`` (RLIMIT_AS) give one line naming the file or the step, exit status 2, and leave
no file half written, never a segmentation fault or a bundle blamed for the process's memory.

Each limit is set in a child process (``preexec_fn``), never in the test session.
"""

from __future__ import annotations

import errno
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_bundles import tiny_bundle

from galaxy10.core.atomic import atomic_path
from galaxy10.core.errors import ModelOutOfMemoryError
from galaxy10.core.resources import TENSORFLOW_ADDRESS_SPACE

ROOT = Path(__file__).resolve().parents[2]
IMAGE = 256 * 256 * 3


def run_limited(argv: list[str], limit: int, which: int = resource.RLIMIT_FSIZE,
                home: Path | None = None) -> subprocess.CompletedProcess:
    """``argv`` in a child whose soft and hard ``which`` limit is ``limit`` bytes.

    It writes no bytecode (a ``.pyc`` cut short by the limit would break later imports) and
    keeps Keras' own files in ``home``.
    """
    def limited() -> None:
        resource.setrlimit(which, (limit, limit))

    return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=home,
                          preexec_fn=limited,
                          env={"PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}", "PATH": "/usr/bin:/bin",
                               "HOME": str(home or ROOT), "PYTHONDONTWRITEBYTECODE": "1"})


@pytest.fixture
def out(tmp_path) -> Path:
    """An empty folder for the outputs (the children's ``HOME`` is ``tmp_path``)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_an_hdf5_file_over_the_file_size_limit_is_one_line_and_no_file(tmp_path, out):
    folder, out = out, out / "galaxies.h5"
    argv = [sys.executable, "-m", "galaxy10", "synth", "--n", "3", "--out", str(out), "-q"]
    assert subprocess.run([*argv[:5], "1", *argv[6:]], capture_output=True).returncode == 0
    before = out.read_bytes()  # galaxy10's own file, which synth may replace only on success
    # the images fit, HDF5's own records do not: the limit is met inside HDF5's writes
    done = run_limited(argv, 3 * IMAGE + 1024, home=tmp_path)
    assert done.returncode == 2, done.stderr  # was -11: a segmentation fault after the error
    note, error = lines(done.stderr)  # the note that synth replaces its own file, then why not
    assert note.startswith(f"replacing {out} ")
    assert error == (f"error: {out}: file size limit reached while writing it (ulimit -f: at "
                     f"most 590.8 kB per file); nothing was written")
    assert out.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == [out.name]  # no temporary file


def test_a_file_that_cannot_fit_under_the_limit_is_refused_before_any_work(tmp_path, out):
    folder, out = out, out / "galaxies.h5"
    argv = [sys.executable, "-m", "galaxy10", "synth", "--n", "50", "--out", str(out), "-q"]
    done = run_limited(argv, 100_000, home=tmp_path)
    assert done.returncode == 2
    assert lines(done.stderr) == [f"error: {out}: 50 images needs about 9.8 MB but this "
                                  f"process may write files of at most 100.0 kB (the file "
                                  f"size limit, ulimit -f)"]
    assert list(folder.iterdir()) == []


WRITER = """
import sys
import numpy as np
from galaxy10.datasets.writer import Galaxy10Writer
from galaxy10.cli.boundary import run_command

def write(_):
    with Galaxy10Writer(sys.argv[1], 8, (256, 256, 3), source="synthetic") as w:
        for start in range(8):
            w.write(start, np.full((1, 256, 256, 3), start, np.uint8), np.array([start]))
    return 0

sys.exit(run_command(write, None))
"""


def test_a_write_stopped_half_way_by_the_limit_leaves_nothing(tmp_path, out):
    folder, out = out, out / "galaxies.h5"
    done = run_limited([sys.executable, "-c", WRITER, str(out)], 3 * IMAGE, home=tmp_path)
    assert done.returncode == 2, done.stderr
    (line,) = lines(done.stderr)
    assert line.startswith(f"error: {out}: file size limit reached while writing it")
    assert list(folder.iterdir()) == []


KERAS = """
import sys
from galaxy10.cli.boundary import run_command
from galaxy10.modeling.models import build_galaxy_cnn, save_model

model = build_galaxy_cnn((32, 32, 3), filters=(4, 8), seed=0)
sys.exit(run_command(lambda _: save_model(model, sys.argv[1]) and 0, None))
"""


def test_a_model_over_the_limit_names_its_file(tmp_path, out):
    folder, out = out, out / "model.keras"
    done = run_limited([sys.executable, "-c", KERAS, str(out)], 8_000, home=tmp_path)
    assert done.returncode == 2, done.stderr  # was "error: File too large", no file named
    assert lines(done.stderr)[-1:] == [f"error: {out}: file size limit reached while writing "
                                       f"it (ulimit -f: at most 8.0 kB per file); nothing was "
                                       f"written"]
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("number, says", [
    (errno.ENOSPC, "no space left on the device while writing it; nothing was written"),
    (errno.EDQUOT, "disk quota exceeded while writing it; nothing was written"),
])
def test_a_full_disk_names_the_file_and_why(tmp_path, number, says):
    target = tmp_path / "metrics.json"
    target.write_text("{}")
    with pytest.raises(OSError) as failed:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(number, "No space left on device")  # what write() says then
    assert (failed.value.filename, failed.value.strerror) == (str(target), says)
    assert target.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_running_out_of_memory_while_loading_a_model_does_not_blame_it(tmp_path, monkeypatch,
                                                                        capsys):
    # RLIMIT_AS tight enough for Keras' loader to raise MemoryError is also tight enough for
    # TensorFlow's thread pools to abort in C++ on some machines: the loader is made to raise
    from galaxy10.cli import main
    from galaxy10.modeling.models import load_model

    bundle = tiny_bundle(tmp_path / "tiny.keras")
    image = tmp_path / "galaxy.png"
    from PIL import Image

    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    import keras

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(keras.models, "load_model", out_of_memory)
    with pytest.raises(ModelOutOfMemoryError) as failed:
        load_model(bundle)
    assert str(failed.value).startswith(f"{bundle}: out of memory while loading this model "
                                        "(the bundle is not at fault")
    # it travels back from a Dask worker: through Dask's own serialisation, intact
    from distributed.protocol import deserialize, serialize

    assert deserialize(*serialize(failed.value)).args == failed.value.args
    capsys.readouterr()
    assert main(["predict", str(image), "--model", str(bundle)]) == 2
    err = capsys.readouterr().err
    assert lines(err) == [f"error: {failed.value}"] and "not a loadable" not in err


@pytest.mark.parametrize("command", [["predict", "{image}"],
                                     ["classify", "{folder}", "--out", "{folder}/catalogue"]])
def test_an_address_space_too_small_for_tensorflow_is_one_line(tmp_path, command):
    bundle = tiny_bundle(tmp_path / "tiny.keras")
    folder = tmp_path / "images"
    folder.mkdir()
    image = folder / "galaxy.png"
    from PIL import Image

    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    limit = TENSORFLOW_ADDRESS_SPACE // 2
    argv = [a.format(image=image, folder=folder) for a in command]
    done = run_limited([sys.executable, "-m", "galaxy10", *argv, "--model", str(bundle)],
                       limit, resource.RLIMIT_AS, home=tmp_path)
    # was -6 (predict: TensorFlow's abort in C++) and, for classify, every shard recorded as
    # unreadable with the input folder blamed
    assert done.returncode == 2, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["galaxy.png"]
    assert lines(done.stderr) == ["error: this process may use 1.6 GB of address space "
                                  "(ulimit -v), and TensorFlow needs about 3.2 GB to start: "
                                  "raise it (ulimit -v 3145728 or unlimited)"]
