"""The metrics store, figures and the generated results tables."""
