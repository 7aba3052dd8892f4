"""Preprocessing, augmentation, the networks, training, bundles, prediction and calibration."""
