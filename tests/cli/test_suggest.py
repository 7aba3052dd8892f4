"""``suggest`` end to end: a folder of PNGs classified in-process, the same picks from the
catalogue that ``classify --embeddings`` writes, labelled galaxies left out, --out kept safe."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from galaxy10.pipeline.suggest import HEADER


def galaxy10(*args, timeout=300):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "galaxy10", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def pictures(model_bundle, tmp_path_factory):
    """30 of the shared synthetic galaxies as PNGs in a folder (and one broken PNG), and the
    tiny bundle."""
    from galaxy10.datasets.reader import Galaxy10File

    root = tmp_path_factory.mktemp("suggest")
    folder = root / "pngs"
    folder.mkdir()
    with Galaxy10File(model_bundle["data"]) as f:
        images = f.read(np.arange(30))
    for i, image in enumerate(images):
        Image.fromarray(image[::4, ::4]).save(folder / f"g{i:02d}.png")
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    return {"folder": folder, "model": model_bundle["model"], "root": root}


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == HEADER
        return list(reader)


def test_suggest_ranks_a_folder_and_a_catalogue_alike_and_skips_the_labelled(pictures):
    root, folder, model = pictures["root"], pictures["folder"], pictures["model"]
    first = galaxy10("suggest", folder, "--n", "10", "--out", root / "next.csv", "--model",
                     model, "--workers", "1", "-q")
    assert first.returncode == 2, first.stderr  # as classify: a picture could not be read
    assert first.stdout.startswith(f"suggestions {root / 'next.csv'}: 10 of 30 unlabelled "
                                   "galaxies (")
    assert first.stdout.rstrip().endswith("0 already labelled left out; could not be read "
                                          "(left out): 1 picture(s), 0 input part(s)")
    rows = read_rows(root / "next.csv")
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 11)]
    assert sum(r["reason"] == "random" for r in rows) == 1  # the default share, 0.1 of 10
    assert {r["reason"] for r in rows} <= {"uncertain", "diverse", "random"}
    assert len({r["id"] for r in rows}) == 10 and all(r["id"].startswith("pngs/") for r in rows)
    assert all(Path(r["path"]).is_file() for r in rows)
    for r in rows:
        p = [float(r[f"p{k}"]) for k in (1, 2, 3)]
        assert p == sorted(p, reverse=True) and r["class"] == r["top1"]
        assert float(r["margin"]) == pytest.approx(p[0] - p[1], abs=2e-4)

    cat = root / "cat"
    done = galaxy10("classify", folder, "--out", cat, "--model", model, "--workers", "1",
                    "--embeddings", "-q")
    assert done.returncode == 2 and (cat / "_summary.json").is_file(), done.stderr
    again = galaxy10("suggest", cat, "--n", "10", "--out", root / "again.csv", "-q")
    assert again.returncode == 0, again.stderr
    assert (root / "again.csv").read_bytes() == (root / "next.csv").read_bytes()

    labels = root / "labels.csv"  # five by id, five by path (relative to the manifest)
    labels.write_text("\ufeffid,path,label\n" + "".join(
        f"{r['id']},,3\n" if i % 2 else f",{os.path.relpath(r['path'], root)},7\n"
        for i, r in enumerate(rows)), encoding="utf-8")
    rest = galaxy10("suggest", cat, "--n", "20", "--out", root / "rest.csv", "--labelled",
                    labels, "-q")
    assert rest.returncode == 0, rest.stderr
    assert "10 already labelled left out" in rest.stdout
    assert {r["id"] for r in read_rows(root / "rest.csv")}.isdisjoint(r["id"] for r in rows)
    too_many = galaxy10("suggest", cat, "--n", "21", "--out", root / "rest.csv", "--labelled",
                        labels, "-q")
    assert too_many.returncode == 2
    assert too_many.stderr.strip() == ("error: --n 21: there are only 20 candidate galaxies "
                                       "(unlabelled rows of the inputs) to suggest from")


def test_a_catalogue_without_embeddings_needs_no_diversity(pictures):
    root, folder, model = pictures["root"], pictures["folder"], pictures["model"]
    plain = root / "plain"
    done = galaxy10("classify", folder, "--out", plain, "--model", model, "--workers", "1",
                    "-q")
    assert done.returncode == 2 and (plain / "_summary.json").is_file(), done.stderr
    refused = galaxy10("suggest", plain, "--n", "5", "--out", root / "p.csv", "-q")
    assert refused.returncode == 2 and not (root / "p.csv").exists()
    assert refused.stderr.strip() == (f"error: {plain}: the catalogue holds no embeddings "
                                      "(classify it with --embeddings, or add --no-diversity)")
    ranked = galaxy10("suggest", plain, "--n", "5", "--out", root / "p.csv", "--no-diversity",
                      "--by", "entropy", "--random-share", "0", "-q")
    assert ranked.returncode == 0, ranked.stderr
    rows = read_rows(root / "p.csv")
    assert len(rows) == 5 and {r["reason"] for r in rows} == {"uncertain"}
    mine = root / "mine.csv"
    mine.write_text("my,own\n1,2\n")
    kept = galaxy10("suggest", plain, "--n", "5", "--out", mine, "--no-diversity", "-q")
    assert kept.returncode == 2 and mine.read_text() == "my,own\n1,2\n"
    assert "already exists and is not a suggestions CSV that galaxy10 wrote" in kept.stderr
