"""The served page is locked (:mod:`galaxy10.app.serve`): a token, a ``Host`` allow-list, exactly
the announced port, and nothing left behind when it stops."""

from __future__ import annotations

import errno
import io
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from served import ROOT, AppProcess, answers, free_port

from galaxy10.app.serve import AppServer, app_url, check_port, new_token
from galaxy10.cli import main
from galaxy10.core.errors import Galaxy10Error

NOTEBOOK = ROOT / "notebooks" / "app.ipynb"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, host: str | None = None) -> tuple[int, str, bytes]:
    """(status, Location header, body) of a GET, without following redirects."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=120) as response:
            return response.status, response.headers.get("Location", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), b""


def command_lines_with(text: str) -> list[str]:
    """The command lines of this machine's processes that contain ``text`` (Linux's /proc)."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = path.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in line:
            found.append(line)
    return found


@pytest.fixture
def held_port():
    """A port that another program is listening on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.fixture
def private_tmp(tmp_path, monkeypatch) -> Path:
    """The system temporary folder, redirected to an empty folder of this test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_urls_carry_the_token_as_jupyter_prints_it():
    token = new_token()
    assert len(token) >= 43 and token != new_token()
    assert app_url("127.0.0.1", 8866, token) == f"http://127.0.0.1:8866/?token={token}"
    assert app_url("::1", 8866, None) == "http://[::1]:8866/"


