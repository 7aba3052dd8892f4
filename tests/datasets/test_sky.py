"""Sky positions: the published table, manifests, imports, cells, region groups, footprints."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from galaxy10 import Galaxy10File, GalaxyDataError
from galaxy10.datasets.importer import import_images, plan_import
from galaxy10.datasets.labelled import source_positions
from galaxy10.datasets.sky import (
    footprint,
    format_footprint,
    manifest_positions,
    read_coordinates,
    region_groups,
    sky_cells,
)


def write_table(path, positions):
    """A table like the published Galaxy10_coord.csv: index, RA, DEC, redshift (= DEC)."""
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["", "RA", "DEC", "redshift"])
        for i, (ra, dec) in enumerate(positions):
            w.writerow([i, ra, dec, dec])
    return path


def write_images(root, n=4):
    """``n`` PNG cut-outs in class folders 0 and 1, and their paths."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        folder = root / str(i % 2)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


def write_manifest(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_h5_rows_of_a_manifest_are_joined_with_the_table_and_imported(tmp_path):
    table = write_table(tmp_path / "coord.csv", [(10.0, -5.0), (200.0, 30.0), (359.5, 1.0),
                                                  (45.0, 60.0)])
    write_images(tmp_path / "src")
    manifest = write_manifest(tmp_path / "src" / "manifest.csv", ["file", "label", "h5_row"],
                              [["0/0.png", 0, 3], ["1/1.png", 1, 0], ["0/2.png", 0, 1],
                               ["1/3.png", 1, 2]])
    found = manifest_positions(manifest, table)
    np.testing.assert_allclose(found.ra, [45.0, 10.0, 200.0, 359.5])
    np.testing.assert_allclose(found.dec, [60.0, -5.0, 30.0, 1.0])
    # the folder is imported by its class folders (0/0, 0/2, 1/1, 1/3): its manifest still
    # gives each image's position, matched by path
    plan = plan_import(tmp_path / "src", coordinates=table)
    out = import_images(tmp_path / "src", tmp_path / "out.h5", progress=False, plan=plan)
    with Galaxy10File(out) as f:
        np.testing.assert_allclose(f.metadata("ra"), [45.0, 200.0, 10.0, 359.5])
        np.testing.assert_allclose(f.metadata("dec"), [60.0, 30.0, -5.0, 1.0])
        assert f.attrs["positions"] == "coord.csv joined on h5_row"
    assert source_positions(out).origin == "the file's ra/dec"


def test_a_manifests_own_ra_dec_come_first(tmp_path):
    write_images(tmp_path, 2)
    manifest = tmp_path / "list.csv"
    manifest.write_text("file,label,RA,Dec,h5_row\n0/0.png,0,12.5,-3,99999\n"
                        "1/1.png,1,300,45.25,99999\n", encoding="utf-8")
    found = manifest_positions(manifest, tmp_path / "not-needed.csv")
    np.testing.assert_allclose(found.ra, [12.5, 300.0])
    assert "RA, Dec" in found.origin
    out = import_images(manifest, tmp_path / "m.h5", progress=False)
    with Galaxy10File(out) as f:
        np.testing.assert_allclose(f.metadata("dec"), [-3.0, 45.25])


def test_no_positions_without_columns_or_table(tmp_path, monkeypatch):
    write_images(tmp_path, 2)
    plain = write_manifest(tmp_path / "plain.csv", ["file", "label"], [["0/0.png", 0]])
    assert manifest_positions(plain) is None
    rows = write_manifest(tmp_path / "rows.csv", ["file", "label", "h5_row"], [["0/0.png", 0, 0]])
    monkeypatch.setenv("GALAXY10_COORDS", str(tmp_path / "absent.csv"))
    assert manifest_positions(rows) is None  # the default table is optional
    assert plan_import(tmp_path, check_images=False).positions is None  # class folders only
    with Galaxy10File(import_images(rows, tmp_path / "r.h5", progress=False)) as f:
        assert f.metadata("ra") is None


@pytest.mark.parametrize("header, row, fault", [
    (["file", "label", "ra", "dec"], ["0/0.png", 0, "abc", 1], "line 2: ra 'abc' is not a number"),
    (["file", "label", "ra", "dec"], ["0/0.png", 0, 400, 1], "RA must lie in 0-360"),
    (["file", "label", "ra", "dec"], ["0/0.png", 0, 10, -91], "out of range"),
    (["file", "label", "ra", "dec"], ["0/0.png", 0, "nan", 1], "missing or out of range"),
    (["file", "label", "h5_row"], ["0/0.png", 0, 7], "h5_row 7 is not a row of"),
    (["file", "label", "h5_row"], ["0/0.png", 0, 1.5], "h5_row 1.5 is not a row of"),
    (["file", "label"], ["0/0.png", 0], "has neither ra and dec columns nor an h5_row"),
])
def test_bad_positions_name_the_manifest_and_line(tmp_path, header, row, fault):
    write_images(tmp_path, 2)
    table = write_table(tmp_path / "coord.csv", [(1.0, 2.0), (3.0, 4.0)])
    manifest = write_manifest(tmp_path / "m.csv", header, [row])
    with pytest.raises(GalaxyDataError, match=fault) as info:
        plan_import(manifest, coordinates=table)
    assert str(info.value).startswith(str(manifest))


@pytest.mark.parametrize("text, fault", [
    ("x,y\n0,1\n", "needs an index column and the columns RA and DEC"),
    (",RA,DEC\n0,1,2\n2,3,4\n", "line 3: index 2, expected 1"),
    (",RA,DEC\n0,1,95\n", "out of range"),
    (",RA,DEC\n", "needs an index column"),
])
def test_a_bad_table_is_refused_naming_it(tmp_path, text, fault):
    table = tmp_path / "coord.csv"
    table.write_text(text)
    with pytest.raises(GalaxyDataError, match=fault) as info:
        read_coordinates(table)
    assert str(info.value).startswith(str(table))


def test_a_missing_table_given_explicitly_is_an_error(tmp_path):
    write_images(tmp_path, 2)
    manifest = write_manifest(tmp_path / "m.csv", ["file", "label", "h5_row"], [["0/0.png", 0, 0]])
    with pytest.raises(GalaxyDataError, match="nowhere.csv: file not found"):
        manifest_positions(manifest, tmp_path / "nowhere.csv")
    with pytest.raises(GalaxyDataError, match="has no manifest.csv"):
        plan_import(tmp_path, coordinates=tmp_path / "nowhere.csv")


def test_sky_cells_bin_ra_by_15_and_dec_by_10_degrees():
    ra = np.array([0.0, 14.9, 15.0, 359.99, 360.0, 0.0])
    dec = np.array([0.0, 9.9, 0.0, 0.0, 0.0, 10.0])
    cells = sky_cells(ra, dec)
    assert cells[0] == cells[1] == cells[4]  # 360 wraps to 0
    assert len({cells[0], cells[2], cells[3], cells[5]}) == 4
    assert sky_cells(np.array([1.0]), np.array([90.0]))[0] >= 0


def test_region_groups_join_cells_that_share_a_duplicate():
    ra = np.array([1.0, 2.0, 20.0, 21.0, 40.0, 41.0])
    dec = np.zeros(6)
    assert len(np.unique(region_groups(ra, dec))) == 3
    duplicates = np.array([0, 1, 0, 3, 4, 5])  # row 2 (cell 2) copies row 0 (cell 1)
    groups = region_groups(ra, dec, duplicates)
    assert groups[0] == groups[1] == groups[2] == groups[3]
    assert groups[4] == groups[5] != groups[0]
    assert sorted(np.unique(groups)) == [0, 1]


def test_footprint_counts_the_south_cap_and_low_declinations():
    fp = footprint(np.array([10.0, 100.0, 300.0, 200.0]), np.array([0.0, 30.0, 4.0, 60.0]))
    assert fp["n"] == 4 and fp["south_cap_share"] == 0.5 and fp["dec_below_5_share"] == 0.5
    assert fp["cells"] == 4
    assert "50% in the south galactic cap" in format_footprint(fp)


def test_the_real_sample_lies_mostly_in_one_region(real_sample):
    """The published positions joined on the sample's h5 rows: most of it is near the equator."""
    found = source_positions(real_sample)
    assert found is not None and len(found) == 1000
    fp = footprint(found.ra, found.dec)
    assert fp["south_cap_share"] > 0.5 and fp["dec_below_5_share"] > 0.5
    table = read_coordinates(real_sample.parent / "galaxy10-coord" / "Galaxy10_coord.csv")
    assert len(table) == 17736
    assert footprint(table.ra, table.dec)["south_cap_share"] < 0.2


def test_info_prints_the_footprint_and_draws_the_sky_over_the_table(tmp_path, capsys):
    from galaxy10.cli import main
    from galaxy10.datasets import synthetic

    data = synthetic.generate(tmp_path / "s.h5", n=30, seed=1, progress=False)
    table = write_table(tmp_path / "coord.csv", [(10.0 * i, i - 5.0) for i in range(30)])
    figure = tmp_path / "sky.png"
    assert main(["info", str(data), "--sky-figure", str(figure), "--coords", str(table)]) == 0
    out = capsys.readouterr().out
    assert "sky         : " in out and "in the south galactic cap" in out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_refuses_a_sky_figure_it_cannot_draw_in_one_line(tmp_path, small_h5, capsys):
    from galaxy10.cli import main

    assert main(["info", str(small_h5), "--sky-figure", str(tmp_path / "sky.png")]) == 2
    err = capsys.readouterr().err
    assert "has no sky positions (ra/dec) to draw" in err and "Traceback" not in err
    assert main(["info", str(small_h5), "--coords", str(tmp_path / "c.csv")]) == 2
    assert "give that too" in capsys.readouterr().err
    assert not (tmp_path / "sky.png").exists()
