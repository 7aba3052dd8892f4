"""A tiny untrained modern-CNN bundle in seconds, for the tests of embeddings and similarity.

Imported by tests as ``from tiny_bundles import tiny_bundle`` (``tests/`` is on the path, as
for ``conftest``). Its input is a 32 px centre crop of 64 px cut-outs, so the flip/rotation
views of a 64 px image are exactly the views of its preprocessed input.
"""

from __future__ import annotations

from pathlib import Path


def tiny_bundle(path: Path, seed: int = 0, tta: bool = True) -> Path:
    """Save an untrained galaxy CNN (filters 4, 8) as ``path`` (``.keras`` + ``.json``)."""
    from galaxy10.modeling.bundle import save_bundle
    from galaxy10.modeling.models import build_galaxy_cnn
    from galaxy10.modeling.preprocess import ImageConfig

    config = ImageConfig(size=32, color="rgb", crop=0.5)
    model = build_galaxy_cnn(config.shape, filters=(4, 8), seed=seed)
    return save_bundle(model, path, kind="galaxy", config=config, tta=tta)
