"""The README and docs/ stay true: the results block matches the committed reports, every
command shown parses, every relative link resolves, and the README stays a short front door."""

import argparse
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from galaxy10.core.errors import Galaxy10Error
from galaxy10.reporting.results import (
    RESULTS_END,
    RESULTS_START,
    block_in,
    results_block,
    update_results_block,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PAGE = ROOT / "docs" / "results.md"
PAGES = [ROOT / "README.md", ROOT / "reports" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _committed_json(relative: str) -> dict:
    """The committed version (a local `make run` rewrites the working copy; that is fine)."""
    try:
        text = subprocess.run(["git", "show", f"HEAD:{relative}"], cwd=ROOT, text=True,
                              capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):  # not a git checkout: use the files
        path = ROOT / relative
        text = path.read_text(encoding="utf-8") if path.is_file() else "{}"
    return json.loads(text)


def _expected_block() -> str:
    return results_block(_committed_json("reports/reference/metrics.json"),
                         _committed_json("reports/reference/benchmarks.json"),
                         _committed_json("reports/reference/quick/metrics.json"),
                         _committed_json("reports/reference/recipe_selection.json"))


def test_the_results_page_matches_the_committed_reports():
    expected = _expected_block()
    assert "faithful" in expected and "bench accuracy" in expected
    assert block_in(RESULTS_PAGE.read_text(encoding="utf-8")) == expected, (
        "docs/results.md's results block is stale: run `python -m galaxy10 results "
        "--update-readme docs/results.md` and commit")


def test_the_readmes_real_galaxies_table_is_the_generated_one():
    lines = _expected_block().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| model | balanced accuracy"))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    table = "\n".join(lines[start:end])
    assert table in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README.md's `bench real` table differs from docs/results.md's: copy it from there")


def test_update_results_block_rewrites_only_the_block(tmp_path):
    page = tmp_path / "results.md"
    page.write_text(f"# title\n\nintro\n\n{RESULTS_START}\nold\n{RESULTS_END}\n\nafter\n")
    update_results_block(page, "| new | table |")
    assert page.read_text() == (f"# title\n\nintro\n\n{RESULTS_START}\n| new | table |\n"
                                f"{RESULTS_END}\n\nafter\n")
    (tmp_path / "plain.md").write_text("# no markers\n")
    with pytest.raises(Galaxy10Error, match="plain.md: no results block"):
        update_results_block(tmp_path / "plain.md", "x")
    assert (tmp_path / "plain.md").read_text() == "# no markers\n"


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move detail to docs/"
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"](docs/{page.name}" in "\n".join(lines), f"README.md does not link {page.name}"


# -- links -------------------------------------------------------------------------------------

def _slug(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    text = page.read_text(encoding="utf-8")
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: links that do not resolve: {broken}"


# -- commands ----------------------------------------------------------------------------------

CLI = re.compile(r"python -m galaxy10(?![.\w])")
"""The command line, not one of galaxy10's modules run with ``-m`` (``galaxy10.pipeline.kernels``)."""


def _commands(text: str) -> list[str]:
    """What follows ``python -m galaxy10`` in every code block line and inline code span."""
    found = []
    for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.M | re.S):
        for line in block.splitlines():
            if CLI.search(line):
                found.append(CLI.split(line, 1)[1].split(" #")[0].split(";")[0])
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    for span in re.findall(r"`([^`]+)`", prose):
        if CLI.search(span) and "\n\n" not in span:
            found.append(CLI.split(span, 1)[1])
    return [" ".join(c.split()) for c in found]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _problems(command: str, parser: argparse.ArgumentParser) -> list[str]:
    """Sub-commands, options and choice values of ``command`` that the parser does not know."""
    tokens = [t.strip("[]") for t in command.split()]
    tokens = [t for t in tokens if t]
    top = {s for a in parser._actions for s in a.option_strings}
    while tokens and tokens[0] in top:
        tokens.pop(0)
    if not tokens:
        return []
    return _sub_problems(tokens, parser, top)


def _sub_problems(tokens: list[str], parser: argparse.ArgumentParser, top: set[str]) -> list[str]:
    """Problems of ``tokens`` (a sub-command, maybe ``a|b``, then its words) under ``parser``."""
    subs = _subparsers(parser)
    names = tokens[0].split("|")
    missing = [n for n in names if n not in subs]
    if missing:
        return [f"no sub-command {n!r}" for n in missing]
    problems: list[str] = []
    for name in names:  # every alternative must take the words that follow
        problems += [p for p in _words_problems(tokens[1:], subs[name], top) if p not in problems]
    return problems


def _words_problems(tokens: list[str], sub: argparse.ArgumentParser, top: set[str]) -> list[str]:
    if tokens and _subparsers(sub) and not tokens[0].startswith("-"):
        return _sub_problems(tokens, sub, top)  # a nested group (``bench real``)
    options = {s: a for a in sub._actions for s in a.option_strings}
    positionals = [a for a in sub._actions if not a.option_strings]
    problems, i, position = [], 0, 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-"):
            name = token.split("=", 1)[0]
            action = options.get(name) or (name in top and argparse.Action([name], name))
            if not action:
                problems.append(f"no option {name!r}")
            elif action.nargs != 0 and i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
                i += 1
                if action.choices:
                    problems += [f"{name} {v!r} is not a choice" for v in tokens[i].split("|")
                                 if v not in action.choices]
        else:
            action = positionals[position] if position < len(positionals) else None
            if action is not None and action.choices:
                problems += [f"{v!r} is not one of {action.dest}" for v in token.split("|")
                             if v not in action.choices]
            if action is not None and action.nargs not in ("+", "*", "..."):
                position += 1
        i += 1
    return problems


def test_the_command_check_catches_mistakes():
    from galaxy10.cli import build_parser

    parser = build_parser()
    assert _problems("bench accuracy|real --profile quick|gpu", parser) == []
    assert _problems("bench memory|layout --profile quick", parser) == ["no option '--profile'"]
    assert _problems("bench real --folds 5", parser) == []
    assert _problems("predict IMAGE... [--json]", parser) == []
    assert _problems("trian --data x.h5", parser) == ["no sub-command 'trian'"]
    assert _problems("run --profil quick", parser) == ["no option '--profil'"]
    assert _problems("run --profile fast", parser) == ["--profile 'fast' is not a choice"]
    assert _problems("bench speed", parser) != []
    assert _commands("a `python -m galaxy10 info\n  FILE.h5` b\n```bash\n"
                     "x  # or: python -m galaxy10 app [--port 1]  # note\n"
                     "cli  python -m galaxy10; the parser\n```\n") == [
        "app [--port 1]", "", "info FILE.h5"]
    assert _commands("`python -m galaxy10.pipeline.kernels` and `python -m galaxy10x`") == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_exists_in_the_parser(page):
    from galaxy10.cli import build_parser

    parser = build_parser()
    commands = _commands(page.read_text(encoding="utf-8"))
    bad = {c: p for c in commands if (p := _problems(c, parser))}
    assert not bad, f"{page.relative_to(ROOT)}: commands the CLI does not accept: {bad}"
    if page.name == "README.md" and page.parent == ROOT:
        assert len(commands) >= 17  # the command synopsis is still there


def test_the_real_cv_table_shows_the_region_held_out_cv_beside_the_random_one():
    from galaxy10.reporting.results import real_cv_markdown, real_cv_region_markdown

    def section(score, **extra):
        model = {"balanced_accuracy": {"mean": score, "sd": 0.02},
                 "macro_f1": {"mean": score, "sd": 0.02}, "train_seconds": {"mean": 60.0},
                 "recall": {"Disturbed": 0.5, "Merging": 0.6, "Unbarred Loose Spiral": 0.4}}
        return {"folds": 5, "n_images": 1000, "profile": "faithful",
                "cv": "StratifiedGroupKFold(5, shuffle=True, random_state=0)",
                "model_order": ["galaxy_cnn_finetuned_robust"],
                "models": {"galaxy_cnn_finetuned_robust": model}, **extra}

    alone = "\n".join(real_cv_markdown({"real_cv": section(0.761)}))
    assert "| galaxy_cnn_finetuned_robust | 0.761 ± 0.020 | – |" in alone
    assert real_cv_region_markdown({"real_cv": section(0.761)}) == []
    regions = {"cell_deg": [15.0, 10.0], "groups": 59, "test_groups": [13, 13, 10, 12, 11]}
    metrics = {"real_cv": section(0.761), "real_cv_region": section(0.721, regions=regions)}
    table = "\n".join(real_cv_markdown(metrics))
    assert "| galaxy_cnn_finetuned_robust | 0.761 ± 0.020 | 0.721 ± 0.020 |" in table
    region = "\n".join(real_cv_region_markdown(metrics))
    assert "59 groups of 15° × 10° sky cells; each fold tests 13/13/10/12/11" in region
    assert "| galaxy_cnn_finetuned_robust | 0.761 ± 0.020 | 0.721 ± 0.020 | 0.040 |" in region
    assert "0.40 → 0.40" in region  # recall, random -> region
    from galaxy10.core.profiles import SETTINGS_ADDED, get_profile

    before = get_profile("faithful").with_overrides(**SETTINGS_ADDED)
    kept_none = before == get_profile("faithful")  # no settings kept: those of before
    assert ("Measured before" in table + region) is not kept_none
    now = "\n".join(real_cv_region_markdown({**metrics, "real_cv_region": section(
        0.721, regions=regions, profile_settings=get_profile("faithful").to_dict())}))
    assert "Measured before" not in now
    then = {**get_profile("faithful").to_dict(), "finetune_epochs": 80}
    older = "\n".join(real_cv_region_markdown({**metrics, "real_cv_region": section(
        0.721, regions=regions, profile_settings=then)}))
    assert ("Measured before profile faithful changed `finetune_epochs` from 80 to 160: the "
            "fine-tuned rows are the recipe of then") in older


def test_a_model_merged_from_a_later_run_says_so_and_its_extra_shift_shows():
    from galaxy10.reporting.results import real_cv_markdown

    def model(score, shifts, **extra):
        return {"balanced_accuracy": {"mean": score, "sd": 0.02},
                "macro_f1": {"mean": score, "sd": 0.02}, "train_seconds": {"mean": 60.0},
                "recall": {"Disturbed": 0.5}, **extra,
                "shift": {"mean": score - 0.02, "relative": 0.97, "worst": "gamma 0.7",
                          "worst_mean": score - 0.05,
                          "by_shift": {s: {"mean": score - 0.01 * (i + 1)}
                                       for i, s in enumerate(shifts)}}}

    later = {"commit": "abc1234", "wall_minutes": 58.2, "note": "bench real --models finetuned"}
    cv = {"folds": 5, "n_images": 1000, "profile": "faithful",
          "cv": "StratifiedGroupKFold(5, shuffle=True, random_state=0)",
          "model_order": ["old", "new"],
          "models": {"old": model(0.78, ["gamma 0.7"]),
                     "new": model(0.79, ["gamma 0.7", "brighter cores, noisier sky"],
                                  provenance=later)}}
    text = "\n".join(real_cv_markdown({"real_cv": cv}))
    assert "over the one or two (by the run) changes" in text
    assert ("new comes from a later run with the same folds (commit abc1234, 58 min; bench real "
            "--models finetuned).") in text
    assert "old comes from" not in text
    assert "| brighter cores, noisier sky | – | 0.770 |" in text
    assert "| gamma 0.7 | 0.770 | 0.780 |" in text


def test_recipe_checks_show_each_candidate_against_the_first_over_the_folds():
    from galaxy10.reporting.results import recipe_checks_markdown

    def inner(mean, shifted):
        return {"mean": mean, "brighter cores, noisier sky": shifted}

    record = {"cv": "folds", "inner_folds": 2, "profile": "faithful", "complete": False,
              "provenance": {"commit": "abc1234", "wall_minutes": 30.4},
              "candidates": {"80_epochs": {"jitter": "survey", "about": "half",  # sorted keys
                                           "overrides": {"finetune_epochs": 80}},
                             "shipped": {"jitter": "survey", "overrides": {}, "about": "now"}},
              "folds": [{"inner": {"shipped": inner(0.74, 0.70), "80_epochs": inner(0.72, 0.69)}},
                        {"inner": {"shipped": inner(0.70, 0.66), "80_epochs": inner(0.71, 0.64)}}],
              "chosen": {"shipped": 1, "80_epochs": 1},
              "nested": {"balanced_accuracy": {"mean": 0.78, "sd": 0.01}}}
    text = "\n".join(recipe_checks_markdown({"nested_region_80": record, "what": "x"}))
    assert ("| `nested_region_80` | shipped (survey augmentation) | 80_epochs (survey "
            "augmentation, finetune_epochs 80) | "
            "2 (stopped early) | 0.720 | 0.715 | +0.005 ± 0.021 (1 of 2 folds above 0) | "
            "+0.015 ± 0.007 (2 of 2 folds above 0) | 1 / 1 | 0.780 ± 0.010 |") in text
    assert "commit abc1234, 30 min" in text
    assert recipe_checks_markdown({"what": "x"}) == []
    listed = "\n".join(recipe_checks_markdown({"nested_x": {**record, "order": ["80_epochs",
                                                                              "shipped"]}}))
    assert ("| `nested_x` | 80_epochs (survey augmentation, finetune_epochs 80) | shipped (survey "
            "augmentation) |") in listed
    assert "-0.005 ± 0.021 (1 of 2 folds above 0)" in listed
    record["candidates"]["80_epochs"]["pretrained"] = False
    assert "finetune_epochs 80, from scratch) |" in "\n".join(recipe_checks_markdown(
        {"nested_y": record}))
    record["candidates"]["80_epochs"]["jitter"] = "none"  # no jitter: the views still turn
    assert "| 80_epochs (flips and rotations only, finetune_epochs 80, from scratch) |" in \
        "\n".join(recipe_checks_markdown({"nested_z": record}))


def test_the_reference_holds_the_current_records_only():
    """History lives in git and in the docs' prose, not as superseded sections."""
    metrics = _committed_json("reports/reference/metrics.json")
    superseded = [k for k in metrics if k.endswith(("_previous", "_before_seed_fix"))
                  or k[-1].isdigit() and "_v" in k]
    assert superseded == []


def test_the_refusals_table_is_the_recorded_one():
    """docs/bad-input.md's table of refusal times is printed from their record, not typed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("time_refusals",
                                                  ROOT / "tools" / "time_refusals.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    record = _committed_json("reports/reference/refusals.json")
    assert set(record) == {"before", "now"} and set(record["now"]) == {c[0] for c in tool.CASES}
    assert all(row["status"] == 2 for row in record["now"].values())
    page = (ROOT / "docs" / "bad-input.md").read_text(encoding="utf-8")
    shown = page.split("<!-- refusals:start -->\n")[1].split("\n<!-- refusals:end -->")[0]
    assert shown == tool.table(record), (
        "docs/bad-input.md's refusals table is stale: `python tools/time_refusals.py --table`")


def test_the_label_curve_table_has_a_column_per_size_and_counts_the_shifts():
    from galaxy10.bench.real import label_curve_section
    from galaxy10.reporting.results import label_curve_markdown, real_cv_markdown

    def row(n, ba):
        return {"n_train": n, "balanced_accuracy": ba, "macro_f1": ba, "train_seconds": 1.0,
                "neighbours": {"p@1": 0.5, "p@10": 0.4}}

    curve = label_curve_section({"100": {"linear_probe": [row(100, 0.5), row(100, 0.7)]},
                                 "all": {"linear_probe": [row(798, 0.8), row(802, 0.8)]}},
                                ["linear_probe"])
    text = "\n".join(label_curve_markdown({"label_curve": {**curve, "folds": 2,
                                                           "profile": "faithful"}}))
    assert "`python -m galaxy10 bench real --labels 100`" in text
    assert "| model | 100 labels | all (800) |" in text
    assert "| linear_probe | 0.600 ± 0.141 | 0.800 ± 0.000 |" in text
    assert "real_label_curve.png" in text
    assert "'all' is the CV above" in text
    assert label_curve_markdown({}) == []
    # a curve kept from an earlier run than the CV table says whose CV its 'all' column is
    earlier = {**curve, "folds": 2, "profile": "faithful", "provenance": {"commit": "abc1234"},
               "recipe": "80 fine-tuning epochs"}
    text = "\n".join(label_curve_markdown({"label_curve": earlier,
                                           "real_cv": {"provenance": {"commit": "def5678"}}}))
    assert "'all' is that run's own CV (commit abc1234), not the table above" in text
    assert "Fine-tuned with 80 fine-tuning epochs." in text
    # ...unless that run scored every fold as the CV table did: then it is the same CV
    folds = {name: {"folds": [{"balanced_accuracy": f["balanced_accuracy"]} for f in p["folds"]]}
             for name, p in curve["points"]["all"].items()}
    text = "\n".join(label_curve_markdown({"label_curve": earlier, "real_cv": {
        "provenance": {"commit": "def5678"}, "models": folds}}))
    assert "'all' is the CV above" in text
    folds["linear_probe"]["folds"][0]["balanced_accuracy"] += 0.005
    text = "\n".join(label_curve_markdown({"label_curve": earlier, "real_cv": {
        "provenance": {"commit": "def5678"}, "models": folds}}))
    assert "'all' is that run's own CV (commit abc1234)" in text
    model = {"balanced_accuracy": {"mean": 0.7, "sd": 0.0}, "macro_f1": {"mean": 0.7, "sd": 0.0},
             "train_seconds": {"mean": 1.0}, "recall": {"Disturbed": 0.5},
             "shift": {"by_shift": {f"s{k}": {"mean": 0.6} for k in range(10)}, "mean": 0.6,
                       "relative": 0.9, "worst": "s0", "worst_mean": 0.6}}
    cv = {"folds": 2, "n_images": 100, "cv": "k", "profile": "smoke", "models": {"m": model}}
    assert "over the ten changes" in "\n".join(real_cv_markdown({"real_cv": cv}))


def test_both_fold_assignments_are_shown_side_by_side_with_the_lagging_classes():
    from galaxy10.reporting.results import real_cv_assignments_markdown

    def section(seed, score):
        model = {"balanced_accuracy": {"mean": score, "sd": 0.03},
                 "recall": {"Disturbed": 0.6, "Unbarred Loose Spiral": 0.55, "Merging": 0.8},
                 "neighbours": {"p@10": {"mean": 0.57, "sd": 0.02}}}
        return {"cv": f"StratifiedGroupKFold(5, shuffle=True, random_state={seed}), duplicate",
                "model_order": ["galaxy_cnn_finetuned_robust"],
                "models": {"galaxy_cnn_finetuned_robust": model}}

    assert real_cv_assignments_markdown({"real_cv": section(0, 0.78)}) == []
    text = "\n".join(real_cv_assignments_markdown({"real_cv": section(0, 0.78),
                                                   "real_cv_assignment1": section(1, 0.8)}))
    assert ("| galaxy_cnn_finetuned_robust | 0 | 0.780 ± 0.030 | 0.60 | 0.55 | 0.80 | – "
            "| 0.570 |") in text  # no confusion matrix recorded
    assert "| galaxy_cnn_finetuned_robust | 1 | 0.800 ± 0.030 |" in text
    # with the CV's confusion matrix: 3 of 20 mergers (row 1) called Disturbed (column 0)
    confused = section(1, 0.8)
    matrix = np.diag([20] * 10)
    matrix[1, 1], matrix[1, 0] = 17, 3
    confused["models"]["galaxy_cnn_finetuned_robust"]["confusion"] = matrix.tolist()
    text = "\n".join(real_cv_assignments_markdown({"real_cv": section(0, 0.78),
                                                   "real_cv_assignment1": confused}))
    assert "| 0.80 | 0.15 | 0.570 |" in text
    assert "Measured before" not in text  # no profile recorded: nothing to compare
    from galaxy10.core.profiles import get_profile

    then = {**get_profile("faithful").to_dict(), "finetune_epochs": 80}
    text = "\n".join(real_cv_assignments_markdown({
        "real_cv": section(0, 0.78),
        "real_cv_assignment1": {**confused, "profile": "faithful", "profile_settings": then}}))
    assert ("changed `finetune_epochs` from 80 to 160: the fine-tuned rows (seed 1) are the "
            "recipe of then") in text


def test_the_adaptation_table_is_printed_from_its_record():
    """docs/real-galaxies.md shows `bench adapt`'s committed record, line for line."""
    from galaxy10.bench.adapt import adapt_markdown

    record = _committed_json("reports/reference/adaptation.json")
    assert record, "reports/reference/adaptation.json is missing"
    text = (ROOT / "docs" / "real-galaxies.md").read_text(encoding="utf-8")
    for section in record.values():
        missing = [line for line in adapt_markdown(section) if line and line not in text]
        assert not missing, ("docs/real-galaxies.md's adaptation table differs from "
                             f"reports/reference/adaptation.json: {missing[:2]}")


def test_fine_tuned_rows_merged_from_a_later_run_are_judged_by_their_own_settings():
    from galaxy10.core.profiles import get_profile
    from galaxy10.reporting.results import real_cv_markdown

    def model(**extra):
        return {"balanced_accuracy": {"mean": 0.78, "sd": 0.02},
                "macro_f1": {"mean": 0.78, "sd": 0.02}, "train_seconds": {"mean": 60.0},
                "recall": {"Disturbed": 0.5}, **extra}

    now = get_profile("faithful").to_dict()
    then = {**now, "finetune_epochs": 80}
    cv = {"folds": 5, "n_images": 1000, "profile": "faithful", "profile_settings": then,
          "cv": "StratifiedGroupKFold(5, shuffle=True, random_state=0)",
          "model_order": ["seed_cnn", "galaxy_cnn_finetuned_robust",
                          "galaxy_cnn_finetuned_survey"],
          "models": {"seed_cnn": model(), "galaxy_cnn_finetuned_robust": model(),
                     "galaxy_cnn_finetuned_survey": model(
                         provenance={"commit": "abc1234"}, profile_settings=now)}}
    text = "\n".join(real_cv_markdown({"real_cv": cv}))
    assert ("changed `finetune_epochs` from 80 to 160: galaxy_cnn_finetuned_robust is the "
            "recipe of then") in text
    assert text.count("Measured before") == 1
    cv["models"]["galaxy_cnn_finetuned_survey"]["profile_settings"] = then
    both = "\n".join(real_cv_markdown({"real_cv": cv}))
    assert "the fine-tuned rows are the recipe of then" in both
    cv["models"]["galaxy_cnn_finetuned_robust"]["profile_settings"] = now
    cv["models"]["galaxy_cnn_finetuned_survey"]["profile_settings"] = now
    assert "Measured before" not in "\n".join(real_cv_markdown({"real_cv": cv}))
