"""The command line's error boundary, unit by unit: argument types, messages, exit status."""

from __future__ import annotations

import argparse
import csv

import pytest
from PIL import Image

from galaxy10.cli import boundary
from galaxy10.cli.boundary import (
    BUG,
    USER_ERROR,
    OneLineParser,
    count,
    describe,
    folds,
    notebook_list,
    port,
    run_command,
    seconds,
    seed,
)
from galaxy10.core.errors import GalaxyDataError


@pytest.mark.parametrize(("kind", "low"), [(count, 1), (folds, 2), (seed, 0)])
def test_whole_number_types_accept_their_minimum_and_refuse_below(kind, low):
    assert kind(str(low)) == low and kind(str(low + 7)) == low + 7
    with pytest.raises(argparse.ArgumentTypeError, match=rf"^must be at least {low}, got {low - 1}$"):
        kind(str(low - 1))
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'2\.5' is not a whole number$"):
        kind("2.5")


def test_port_range():
    assert port("1") == 1 and port("65535") == 65535
    with pytest.raises(argparse.ArgumentTypeError, match=r"^a port is at most 65535, got 65536$"):
        port("65536")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^must be at least 1, got 0$"):
        port("0")


def test_seconds_are_a_positive_bounded_wait():
    assert seconds("2.5") == 2.5 and seconds("86400") == 86_400
    for text in ("0", "-1", "nan", "-inf"):
        with pytest.raises(argparse.ArgumentTypeError,
                           match=rf"^must be more than 0 seconds, got '{text}'$"):
            seconds(text)
    for text in ("86400.5", "inf"):
        with pytest.raises(argparse.ArgumentTypeError,
                           match=rf"^must be at most 86,400 seconds \(a day\), got '{text}'$"):
            seconds(text)
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'5s' is not a number of seconds$"):
        seconds("5s")


def test_notebook_list_names_the_unknown_ones():
    assert notebook_list("01,04") == "01,04"
    with pytest.raises(argparse.ArgumentTypeError, match=r"unknown notebook\(s\) \['07'\]"):
        notebook_list("01,07")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^no notebook named$"):
        notebook_list(" , ")


def test_parser_errors_are_one_line_with_status_two(capsys):
    parser = OneLineParser(prog="galaxy10")
    parser.add_argument("--n", type=count)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--n", "0"])
    assert info.value.code == USER_ERROR == 2
    assert capsys.readouterr().err == ("error: argument --n: must be at least 1, got 0 "
                                       "(see `galaxy10 --help`)\n")


def test_describe_user_errors_and_bugs(tmp_path):
    assert describe(GalaxyDataError(tmp_path / "f.h5", "truncated")) == f"{tmp_path / 'f.h5'}: truncated"
    assert describe(csv.Error("bad quote")) == "CSV file: bad quote"
    assert describe(Image.DecompressionBombError("too big")) == (
        "image refused as a possible decompression bomb (too big)")
    assert describe(Image.UnidentifiedImageError("cannot identify x.png")) == "cannot identify x.png"
    missing = tmp_path / "missing.txt"
    with pytest.raises(OSError) as info:
        open(missing)  # noqa: SIM115 - the real error, with errno, strerror and filename
    assert describe(info.value) == f"{missing}: No such file or directory"
    assert describe(OSError("disk on fire")) == "disk on fire"
    assert describe(OSError()) == "OSError"
    assert describe(KeyError("x")) is None and describe(ValueError("x")) is None


def run(exc, capsys, **kwargs):
    def command(args):
        assert args.marker == "seen"  # the parsed arguments reach the command
        if exc is None:
            return 7
        raise exc

    status = run_command(command, argparse.Namespace(marker="seen"), **kwargs)
    return status, capsys.readouterr().err


def test_run_command_maps_failures_to_one_line_and_a_status(capsys):
    assert run(None, capsys) == (7, "")
    assert run(GalaxyDataError("f.h5", "empty"), capsys) == (USER_ERROR, "error: f.h5: empty\n")
    status, err = run(RuntimeError("oops\nsecond line"), capsys)
    assert status == BUG == 1
    assert err == ("error: internal error, a bug in galaxy10 (RuntimeError: oops); "
                   "run again with --debug to see the traceback\n")  # the first line only
    assert run(RuntimeError(), capsys) == (BUG, "error: internal error, a bug in galaxy10 "
                                                "(RuntimeError); run again with --debug to see "
                                                "the traceback\n")
    assert run(KeyboardInterrupt(), capsys) == (130, "interrupted\n")


def test_debug_and_verbose_show_tracebacks(capsys):
    status, err = run(RuntimeError("boom"), capsys, debug=True)
    assert status == BUG and "Traceback" in err
    assert err.splitlines()[-1] == "error: internal error, a bug in galaxy10 (RuntimeError: boom)"
    status, err = run(RuntimeError("boom"), capsys, verbose=True)
    assert status == BUG and "Traceback" in err and err.endswith("(RuntimeError: boom)\n")
    status, err = run(GalaxyDataError("f.h5", "empty"), capsys, verbose=True)
    assert (status, err) == (USER_ERROR, "error: f.h5: empty\n")  # user errors stay one line
    status, err = run(GalaxyDataError("f.h5", "empty"), capsys, debug=True)
    assert status == USER_ERROR and "Traceback" in err and err.endswith("error: f.h5: empty\n")


def test_describe_without_pillow_loaded(monkeypatch):
    monkeypatch.delitem(boundary.sys.modules, "PIL.Image")
    assert describe(ValueError("x")) is None and describe(OSError("gone")) == "gone"


def test_running_out_of_memory_is_the_process_limit_not_a_bug(capsys):
    assert run(MemoryError(), capsys) == (USER_ERROR, "error: out of memory: this process may "
                                                      "not allocate enough memory (free some, "
                                                      "or raise `ulimit -v`)\n")
    assert describe(MemoryError("Unable to allocate 19.7 GiB")) == (
        "out of memory (Unable to allocate 19.7 GiB): this process may not allocate enough "
        "memory (free some, or raise `ulimit -v`)")
