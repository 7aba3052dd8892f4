"""What a path is, said without opening it: pipes, devices, folders, links, empty files."""

from __future__ import annotations

import os
import socket
import threading

import pytest

from galaxy10.core.files import format_bytes, free_space_reason, special_kind, unreadable_reason


def test_each_kind_of_path_is_named(tmp_path):
    (tmp_path / "good.h5").write_bytes(b"x")
    (tmp_path / "empty.h5").write_bytes(b"")
    (tmp_path / "dir.h5").mkdir()
    os.mkfifo(tmp_path / "pipe.h5")
    (tmp_path / "dangling.h5").symlink_to(tmp_path / "gone.h5")
    (tmp_path / "to_pipe.h5").symlink_to(tmp_path / "pipe.h5")
    what = "HDF5 file"
    assert unreadable_reason(tmp_path / "good.h5", what=what) is None
    assert unreadable_reason(tmp_path / "missing.h5", what=what) == "file not found"
    assert unreadable_reason(tmp_path / "good.h5" / "x", what=what) == (
        "file not found (a part of the path is a file, not a folder)")
    assert unreadable_reason(tmp_path / "dir.h5", what=what) == "is a folder, not an HDF5 file"
    assert unreadable_reason(tmp_path / "dir.h5", what="image file") == (
        "is a folder, not an image file")
    assert unreadable_reason(tmp_path / "dir.h5", what="model file") == (
        "is a folder, not a model file")
    for name in ("pipe.h5", "to_pipe.h5"):  # a link to a pipe opens as the pipe
        assert unreadable_reason(tmp_path / name, what=what) == (
            "is a named pipe (FIFO), not a regular file; give an HDF5 file")
    assert unreadable_reason(tmp_path / "dangling.h5", what=what) == (
        f"is a broken symbolic link (to {tmp_path / 'gone.h5'})")
    assert unreadable_reason(tmp_path / "empty.h5", what=what) == "is empty (0 bytes)"
    assert unreadable_reason(tmp_path / "empty.h5", allow_empty=True) is None
    assert unreadable_reason("/dev/zero", what=what) == (
        "is a character device, not a regular file; give an HDF5 file")
    assert unreadable_reason("/dev/null").startswith("is a character device")


def test_special_kind_never_opens_what_it_names(tmp_path):
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    sock_path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        # run in a thread: opening the pipe would block, and the test would time out
        found = {}
        thread = threading.Thread(target=lambda: found.update(
            pipe=special_kind(pipe), sock=special_kind(sock_path)), daemon=True)
        thread.start()
        thread.join(5)
        assert found == {"pipe": "a named pipe (FIFO)", "sock": "a socket"}
        assert unreadable_reason(sock_path) == "is a socket, not a regular file; give a file"
    assert special_kind("/dev/zero") == "a character device"
    assert special_kind(tmp_path) is None and special_kind(tmp_path / "none") is None


@pytest.mark.parametrize(("n", "text"), [(0, "0 bytes"), (999, "999 bytes"), (1672, "1.7 kB"),
                                         (19_660_800_000, "19.7 GB"), (3e18, "3,000.0 PB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


def test_free_space_is_measured_where_the_file_will_go(tmp_path):
    assert free_space_reason(tmp_path / "not" / "yet", 1) is None
    why = free_space_reason(tmp_path / "not" / "yet", 10**18)
    assert why.startswith("needs about 1,000.0 PB but ") and why.endswith(" free")
    assert str(tmp_path) in why
