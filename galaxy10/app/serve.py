"""Serve the app notebook as a web page with Voilà, locked to whoever holds the printed URL.

Voilà on its own asks for no token, answers any ``Host`` header (so a web page can reach it
through DNS rebinding), moves to the next free port when its own is taken while the caller
announces the first one, and leaves its kernel connection files in the system's temporary
folder when it is killed. :class:`AppServer` runs it so that

* every page and kernel request needs a random token (``secrets.token_urlsafe``), printed in
  the URL as Jupyter does (``http://127.0.0.1:8866/?token=...``); the first visit stores it in a
  cookie. Without it, or with a wrong one, the page redirects to a login form;
* requests whose ``Host`` is not a loopback address or ``localhost`` are refused (403), unless
  the caller asked for a non-loopback ``ip``, where the token alone guards the page (as in
  Jupyter);
* it binds 127.0.0.1 unless asked, and never another port: the port is tried before Voilà
  starts (:func:`check_port`), Voilà gets ``port_retries=0``, and the URL is announced only
  once Voilà says it is listening;
* cross-site requests that change something (``POST``) are refused (403) even with the
  token, and Voilà's static files answer 404 for any path they cannot serve
  (:mod:`galaxy10.app.guard`, which runs Voilà);
* Voilà's connection files, its temporary files and its kernels' live in one private
  temporary folder that is removed when the server stops (Ctrl-C, SIGTERM, or the ``with``
  block ending); Voilà itself runs in its own session and stops when its parent dies (on
  Linux the kernel sends it SIGTERM, and :func:`galaxy10.app.guard.watch_parent` checks every
  second), so even a killed parent leaves no server behind.

The settings go to Voilà in a configuration file inside that private folder, deleted once Voilà
has read it, so the token is never on a command line that other users can read with ``ps``.
The configuration also stops Voilà serving the pictures beside the notebook without a token.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TextIO

from galaxy10.core.errors import Galaxy10Error

DEFAULT_PORT = 8866
"""Voilà's usual port."""
LOCAL_IP = "127.0.0.1"
"""The address served unless the caller asks for another."""
STARTUP_TIMEOUT = 120.0
"""Seconds to wait for Voilà to say it is listening."""
STOP_TIMEOUT = 15.0
"""Seconds Voilà gets to shut its kernels down after SIGTERM before it is killed."""
_READY = "is running at"
"""What Voilà logs once its socket is listening (followed by a line with its URL)."""
_ROUTINE_NOTICES = ("is not trusted", "Kernel is running over TCP without encryption")
"""Warnings Voilà and ipykernel log at every visit that say nothing is wrong, left out of the
server's log: the notebook's trust covers outputs saved in it, and app.ipynb is committed
without any (Voilà runs it afresh); the kernel's TCP sockets are the usual Jupyter set-up,
loopback only, every message signed with the connection file's key."""


def new_token() -> str:
    """A random URL-safe token (256 bits), new for every server."""
    return secrets.token_urlsafe(32)


def is_loopback(ip: str) -> bool:
    """Whether ``ip`` names this machine only (``127.0.0.0/8``, ``::1`` or ``localhost``)."""
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def app_url(ip: str, port: int, token: str | None) -> str:
    """The address to open: ``http://IP:PORT/`` with ``?token=...`` when there is a token."""
    host = socket.gethostname() if ip in ("", "0.0.0.0", "::") else ip
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/" + (f"?token={token}" if token else "")


def _port_error(ip: str, port: int, exc: OSError) -> Galaxy10Error:
    where = f"port {port} on {ip}"
    if exc.errno == errno.EADDRINUSE:
        return Galaxy10Error(f"{where} is in use by another program: choose another with --port")
    if exc.errno == errno.EACCES:
        if port < 1024:
            return Galaxy10Error(f"{where} needs privileges this user does not have (ports "
                                 f"below 1024 are reserved): choose --port 1024 or above, e.g. "
                                 f"--port {DEFAULT_PORT}")
        return Galaxy10Error(f"{where}: this user may not listen there: choose another --port")
    if exc.errno == errno.EADDRNOTAVAIL:
        return Galaxy10Error(f"--ip {ip}: not an address of this machine")
    return Galaxy10Error(f"{where} cannot be served: {exc.strerror or exc}")


