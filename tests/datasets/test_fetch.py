"""The real-data download, against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from pathlib import Path

import pytest

from galaxy10 import GalaxyDataError
from galaxy10.datasets.fetch import RemoteFile, fetch, real_data_path, resolve_data

PAYLOAD = b"galaxy10 test payload " * 5000  # 110 kB
CORRUPT = PAYLOAD[:-1] + b"X"  # same size, one byte wrong


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /file.h5 and CORRUPT at /corrupt.h5; /drop.h5 promises more bytes
    than it sends, then hangs up."""

    requests: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        if self.path == "/drop.h5" and len(type(self).requests) == 1:
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path in ("/file.h5", "/drop.h5", "/corrupt.h5"):
            body = CORRUPT if self.path == "/corrupt.h5" else PAYLOAD
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.requests = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def remote(url: str, name: str = "Galaxy10_DECals.h5", sha: str | None = None) -> RemoteFile:
    return RemoteFile(name=name, url=url, sha256=sha or hashlib.sha256(PAYLOAD).hexdigest(),
                      size=len(PAYLOAD))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_is_not_repeated(tmp_path, server):
    path = fetch(tmp_path, remote=remote(f"{server}/file.h5"), progressbar=False, retries=0)
    assert path == tmp_path / "raw" / "Galaxy10_DECals.h5"
    assert path.read_bytes() == PAYLOAD
    again = fetch(tmp_path, remote=remote(f"{server}/file.h5"), progressbar=False, retries=0)
    assert again == path and _Handler.requests == ["/file.h5"]  # verified file reused
    # the file and the record of its verified checksum, which the reader trusts
    assert leftovers(path.parent) == ["Galaxy10_DECals.h5", "Galaxy10_DECals.h5.sha256.json"]


def test_checksum_mismatch_leaves_no_file(tmp_path, server):
    bad = remote(f"{server}/file.h5", sha="0" * 64)
    with pytest.raises(GalaxyDataError, match="failed its checksum") as info:
        fetch(tmp_path, remote=bad, progressbar=False, retries=0)
    assert str(info.value).startswith(str(tmp_path / "raw" / "Galaxy10_DECals.h5"))
    assert leftovers(tmp_path / "raw") == []


def test_mismatch_keeps_an_earlier_good_file(tmp_path, server):
    good = fetch(tmp_path, remote=remote(f"{server}/file.h5"), progressbar=False, retries=0)
    # a new release is published under a new checksum, but the server sends corrupted bytes:
    # the download completes and fails its checksum...
    new_release = hashlib.sha256(b"the new release").hexdigest()
    with pytest.raises(GalaxyDataError, match=r"corrupt\.h5 failed its checksum after 1 attempts"):
        fetch(tmp_path, remote=remote(f"{server}/corrupt.h5", sha=new_release), progressbar=False,
              retries=0)
    assert _Handler.requests == ["/file.h5", "/corrupt.h5"]  # really downloaded
    # ...and the verified file is still there, byte for byte, with no temporary file beside it
    assert good.read_bytes() == PAYLOAD
    assert leftovers(good.parent) == ["Galaxy10_DECals.h5", "Galaxy10_DECals.h5.sha256.json"]


def test_dropped_connection_leaves_no_partial_file_and_rerun_succeeds(tmp_path, server):
    with pytest.raises(GalaxyDataError, match="download from"):
        fetch(tmp_path, remote=remote(f"{server}/drop.h5"), progressbar=False, retries=0)
    assert leftovers(tmp_path / "raw") == []
    path = fetch(tmp_path, remote=remote(f"{server}/drop.h5"), progressbar=False, retries=0)
    assert path.read_bytes() == PAYLOAD


def test_retries_are_bounded(tmp_path, server):
    with pytest.raises(GalaxyDataError):
        fetch(tmp_path, remote=remote(f"{server}/missing.h5"), progressbar=False, retries=1)
    assert _Handler.requests == ["/missing.h5", "/missing.h5"]


def test_no_download_when_not_allowed(tmp_path, monkeypatch):
    with pytest.raises(GalaxyDataError, match="python -m galaxy10 fetch"):
        fetch(tmp_path, download_if_missing=False)
    monkeypatch.setenv("GALAXY10_DATA", str(tmp_path / "elsewhere"))
    assert real_data_path() == tmp_path / "elsewhere" / "raw" / "Galaxy10_DECals.h5"
    with pytest.raises(GalaxyDataError, match="real data file not found"):
        resolve_data("real")


def test_only_a_verified_file_is_called_real(tmp_path, server, monkeypatch):
    """The reader says "real" only while the record of a verified checksum matches the file."""
    import os

    import numpy as np
    from conftest import write_h5

    from galaxy10.datasets import release
    from galaxy10.datasets.reader import Galaxy10File

    # an HDF5 file in the Galaxy10 layout served as the release under test
    layout = write_h5(tmp_path / "served.h5")
    body = layout.read_bytes()
    fake = RemoteFile(name="Galaxy10_DECals.h5", url=f"{server}/layout.h5",
                      sha256=hashlib.sha256(body).hexdigest(), size=len(body))
    monkeypatch.setattr(_Handler, "do_GET", _serving(body))
    monkeypatch.setattr(release, "GALAXY10_DECALS", fake)
    path = fetch(tmp_path / "home", remote=fake, progressbar=False, retries=0)
    with Galaxy10File(path) as f:
        assert f.source == "real"
    from galaxy10.datasets.repack import repack

    copy = repack(path, tmp_path / "copy.h5")  # other bytes: galaxy10's attribute says it
    with Galaxy10File(copy) as f:
        assert f.source == "real" and f.attrs["galaxy10_source"] == "real"
    with Galaxy10File(layout) as f:  # the same bytes, never verified: not called real
        assert f.source == "unverified"
    assert release.verify_release(layout) and release.is_verified_release(layout)
    with Galaxy10File(layout) as f:  # now checked and recorded
        assert f.source == "real"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # touched since: not trusted
    with Galaxy10File(path) as f:
        assert f.source == "unverified"
    record = release.record_path(layout)
    record.write_text(json.dumps({"sha256": fake.sha256, "size": 1, "mtime_ns": 0}))
    assert not release.is_verified_release(layout)
    record.write_text("not json")
    assert not release.is_verified_release(layout)
    with Galaxy10File(layout) as f:
        assert f.source == "unverified" and np.array_equal(f.labels, np.arange(20) % 10)


def _serving(body: bytes):
    def do_get(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    return do_get
