"""Realism statistics: known answers on constructed images, KS, and the ``realism`` command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from galaxy10.cli import main
from galaxy10.evaluation import realism

SIZE = 256
IDX = {name: i for i, name in enumerate(realism.STATISTICS)}


def _blob(sigma_x: float, sigma_y: float | None = None, angle: float = 0.0, peak: float = 200.0,
          sky: float = 30.0, colour: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """A float image: an (elliptical, rotated) Gaussian of known sigmas on a flat sky."""
    sigma_y = sigma_x if sigma_y is None else sigma_y
    y, x = np.mgrid[:SIZE, :SIZE].astype(np.float64) - SIZE // 2
    c, s = math.cos(angle), math.sin(angle)
    u, v = x * c + y * s, -x * s + y * c
    g = peak * np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
    return sky + g[..., None] * np.asarray(colour)[None, None, :]


def test_round_gaussian_gives_its_sigma_and_half_light_radius() -> None:
    stats = realism.image_statistics(_blob(9.0))
    # the 3-sigma segment truncates the far wings a little: within 4 %
    assert stats[IDX["radius_moment"]] == pytest.approx(9.0, rel=0.04)
    assert stats[IDX["radius_half_light"]] == pytest.approx(9.0 * math.sqrt(2 * math.log(2)),
                                                             rel=0.05)
    assert stats[IDX["ellipticity"]] < 0.02
    assert stats[IDX["central_brightness"]] == pytest.approx(200.0 * 0.95, rel=0.06)
    assert stats[IDX["total_flux"]] == pytest.approx(200.0 * 2 * math.pi * 81, rel=0.04)
    assert stats[IDX["sky_level"]] == pytest.approx(30.0)
    assert stats[IDX["n_sources"]] == 0


@pytest.mark.parametrize("angle", [0.0, 0.6, 2.0])
def test_rotated_ellipse_gives_its_ellipticity_at_any_angle(angle: float) -> None:
    stats = realism.image_statistics(_blob(12.0, 6.0, angle))
    assert stats[IDX["ellipticity"]] == pytest.approx(0.5, abs=0.03)


def test_noise_of_known_sigma_is_recovered_and_sources_are_counted() -> None:
    rng = np.random.default_rng(0)
    img = _blob(8.0) + rng.normal(0.0, 6.0, (SIZE, SIZE, 3))
    for x, y in ((40, 40), (200, 60), (60, 210)):  # three bright compact neighbours
        img += 150 * np.exp(-0.5 * ((np.arange(SIZE)[None, :] - x) ** 2 +
                                    (np.arange(SIZE)[:, None] - y) ** 2) / 2.0 ** 2)[..., None]
    stats = realism.image_statistics(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    assert stats[IDX["noise_sigma"]] == pytest.approx(6.0, rel=0.08)
    assert stats[IDX["n_sources"]] == 3
    assert stats[IDX["radius_moment"]] == pytest.approx(8.0, rel=0.1)


def test_colour_ratios_follow_the_channel_fluxes() -> None:
    stats = realism.image_statistics(_blob(7.0, colour=(1.2, 1.0, 0.6)))
    assert stats[IDX["color_rg"]] == pytest.approx(1.2, rel=0.01)
    assert stats[IDX["color_bg"]] == pytest.approx(0.6, rel=0.01)


def test_ks_is_zero_for_identical_samples_and_one_for_disjoint_ones() -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 5)
    stats = rng.normal(size=(50, len(realism.STATISTICS)))
    same = realism.ks_table(stats, labels, stats.copy(), labels)
    assert same.shape == (len(realism.STATISTICS), 10)
    assert np.all(same == 0)
    apart = realism.ks_table(stats, labels, stats + 100, labels)
    assert np.all(apart == 1)
    summary = realism.summarise(apart)
    assert summary["median_ks"] == 1.0
    assert set(summary["per_statistic"]) == set(realism.STATISTICS)
    # a class missing on one side is NaN and left out of the medians
    partial = realism.ks_table(stats, labels, stats[labels != 3], labels[labels != 3])
    assert np.isnan(partial[:, 3]).all()
    assert realism.summarise(partial)["median_ks"] == 0.0


def _jpeg_folder(root: Path, per_class: int = 3) -> Path:
    """Class folders 0-9 of synthetic-looking JPEGs plus the real sample's manifest format."""
    rng = np.random.default_rng(2)
    lines = ["file,label,class_name,h5_row"]
    row = 0
    for label in range(10):
        (root / str(label)).mkdir(parents=True)
        for _ in range(per_class):
            img = _blob(rng.uniform(5, 15), rng.uniform(4, 12), rng.uniform(0, 3))
            img = img + rng.normal(0, 6, img.shape)
            name = f"{label}/{row:05d}.jpg"
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / name, quality=90)
            lines.append(f"{name},{label},class{label},{row}")
            row += 1
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_cli_writes_the_table_figure_and_metrics(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    real = _jpeg_folder(tmp_path / "real")
    reports = tmp_path / "reports"
    (reports).mkdir()
    (reports / "metrics.json").write_text(json.dumps({"other": {"kept": 1}}), encoding="utf-8")
    figure = tmp_path / "fig" / "realism_by_class.png"
    code = main(["realism", "--real", str(real), "--synthetic", "tiny", "--per-class", "2",
                 "--seed", "1", "--out-figure", str(figure), "--reports-dir", str(reports)])
    assert code == 0
    out = capsys.readouterr().out
    assert "median KS over all class x statistic cells" in out
    assert all(name in out for name in realism.STATISTICS)
    assert figure.is_file() and 10_000 < figure.stat().st_size <= 300_000
    with Image.open(figure) as img:
        assert img.format == "PNG"
    doc = json.loads((reports / "metrics.json").read_text(encoding="utf-8"))
    assert doc["other"] == {"kept": 1}
    section = doc["realism"]
    assert section["n_real"] == 20 and section["n_synthetic"] == 20
    assert 0.0 <= section["median_ks"] <= 1.0
    assert len(section["ks_by_statistic_and_class"]["radius_moment"]) == 10
    assert "preset tiny, seed 1" in section["synthetic"]
    assert [p.name for p in figure.parent.iterdir()] == ["realism_by_class.png"]


def test_cli_with_a_missing_real_folder_prints_one_line_and_exits_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    code = main(["realism", "--real", str(missing), "--reports-dir", str(tmp_path / "r")])
    assert code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {missing}: --real: no labelled images there (not found)")
    assert "python -m galaxy10 import" in lines[0]
    assert not (tmp_path / "r" / "metrics.json").exists()
