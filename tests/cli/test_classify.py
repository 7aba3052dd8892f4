"""``classify`` from the command line: one-line errors, exit status, SIGKILL and resume, and the
same bytes from one process, a local cluster and a real Dask scheduler with two workers."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import write_h5


def classify(*args, timeout=300, **kwargs):
    # as a user's shell has it: keras' import in this test process set 2, which lets
    # TensorFlow's cuInit line through on machines without a GPU
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "galaxy10", "classify", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, **kwargs)


def parts(out: Path) -> dict[str, bytes]:
    """The finished parts (a write in flight is a hidden temporary file: left out)."""
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.parquet"))
            if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def catalogue(model_bundle, tmp_path_factory):
    """Two HDF5 files of the shared synthetic galaxies (one with a damaged row range)."""
    from galaxy10.datasets.reader import Galaxy10File

    root = tmp_path_factory.mktemp("catalogue")
    with Galaxy10File(model_bundle["data"]) as f:
        images, labels = f.read(np.arange(120)), f.labels[:120]
    first = write_h5(root / "north.h5", images=images[:80], ans=labels[:80])
    second = write_h5(root / "south.h5", images=images[80:], ans=labels[80:])
    return {"inputs": [first, second], "model": model_bundle["model"], "root": root}


def test_a_run_prints_its_summary_and_a_rerun_skips_it(catalogue, tmp_path):
    out = tmp_path / "out"
    done = classify(*catalogue["inputs"], "--out", out, "--model", catalogue["model"],
                    "--workers", "1", "--shard-rows", "50", "--views", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"catalogue {out}: 120 images in 3 shard(s); 3 classified now, "
                               "0 already done (120 images in ")
    assert lines[1].startswith("class fractions: 0 Disturbed ")
    assert lines[2].startswith("not sure: 0.0%; not a galaxy cut-out: 0.0% of 120 classified")
    assert "img/s" in done.stderr  # the progress bar, with its rate and time left
    again = classify(*catalogue["inputs"], "--out", out, "--model", catalogue["model"],
                     "--workers", "1", "--shard-rows", "50", "--views", "1", "-q")
    assert again.returncode == 0 and again.stderr == ""
    assert "0 classified now, 3 already done" in again.stdout


def test_bad_arguments_are_one_line_before_any_work(catalogue, tmp_path):
    out = tmp_path / "never"
    model = catalogue["model"]
    cases = [
        ((tmp_path / "absent.h5", "--out", out, "--model", model),
         f"error: {tmp_path / 'absent.h5'}: file not found"),
        ((catalogue["inputs"][0], "--out", out, "--model", tmp_path / "none.keras"),
         f"error: {tmp_path / 'none.keras'}: model file not found"),
        ((catalogue["inputs"][0], "--out", catalogue["root"], "--model", model),
         f"error: {catalogue['root']}: already exists and is not a catalogue galaxy10 made"),
        ((catalogue["inputs"][0], "--out", out, "--views", "9"),
         "error: argument --views: invalid choice: 9"),
        ((catalogue["inputs"][0], "--out", out, "--workers", "0"),
         "error: argument --workers: must be at least 1, got 0"),
        ((catalogue["inputs"][0], "--out", out, "--model", model, "--scheduler",
          "tcp://127.0.0.1:9", "--timeout", "2"),
         "error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: no connection within 2 s "
         "(Connection refused)"),
    ]
    for args, first in cases:
        done = classify(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith(first), (first, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not out.exists()


def test_something_unreadable_is_exit_status_two_and_the_rest_is_done(catalogue, tmp_path):
    bad = tmp_path / "torn.h5"
    bad.write_bytes(catalogue["inputs"][1].read_bytes()[:5000])
    out = tmp_path / "out"
    done = classify(catalogue["inputs"][0], bad, "--out", out, "--model", catalogue["model"],
                    "--workers", "1", "--views", "1", "-q")
    assert done.returncode == 2
    assert "failures: 1 shard(s) and 0 image(s) could not be read" in done.stdout
    assert "torn-" in done.stdout and str(bad) in done.stdout
    assert len(parts(out)) == 1


def test_after_sigkill_a_rerun_redoes_only_the_shards_in_flight(catalogue, tmp_path):
    args = [*catalogue["inputs"], "--model", catalogue["model"], "--workers", "1",
            "--shard-rows", "4", "-q"]
    whole = tmp_path / "whole"
    assert classify(*args, "--out", whole).returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "galaxy10", "classify",
                             *map(str, args), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(parts(out)) < 5 and proc.poll() is None:
        assert time.monotonic() < deadline, "no parts appeared"
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = parts(out)
    assert 5 <= len(finished) < 30, "the run was not killed in the middle"
    rerun = classify(*args, "--out", out)
    assert rerun.returncode == 0, rerun.stderr
    assert (f"{30 - len(finished)} classified now, {len(finished)} already done"
            in rerun.stdout)
    assert parts(out) == parts(whole)
    for name, data in finished.items():  # the finished parts were kept, not rewritten
        assert parts(out)[name] == data
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [
        ".galaxy10-catalogue"]  # no temporary file of the killed write is left


@pytest.mark.slow
def test_one_process_a_local_cluster_and_a_dask_scheduler_write_the_same_bytes(catalogue,
                                                                                tmp_path):
    args = [*catalogue["inputs"], "--model", catalogue["model"], "--shard-rows", "30", "-q",
            "--embeddings"]
    single, local, remote = tmp_path / "single", tmp_path / "local", tmp_path / "remote"
    assert classify(*args, "--workers", "1", "--out", single).returncode == 0
    done = classify(*args, "--workers", "2", "--out", local)
    assert done.returncode == 0, done.stderr
    assert "(120 images in" in done.stdout and "2 worker(s))" in done.stdout
    assert done.stderr == ""  # -q: not one of Dask's start and stop lines either
    with dask_processes(tmp_path, workers=2, nanny=True) as (address, _):
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        done = classify(*args, "--scheduler", address, "--out", remote)
        assert done.returncode == 0, done.stderr
        assert "2 (scheduler) worker(s)" in done.stdout and done.stderr == ""
    assert len(parts(single)) == 5  # 80 rows in three shards, 40 in two
    assert parts(local) == parts(single)
    assert parts(remote) == parts(single)


@contextlib.contextmanager
def dask_processes(tmp_path: Path, workers: int = 0, nanny: bool = False):
    """A real ``dask scheduler`` on a free port of 127.0.0.1 and ``workers`` ``dask worker``
    processes (by default without a nanny, so that killing one kills the worker): yields the
    scheduler's address and the processes, the scheduler's first (all stopped at the end)."""
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        deadline = time.monotonic() + 120
        while not scheduler_file.is_file():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        for n in range(workers):
            procs.append(subprocess.Popen(
                [*dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
                 "--no-dashboard", *([] if nanny else ["--no-nanny"]), "--name", f"w{n}"],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        yield json.loads(scheduler_file.read_text())["address"], procs
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_web_server_given_as_scheduler_is_one_line_after_the_timeout(catalogue, tmp_path):
    """It accepts the connection and never answers Dask's handshake: this hung for ever."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.server_address[1]}"
    out = tmp_path / "out"
    try:
        done = classify(catalogue["inputs"][0], "--out", out, "--model", catalogue["model"],
                        "--scheduler", address, "--timeout", "2", timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 2
    assert done.stderr == (f"error: cannot reach the Dask scheduler at {address}: it accepted "
                           "the connection but gave no Dask handshake within 2 s (is that the "
                           "scheduler's port?); check the address, or wait longer with "
                           "--timeout\n")
    assert done.stdout == "" and not out.exists()


def test_an_empty_scheduler_is_one_line_and_holds_the_catalogue_meanwhile(catalogue, tmp_path):
    """No worker ever joins: a stated wait, then one line; a second run on the same --out
    is refused while the first waits (one writer per catalogue)."""
    out = tmp_path / "out"
    args = [catalogue["inputs"][0], "--out", out, "--model", catalogue["model"], "-q"]
    with dask_processes(tmp_path) as (address, _):
        first = subprocess.Popen([sys.executable, "-m", "galaxy10", "classify",
                                  *map(str, args), "--scheduler", address, "--timeout", "15"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60  # its lock appears beside --out once checked
            while not [p for p in tmp_path.iterdir() if "out" in p.name]:
                assert first.poll() is None and time.monotonic() < deadline, first.stderr
                time.sleep(0.05)
            second = classify(*args, "--workers", "1")
            stdout, stderr = first.communicate(timeout=120)
        finally:
            first.kill()
            first.wait()
    assert second.returncode == 2
    assert second.stderr.startswith(f"error: {out}: another process")
    assert "is writing it now" in second.stderr and second.stderr.count("\n") == 1
    assert first.returncode == 2 and stdout == ""
    assert stderr == (f"error: the Dask scheduler at {address} has no workers: none joined "
                      f"within 15 s (start them with `dask worker {address}`, or wait longer "
                      "with --timeout)\n")
    assert not out.exists()


def classify_and_kill(args: list, out, address: str, victim, timeout: int
                      ) -> tuple[int, str, str]:
    """Run ``classify --scheduler address`` in a process, kill ``victim`` (the scheduler or a
    worker) once two parts are on disk, and return the run's exit status, stdout and stderr."""
    run = subprocess.Popen([sys.executable, "-m", "galaxy10", "classify", *map(str, args),
                            "--out", str(out), "--scheduler", address, "--timeout", str(timeout)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while len(parts(out)) < 2 and run.poll() is None:
            assert time.monotonic() < deadline, "no parts appeared"
            time.sleep(0.01)
        victim.kill()
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
        run.wait()
    return run.returncode, stdout, stderr


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_is_one_line_and_a_rerun_carries_on(catalogue, tmp_path):
    args = [*catalogue["inputs"], "--model", catalogue["model"], "--shard-rows", "4", "-q"]
    out = tmp_path / "out"
    with dask_processes(tmp_path, workers=1) as (address, (scheduler, _)):
        code, stdout, stderr = classify_and_kill(args, out, address, scheduler, timeout=5)
    assert code == 2 and stdout == "", stderr
    assert stderr.startswith(f"error: the Dask scheduler at {address} went away (")
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    done = int(stderr.split("): ", 1)[1].split(" of 30 shard(s) are done")[0])
    assert 2 <= done < 30, "the scheduler was not killed in the middle"
    assert f"their parts in {out}; {30 - done} left (" in stderr
    assert stderr.endswith(": run the same command again to carry on from there\n"), stderr
    assert not (out / "_failures").exists()  # no good input is blamed
    kept = len(parts(out))  # the worker, stopped only after the line, may have done one more
    assert done <= kept < 30
    rerun = classify(*args, "--out", out, "--workers", "1")
    assert rerun.returncode == 0, rerun.stderr
    assert f"{30 - kept} classified now, {kept} already done" in rerun.stdout
    assert "failures" not in rerun.stdout


@pytest.mark.slow
def test_a_scheduler_whose_workers_all_went_away_is_one_line_after_the_timeout(catalogue,
                                                                             tmp_path):
    args = [*catalogue["inputs"], "--model", catalogue["model"], "--shard-rows", "4", "-q"]
    out = tmp_path / "out"
    with dask_processes(tmp_path, workers=1) as (address, (_, worker)):
        code, stdout, stderr = classify_and_kill(args, out, address, worker, timeout=3)
    assert code == 2 and stdout == "", stderr
    assert stderr.startswith(f"error: the Dask scheduler at {address} has had no workers for "
                             "3 s: ")
    assert stderr.count("\n") == 1 and " of 30 shard(s) are done" in stderr, stderr
    assert not (out / "_failures").exists()
