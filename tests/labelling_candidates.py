"""Candidates for the labelling tests: small random embeddings in well separated clusters.

Imported as ``from labelling_candidates import clustered`` (``tests/`` is on the path, as for
``tiny_bundles``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from galaxy10.pipeline.labelling import Candidates


def clustered(n: int = 60, classes: int = 3, seed: int = 0, files: Path | None = None
              ) -> tuple[Candidates, np.ndarray]:
    """``n`` candidates in ``classes`` well separated clusters, and each one's true class."""
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % classes
    centres = rng.normal(size=(classes, 8)) * 10
    emb = centres[truth] + rng.normal(size=(n, 8))
    probs = rng.dirichlet(np.ones(10), size=n)
    names = (tuple(str(files / f"g{i}.png") for i in range(n)) if files is not None
             else None)
    return Candidates(tuple(f"set.h5:{i}" for i in range(n)), probs, emb, names), truth
