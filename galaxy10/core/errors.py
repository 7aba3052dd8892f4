"""Exceptions raised by galaxy10.

Every failure a user can cause (a bad file, a bad image, a missing model) is reported as one
of these, with a message that names the file and what is wrong, so that no traceback from
inside h5py, Pillow or Keras reaches the user.
"""

from __future__ import annotations

from pathlib import Path


class Galaxy10Error(Exception):
    """Base class of every error galaxy10 raises on purpose.

    In Jupyter these show as one line (IPython's ``_render_traceback_`` hook) instead of a
    traceback: the message already says which file is wrong and what to do.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class GalaxyDataError(Galaxy10Error, ValueError):
    """A data file is missing, unreadable or does not follow the Galaxy10 schema.

    Parameters
    ----------
    path : str or Path
        The offending file; it is named first in the message.
    fault : str
        What is wrong with it, in plain words.
    """

    def __init__(self, path: str | Path, fault: str) -> None:
        self.path = Path(path)
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


class ModelError(Galaxy10Error):
    """A model file is missing or is not a usable galaxy10 Keras model."""

    def __init__(self, path: str | Path, fault: str) -> None:
        self.path = Path(path)
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


class ModelOutOfMemoryError(ModelError):
    """Loading a model needed more memory than this process may have.

    A ``MemoryError`` inside Keras' loader says nothing about the bundle; this says which step
    ran out (loading the model) and how to give it more (free memory, raise ``ulimit -v``).
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, "out of memory while loading this model (the bundle is not at "
                               "fault: this process may not allocate enough memory; free some, "
                               "or raise `ulimit -v`)")

    def __reduce__(self) -> tuple:  # one argument: survives the trip back from a Dask worker
        return (type(self), (self.path,))


class ImageError(Galaxy10Error, ValueError):
    """An image file (an upload, an import) cannot be decoded as a picture."""

    def __init__(self, path: str | Path, fault: str) -> None:
        self.path = Path(path) if path else Path("<upload>")
        self.fault = fault
        super().__init__(f"{self.path}: {fault}")


class ImageTooLargeError(ImageError):
    """An image whose dimensions are unreasonable (a decompression bomb, a huge mosaic).

    Batch commands skip such a file with a warning and go on with the others, whereas an
    unreadable file stops them: it usually means the whole folder is not what was meant.
    """


class MissingStepError(Galaxy10Error):
    """An earlier pipeline step's output is missing; the message names the step to run."""


class ProfileError(Galaxy10Error, ValueError):
    """An unknown profile, or a profile setting (a notebook's ``overrides``) that does not
    exist or has the wrong type; the message names it and what is allowed."""


class NotEnoughDataError(Galaxy10Error, ValueError):
    """The data are too few, or miss classes, for the requested split or training."""


class SettingError(Galaxy10Error):
    """An environment variable or setting names an unusable place; the message names it."""


class ResourceLimitError(Galaxy10Error):
    """This process's limits (``ulimit``) leave too little for a step; the message names the
    limit, what the step needs and how to give it more."""