def check_port(ip: str, port: int) -> None:
    """Refuse, before anything starts, an address Voilà could not listen on.

    Binds a test socket on every address ``ip`` resolves to, as Voilà's server (Tornado) will,
    with the same ``SO_REUSEADDR``, then closes it.

    Parameters
    ----------
    ip : str
        The address to serve on (``127.0.0.1``, ``::1``, ``0.0.0.0``, a host name).
    port : int
        The TCP port, 1-65535.

    Raises
    ------
    Galaxy10Error
        When the port is taken, needs privileges, or ``ip`` is not an address of this machine;
        the message is one line naming the port and address.
    """
    try:
        infos = socket.getaddrinfo(ip or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise Galaxy10Error(f"--ip {ip}: not an address or host name this machine knows "
                            f"({exc})") from None
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            if os.name != "nt":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise _port_error(ip, port, exc) from None


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a function for the child (between fork and exec) that asks the kernel for
    SIGTERM when its parent dies, so a killed ``app`` leaves no server behind; else None.

    The C library is loaded here, in the parent: the child must not import anything.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_signal() -> None:  # pragma: no cover - runs in the child
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG

    return set_signal


def _kill_session(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and, where process groups exist (POSIX), every process of its session.

    Voila runs in a session of its own, so its kernels go with it. Windows has neither
    ``os.killpg`` nor ``SIGKILL``: there ``Popen.kill`` (TerminateProcess) ends Voila alone.
    """
    killpg, sigkill = getattr(os, "killpg", None), getattr(signal, "SIGKILL", None)
    if killpg is not None and sigkill is not None:
        try:
            killpg(proc.pid, sigkill)
            return
        except OSError:
            pass
    proc.kill()


class AppServer:
    """Voilà serving one notebook, locked by a token and a ``Host`` allow-list.

    Use as a context manager: entering starts Voilà and returns once it listens on exactly
    ``ip:port`` (else raises); leaving stops it and removes every file it made.

    Parameters
    ----------
    notebook : Path
        The notebook to serve.
    port : int, default 8866
        The port; never another one.
    ip : str, default "127.0.0.1"
        The address to listen on. For a non-loopback address requests with any ``Host`` are
        accepted, so a token is then required.
    token : str or None
        The token every request must carry (:func:`new_token`); None serves without one, on a
        loopback address only.
    env : mapping, optional
        Extra environment variables for Voilà and its kernels.
    log : text stream, optional
        Where Voilà's own log lines go once it is serving (default ``sys.stderr``); its
        start-up lines are kept, and shown only in the error when it fails to start.
    startup_timeout : float, default 120
        Seconds to wait for Voilà to listen.

    Raises
    ------
    Galaxy10Error
        On entering: Voilà is not installed, the port is taken or needs privileges, ``ip`` is
        not this machine's, a token-less server on a non-loopback address was asked for, or
        Voilà stopped or hung before listening.
    """

    def __init__(self, notebook: Path, *, port: int = DEFAULT_PORT, ip: str = LOCAL_IP,
                 token: str | None, env: Mapping[str, str] | None = None,
                 log: TextIO | None = None, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.notebook = Path(notebook)
        self.port = port
        self.ip = ip
        self.token = token
        self.env = dict(env or {})
        self.log = log
        self.startup_timeout = startup_timeout
        self.runtime_dir: Path | None = None
        """The private temporary folder (None when not running); removed on stop."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._startup: list[str] = []
        self._stopping = False

    @property
    def url(self) -> str:
        """The address to open, token included."""
        return app_url(self.ip, self.port, self.token)

    def _config(self, runtime: Path) -> dict:
        voila: dict = {
            "port": self.port, "ip": self.ip, "port_retries": 0, "open_browser": False,
            "connection_dir_root": os.fspath(runtime / "connections"),
            "tornado_settings": {"allow_remote_access": not is_loopback(self.ip),
                                 "local_hostnames": ["localhost"]},
        }
        if self.token:
            voila["token"] = self.token
        # file_allowlist: serve no file from the notebook's folder (Voilà's default serves
        # its pictures without a token); the page needs none
        return {"Voila": voila,
                "VoilaConfiguration": {"theme": "light", "file_allowlist": []}}

    def check(self) -> None:
        """Refuse, in one line and before anything starts, what cannot be served.

        Run again on entering, so that a port taken meanwhile is still one line.
        """
        import importlib.util

        if importlib.util.find_spec("voila") is None:
            raise Galaxy10Error("Voila is not installed: pip install voila (or make setup)")
        if not self.notebook.is_file():
            raise Galaxy10Error(f"{self.notebook}: notebook not found")
        if not self.token and not is_loopback(self.ip):
            raise Galaxy10Error(f"--ip {self.ip} with --no-token would serve the page to anyone "
                                f"on the network: keep the token")
        check_port(self.ip, self.port)

    def __enter__(self) -> AppServer:
        self.check()
        try:
            self._start()
        except BaseException:  # Ctrl-C or SIGTERM during start-up included
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="galaxy10-app-", ignore_cleanup_errors=True)
        runtime = self.runtime_dir = Path(self._tmp.name)
        for sub in ("connections", "tmp", "jupyter-runtime", "config"):
            (runtime / sub).mkdir(mode=0o700)
        config = runtime / "config" / "voila.json"
        with open(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w",
                  encoding="utf-8") as f:
            json.dump(self._config(runtime), f)
        env = dict(os.environ, **self.env)
        env.update(TMPDIR=os.fspath(runtime / "tmp"),
                   JUPYTER_RUNTIME_DIR=os.fspath(runtime / "jupyter-runtime"),
                   PYTHONUNBUFFERED="1")
        # Voila with its handlers guarded: cross-site POSTs refused, bad static paths 404
        command = [sys.executable, "-m", "galaxy10.app.guard", os.fspath(self.notebook.resolve()),
                   f"--Voila.config_file_paths={config.parent}"]
        # its own session: Ctrl-C reaches this process only, which then stops Voila in order
        self._proc = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, encoding="utf-8", errors="replace",
            start_new_session=True, preexec_fn=_parent_death_signal())
        self._reader = threading.Thread(target=self._read, name="voila-log", daemon=True)
        self._reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._ready.wait(0.1):
            if self._ended.is_set() or self._proc.poll() is not None:
                self._ended.wait(2)
                raise self._startup_error()
            if time.monotonic() > deadline:
                raise Galaxy10Error(f"Voila did not start serving port {self.port} within "
                                    f"{self.startup_timeout:.0f} s")
        config.unlink()  # read: the token stays in memory only, even if this process is killed

    def _read(self) -> None:
        """Keep Voilà's output drained: start-up lines kept, later ones passed to ``log``."""
        assert self._proc is not None and self._proc.stdout is not None
        skip_url = False
        for line in self._proc.stdout:
            if not self._ready.is_set():
                self._startup.append(line.rstrip("\n"))
                if _READY in line:
                    skip_url = True  # our own announcement replaces Voila's (token hidden)
                    self._ready.set()
                continue
            if skip_url:
                skip_url = False
                if line.startswith("http"):
                    continue
            if self._stopping:  # "Handle signal 15", "Kernel shutdown": we asked for that
                continue
            if any(notice in line for notice in _ROUTINE_NOTICES):
                continue
            out = self.log if self.log is not None else sys.stderr
            try:
                out.write(line)
                out.flush()
            except (OSError, ValueError):  # a closed terminal or log: keep draining
                pass
        self._ended.set()

    def _startup_error(self) -> Galaxy10Error:
        assert self._proc is not None
        try:
            status = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        text = "\n".join(self._startup)
        if "no available port" in text or "already in use" in text:
            return _port_error(self.ip, self.port, OSError(errno.EADDRINUSE, "in use"))
        if "Permission to listen" in text:
            return _port_error(self.ip, self.port, OSError(errno.EACCES, "permission denied"))
        last = next((s.strip() for s in reversed(self._startup) if s.strip()), "no output")
        return Galaxy10Error(f"Voila stopped before serving (exit status {status}): {last}")

    def wait(self) -> int:
        """Block until Voilà ends; its exit status (Ctrl-C and SIGTERM propagate)."""
        assert self._proc is not None
        return self._proc.wait()

    def stop(self) -> None:
        """Stop Voilà (SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT`) and remove its files."""
        proc, self._proc = self._proc, None
        self._stopping = True
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _kill_session(proc)
                    proc.wait()
            if self._reader is not None:
                self._reader.join(timeout=2)  # a kernel that outlives Voila may hold the pipe
            if proc.stdout is not None:
                proc.stdout.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.runtime_dir = None


