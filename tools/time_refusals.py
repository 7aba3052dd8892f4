"""Time the refusals of issue #26 with a given galaxy10 source tree: how long a mistake costs.

Each case is a command line that used to be refused late (after TensorFlow's import, after
training, after reading gigabytes of blank images), or never (it hung, replaced a user's file,
or failed with an internal error). The cases run one by one, each in a fresh ``python -m
galaxy10`` whose ``PYTHONPATH`` starts with the given source tree, in a scratch folder of
small inputs made here (a 300-image synthetic set, 60 labelled images, a named pipe, a 1.6 kB
file declaring 100,000 blank images, a seed-kind bundle, a user's ``notes.md``).

Usage::

    python tools/time_refusals.py                    # this checkout
    python tools/time_refusals.py --tree /tmp/old    # another one (e.g. `git archive` of a commit)
    python tools/time_refusals.py --table            # docs/bad-input.md's table from the record

Merges ``{"<label>": {case: {"status", "seconds", "line", "notes_md_intact"}}}`` into
``reports/reference/refusals.json`` (``--label``, default ``now``); a case still running at its
time limit counts as ``"killed"``. Needs TensorFlow here (the seed-kind bundle is a real one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "reports" / "reference" / "refusals.json"

CASES: list[tuple[str, list[str], int]] = [
    ("pretrain --size 7", ["pretrain", "--data", "d300.h5", "--size", "7", "-q"], 120),
    ("pretrain --size 7 --profile smoke", ["pretrain", "--data", "d300.h5", "--profile", "smoke",
                                           "--size", "7", "--real", "none", "--out", "s7.keras",
                                           "-q"], 400),
    ("pretrain --out /proc/x.keras", ["pretrain", "--out", "/proc/x.keras", "-q"], 400),
    ("train --out model.h5", ["train", "--data", "d300.h5", "--profile", "smoke", "--out",
                              "model.h5", "-q"], 400),
    ("bench real --init seed.keras", ["bench", "real", "--real", "real60.h5", "--init",
                                      "seed.keras", "--profile", "smoke", "--folds", "2",
                                      "--no-shifts", "-q"], 400),
    ("bench real on 3 images", ["bench", "real", "--real", "three.h5", "--init", "none",
                                "--profile", "smoke", "-q"], 400),
    ("bench real, 20 images, --folds 2", ["bench", "real", "--real", "twenty.h5", "--init",
                                          "none", "--profile", "smoke", "--folds", "2", "-q"],
     400),
    ("bench real --folds 999", ["bench", "real", "--real", "real60.h5", "--init", "none",
                                "--profile", "smoke", "--folds", "999", "-q"], 400),
    ("bench real --real real60.csv", ["bench", "real", "--real", "real60.csv", "--init", "none",
                                      "--profile", "smoke", "--folds", "999", "-q"], 400),
    ("bench real --models-dir mods", ["bench", "real", "--real", "real60.h5", "--models-dir",
                                      "mods", "--profile", "smoke", "-q"], 120),
    ("bench accuracy --real /nonexistent", ["bench", "accuracy", "--data", "d300.h5",
                                            "--profile", "smoke", "--real", "/nonexistent",
                                            "-q"], 600),
    ("import ... --out fifo.h5", ["import", "real60.csv", "--out", "fifo.h5", "-q"], 30),
    ("synth ... --out fifo.h5", ["synth", "--n", "3", "--out", "fifo.h5", "-q"], 30),
    ("info fifo.h5", ["info", "fifo.h5"], 30),
    ("info /dev/zero", ["info", "/dev/zero"], 30),
    ("predict FOLDER", ["predict", "folder", "--model", "galaxy.keras"], 60),
    ("info declared.h5", ["info", "declared.h5"], 30),
    ("repack declared.h5", ["repack", "declared.h5", "--out", "copy.h5"], 60),
    ("audit declared.h5", ["audit", "declared.h5"], 60),
    ("realism --out-figure notes.md", ["realism", "--real", "real60.h5", "--synthetic", "tiny",
                                       "--per-class", "5", "--out-figure", "notes.md"], 300),
]
"""(name, arguments, time limit in seconds) of every case."""

WHAT = {
    "pretrain --size 7": "checked before TensorFlow's import",
    "pretrain --size 7 --profile smoke": "passed the check, then failed in preprocessing",
    "pretrain --out /proc/x.keras": "checked before TensorFlow's import",
    "train --out model.h5": "trained, then failed to save",
    "bench real --init seed.keras": "refused only after fold 1's first two models trained",
    "bench real on 3 images": "scikit-learn's error after TensorFlow's import",
    "bench real, 20 images, --folds 2": "ran on classes with 1 image per fold",
    "bench real --folds 999": "scikit-learn's error after TensorFlow's import",
    "bench real --real real60.csv": "a bare CSV was refused; now it is read (the refusal "
                                    "shown is --folds 999's)",
    "bench real --models-dir mods": "the option did not exist; the default --init now "
                                    "follows it",
    "bench accuracy --real /nonexistent": "trained first, then skipped the real images",
    "import ... --out fifo.h5": "hung, opening the pipe",
    "synth ... --out fifo.h5": "hung, opening the pipe",
    "info fifo.h5": "said \"file is empty (0 bytes)\"; now \"is a named pipe (FIFO)\"",
    "info /dev/zero": "said \"file is empty (0 bytes)\"; now \"is a character device\"",
    "predict FOLDER": "said \"image file not found\" after loading the model; now \"is a "
                      "folder\"",
    "info declared.h5": "called a 1.6 kB file declaring 19.7 GB of blank images real data",
    "repack declared.h5": "copied 19.7 GB of blank images",
    "audit declared.h5": "read 19.7 GB of blank images",
    "realism --out-figure notes.md": "replaced the user's notes.md with a PNG",
}
"""What each case did before, in a few words (the table's last column)."""


def make_world(folder: Path) -> None:
    """The small inputs every case names, made with this checkout's galaxy10."""
    import h5py
    import numpy as np

    from galaxy10.core.atomic import write_json
    from galaxy10.datasets import synthetic
    from galaxy10.datasets.importer import import_images
    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_galaxy_cnn, save_model
    from galaxy10.modeling.preprocess import ImageConfig

    synthetic.generate(folder / "d300.h5", n=300, seed=0, progress=False)
    synthetic.generate(folder / "three.h5", n=3, seed=0, progress=False)
    synthetic.generate(folder / "twenty.h5", n=20, seed=0, progress=False)
    # 60 labelled pictures, 6 per class, as a manifest and as an imported .h5
    pictures = folder / "pictures"
    from PIL import Image

    with h5py.File(folder / "d300.h5", "r") as f:
        labels = f["ans"][()]
        rows = [int(r) for k in range(10) for r in np.flatnonzero(labels == k)[:6]]
        lines = ["file,label"]
        for r in rows:
            pictures.mkdir(exist_ok=True)
            Image.fromarray(f["images"][r]).save(pictures / f"{r}.png")
            lines.append(f"pictures/{r}.png,{labels[r]}")
    (folder / "real60.csv").write_text("\n".join(lines) + "\n")
    import_images(folder / "real60.csv", folder / "real60.h5", progress=False)
    with h5py.File(folder / "declared.h5", "w") as f:
        f.create_dataset("images", shape=(100_000, 256, 256, 3), dtype=np.uint8,
                         chunks=(1, 256, 256, 3))
        f.create_dataset("ans", shape=(100_000,), dtype=np.uint8)
    os.mkfifo(folder / "fifo.h5")
    (folder / "folder").mkdir()
    (folder / "mods").mkdir()
    # a loadable Keras file whose bundle JSON says "seed": refused as --init
    model = build_galaxy_cnn((16, 16, 3), filters=(2, 4), seed=0)
    save_model(model, folder / "seed.keras")
    write_json(folder / "seed.json", {"bundle_version": 1, "kind": "seed",
                                      "image": {"size": 16, "color": "rgb"}})
    save_bundle(model, folder / "galaxy.keras", kind="galaxy",
                config=ImageConfig(size=16, color="rgb"))  # a usable (untrained) bundle


def run_cases(tree: Path, folder: Path, only: set[str]) -> dict[str, dict]:
    env = dict(os.environ, PYTHONPATH=os.fspath(tree), GALAXY10_REPORTS=os.fspath(folder / "rep"),
               GALAXY10_MODELS=os.fspath(folder / "models"),
               GALAXY10_DATA=os.fspath(folder / "datahome"),
               GALAXY10_REAL_SAMPLE=os.fspath(folder / "no-sample"))
    results = {}
    for name, argv, limit in CASES:
        if only and name not in only:
            continue
        (folder / "notes.md").write_text("# my notes\n")
        for leftover in ("model.h5", "copy.h5", "s7.keras"):
            (folder / leftover).unlink(missing_ok=True)
        start = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-m", "galaxy10", *argv], env=env, cwd=folder,
                                  capture_output=True, text=True, timeout=limit)
            status, err = done.returncode, done.stderr
        except subprocess.TimeoutExpired as exc:
            status = "killed"
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        seconds = time.perf_counter() - start
        lines = [line for line in err.splitlines() if line.startswith("error")]
        results[name] = {"status": status, "seconds": round(seconds, 2),
                         "line": (lines or [""])[-1][:300],
                         "notes_md_intact": (folder / "notes.md").read_text(
                             errors="replace") == "# my notes\n"}
        print(f"{name:<40} {status!s:>6} {seconds:7.2f} s  {results[name]['line'][:90]}",
              flush=True)
    return results


