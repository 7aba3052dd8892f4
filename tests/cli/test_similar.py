"""``python -m galaxy10 similar``: neighbours with classes and distances; misuse in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import encode_png, write_h5
from tiny_bundles import tiny_bundle

from galaxy10.cli import main


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("similar")
    data = write_h5(root / "galaxies.h5", n=20, size=256)
    return {"root": root, "data": data, "model": tiny_bundle(root / "tiny.keras")}


def test_neighbours_of_a_row_are_listed_without_the_row(world, capsys):
    argv = ["similar", "4", "--in", str(world["data"]), "--model", str(world["model"]), "-k",
            "5", "--odd", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert "computed and stored in" in out[0]
    assert out[1] == "5 nearest to row 4 (row 4, class 4) (cosine distance):"
    rows = [int(line.split()[2]) for line in out[2:7]]
    assert 4 not in rows and len(set(rows)) == 5
    distances = [float(line.split()[-1]) for line in out[2:7]]
    assert distances == sorted(distances)
    assert out[7].startswith("2 odd ones out") and len(out) == 10
    assert main(argv) == 0
    assert "reused" in capsys.readouterr().out.splitlines()[0]


def test_an_image_finds_its_own_row_first(world, tmp_path, capsys):
    from galaxy10.datasets.reader import Galaxy10File

    with Galaxy10File(world["data"]) as f:
        image = f.image(11)
    png = tmp_path / "mine.png"
    png.write_bytes(encode_png(image))
    assert main(["similar", str(png), "--in", str(world["data"]), "--model",
                 str(world["model"]), "-k", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"3 nearest to {png} (cosine distance):"
    assert out[2].split()[2] == "11" and float(out[2].split()[-1]) < 1e-3


@pytest.mark.parametrize("args, says", [
    (["99"], "row 99: {data} has rows 0-19"),
    (["{root}/notes.txt"], "{root}/notes.txt: not a readable image"),
    (["{root}/none.png"], "{root}/none.png: "),
    ([], "give a galaxy to search for"),
    (["1", "--model", "{root}/missing.keras"], "{root}/missing.keras: model file not found"),
    (["1", "--model", "{data}"], "{data}: not a Keras model bundle"),
    (["1", "--in", "{root}/nothing"], "{root}/nothing: not found"),
    (["1", "-k", "0"], "argument -k: must be at least 1"),
    (["1", "--odd", "-2"], "argument --odd: must be at least 0"),
])
def test_misuse_is_one_line(world, capsys, args, says):
    (world["root"] / "notes.txt").write_text("my notes")
    fill = {k: str(v) for k, v in world.items()}
    argv = ["similar", *[a.format(**fill) for a in args]]
    if "--in" not in argv:
        argv += ["--in", fill["data"]]
    if "--model" not in argv:
        argv += ["--model", fill["model"]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: " + says.format(**fill)), err


def test_misuse_is_refused_before_tensorflow_loads(world):
    code = ("import sys; from galaxy10.cli import main; "
            f"rc = main(['similar', '99', '--in', {str(world['data'])!r}, '--model', "
            f"{str(world['model'])!r}]); print(rc, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["2", "False"], out.stderr


def test_gallery_and_map_are_drawn_and_a_users_file_is_kept(world, tmp_path, capsys):
    gallery, tsne = tmp_path / "gallery.png", tmp_path / "map.png"
    base = ["similar", "--in", str(world["data"]), "--model", str(world["model"])]
    assert main([*base, "--gallery", str(gallery), "--map", str(tsne)]) == 0
    out = capsys.readouterr().out
    assert f"figure written to {gallery}" in out and f"figure written to {tsne}" in out
    assert gallery.read_bytes()[:8] == tsne.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    notes = tmp_path / "notes.png"
    notes.write_bytes(b"my own picture")
    assert main([*base, "--gallery", str(notes)]) == 2
    assert notes.read_bytes() == b"my own picture"
    assert "error: " in capsys.readouterr().err


def test_a_stored_embeddings_file_cut_short_is_recomputed_with_one_warning(world, tmp_path):
    import shutil

    from galaxy10.modeling.embeddings import embed_file

    data = shutil.copy(world["data"], tmp_path / "galaxies.h5")
    argv = [sys.executable, "-m", "galaxy10", "similar", "4", "--in", str(data), "--model",
            str(world["model"]), "-k", "3"]
    stored = embed_file(world["model"], data).path
    stored.write_bytes(stored.read_bytes()[:1000])  # a copy or a write that did not finish
    healed = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert healed.returncode == 0, healed.stderr
    (warning,) = [line for line in healed.stderr.splitlines() if line.strip()]
    assert f"{stored}: damaged (" in warning and warning.endswith("recomputing it")
    later = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert later.returncode == 0 and "reused" in later.stdout.splitlines()[0], later.stderr
    assert later.stdout.splitlines()[1:] == healed.stdout.splitlines()[1:]
