"""papermill's engine ``galaxy10``: nbclient's, with kernels that start quietly.

ipykernel 7 logs a warning at every kernel start that its local TCP sockets are not
encrypted (:mod:`galaxy10.pipeline.kernels` says why that is routine).
``python -m galaxy10 run`` starts its kernels without it; a notebook run with papermill
directly gets the same quiet start with ``papermill --engine galaxy10 IN OUT`` or
``papermill.execute_notebook(IN, OUT, engine_name="galaxy10")``: papermill finds this engine
through galaxy10's ``papermill.engine`` entry point. A notebook cannot ask for it itself:
papermill reads no kernel arguments from a notebook's metadata. Plain ``papermill IN OUT`` is
quiet too in an environment made by ``make setup``, which writes the same setting into its kernel
config file (:func:`galaxy10.pipeline.kernels.install_kernel_config`). Imported by papermill only.
"""

from __future__ import annotations

from typing import Any

from papermill.engines import NBClientEngine

from galaxy10.pipeline.kernels import KERNEL_ARGUMENTS


class QuietKernelEngine(NBClientEngine):
    """nbclient's engine, starting each kernel with :data:`KERNEL_ARGUMENTS` added."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name: str, **kwargs: Any):
        """As nbclient's, with the kernel's log level at ERROR unless the caller set arguments."""
        kwargs.setdefault("extra_arguments", list(KERNEL_ARGUMENTS))
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
