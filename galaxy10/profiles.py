"""Run profiles: how much data and compute each pipeline step gets.

``faithful`` is the original analysis' exact settings on the full-size data; ``quick`` is a
reduced run that finishes within about 15 minutes on 2 CPU cores; ``smoke`` runs every step
in seconds, for tests. Every profile runs the same code, only the numbers change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Profile:
    """Settings of one pipeline run (see the module docstring)."""

    name: str
    preset: str                   #: synthetic data preset used when no real file is given
    baseline_folds: int = 3       #: classical baselines, StratifiedKFold (original: 3)
    ffn_folds: int = 5            #: feed-forward net CV folds (original: 5)
    ffn_epochs: int = 20
    cnn_folds: int = 5            #: seed CNN CV folds (original: 5)
    cnn_epochs: int = 20
    search_iter: int = 6          #: random-search combinations (original: 6)
    search_folds: int = 5
    search_epochs: int = 20
    batch_size: int = 32
    galaxy_size: int = 64         #: modern CNN input side (px) after a central crop
    galaxy_crop: float = 0.5
    galaxy_epochs: int = 15
    galaxy_patience: int = 4
    galaxy_filters: tuple[int, ...] = (32, 64, 128, 128)
    ablation_epochs: int = 6      #: epochs per ablation variant (0: skip the ablation)
    bootstrap: int = 1000         #: bootstrap resamples for confidence intervals

    def to_dict(self) -> dict:
        """Plain-JSON form, recorded in metrics.json."""
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", preset="small", baseline_folds=2, ffn_folds=2, ffn_epochs=1,
                     cnn_folds=2, cnn_epochs=1, search_iter=2, search_folds=2, search_epochs=1,
                     galaxy_size=32, galaxy_epochs=1, galaxy_patience=1,
                     galaxy_filters=(8, 16), ablation_epochs=1, bootstrap=50),
    "quick": Profile("quick", preset="medium", ffn_folds=3, ffn_epochs=10, cnn_folds=3,
                     cnn_epochs=15, search_iter=3, search_folds=3, search_epochs=10,
                     galaxy_epochs=10, ablation_epochs=4),
    "faithful": Profile("faithful", preset="full", ablation_epochs=4),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a clear error lists the choices."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}") from None
