"""The Voilà process that ``python -m galaxy10 app`` runs: Voilà with two more locks.

:class:`~galaxy10.app.serve.AppServer` starts ``python -m galaxy10.app.guard`` where it would
start ``python -m voila`` (same arguments). Every request handler Voilà sets up is replaced by
a subclass that

* refuses (403) a cross-site request that would change something (``POST``, ``PUT``,
  ``PATCH``, ``DELETE``) whose ``Origin`` (or, without one, ``Referer``) is not this server's
  ``Host``, even when it carries the token: Jupyter lets token-authenticated requests through
  from any origin, so a page elsewhere that learnt the URL could shut the kernel down or log
  in. Requests without either header (scripts, ``curl``) are not a browser's cross-site
  requests and pass, as in Jupyter;
* for Voilà's own scripts and styles (``/voila/static/``, ``/voila/templates/``,
  ``/voila/labextensions/``) and the notebook folder's files (``/voila/files/``, none of
  which is served), answers 404 for any path it cannot serve: a traversal-shaped URL
  (``/voila/static/..%2f..%2fetc/passwd``, ``/static/%2e%2e/...``, which Voilà redirects to
  ``/voila/files/``) made the template handler fail with a traceback in the terminal and a
  500, the others a 403. No file outside their folders was ever served, and none is.

Both answers are written by the handler itself (status and a short body): raising an HTTP
error from Voilà's page handlers renders Jupyter's error template, which itself fails in
Voilà (no ``static_path``) with another traceback.

It also stops when the ``app`` process that started it is gone (:func:`watch_parent`), as
on SIGTERM, so a killed ``app`` leaves no server behind. On Linux the kernel sends it SIGTERM
then too (:func:`galaxy10.app.serve._parent_death_signal`), but that signal was seen lost
under load; macOS has no such signal at all.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from tornado.ioloop import PeriodicCallback

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
"""Methods a cross-site page may not use on the served app."""
PARENT_CHECK_MS = 1000
"""How often :func:`watch_parent` looks for the ``app`` process, in milliseconds."""


def same_site(headers: Any) -> bool:
    """Whether a request's ``Origin`` (else ``Referer``) names the ``Host`` it was sent to.

    A request with neither header is not a browser's cross-site request (browsers send
    ``Origin`` with every cross-site ``POST``) and counts as same-site; ``Origin: null``
    (a sandboxed frame, a ``file://`` page) does not.
    """
    host = (headers.get("Host") or "").lower()
    for name in ("Origin", "Referer"):
        value = headers.get(name)
        if value:
            return bool(host) and urlsplit(value.strip()).netloc.lower() == host
    return True


def _refuse(handler: Any, status: int, text: str) -> None:
    handler.clear()
    handler.set_status(status)
    handler.set_header("Content-Type", "text/plain; charset=utf-8")
    handler.finish(text)


class _CrossSiteGuard:
    """Mixin: unsafe methods from another site are refused before the handler runs."""

    def prepare(self) -> Any:
        if self.request.method in UNSAFE_METHODS and not same_site(self.request.headers):
            _refuse(self, 403, "403: cross-site request refused\n")
            return None
        return super().prepare()


class _NotFoundGuard(_CrossSiteGuard):
    """Mixin for static-file handlers: a path they cannot serve is 404, never a 500 or 403."""

    async def get(self, path: str, include_body: bool = True) -> None:
        try:
            await super().get(path, include_body=include_body)
        except Exception as exc:  # noqa: BLE001 - a static path it cannot serve, whatever broke
            status = getattr(exc, "status_code", None)
            if self._headers_written or (status is not None and status not in (400, 403, 404)):
                raise
            _refuse(self, 404, "404: Not Found\n")


def _is_static(cls: type) -> bool:
    """Voilà's and Jupyter's static-file handlers (``/voila/files/`` too)."""
    return "StaticFileHandler" in {c.__name__ for c in cls.__mro__}


def guarded(cls: type) -> type:
    """``cls`` with the cross-site lock, and for static files the 404 (see the module)."""
    mixin = _NotFoundGuard if _is_static(cls) else _CrossSiteGuard
    return type(f"Guarded{cls.__name__}", (mixin, cls), {"__module__": __name__})


def guard_handlers(handlers: Sequence[tuple]) -> list[tuple]:
    """Tornado handler specs ``(pattern, class, *rest)`` with each class :func:`guarded`."""
    return [(pattern, guarded(cls), *rest) for pattern, cls, *rest in handlers]


def watch_parent(parent: int, stop: Callable[[], None], every_ms: int = PARENT_CHECK_MS
                 ) -> PeriodicCallback:
    """Call ``stop`` once this process's parent is no longer ``parent``, checking every
    ``every_ms`` on the current Tornado loop; returns the started ``PeriodicCallback``.

    A process whose parent dies is handed to another (init, or a subreaper), so
    ``os.getppid()`` changes: a check that needs no signal, and works where the kernel sends
    none (macOS) or where its signal was lost. Windows does not hand processes over, so there
    it never fires.
    """
    from tornado.ioloop import PeriodicCallback

    def check() -> None:
        if os.getppid() != parent:
            watcher.stop()
            stop()

    watcher = PeriodicCallback(check, every_ms)
    watcher.start()
    return watcher


def main(argv: Sequence[str] | None = None) -> None:
    """Run Voilà as ``python -m voila`` would, with every handler guarded, until it is
    stopped or the process that started it is gone (:func:`watch_parent`)."""
    from voila.app import Voila as Unguarded

    parent = os.getppid()

    class Voila(Unguarded):  # the same name: its configuration and log lines are Voila's
        """Voilà whose handlers are :func:`guarded`, and which stops with its parent."""

        def init_handlers(self) -> list:
            return guard_handlers(super().init_handlers())

        def start(self) -> None:
            watch_parent(parent, self._parent_gone)
            super().start()

        def _parent_gone(self) -> None:
            self.log.info("The process that started Voila ended: stopping.")
            self.ioloop.stop()  # Voila's own SIGTERM step: its kernels are then shut down

    Voila.launch_instance(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
