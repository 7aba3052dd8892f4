"""Stored embeddings: computed once, reused only for the same bundle, views, rows and data."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from conftest import write_h5
from tiny_bundles import tiny_bundle

from galaxy10.modeling.digest import bundle_hash
from galaxy10.modeling.embeddings import (
    StaleEmbeddingsError,
    embed_file,
    embeddings_path,
)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundles")
    return tiny_bundle(root / "a.keras", seed=0), tiny_bundle(root / "b.keras", seed=1)


@pytest.fixture
def data(tmp_path):
    return write_h5(tmp_path / "galaxies.h5", n=12, size=64)


def test_embeddings_are_stored_beside_the_data_and_reused(bundles, data):
    first = embed_file(bundles[0], data, batch_size=5)  # batches do not change the vectors
    assert first.path == data.parent / f"galaxies.h5.embeddings-{bundle_hash(bundles[0])[:12]}.npz"
    assert first.path.is_file() and not first.reused
    assert first.vectors.shape == (12, 8) and first.probs.shape == (12, 10)
    assert first.views == 8 and list(first.rows) == list(range(12))
    np.testing.assert_array_equal(first.labels, np.arange(12) % 10)
    again = embed_file(bundles[0], data)
    assert again.reused
    np.testing.assert_allclose(again.vectors, first.vectors, atol=1e-6)
    with np.load(first.path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"]))
    assert meta["bundle_hash"] == bundle_hash(bundles[0]) and meta["data"]["n"] == 12


def test_changed_data_is_recomputed_or_refused(bundles, data):
    first = embed_file(bundles[0], data)
    write_h5(data, n=12, size=64, ans=(np.arange(12) % 10)[::-1].astype(np.uint8))
    with pytest.raises(StaleEmbeddingsError, match="the data changed since they were computed"):
        embed_file(bundles[0], data, recompute=False)
    fresh = embed_file(bundles[0], data)
    assert not fresh.reused and fresh.path == first.path
    np.testing.assert_array_equal(fresh.labels, (np.arange(12) % 10)[::-1])
    assert embed_file(bundles[0], data, recompute=False).reused


def test_another_bundles_file_is_never_taken(bundles, data):
    a = embed_file(bundles[0], data)
    b_path = embeddings_path(data, bundle_hash(bundles[1]))
    assert b_path != a.path
    shutil.copy(a.path, b_path)  # a's vectors under b's name
    with pytest.raises(StaleEmbeddingsError, match="made by another bundle"):
        embed_file(bundles[1], data, recompute=False)
    b = embed_file(bundles[1], data)
    assert not b.reused and not np.allclose(b.vectors, a.vectors)


def test_other_views_and_rows_are_their_own_embeddings(bundles, data):
    full = embed_file(bundles[0], data)
    with pytest.raises(StaleEmbeddingsError, match="made with 8 views, not 1"):
        embed_file(bundles[0], data, views=1, recompute=False)
    part = embed_file(bundles[0], data, rows=[3, 7, 9])
    assert part.path != full.path and list(part.rows) == [3, 7, 9]
    np.testing.assert_allclose(part.vectors, full.vectors[[3, 7, 9]], atol=1e-5)
    assert embed_file(bundles[0], data, rows=[3, 7, 9]).reused


def test_a_read_only_folder_is_left_alone(bundles, data, tmp_path, monkeypatch):
    monkeypatch.setenv("GALAXY10_DATA", str(tmp_path / "home"))
    os.chmod(data.parent, 0o555)
    try:
        emb = embed_file(bundles[0], data)
    finally:
        os.chmod(data.parent, 0o755)
    assert emb.path.parent == tmp_path / "home" / "embeddings"
    assert not list(data.parent.glob("*.embeddings-*"))


def test_flips_and_rotations_land_next_to_their_galaxy(bundles, tmp_path):
    from galaxy10.evaluation.similarity import NeighbourIndex

    rng = np.random.default_rng(3)
    others = rng.integers(0, 256, size=(9, 64, 64, 3), dtype=np.uint8)
    galaxy = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    views = [galaxy, np.rot90(galaxy), np.rot90(galaxy, 2), galaxy[::-1], galaxy[:, ::-1]]
    data = write_h5(tmp_path / "views.h5", images=np.stack([*views, *others]))
    emb = embed_file(bundles[0], data)
    nn, dist = NeighbourIndex(emb.vectors).query(emb.vectors[0], 4, exclude=[0])
    assert sorted(nn[0]) == [1, 2, 3, 4]
    assert dist.max() < 1e-4


def test_a_bundle_that_is_not_on_disk_is_refused(data, tmp_path):
    from galaxy10.core.errors import ModelError

    with pytest.raises(ModelError, match="no bundle file"):
        embed_file(tmp_path / "gone.keras", data)


@pytest.mark.parametrize("damage", [
    lambda raw: raw[: len(raw) // 2],  # cut short: a copy or a write that did not finish
    lambda raw: b"",
    lambda raw: raw[:30] + bytes(len(raw) - 30),  # overwritten past the zip header
])
def test_a_damaged_file_is_recomputed_with_one_warning(bundles, data, damage, caplog):
    first = embed_file(bundles[0], data)
    first.path.write_bytes(damage(first.path.read_bytes()))
    with pytest.raises(StaleEmbeddingsError, match=r"damaged embeddings file .*: delete it"):
        embed_file(bundles[0], data, recompute=False)  # refused with the file to delete
    with caplog.at_level("WARNING", logger="galaxy10.modeling.embeddings"):
        fresh = embed_file(bundles[0], data)
    assert not fresh.reused and fresh.path == first.path
    np.testing.assert_allclose(fresh.vectors, first.vectors, atol=1e-6)
    (warning,) = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().startswith(f"{first.path}: damaged (")
    assert embed_file(bundles[0], data).reused  # replaced by a whole file
    assert [p.name for p in data.parent.iterdir() if p.name.startswith(".")] == []


def test_a_file_with_arrays_of_other_lengths_is_damaged(bundles, data):
    first = embed_file(bundles[0], data)
    with np.load(first.path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["vectors"] = arrays["vectors"][:5]
    np.savez(first.path, **arrays)
    assert not embed_file(bundles[0], data).reused
