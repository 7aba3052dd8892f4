"""The catalogue's ``--embeddings`` column holds the same vectors that similarity search stores."""

from __future__ import annotations

import numpy as np
from conftest import write_h5
from tiny_bundles import tiny_bundle


def test_catalogue_embeddings_are_the_stored_ones(tmp_path):
    from galaxy10.modeling.embeddings import embed_file
    from galaxy10.pipeline.catalogue import classify_catalogue, read_catalogue

    bundle = tiny_bundle(tmp_path / "tiny.keras")
    data = write_h5(tmp_path / "cat.h5", n=7, size=64)
    classify_catalogue([data], tmp_path / "out", bundle, workers=1, embeddings=True,
                       progress=False)
    table = read_catalogue(tmp_path / "out")
    stored = embed_file(bundle, data)
    order = np.argsort(np.asarray(table["row"]))
    np.testing.assert_allclose(np.stack(table["embedding"])[order], stored.vectors,
                               rtol=1e-5, atol=1e-6)
