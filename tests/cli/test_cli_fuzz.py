"""No internal error on a user's mistake: every command, fed generated arguments and inputs.

Hypothesis draws a command and fills its options from pools of hostile values (missing files,
empty files, a named pipe, folders, wrong name endings, a text file named ``.h5``, a 1.6 kB
file declaring 19.7 GB of blank images, tiny valid files, negative, zero and huge numbers,
words that are not numbers) and valid ones, and runs :func:`galaxy10.cli.main` in-process.
Whatever it draws, the command must end with status 0 or 2 (never 1, "a bug in galaxy10"),
print no traceback, and leave every file that was there before byte-for-byte unchanged.

Commands whose valid run is expensive (training, downloading, rendering the full synthetic
set, serving the page) always get at least one argument from the hostile pool that their
checks must refuse, so that the test stays fast and still exercises every check; cheap
commands (``info``, ``import``, ``repack``, ``audit``, small ``synth`` runs) may also succeed.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import write_h5
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from galaxy10.cli import main


def _png(path: Path, value: int) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), value, np.uint8)).save(path)


def _bomb(path: Path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A folder of hostile and valid inputs, the working directory of every run."""
    root = tmp_path_factory.mktemp("fuzz")
    write_h5(root / "tiny.h5", n=20, size=8)
    write_h5(root / "fifty.h5", n=50, size=8)
    (root / "empty.h5").write_bytes(b"")
    (root / "text.h5").write_text("a text file named .h5\n")
    (root / "notes.txt").write_text("my notes\n")
    (root / "notes.md").write_text("# my notes\n")
    (root / "dir.h5").mkdir()
    (root / "emptydir").mkdir()
    os.mkfifo(root / "fifo.h5")
    with h5py.File(root / "declared.h5", "w") as f:
        f.create_dataset("images", shape=(100_000, 256, 256, 3), dtype=np.uint8,
                         chunks=(1, 256, 256, 3))
        f.create_dataset("ans", shape=(100_000,), dtype=np.uint8)
    _png(root / "imgs" / "0" / "a.png", 40)
    _png(root / "imgs" / "3" / "b.png", 90)
    (root / "imgs.csv").write_text("file,label\nimgs/0/a.png,0\nimgs/3/b.png,3\n")
    (root / "bad.csv").write_text("file,label\nimgs/0/a.png,12\n")
    (root / "binary.csv").write_bytes(b"\xff\xfe\x00garbage")
    (root / "excel.csv").write_bytes("\ufefffile,label\nimgs/0/a.png,0\n".encode())  # Excel's BOM
    (root / "digit.csv").write_text("file,label\nimgs/0/a.png,\u00b2\n", encoding="utf-8")
    blob = (root / "imgs" / "0" / "a.png").read_bytes()
    pq.write_table(pa.table({"image": [blob] * 3, "label": pa.array([1, 12, 3], "int16"),
                             "id": ["g1", "g2", "g1"]}), root / "odd.parquet")
    _bomb(root / "bomb.png")
    (root / "fake.png").write_text("not a picture")
    (root / "seed.keras").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (root / "seed.json").write_text(json.dumps({
        "bundle_version": 1, "kind": "seed", "image": {"size": 64, "color": "seed-grey"}}))
    (root / "broken.keras").write_text("not a zip")
    (root / "out").mkdir()
    (root / "reports").mkdir()
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}
    env = {"GALAXY10_DATA": root / "datahome", "GALAXY10_MODELS": root / "models",
           "GALAXY10_REPORTS": root / "reports", "GALAXY10_REAL_SAMPLE": root / "imgs"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for name, value in env.items():
            mp.setenv(name, str(value))
        yield root, before


# -- the pools --------------------------------------------------------------------------------
HOSTILE_FILES = ["missing.h5", "empty.h5", "text.h5", "fifo.h5", "dir.h5", "emptydir",
                 "declared.h5", "notes.txt", "/dev/zero", "/dev/null", "bad.csv", "binary.csv",
                 "nowhere/deep/x.h5", "notes.txt/x.h5", "tiny.h5", "digit.csv", "odd.parquet",
                 "excel.csv", "-rf"]
"""Inputs that no training command can use (``tiny.h5`` is valid but has 2 images a class)."""
VALID_DATA = ["fifty.h5", "imgs", "imgs.csv"]
HOSTILE_OUTS = ["fifo.h5", "dir.h5", "notes.txt", "notes.md", "model.h5", "/proc/x.keras",
                "notes.txt/x.keras", "tiny.h5", "emptydir", "/dev/null", "x.png", "x.jpg"]
"""Outputs every command refuses (wrong kind, special file, foreign file, no such folder)."""
NEW_OUTS = ["out/new.h5", "out/new.png", "out/new.keras", "out/a b.hdf5", "imgs/new.h5"]
BAD_NUMBERS = ["0", "-1", "-7", "x", "1.5", "nan", "inf", "", "1e3", str(2**40),
               "9" * 50, "0x10"]
SMALL_NUMBERS = ["1", "2", "3"]
MODELS = ["seed.keras", "seed.json", "broken.keras", "missing.keras", "dir.h5", "fifo.h5",
          "notes.txt"]
IMAGES = ["fake.png", "bomb.png", "emptydir", "fifo.h5", "missing.png", "imgs/0/a.png",
          "empty.h5", "-rf"]

hostile = st.sampled_from(HOSTILE_FILES)
anyfile = st.sampled_from(HOSTILE_FILES + VALID_DATA)
bad_out = st.sampled_from(HOSTILE_OUTS)
anyout = st.sampled_from(HOSTILE_OUTS + NEW_OUTS)
bad_number = st.sampled_from(BAD_NUMBERS)
number = st.sampled_from(BAD_NUMBERS + SMALL_NUMBERS)
profile = st.sampled_from(["smoke", "quick", "faithful", "gpu", "full", "fast"])
seed = st.sampled_from(["0", "1", "-1", str(2**32), "x"])


def opt(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    """``[name, value]`` or nothing."""
    return st.one_of(st.just([]), values.map(lambda v: [name, v]))


def must(name: str, values: st.SearchStrategy) -> st.SearchStrategy:
    """``[name, value]`` always."""
    return values.map(lambda v: [name, v])


def flag(name: str) -> st.SearchStrategy:
    return st.sampled_from([[], [name]])


def command(*parts: st.SearchStrategy) -> st.SearchStrategy:
    """A command line made of fixed words and drawn option groups, in a drawn order."""
    return st.tuples(*parts).flatmap(
        lambda groups: st.permutations(groups[1:]).map(
            lambda rest: [*groups[0], *(word for group in rest for word in group)]))


def words(*fixed: str) -> st.SearchStrategy:
    return st.just(list(fixed))


COMMANDS = {
    # cheap when valid: may succeed
    "info": command(words("info"), anyfile.map(lambda v: [v])),
    "synth": command(words("synth"), must("--n", number), opt("--out", anyout),
                     opt("--seed", seed), opt("--workers", st.sampled_from(["0", "1", "65"])),
                     flag("--force"), words("-q")),
    "import": command(words("import"), anyfile.map(lambda v: [v]), must("--out", anyout),
                      flag("--force"), flag("--strict"), words("-q")),
    "repack": command(words("repack"), anyfile.map(lambda v: [v]), must("--out", anyout),
                      opt("--level", st.sampled_from(["0", "9", "10", "-1", "x"])),
                      flag("--force")),
    "audit": command(words("audit"), anyfile.map(lambda v: [v]),
                     opt("--threshold", st.sampled_from(["0", "0.1", "2", "-0.1", "nan", "x"])),
                     opt("--batch-size", number), flag("--json")),
    "results": command(words("results"), opt("--reports-dir", anyfile),
                       opt("--update-readme", anyfile)),
    # expensive when valid: one argument is always refused
    "fetch": command(words("fetch"), must("--data-home", st.sampled_from(
        ["notes.txt", "fifo.h5", "/proc/galaxy10", "notes.txt/x", "/dev/null"])), words("-q")),
    "train": command(words("train"), must("--data", anyfile), must("--out", bad_out),
                     opt("--profile", profile), opt("--epochs", number),
                     opt("--init", st.sampled_from(MODELS)), opt("--seed", seed),
                     opt("--jitter", st.sampled_from(["none", "robust", "wild"])),
                     flag("--force"), words("-q")),
    "pretrain": command(words("pretrain"), opt("--data", anyfile), must("--out", bad_out),
                        opt("--size", number), opt("--epochs", number), opt("--profile", profile),
                        opt("--real", st.sampled_from(HOSTILE_FILES + VALID_DATA + ["none"])),
                        opt("--reports-dir", anyfile), flag("--force"), words("-q")),
    "predict": command(words("predict"), st.lists(st.sampled_from(IMAGES), min_size=1,
                                                  max_size=3),
                       must("--model", st.sampled_from(MODELS)), flag("--json")),
    "gallery": command(words("gallery"), opt("--real", anyfile), opt("--synthetic", anyfile),
                       must("--out", bad_out), opt("--per-class", number), flag("--force")),
    "realism": command(words("realism"), opt("--real", anyfile),
                       opt("--synthetic", st.sampled_from(HOSTILE_FILES + ["tiny", "full"])),
                       must("--out-figure", bad_out), opt("--per-class", number),
                       opt("--reports-dir", anyfile), flag("--force")),
    "run": command(words("run"), must("--data", hostile), opt("--profile", profile),
                   opt("--only", st.sampled_from(["01", "99", "x", ""])), words("-q")),
    "classify": command(words("classify"), st.lists(anyfile, min_size=1, max_size=2),
                        must("--out", anyout), must("--model", st.sampled_from(MODELS)),
                        opt("--workers", number), opt("--views", st.sampled_from(["0", "9", "x"])),
                        opt("--shard-rows", number),
                        opt("--scheduler", st.sampled_from(["tcp:/x", "foo://1.2.3.4:1", "",
                                                            "tcp://host:notaport", "tcp://h:0",
                                                            "tcp://[::1]", "tcp://h:\u00b2"])),
                        opt("--timeout", number), words("-q")),
    "suggest": command(words("suggest"), st.lists(anyfile, min_size=1, max_size=2),
                       must("--out", st.sampled_from(HOSTILE_OUTS + ["out/next.csv"])),
                       must("--model", st.sampled_from(MODELS)), opt("--n", number),
                       opt("--random-share", st.sampled_from(["nan", "-0.1", "1.5", "x", "0.5"])),
                       opt("--by", st.sampled_from(["margin", "entropy", "x"])),
                       opt("--labelled", anyfile), flag("--no-diversity"),
                       flag("--keep-not-cutouts"), flag("--force"),
                       words("-q")),
    "adapt": command(words("adapt"), st.lists(anyfile, min_size=1, max_size=2),
                     must("--out", anyout), must("--model", st.sampled_from(MODELS)),
                     opt("--images", number), opt("--seed", number), flag("--force"),
                     words("-q")),
    "similar": command(words("similar"), st.sampled_from(["0", "-1", "x", "99999", "fake.png",
                                                          "fifo.h5"]).map(lambda v: [v]),
                       must("--in", anyfile), must("--model", st.sampled_from(MODELS)),
                       opt("-k", number), opt("--odd", number)),
    "app": command(words("app"), must("--port", bad_number), opt("--model",
                                                                 st.sampled_from(MODELS)),
                   opt("--page", st.sampled_from(["button", "label", "x"])),
                   opt("--labels", anyfile), opt("--n", number)),
    "bench memory": command(words("bench", "memory"), must("--data", hostile), words("-q")),
    "bench inference": command(words("bench", "inference"),
                               must("--models-dir", st.sampled_from(
                                   ["emptydir", "notes.txt", "fifo.h5", "/proc/x"])),
                               words("-q")),
    "bench button": command(words("bench", "button"), must("--model", st.sampled_from(MODELS)),
                            flag("--overlay"), words("-q")),
    "bench accuracy": command(words("bench", "accuracy"), must("--data", hostile),
                              opt("--real", anyfile), opt("--profile", profile),
                              opt("--models-dir", anyfile), words("-q")),
    "bench real": command(words("bench", "real"), must("--real", hostile),
                          opt("--init", st.sampled_from(MODELS + ["none"])),
                          opt("--folds", number), opt("--profile", profile),
                          opt("--models-dir", anyfile),
                          st.one_of(st.just([]), st.lists(number, min_size=1, max_size=3).map(
                              lambda sizes: ["--labels", *sizes])),
                          opt("--out-figure", anyout), words("-q")),
    "bench active": command(words("bench", "active"), must("--real", hostile),
                            opt("--init", st.sampled_from(MODELS)), opt("--folds", number),
                            opt("--seeds", number), opt("--start", number),
                            opt("--batch", number), opt("--clicks", number),
                            opt("--browser-clicks", number),
                            st.one_of(st.just([]), st.lists(number, min_size=1, max_size=2).map(
                                lambda sizes: ["--finetune-sizes", *sizes])),
                            opt("--finetune-seeds", number),
                            st.one_of(st.just([]), st.lists(number, min_size=1, max_size=3).map(
                                lambda sizes: ["--sizes", *sizes])),
                            opt("--cv", st.sampled_from(["random", "region", "both", "x"])),
                            opt("--out", anyout), opt("--out-figure", anyout), words("-q")),
    "bench adapt": command(words("bench", "adapt"), must("--real", hostile),
                           opt("--init", st.sampled_from(MODELS)),
                           opt("--cv", st.sampled_from(["random", "region", "x"])),
                           opt("--folds", number), flag("--no-shifts"), flag("--finetune"),
                           opt("--shifts", st.sampled_from(["x", "noise x2", ""])),
                           opt("--out", st.sampled_from(HOSTILE_OUTS)), words("-q")),
    "bench select": command(words("bench", "select"), must("--real", hostile),
                            opt("--init", st.sampled_from(MODELS)), opt("--folds", number),
                            opt("--inner-folds", number), opt("--profile", profile),
                            opt("--candidates", st.sampled_from(["shipped", "robust", "x"])),
                            opt("--cv", st.sampled_from(["random", "region", "x"])),
                            opt("--reuse", anyfile), opt("--reuse-inner", anyfile),
                            words("-q")),
    "bench shipped": command(words("bench", "shipped"), must("--bundle", st.sampled_from(MODELS)),
                             opt("--real", st.sampled_from(HOSTILE_FILES + VALID_DATA + ["none"])),
                             opt("--epochs", number), words("-q")),
    "bench classify": command(words("bench", "classify"), must("--model", st.sampled_from(MODELS)),
                              opt("--n", number), opt("--shards", number),
                              opt("--cores", st.sampled_from(["1,2", "0", "x", ""])), words("-q")),
    "bench similar": command(words("bench", "similar"), must("--model", st.sampled_from(MODELS)),
                             opt("--real", anyfile), opt("--n", number), words("-q")),
    "bench layout": command(words("bench", "layout"), must("--n", st.sampled_from(
        ["1", *BAD_NUMBERS, "30000"])), words("-q")),
    "bench pipeline": command(words("bench", "pipeline"), must("--n", st.sampled_from(
        [*BAD_NUMBERS, "30000"])), words("-q")),
}

argv_strategy = st.tuples(st.sampled_from([[], ["-v"], ["-q"]]),
                          st.sampled_from(sorted(COMMANDS)).flatmap(lambda name: COMMANDS[name]),
                          st.sampled_from([[], ["-v"]])  # before or after the command
                          ).map(lambda t: [*t[0], *t[1], *t[2]])


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(argv=argv_strategy)
def test_no_command_fails_with_an_internal_error(world, argv):
    root, before = world
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    text = err.getvalue()
    assert status in (0, 2), (argv, text)
    assert "Traceback" not in text and "internal error" not in text, (argv, text)
    if status == 2:
        errors = [line for line in text.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, (argv, text)
    # --force may replace the file named by --out (and only that one); nothing else changes
    forced = {(root / argv[i + 1]).resolve() for i, word in enumerate(argv[:-1])
              if word in ("--out", "--out-figure")} if "--force" in argv else set()
    changed = []
    for path, digest in before.items():
        now = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if now != digest and path.resolve() in forced and status == 0:
            before[path] = now  # replaced on request: the new content is the reference
        elif now != digest:
            changed.append(str(path.relative_to(root)))
    assert not changed, (argv, changed)


def test_every_command_is_drawn():
    """The pools cover every sub-command the parser has (a new command must be added here)."""
    from galaxy10.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set()
    for name, child in sub.choices.items():
        nested = [a for a in child._actions if getattr(a, "choices", None) and a.dest == "what"]
        names |= {f"{name} {b}" for b in nested[0].choices} if nested else {name}
    assert names == set(COMMANDS)
