"""Atomic writes: a writer killed with SIGKILL leaves the old file or nothing, never a torso."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from galaxy10.core.atomic import _writer_tag, atomic_path, remove_stale_temporaries, write_json

# Each writer runs in a child process. `HOLD(where)` pauses the writer at its most dangerous
# moment and writes `where` to a file; the test checks that the pause happened where the case's
# name says (`PAUSES_AT`), then kills the child with SIGKILL and inspects the final path.
# By default the pause is at the final rename (data written, not yet renamed): every artefact
# writer renames through galaxy10.core.atomic's `os.replace`. "mid-generation" restores the real
# rename and pauses inside the renderer instead, with some chunks written and more to come.
PRELUDE = r"""
import os, sys, time, pathlib
import numpy as np
READY = pathlib.Path(sys.argv[1])
TARGET = pathlib.Path(sys.argv[2])
HAD_OLD_FILE = sys.argv[3] == "old-file"
OLD = b'{"earlier": "the user\'s complete file"}'  # valid JSON: metrics.json merges it
REAL_REPLACE = os.replace

def HOLD(where):
    READY.write_text(where)
    time.sleep(600)

def hold_at_rename(*args, **kwargs):
    HOLD("rename")

import galaxy10.core.atomic
galaxy10.core.atomic.os.replace = hold_at_rename  # galaxy10.core.atomic.os is the os module itself
"""

WRITERS = {
    "synthetic data": """
from galaxy10.datasets import synthetic
synthetic.generate(TARGET, n=40, seed=0, progress=False)
""",
    "synthetic data, mid-generation": """
os.replace = REAL_REPLACE
from galaxy10.datasets import synthetic
real_render = synthetic._render  # what generate() calls for every image
count = [0]
def slow(label, rng):
    count[0] += 1
    if count[0] == 30:  # 3 chunks of 8 written, the 4th being rendered, 4 more to come
        HOLD("render 30")
    return real_render(label, rng)
synthetic._render = slow
synthetic.generate(TARGET, n=60, seed=0, progress=False, chunk_size=8)
""",
    "metrics json": """
from galaxy10.reporting.metrics import update_metrics
update_metrics(TARGET, "section", {"x": list(range(100000))})
""",
    "preprocessed cache": """
import h5py
from galaxy10.modeling.cache import cached_images
from galaxy10.modeling.preprocess import ImageConfig
from galaxy10.datasets.reader import Galaxy10File
from galaxy10.modeling.cache import cache_key
src = TARGET.parent / "src.h5"
with h5py.File(src, "w") as f:
    f["images"] = np.zeros((8, 32, 32, 3), np.uint8)
    f["ans"] = np.arange(8, dtype=np.uint8)
galaxies, config = Galaxy10File(src), ImageConfig(size=16)
if HAD_OLD_FILE:  # an earlier cache at the real name, without its record: it gets rebuilt
    key = cache_key(galaxies, config, np.arange(8))
    (TARGET.parent / f"cache_16px_{config.color}_{key}.npy").write_bytes(OLD)
cached_images(galaxies, config, cache_dir=TARGET.parent)
""",
    "keras model": """
from galaxy10.modeling.models import build_galaxy_cnn, save_model
save_model(build_galaxy_cnn((16, 16, 3), filters=(4,)), TARGET)
""",
    "imported images": """
from PIL import Image
from galaxy10.datasets.importer import import_images
src = TARGET.parent / "imgs" / "3"
src.mkdir(parents=True)
for i in range(5):
    Image.fromarray(np.full((40, 40, 3), i * 20, np.uint8)).save(src / f"{i}.png")
