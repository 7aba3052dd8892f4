"""One word for each thing: --data, --real and --profile mean the same in every command."""

from __future__ import annotations

import argparse

import pytest

from galaxy10.cli import build_parser
from galaxy10.cli.bench import BENCHMARKS
from galaxy10.cli.options import DATA_WORDS
from galaxy10.core.profiles import DEFAULT_PROFILE, RECIPE_PROFILE

REQUIRED = {("train",): ["--out", "m.keras"]}
"""Arguments a command needs besides the option under test."""


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(command words, parser) of every leaf command, ``bench memory`` included."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs and prefix:
        yield prefix, parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from _commands(sub, (*prefix, name))


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    return next((a for a in parser._actions if flag in a.option_strings), None)


def _with(flag: str) -> dict[tuple[str, ...], argparse.Action]:
    return {words: action for words, p in _commands(build_parser())
            if (action := _option(p, flag)) is not None}


def _parse(words: tuple[str, ...], *extra: str) -> argparse.Namespace:
    return build_parser().parse_args([*words, *REQUIRED.get(words, []), *extra])


def test_every_command_that_reads_a_data_set_takes_data():
    assert set(_with("--data")) == {("run",), ("train",), ("pretrain",), ("bench", "memory"),
                                    ("bench", "accuracy")}


@pytest.mark.parametrize("words", sorted(_with("--data")), ids=" ".join)
@pytest.mark.parametrize("value", [*DATA_WORDS, "my/galaxies.h5"])
def test_data_takes_the_same_words_everywhere(words, value):
    assert _parse(words, "--data", value).data == value


def test_data_help_is_one_text():
    texts = {a.help.split("; ")[0] for a in _with("--data").values()}
    assert len(texts) == 1
    assert all(f"'{word}'" in next(iter(texts)) for word in DATA_WORDS)
    assert _option(dict(_commands(build_parser()))[("train",)], "--data").required
    assert _parse(("run",)).data == "auto" and _parse(("bench", "accuracy")).data == "auto"


def test_real_is_one_option_with_one_meaning():
    real = _with("--real")
    assert set(real) == {("pretrain",), ("gallery",), ("realism",), ("bench", "accuracy"),
                         ("bench", "real"), ("bench", "similar"), ("bench", "shipped"),
                         ("bench", "active"), ("bench", "select"), ("bench", "adapt")}
    assert len({a.help.split("; 'none'")[0] for a in real.values()}) == 1
    for words in real:
        assert _parse(words).real is None  # the default sample is looked up when it runs
        assert _parse(words, "--real", "imgs").real == "imgs"


def test_real_sample_is_gone():
    assert not _with("--real-sample")
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["bench", "accuracy", "--real-sample", "imgs"])
    assert exc.value.code == 2


def test_profile_defaults_follow_one_rule():
    defaults = {words: action.default for words, action in _with("--profile").items()}
    assert defaults == {("run",): DEFAULT_PROFILE, ("bench", "accuracy"): DEFAULT_PROFILE,
                        ("train",): RECIPE_PROFILE, ("pretrain",): RECIPE_PROFILE,
                        ("bench", "real"): RECIPE_PROFILE, ("bench", "select"): RECIPE_PROFILE,
                        ("bench", "active"): RECIPE_PROFILE, ("bench", "adapt"): RECIPE_PROFILE}
    for action in _with("--profile").values():
        assert f"default {action.default}, " in action.help  # and says why


def test_every_benchmark_is_a_sub_command():
    assert {words for words in dict(_commands(build_parser())) if words[0] == "bench"} == {
        ("bench", b.name) for b in BENCHMARKS}
    args = build_parser().parse_args(["bench", "real", "--folds", "5"])
    assert args.folds == 5 and args.benchmark.name == "real"


