"""Scores, the ablation, exploration and the realism of the synthetic sky."""
