"""Mutation testing of galaxy10's core modules with mutmut, one module at a time.

A test suite is only as good as the bugs it catches. mutmut makes small changes to the code
(``<`` to ``<=``, ``+ 1`` to ``+ 2``, a dropped argument...) and reruns the tests: a mutant
that no test fails "survived" and points at behaviour nothing checks. Each core module is
mutated on its own, in a scratch copy under ``reports/mutation/<module>/`` (git-ignored), and
only the tests that cover it run, so the whole run fits on 2 CPU cores.

Usage::

    python tools/mutation.py                 # every module in MODULES
    python tools/mutation.py evaluate atomic # some of them
    python tools/mutation.py --show evaluate # the surviving mutants' diffs of a finished run

Writes ``reports/mutation/scores.json`` (merged, one entry per module) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "mutation"

# module -> the tests that cover it (pytest arguments, relative to the repository root).
# Tests that start child processes (the SIGKILL writers) are left out: a child imports the
# unmutated package, so it cannot kill a mutant.
MODULES: dict[str, list[str]] = {
    "resample": ["tests/datasets/test_resample.py", "tests/test_properties.py"],
    "preprocess": ["tests/modeling/test_preprocess.py", "tests/test_properties.py"],
    "reader": ["tests/datasets/test_reader.py", "tests/cli/test_cli.py::test_info_prints_counts",
               "tests/datasets/test_reader_layout.py",
               "tests/modeling/test_preprocess.py::test_streamed_features_equal_in_memory",
               "--deselect", "tests/datasets/test_reader.py::test_unreadable_file_reports_permission",
               "--deselect", "tests/datasets/test_reader_layout.py::test_bench_layout_measures_every_layout"],
    "atomic": ["tests/core/test_atomic.py", "-m", "not slow"],
    "evaluate": ["tests/evaluation/test_evaluate.py"],
    "augment": ["tests/modeling/test_augment.py",
                "tests/test_properties.py::test_each_dihedral_view_is_the_expected_symmetry"],
    # the bundle functions are checked on a tiny 16 px model (test_training_calibration.py); the
    # older bundle test builds a 300-image synthetic set first, so it is left out
    "calibrate": ["tests/modeling/test_calibrate.py", "tests/pipeline/test_training_calibration.py",
                  "--deselect",
                  "tests/modeling/test_calibrate.py::"
                  "test_calibrated_bundle_changes_probabilities_and_old_bundles_still_load"],
    "boundary": ["tests/cli/test_boundary.py"],
}

# mutmut's default runs the unmutated tests in its own process, then forks one child per
# mutant. Tests that run a Keras model leave TensorFlow's threads in that process, and a forked
# child then waits forever on a lock one of them held: every mutant those tests reach would
# "time out", and count as killed. A fork server that only collects the tests keeps TensorFlow
# out of the parent, so each child starts it afresh (a few seconds).
FORKSERVER = {"calibrate"}

SOURCES: dict[str, str] = {
    "resample": "galaxy10/datasets/resample.py", "preprocess": "galaxy10/modeling/preprocess.py",
    "reader": "galaxy10/datasets/reader.py", "atomic": "galaxy10/core/atomic.py",
    "evaluate": "galaxy10/evaluation/evaluate.py", "augment": "galaxy10/modeling/augment.py",
    "calibrate": "galaxy10/modeling/calibrate.py", "boundary": "galaxy10/cli/boundary.py",
}
"""The file each module of :data:`MODULES` is, in the package's sub-packages."""

PYPROJECT = """\
[tool.mutmut]
source_paths = ["galaxy10"]
only_mutate = ["{source}"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-W", "ignore"]
pytest_add_cli_args_test_selection = {selection}
process_isolation = "{isolation}"

[tool.pytest.ini_options]
markers = ["slow: takes more than a few seconds"]
"""