PAGES = {"button": "app.ipynb", "label": "07_label.ipynb"}
"""The pages ``serve_app`` serves: the random-galaxy button and the labelling panel."""


def serve_app(model: str | os.PathLike[str] | None = None, *, port: int = DEFAULT_PORT,
              ip: str = LOCAL_IP, token: bool = True, seed: int = 0,
              on_ready: Callable[[str], None] | None = None, page: str = "button",
              label: Mapping[str, str] | None = None) -> int:
    """Serve the random-galaxy button (``notebooks/app.ipynb``), or with ``page="label"`` the
    labelling panel (``notebooks/07_label.ipynb``), until Ctrl-C or SIGTERM.

    Checks, cheapest first, before anything is served: the notebook, the address (taken or
    privileged ports, foreign ``--ip``), then the model bundle (a bad one is one line, before
    Voilà starts).

    Parameters
    ----------
    model : path, optional
        A ``.keras`` bundle; default: the notebook's (``models/galaxy_cnn.keras``).
    port : int, default 8866
        The port to serve on; a taken one is an error, never a silent move.
    ip : str, default "127.0.0.1"
        The address to listen on.
    token : bool, default True
        Require a fresh random token; False only when asked explicitly (``--no-token``).
    seed : int, default 0
        Seeds the sequence of random galaxies.
    on_ready : callable, optional
        Called with the URL (token included) once Voilà listens on it.
    page : {"button", "label"}
        Which page (:data:`PAGES`).
    label : mapping, optional
        The labelling page's settings, as its notebook reads them from the environment
        (``GALAXY10_LABELS``, ``GALAXY10_LABEL_DATA``, ``GALAXY10_WHO``, ``GALAXY10_LABEL_N``);
        the caller has checked them (``app``'s check reads the labels CSV).

    Returns
    -------
    int
        0 after Ctrl-C; Voilà's exit status if it ended on its own.

    Raises
    ------
    Galaxy10Error
        On any of the checks above, or when Voilà fails to start.
    """
    from galaxy10.core.paths import get_data_home, get_models_home
    from galaxy10.core.quiet import QUIET_ENV
    from galaxy10.pipeline.runner import notebooks_home, require_extra

    require_extra("app")
    notebook = notebooks_home() / PAGES[page]
    if not notebook.is_file():
        raise Galaxy10Error(f"{notebook} not found: run the app from the galaxy10 checkout")
    server = AppServer(notebook, port=port, ip=ip, token=new_token() if token else None)
    server.check()  # a taken port is refused before the model load (TensorFlow) below
    # Voila runs the kernel beside the notebook, which is inside site-packages for an
    # installed package: name this project's folders explicitly
    server.env.update({k: os.environ.get(k, v) for k, v in QUIET_ENV.items()})  # theirs wins
    server.env.update(GALAXY10_SEED=str(seed),
                      GALAXY10_DATA=os.fspath(get_data_home().resolve()),
                      GALAXY10_MODELS=os.fspath(get_models_home().resolve()))
    if model:
        from galaxy10.modeling.predict import Predictor

        Predictor(model)  # fail early, in one line, on a bad model
        server.env["GALAXY10_MODEL"] = os.fspath(Path(model).resolve())
    server.env.update(label or {})
    with server:
        try:  # from the announcement on: Ctrl-C right after it is a normal stop too
            if on_ready is not None:
                on_ready(server.url)
            return server.wait()
        except KeyboardInterrupt:  # Ctrl-C is how the page is meant to be stopped
            return 0
