"""File identity: one SHA-256 and one size + time stamp for every record that names a file."""

from __future__ import annotations

import hashlib
import os

from galaxy10.core.identity import (
    FileStamp,
    file_sha256,
    file_stamp,
    files_sha256,
    settled_stamp,
    stamps_total,
)


def test_hashes_are_the_sha256_of_the_bytes(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.json"
    a.write_bytes(os.urandom(5000) * 1000)  # several of files_sha256's blocks
    b.write_bytes(b'{"x": 1}')
    assert file_sha256(a) == hashlib.sha256(a.read_bytes()).hexdigest() == files_sha256([a])
    assert files_sha256([a, b]) == hashlib.sha256(a.read_bytes() + b.read_bytes()).hexdigest()
    assert files_sha256([]) == hashlib.sha256().hexdigest()


def test_a_stamp_sees_a_resized_or_touched_file_and_nothing_else(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    stamp = file_stamp(path)
    record = stamp.to_dict()
    assert record == {"size": 3, "mtime_ns": path.stat().st_mtime_ns}
    assert file_stamp(path) == stamp and file_stamp(path).matches(record)
    os.utime(path, ns=(stamp.mtime_ns, stamp.mtime_ns + 1))  # touched
    assert file_stamp(path) != stamp and not file_stamp(path).matches(record)
    path.write_bytes(b"abcd")
    os.utime(path, ns=(stamp.mtime_ns, stamp.mtime_ns))  # resized, time put back
    assert not file_stamp(path).matches(record)
    assert not stamp.matches(None) and not stamp.matches({"size": 3})


def test_a_settled_stamp_changes_with_a_same_size_rewrite_at_once(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    given = path.stat().st_mtime_ns
    settled = settled_stamp(path)
    assert settled == FileStamp(3, given - 1000) == file_stamp(path)
    path.write_bytes(b"xyz")  # within the same clock tick on a coarse clock: time >= given
    assert file_stamp(path) != settled


def test_stamps_total_is_total_size_and_newest_time(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"12")
    b.write_bytes(b"345")
    os.utime(a, ns=(10, 2_000))
    os.utime(b, ns=(10, 1_000))
    assert stamps_total([a, b]) == FileStamp(5, 2_000)
    assert stamps_total([]) == FileStamp(0, 0)