@pytest.mark.parametrize("argv", [
    ["bench", "memory", "--folds", "5"], ["bench", "layout", "--real", "imgs"],
    ["bench", "inference", "--profile", "quick"], ["bench", "real", "--n", "5"],
    ["bench", "button", "--data", "x.h5"], ["bench", "accuracy", "--overlay"],
    ["bench", "pipeline", "--models-dir", "m"], ["bench", "real", "--browser-clicks", "3"]],
    ids=lambda a: f"{a[1]} {a[2]}")
def test_an_option_of_one_benchmark_is_refused_by_another(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.startswith("error: unrecognized arguments")


def test_bench_without_a_benchmark_is_one_line(capsys):
    from galaxy10.cli import main

    assert main(["bench"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "required: BENCHMARK" in err


def test_a_benchmark_runs_from_its_row(tmp_path, capsys):
    import json

    from galaxy10.cli import main

    assert main(["bench", "layout", "--n", "6", "-q", "--reports-dir", str(tmp_path)]) == 0
    assert f"figures written to {tmp_path / 'benchmarks.json'}" in capsys.readouterr().out
    assert json.loads((tmp_path / "benchmarks.json").read_text())["layout"]["n"] == 6


def test_tensorflow_commands_are_the_ones_that_say_so_and_every_command_checks_first():
    """TF_COMMANDS names the commands whose parsers ask for TensorFlow (after their check)."""
    from galaxy10.cli import TF_COMMANDS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    wanting, unchecked = set(), set()
    for name, child in sub.choices.items():
        nested = [a for a in child._actions if a.dest == "what"]
        parsers = nested[0].choices.values() if nested else [child]
        for parser in parsers:
            if parser.get_default("tensorflow"):
                wanting.add(name)
            if parser.get_default("check") is None:
                unchecked.add(name)
    assert wanting == TF_COMMANDS
    assert unchecked <= {"app"}  # the served page checks its own arguments in _cmd_app


REQUIRED_ANYWHERE = {("train",): ["--out", "m.keras", "--data", "x.h5"], ("predict",): ["x.png"],
                     ("similar",): ["0", "--in", "x.h5"], ("classify",): ["x.h5", "--out", "o"],
                     ("info",): ["x.h5"], ("import",): ["src", "--out", "x.h5"],
                     ("repack",): ["x.h5", "--out", "y.h5"], ("audit",): ["x.h5"],
                     ("gallery",): ["--out", "g.png"], ("suggest",): ["cat", "--out", "n.csv"],
                     ("adapt",): ["imgs", "--out", "a.keras"]}
"""Arguments each command needs before it parses at all."""


@pytest.mark.parametrize("words", sorted(w for w, _ in _commands(build_parser())), ids=" ".join)
def test_debug_and_verbose_are_taken_before_or_after_every_command(words):
    """Every error says "run again with --debug": at the end of the line is where it goes."""
    need = REQUIRED_ANYWHERE.get(words, [])
    parser = build_parser()
    plain = parser.parse_args([*words, *need])
    assert plain.debug is False and plain.verbose is False
    for argv in (["--debug", "-v", *words, *need], [*words, *need, "--debug", "-v"]):
        args = build_parser().parse_args(argv)
        assert args.debug is True and args.verbose is True, argv


@pytest.mark.parametrize("words", sorted(w for w, _ in _commands(build_parser())), ids=" ".join)
def test_q_before_the_command_is_the_commands_own_q(words, capsys):
    from galaxy10.cli.options import quiet_before_command

    need = REQUIRED_ANYWHERE.get(words, [])
    parser = build_parser()
    args = parser.parse_args(["-q", *words, *need])
    if hasattr(parser.parse_args([*words, *need]), "quiet"):
        quiet_before_command(args, parser)
        assert args.quiet is True
        assert parser.parse_args([*words, *need, "-q"]).quiet is True
        return
    with pytest.raises(SystemExit) as exc:  # as `info x.h5 -q` is refused: info has no -q
        quiet_before_command(args, parser)
    assert exc.value.code == 2
    assert f"`{' '.join(words)}` has no -q" in capsys.readouterr().err