def table(record: dict) -> str:
    """The markdown table of docs/bad-input.md: before and now, per case."""
    before, now = record.get("before", {}), record.get("now", {})

    def cell(row: dict | None) -> str:
        if not row:
            return "-"
        if row["status"] == "killed":
            return f"still running at {row['seconds']:.0f} s (killed)"
        what = {0: "exit 0", 1: "internal error", 2: "refused"}.get(row["status"],
                                                                     str(row["status"]))
        lost = "" if row.get("notes_md_intact", True) else ", notes.md replaced"
        return f"{what}{lost}, {row['seconds']:.1f} s"

    lines = ["| command | before (commit e7621a4) | now | what changed |", "|---|---|---|---|"]
    for name, _, _ in CASES:
        lines.append(f"| `{name}` | {cell(before.get(name))} | {cell(now.get(name))} | "
                     f"{WHAT.get(name, '')} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT,
                        help="galaxy10 source tree to time (default: this checkout)")
    parser.add_argument("--label", default="now", help="section of the record (default now)")
    parser.add_argument("--only", nargs="*", default=[], help="case names to run")
    parser.add_argument("--table", action="store_true", help="print the docs table and stop")
    args = parser.parse_args()
    record = json.loads(RECORD.read_text()) if RECORD.is_file() else {}
    if args.table:
        print(table(record))
        return 0
    sys.path.insert(0, os.fspath(ROOT))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        make_world(folder)
        results = run_cases(args.tree.resolve(), folder, set(args.only))
    record.setdefault(args.label, {}).update(results)
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(f"recorded in {RECORD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
