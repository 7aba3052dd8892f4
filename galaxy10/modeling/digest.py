"""Content digests that say whether stored output still describes its inputs.

One definition of each, shared by every writer that records them: the catalogue's Parquet
parts (:mod:`galaxy10.pipeline.catalogue`) and stored embeddings
(:mod:`galaxy10.modeling.embeddings`) both name the bundle they were made with by
:func:`bundle_hash`, so output of another bundle, or of this one before it changed, is never
taken for this bundle's. Cheap to import (no image or TensorFlow libraries).
"""

from __future__ import annotations

import os
from pathlib import Path

from galaxy10.core.identity import files_sha256


def bundle_hash(model: str | os.PathLike[str]) -> str:
    """SHA-256 of a bundle: its ``.keras`` file, then its ``.json``."""
    return files_sha256((Path(model), Path(model).with_suffix(".json")))
