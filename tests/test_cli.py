"""The command line: help, info, one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from conftest import write_h5

from galaxy10.cli import main


def run(*args):
    return subprocess.run([sys.executable, "-m", "galaxy10", *args], capture_output=True,
                          text=True, timeout=120)


def test_help_lists_the_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("fetch", "synth", "info", "import", "gallery"):
        assert command in out.stdout


def test_info_prints_counts(tmp_path, capsys):
    path = write_h5(tmp_path / "f.h5", ans=np.array([2] * 15 + [4] * 5, np.uint8))
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Round Smooth" in text and "15" in text and "real Galaxy10 DECaLS data" in text


def test_bad_file_is_one_line_without_traceback(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_text("<html>error</html>")
    out = run("info", str(bad))
    assert out.returncode == 2
    assert out.stderr.strip() == (f"error: {bad}: not an HDF5 file (it looks like an HTML page, "
                                  "e.g. a saved download error); first bytes b'<html>er'")
    assert "Traceback" not in out.stderr


def test_import_is_cheap():
    code = ("import sys, galaxy10; heavy = {'tensorflow', 'keras', 'h5py', 'matplotlib', "
            "'sklearn'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]"
