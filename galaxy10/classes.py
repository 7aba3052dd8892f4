"""Galaxy10 DECaLS class names and counts: the one source of truth.

The numbers are the ``ans`` labels of ``Galaxy10_DECals.h5``; the counts are those of the
released file (17,736 images), used to give the synthetic data set the real class balance.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, ...] = (
    "Disturbed",
    "Merging",
    "Round Smooth",
    "In-between Round Smooth",
    "Cigar Shaped Smooth",
    "Barred Spiral",
    "Unbarred Tight Spiral",
    "Unbarred Loose Spiral",
    "Edge-on without Bulge",
    "Edge-on with Bulge",
)
"""Class names indexed by label (0-9)."""

REAL_CLASS_COUNTS: tuple[int, ...] = (1081, 1853, 2645, 2027, 334, 2043, 1829, 2628, 1423, 1873)
"""Images per class in the real Galaxy10 DECaLS file; they sum to 17,736."""

N_CLASSES: int = len(CLASS_NAMES)
N_REAL_IMAGES: int = sum(REAL_CLASS_COUNTS)
IMAGE_SHAPE: tuple[int, int, int] = (256, 256, 3)
"""Shape of one cut-out: 256 x 256 pixels, RGB (g, r, z bands mapped to colour)."""


def class_name(label: int) -> str:
    """Return the name of class ``label``.

    Parameters
    ----------
    label : int
        A class number in 0-9.

    Returns
    -------
    str
        The Galaxy Zoo morphology name, e.g. ``"Barred Spiral"``.

    Raises
    ------
    ValueError
        If ``label`` is not a valid class number.
    """
    if not 0 <= int(label) < N_CLASSES:
        raise ValueError(f"class label must be in 0-{N_CLASSES - 1}, got {label}")
    return CLASS_NAMES[int(label)]