def test_a_taken_port_is_one_line_and_nothing_is_served_elsewhere(held_port, capsys):
    with pytest.raises(Galaxy10Error, match=f"^port {held_port} on 127.0.0.1 is in use"):
        check_port("127.0.0.1", held_port)
    assert main(["app", "--port", str(held_port)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no "Serving ..." for an address that is not served
    assert err == (f"error: port {held_port} on 127.0.0.1 is in use by another program: choose "
                   f"another with --port\n")
    assert not any(answers(p) for p in range(held_port + 1, held_port + 6))


def test_a_port_that_needs_privileges_is_one_line(monkeypatch, capsys):
    def denied(self, address):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", denied)  # as a user who is not root
    assert main(["app", "--port", "80"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: port 80 on 127.0.0.1 needs privileges")
    assert err.count("\n") == 1


@pytest.mark.parametrize("argv, message", [
    (["--ip", "192.0.2.1"], "error: --ip 192.0.2.1: not an address of this machine\n"),
    (["--ip", "0.0.0.0", "--no-token"],
     "error: --ip 0.0.0.0 with --no-token would serve the page to anyone on the network: keep "
     "the token\n"),
])
def test_addresses_that_cannot_be_served_safely_are_refused(argv, message, capsys):
    assert main(["app", "--port", str(free_port()), *argv]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", message)


@pytest.mark.slow
def test_voila_never_moves_to_another_port(held_port, private_tmp, monkeypatch):
    # the port is taken between the check and Voila's start: Voila must fail, not move on
    monkeypatch.setattr("galaxy10.app.serve.check_port", lambda ip, port: None)
    with pytest.raises(Galaxy10Error, match=f"^port {held_port} on 127.0.0.1 is in use"):
        with AppServer(NOTEBOOK, port=held_port, token=new_token(), log=io.StringIO()):
            pass
    assert not any(answers(p) for p in range(held_port + 1, held_port + 6))
    assert list(private_tmp.iterdir()) == []


@pytest.mark.slow
def test_the_page_needs_the_token_and_a_local_host_name(private_tmp):
    port, token = free_port(), new_token()
    base = f"http://127.0.0.1:{port}"
    kernel = f"{base}/api/kernels/{uuid.uuid4()}"  # no such kernel: 404 once authenticated
    log = io.StringIO()
    with AppServer(NOTEBOOK, port=port, token=token, log=log) as server:
        assert server.url == f"{base}/?token={token}"
        runtime = server.runtime_dir
        assert runtime is not None and runtime.parent == private_tmp
        assert not (runtime / "config" / "voila.json").exists()  # the token is on no disk
        # no token, or a wrong one: the login form, and the notebook is not run
        assert fetch(f"{base}/")[:2] == (302, "/login?next=%2F")
        assert fetch(f"{base}/?token=wrong")[0] == 302
        assert fetch(kernel)[0] == 403
        assert fetch(f"{kernel}?token=wrong")[0] == 403
        # a foreign Host header (DNS rebinding) is refused, even with the token
        for host in ("evil.example", f"evil.example:{port}", f"192.168.1.7:{port}"):
            assert fetch(server.url, host=host)[0] == 403
            assert fetch(f"{kernel}?token={token}", host=host)[0] == 403
        # the token opens it, by address or by the name localhost
        assert fetch(f"{kernel}?token={token}")[0] == 404
        assert fetch(f"{kernel}?token={token}", host=f"localhost:{port}")[0] == 404
        assert fetch(f"{base}/voila/files/app.ipynb")[0] == 404  # no file of the folder
        status, _, page = fetch(server.url)  # runs the notebook in a kernel
        assert status == 200 and b"show me a random galaxy" in page
        assert any((runtime / "connections").rglob("kernel-*.json"))
        # the visit is logged, without the two routine warnings of every visit
        assert "Kernel started" in log.getvalue()
        assert "trusted" not in log.getvalue() and "encryption" not in log.getvalue()
    assert list(private_tmp.iterdir()) == []  # connection files, kernel files, all gone
    assert not answers(port)


def post(url: str, **headers: str) -> int:
    """The status of an empty POST with ``headers`` (no redirect followed)."""
    request = urllib.request.Request(url, data=b"", method="POST", headers=headers)
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=120) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


TRAVERSALS = ["/voila/static/..%2f..%2fetc/passwd", "/voila/static/%2e%2e/%2e%2e/etc/passwd",
              "/voila/templates/..%2f..%2fetc/passwd", "/voila/templates/x",
              "/voila/labextensions/..%2f..%2fetc/passwd", "/voila/files/..%2f..%2fetc/passwd",
              "/static/%2e%2e/%2e%2e/etc/passwd", "/static/..%2f..%2fetc/passwd"]


@pytest.mark.slow
def test_static_paths_cross_site_posts_and_server_paths(private_tmp):
    port, token = free_port(), new_token()
    base = f"http://127.0.0.1:{port}"
    log = io.StringIO()
    with AppServer(NOTEBOOK, port=port, token=token, log=log) as server:
        # a logged-in visitor (the cookie) and a stranger both get 404 for a path Voila's
        # static files cannot serve (was 500 and a traceback in the terminal), never a file
        jar = urllib.request.HTTPCookieProcessor()
        visitor = urllib.request.build_opener(jar)
        with visitor.open(server.url, timeout=120) as response:
            page = response.read().decode()
        for path in TRAVERSALS:
            for opener in (visitor, urllib.request.build_opener(_NoRedirect)):
                try:
                    with opener.open(f"{base}{path}", timeout=120) as response:
                        status, body = response.status, response.read()
                except urllib.error.HTTPError as exc:
                    status, body = exc.code, exc.read()
                assert status == 404 or (status == 302 and opener is not visitor), (path, status)
                assert b"root:" not in body
        assert fetch(f"{base}/voila/static/voila.js")[0] == 200  # what it serves, it serves
        # a cross-site page that knows the token may not change anything (was accepted)
        shutdown = f"{base}/voila/api/shutdown/{uuid.uuid4()}?token={token}"
        kernel = f"{base}/api/kernels/{uuid.uuid4()}?token={token}"
        assert post(shutdown, Origin="http://evil.example") == 403
        assert post(shutdown, Referer="http://evil.example/page.html") == 403
        assert post(shutdown, Origin="null") == 403
        assert post(kernel, Origin=f"http://evil.example:{port}") == 403
        # this page, or a script (no Origin, no Referer), gets to the handler: no such kernel
        assert post(shutdown, Origin=base) == 404
        assert post(shutdown, Referer=f"{base}/") == 404
        assert post(shutdown) == 404
        # the page names the model, not where it lies on the server
        (note,) = [line for line in page.splitlines() if "[galaxy10] button:" in line]
        assert ".keras" in note and "/" not in note.partition("[galaxy10] button:")[2], note
        assert str(ROOT) not in page
    assert "Traceback" not in log.getvalue()
    assert list(private_tmp.iterdir()) == []


@pytest.mark.slow
def test_no_token_only_when_asked(private_tmp):
    port = free_port()
    with AppServer(NOTEBOOK, port=port, token=None, log=io.StringIO()) as server:
        assert server.url == f"http://127.0.0.1:{port}/"
        assert fetch(f"http://127.0.0.1:{port}/api/kernels/{uuid.uuid4()}")[0] == 404
        assert fetch(server.url, host="evil.example")[0] == 403  # the Host check stays
    assert list(private_tmp.iterdir()) == []


@pytest.mark.slow
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 0)])
def test_stopping_the_app_removes_every_file_it_made(tmp_path, sig, status):
    port = free_port()
    with AppProcess(["--port", str(port)], tmp_path / "tmp") as app:
        url = app.url()
        token = url.partition("?token=")[2]
        assert url == f"http://127.0.0.1:{port}/?token={token}" and len(token) >= 43
        assert answers(port)  # announced only once served
        (runtime,) = (tmp_path / "tmp").iterdir()
        assert runtime.name.startswith("galaxy10-app-")
        assert command_lines_with(token) == []  # not on a command line that `ps` shows
        assert app.stop(sig) == status
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not answers(port)
    assert "Traceback" not in "".join(app.stderr)


def wait_until_closed(port: int, seconds: float = 90) -> None:
    """Wait until nothing answers on ``port``, at most ``seconds`` (Voila shuts its kernels
    down first: slow on a busy machine)."""
    deadline = time.monotonic() + seconds
    while answers(port) and time.monotonic() < deadline:
        time.sleep(0.2)


def assert_no_voila_files(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*")]
    assert not any(name.startswith("voila_") or name == "voila.json" for name in left), left


@pytest.mark.slow
def test_a_killed_app_leaves_no_server_behind(tmp_path):
    port = free_port()
    with AppProcess(["--port", str(port)], tmp_path / "tmp") as app:
        app.url()
        assert app.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_until_closed(port)
    assert not answers(port)  # Voila was told its parent died, and stopped
    assert_no_voila_files(tmp_path / "tmp")


@pytest.mark.slow
def test_the_server_stops_with_its_parent_even_without_a_death_signal(tmp_path):
    """The guard's own check (``watch_parent``), not the kernel's signal: macOS sends none, and
    on Linux it was seen lost under load. A parent that asked for no signal is killed."""
    port = free_port()
    code = ("import sys, time\n"
            "from pathlib import Path\n"
            "import galaxy10.app.serve as serve\n"
            "serve._parent_death_signal = lambda: None\n"
            f"serve.AppServer(Path({str(NOTEBOOK)!r}), port={port}, token=None).__enter__()\n"
            "print('serving', flush=True)\n"
            "time.sleep(600)\n")
    (tmp_path / "tmp").mkdir()
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True, env=dict(os.environ, PYTHONPATH=str(ROOT),
                                                  TMPDIR=str(tmp_path / "tmp")))
    try:
        assert parent.stdout.readline().strip() == "serving"
        assert answers(port)
    finally:
        parent.kill()
        parent.wait()
    wait_until_closed(port)
    assert not answers(port)
    assert_no_voila_files(tmp_path / "tmp")


@pytest.mark.parametrize("headers, same", [
    ({"Host": "127.0.0.1:8866"}, True),  # a script: neither header
    ({"Host": "127.0.0.1:8866", "Origin": "http://127.0.0.1:8866"}, True),
    ({"Host": "localhost:8866", "Referer": "http://LOCALHOST:8866/?token=x"}, True),
    ({"Host": "127.0.0.1:8866", "Origin": "http://evil.example"}, False),
    ({"Host": "127.0.0.1:8866", "Origin": "http://127.0.0.1:9999"}, False),
    ({"Host": "127.0.0.1:8866", "Referer": "https://evil.example/x"}, False),
    ({"Host": "127.0.0.1:8866", "Origin": "null"}, False),
    ({"Origin": "http://127.0.0.1:8866"}, False),  # no Host to compare with
])
def test_same_site_compares_origin_or_referer_with_host(headers, same):
    from galaxy10.app.guard import same_site

    assert same_site(headers) is same


@pytest.mark.parametrize("has_killpg", [True, False])
def test_a_stuck_server_is_killed_with_or_without_process_groups(monkeypatch, has_killpg):
    """POSIX kills Voila's whole session; where ``os.killpg`` does not exist (Windows) the
    server process itself is killed instead of the stop failing."""
    import os
    import subprocess
    import sys

    from galaxy10.app.serve import _kill_session

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                            start_new_session=True)
    groups = []
    if has_killpg:
        real = os.killpg
        monkeypatch.setattr(os, "killpg", lambda pid, sig: (groups.append(pid), real(pid, sig)))
    else:
        monkeypatch.delattr(os, "killpg")
    try:
        _kill_session(proc)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert groups == ([proc.pid] if has_killpg else [])


@pytest.mark.parametrize("orphaned", [True, False])
def test_watch_parent_stops_only_once_the_parent_is_another(orphaned):
    from tornado.ioloop import IOLoop

    from galaxy10.app.guard import watch_parent

    loop = IOLoop(make_current=False)
    stopped = []

    def stop():
        stopped.append(True)
        loop.stop()

    async def watch():
        parent = os.getppid() + 1 if orphaned else os.getppid()  # as if handed to another
        return watch_parent(parent, stop, every_ms=10)

    watcher = loop.run_sync(watch)
    loop.call_later(0.5, loop.stop)  # long enough for dozens of checks
    loop.start()
    loop.close(all_fds=True)
    assert stopped == ([True] if orphaned else [])
    assert watcher.is_running() is not orphaned