import_images(src.parent, TARGET, progress=False)
""",
}
PAUSES_AT = {"synthetic data, mid-generation": "render 30"}
TARGETS = {"synthetic data": "data.h5", "synthetic data, mid-generation": "data.h5",
           "metrics json": "metrics.json", "preprocessed cache": "cache.npy",
           "keras model": "model.keras", "imported images": "imported.h5"}


@pytest.mark.slow
@pytest.mark.parametrize("writer", sorted(WRITERS))
@pytest.mark.parametrize("had_old_file", [True, False], ids=["old-file", "no-file"])
def test_sigkill_mid_write_leaves_old_file_or_nothing(tmp_path, writer, had_old_file):
    target = tmp_path / TARGETS[writer]
    ready = tmp_path / "ready"
    old = b'{"earlier": "the user\'s complete file"}'  # what PRELUDE's OLD holds
    if had_old_file and writer != "preprocessed cache":  # the cache writer names its own file
        target.write_bytes(old)
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(PRELUDE) + textwrap.dedent(WRITERS[writer]))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, str(script), str(ready), str(target),
                             "old-file" if had_old_file else "no-file"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not ready.exists() or not ready.read_text():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "writer never reached its pause point"
        time.sleep(0.05)
    assert ready.read_text() == PAUSES_AT.get(writer, "rename")
    # the temporary file exists and holds data at this point
    temps = [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    assert temps and all(p.stat().st_size > 0 for p in temps), temps
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    finals = [p for p in tmp_path.iterdir() if p.name.startswith("cache_") and ".tmp" not in p.name]
    if writer == "preprocessed cache":
        # the earlier cache file, byte for byte, or no cache file under its real name
        assert [p.read_bytes() for p in finals] == ([old] if had_old_file else [])
    elif had_old_file:
        assert target.read_bytes() == old
    else:
        assert not target.exists()
    # the killed writer's temporary files are cleaned up by the next write to the same target
    host = "." + _writer_tag(0)[:-2] + "-"
    for temp in temps:
        remove_stale_temporaries(tmp_path / temp.name[1:temp.name.index(host)])
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_only_temporaries_of_dead_writers_are_removed(tmp_path):
    target = tmp_path / "metrics.json"
    mine = tmp_path / f".metrics.json.{_writer_tag()}.abc123.tmp.json"
    dead = tmp_path / f".metrics.json.{_writer_tag(2**31 - 5)}.def456.tmp.json"
    other_host = tmp_path / ".metrics.json.elsewhere-12.ghi789.tmp.json"
    other_target = tmp_path / f".model.keras.{_writer_tag(2**31 - 5)}.jkl012.tmp.keras"
    for path in (mine, dead, other_host, other_target):
        path.write_text("partial")
    write_json(target, {"a": 1})
    assert not dead.exists()
    assert mine.exists() and other_host.exists() and other_target.exists()


def test_atomic_path_removes_temp_on_error(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
    assert target.read_text().strip() == '{\n  "a": 1\n}'


def test_npz_has_no_pickled_objects(tmp_path):
    from galaxy10.core.atomic import write_npz

    path = write_npz(tmp_path / "s.npz", a=np.arange(3))
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["a"], np.arange(3))
    assert isinstance(path, Path)


def test_json_is_sorted_indented_and_converts_numpy_and_paths(tmp_path):
    path = write_json(tmp_path / "m.json", {"b": np.float32(0.5), "a": np.arange(2),
                                            "c": tmp_path / "x", "d": np.int64(3)})
    assert path.read_text(encoding="utf-8") == (
        '{\n  "a": [\n    0,\n    1\n  ],\n  "b": 0.5,\n  "c": "' + str(tmp_path / "x")
        + '",\n  "d": 3\n}\n')
    with pytest.raises(TypeError, match="cannot write set as JSON"):
        write_json(tmp_path / "bad.json", {"s": {1}})
    assert not (tmp_path / "bad.json").exists()


def test_writer_tags_name_this_host_and_process(monkeypatch):
    import galaxy10.core.atomic as atomic

    monkeypatch.setattr(atomic.socket, "gethostname", lambda: "my-Box.lab")
    assert atomic._host_tag() == "my_Box_lab"
    assert _writer_tag() == f"my_Box_lab-{os.getpid()}" and _writer_tag(7) == "my_Box_lab-7"
    monkeypatch.setattr(atomic.socket, "gethostname", lambda: "")
    assert atomic._host_tag() == "host"


def test_stale_temporaries_of_live_writers_and_unremovable_entries_stay(tmp_path, monkeypatch):
    import galaxy10.core.atomic as atomic

    target = tmp_path / "data.h5"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive_tmp = tmp_path / f".data.h5.{_writer_tag(live.pid)}.abc.tmp.h5"
        dead_tmp = tmp_path / f".data.h5.{_writer_tag(2**31 - 7)}.def.tmp.h5"
        stuck = tmp_path / f".data.h5.{_writer_tag(2**31 - 9)}.ghi.tmp.h5"
        alive_tmp.write_text("x")
        dead_tmp.write_text("x")
        stuck.mkdir()  # cannot be unlinked: kept, and not reported as removed
        assert remove_stale_temporaries(target) == [dead_tmp]
        assert alive_tmp.exists() and stuck.exists()
        with pytest.raises(subprocess.TimeoutExpired):  # probed with signal 0, not signalled
            live.wait(timeout=0.5)
    finally:
        live.kill()
        live.wait()
    for error in (PermissionError, OSError):
        def refuse(pid, sig, error=error):
            raise error("not allowed")

        monkeypatch.setattr(atomic.os, "kill", refuse)
        assert atomic._process_alive(2**31 - 7) is True  # unknown: keep the file
    assert atomic._process_alive(os.getpid()) is True


def test_npz_keeps_any_file_name(tmp_path):
    from galaxy10.core.atomic import write_npz

    path = write_npz(tmp_path / "splits.bin", a=np.arange(3))  # NumPy would append .npz
    assert sorted(p.name for p in tmp_path.iterdir()) == ["splits.bin"]
    with np.load(path, allow_pickle=False) as npz:
        np.testing.assert_array_equal(npz["a"], np.arange(3))


def test_target_lock_refuses_a_second_writer_and_cleans_up(tmp_path):
    from galaxy10.core.atomic import TargetLockedError, target_lock

    out = tmp_path / "out.h5"
    with target_lock(out) as lock:
        assert lock == tmp_path / ".out.h5.lock" and lock.read_text().strip() == str(os.getpid())
        # a second open file description, as another process would hold
        with pytest.raises(TargetLockedError) as info:
            with target_lock(out):
                pass
        assert info.value.filename == str(out)
        assert info.value.strerror == f"another process (pid {os.getpid()}) is writing it now"
        with target_lock(tmp_path / "other.h5"):  # another target is free
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # lock files removed
    with target_lock(out):  # free again
        pass


def test_blocking_target_lock_waits_for_the_holder(tmp_path):
    import threading

    from galaxy10.core.atomic import target_lock

    out = tmp_path / "metrics.json"
    order = []

    def second():
        with target_lock(out, blocking=True):
            order.append("second")

    with target_lock(out):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.2)
        order.append("first done")
    thread.join(10)
    assert order == ["first done", "second"]


def test_target_lock_needs_no_fcntl(tmp_path, monkeypatch):
    """Where fcntl does not exist (Windows), two holders of one output still exclude each
    other: the lock comes from filelock, which falls back to its soft lock here."""
    import importlib
    import sys
    import warnings

    monkeypatch.setitem(sys.modules, "fcntl", None)  # `import fcntl` now raises ImportError
    for name in [n for n in sys.modules if n == "filelock" or n.startswith("filelock.")]:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    monkeypatch.delitem(sys.modules, "galaxy10.core.atomic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # filelock says it has only its soft lock
        atomic = importlib.import_module("galaxy10.core.atomic")
        filelock = importlib.import_module("filelock")
    assert not filelock.has_fcntl and filelock.FileLock is filelock.SoftFileLock

    out = tmp_path / "out.h5"
    with atomic.target_lock(out) as lock:
        assert lock.exists()
        with pytest.raises(atomic.TargetLockedError) as info:
            with atomic.target_lock(out):
                pass
        assert info.value.filename == str(out)
        assert info.value.strerror == f"another process (pid {os.getpid()}) is writing it now"
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # the soft lock's file went
    with atomic.target_lock(out):  # free again
        pass


def test_a_lock_file_left_by_a_killed_writer_is_taken_over(tmp_path):
    from galaxy10.core.atomic import target_lock

    out = tmp_path / "out.h5"
    (tmp_path / ".out.h5.lock").write_text("999999999\n")  # its holder was SIGKILLed
    with target_lock(out) as lock:
        assert lock.read_text() == f"{os.getpid()}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