def prepare(module: str) -> Path:
    """A scratch copy of the package and the module's tests, with mutmut's configuration."""
    work = OUT / module
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "galaxy10", work / "galaxy10",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (work / "tests").mkdir()
    for path in {a.split("::")[0] for a in MODULES[module] if a.startswith("tests/")} | {
            "tests/conftest.py"}:
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, work / path)
    selection = json.dumps(MODULES[module])
    isolation = "forkserver" if module in FORKSERVER else "fork"
    (work / "pyproject.toml").write_text(PYPROJECT.format(source=SOURCES[module], selection=selection,
                                                          isolation=isolation))
    return work


def run_module(module: str, children: int) -> dict:
    """Mutate one module; return its counts and the names of its surviving mutants."""
    work = prepare(module)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    mutmut = [sys.executable, "-m", "mutmut"]
    start = time.monotonic()
    proc = subprocess.run([*mutmut, "run", "--max-children", str(children)], cwd=work, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    (work / "run.log").write_text(proc.stdout + proc.stderr)
    subprocess.run([*mutmut, "export-cicd-stats"], cwd=work, env=env, capture_output=True)
    stats_path = work / "mutants" / "mutmut-cicd-stats.json"
    if proc.returncode != 0 or not stats_path.is_file():  # e.g. a test failed unmutated
        return {"error": (proc.stderr.strip().splitlines() or ["mutmut produced no results"])[-1],
                "seconds": round(seconds)}
    stats = json.loads(stats_path.read_text())
    listing = subprocess.run([*mutmut, "results"], cwd=work, env=env, capture_output=True,
                             text=True).stdout
    survivors = [line.split(":")[0].strip() for line in listing.splitlines()
                 if line.strip().endswith(": survived")]
    killed = stats.get("killed", 0)
    total = stats.get("total", 0)
    # a timeout counts as killed (the mutant made the tests hang); mutants no selected test
    # reaches stay in the denominator, as survivors would
    caught = killed + stats.get("timeout", 0)
    checked = total - stats.get("not_checked", 0) - stats.get("skipped", 0)
    tested = checked - stats.get("no_tests", 0)
    return {"total": total, "killed": killed, "survived": stats.get("survived", 0),
            "no_tests": stats.get("no_tests", 0), "timeout": stats.get("timeout", 0),
            "suspicious": stats.get("suspicious", 0), "checked": checked,
            "score": round(caught / checked, 3) if checked else None,
            "score_of_tested": round(caught / tested, 3) if tested else None,
            "seconds": round(seconds), "survivors": survivors}


def show(module: str) -> None:
    """Print the diff of every surviving mutant of a finished run."""
    work = OUT / module
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    doc = json.loads((OUT / "scores.json").read_text())
    for name in doc[module]["survivors"]:
        out = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=work, env=env,
                             capture_output=True, text=True)
        print(out.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], default=[],
                        help="modules to mutate (default: all)")
    parser.add_argument("--children", type=int, default=2, help="parallel test processes")
    parser.add_argument("--show", metavar="MODULE", choices=list(MODULES),
                        help="print the surviving mutants of MODULE's last run")
    args = parser.parse_args(argv)
    if args.show:
        show(args.show)
        return 0
    scores_path = OUT / "scores.json"
    scores = json.loads(scores_path.read_text()) if scores_path.is_file() else {}
    print(f"{'module':<12} {'killed':>7} {'survived':>9} {'no tests':>9} {'timeout':>8} "
          f"{'score':>6} {'tested':>7} {'time':>7}")
    for module in args.modules or list(MODULES):
        r = scores[module] = run_module(module, args.children)
        OUT.mkdir(parents=True, exist_ok=True)
        scores_path.write_text(json.dumps(scores, indent=2) + "\n")
        if "error" in r:
            print(f"{module:<12} failed: {r['error']}")
            continue
        print(f"{module:<12} {r['killed']:>7} {r['survived']:>9} {r['no_tests']:>9} "
              f"{r['timeout']:>8} {r['score']:>6.1%} {r['score_of_tested']:>7.1%} "
              f"{r['seconds']:>6}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
