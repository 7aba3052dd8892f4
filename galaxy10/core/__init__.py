"""Shared helpers at the bottom of the package: errors, atomic writes, folders, class names, run profiles."""
