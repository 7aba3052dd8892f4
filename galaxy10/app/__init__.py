"""The prediction button."""
