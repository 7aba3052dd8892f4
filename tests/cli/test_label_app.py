"""``app --page label``: its inputs are refused in one line before anything is served."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from galaxy10.pipeline.labelling import decisions_path


def galaxy10(*args, timeout=120):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "galaxy10", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Serving" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in done.stderr
    return line


def test_a_malformed_labels_csv_is_refused_naming_file_and_line(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("id,file,label,who,when\na,,7,x,t\nb,,seven,x,t\n")
    line = one_line_error(galaxy10("app", "--page", "label", "--labels", labels, "--port",
                                   "1"))
    assert line == f"error: {labels}: line 3: label 'seven' is not a class 0-9"
    assert labels.read_text().endswith("b,,seven,x,t\n")  # left as it was


def test_a_malformed_skips_file_and_missing_places_are_refused(tmp_path):
    labels = tmp_path / "labels.csv"
    decisions_path(labels).write_text("id,file,decision,who,when\na,,later,x,t\n")
    line = one_line_error(galaxy10("app", "--page", "label", "--labels", labels))
    assert "labels.skipped.csv: line 2: decision 'later' is not 'skip' or 'not a galaxy'" in line
    line = one_line_error(galaxy10("app", "--page", "label", "--labels",
                                   tmp_path / "nowhere" / "labels.csv"))
    assert line.endswith("labels.csv: --labels: its folder does not exist")
    line = one_line_error(galaxy10("app", "--page", "label", "--labels", tmp_path / "l.csv",
                                   "--galaxies", tmp_path / "missing.h5"))
    assert "missing.h5: --galaxies: not found" in line


@pytest.mark.parametrize("option", [["--labels", "x.csv"], ["--who", "me"], ["--n", "5"],
                                    ["--galaxies", "synthetic"]])
def test_labelling_options_need_the_labelling_page(option):
    line = one_line_error(galaxy10("app", *option))
    assert line == f"error: {option[0]}: only the labelling page uses it (add --page label)"


def test_n_is_a_count():
    done = galaxy10("app", "--page", "label", "--n", "0")
    assert done.returncode == 2 and "argument --n: must be at least 1" in done.stderr


def test_a_galaxies_file_that_is_not_a_galaxy10_file_is_refused_before_serving(tmp_path):
    picture = tmp_path / "galaxy.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    line = one_line_error(galaxy10("app", "--page", "label", "--labels", tmp_path / "l.csv",
                                   "--galaxies", picture, "--port", "1"))
    assert line.startswith(f"error: {picture}: not an HDF5 file")
    assert not (tmp_path / "l.csv").exists()
