"""README's results block is generated from the committed reports, and stays in sync with them."""

import json
import subprocess
from pathlib import Path

import pytest

from galaxy10.core.errors import Galaxy10Error
from galaxy10.reporting.results import README_END, README_START, readme_block, readme_results, update_readme

ROOT = Path(__file__).resolve().parents[1]


def _committed_json(relative: str) -> dict:
    """The committed version (a local `make run` rewrites the working copy; that is fine)."""
    try:
        text = subprocess.run(["git", "show", f"HEAD:{relative}"], cwd=ROOT, text=True,
                              capture_output=True, check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):  # not a git checkout: use the files
        path = ROOT / relative
        text = path.read_text(encoding="utf-8") if path.is_file() else "{}"
    return json.loads(text)


def test_readme_results_match_the_committed_reports():
    expected = readme_results(_committed_json("reports/reference/metrics.json"),
                              _committed_json("reports/reference/benchmarks.json"),
                              _committed_json("reports/reference/quick/metrics.json"))
    assert "faithful" in expected and "bench accuracy" in expected
    assert readme_block((ROOT / "README.md").read_text(encoding="utf-8")) == expected, (
        "README.md's results block is stale: run `python -m galaxy10 results --update-readme "
        "README.md` and commit")


def test_update_readme_rewrites_only_the_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nintro\n\n{README_START}\nold\n{README_END}\n\nafter\n")
    update_readme(readme, "| new | table |")
    assert readme.read_text() == (f"# title\n\nintro\n\n{README_START}\n| new | table |\n"
                                  f"{README_END}\n\nafter\n")
    (tmp_path / "plain.md").write_text("# no markers\n")
    with pytest.raises(Galaxy10Error, match="plain.md: no results block"):
        update_readme(tmp_path / "plain.md", "x")
    assert (tmp_path / "plain.md").read_text() == "# no markers\n"


def test_the_real_cv_table_names_the_previous_recipe_when_one_is_kept():
    from galaxy10.reporting.results import real_cv_markdown

    def section(score):
        model = {"balanced_accuracy": {"mean": score, "sd": 0.02},
                 "macro_f1": {"mean": score, "sd": 0.02}, "train_seconds": {"mean": 60.0},
                 "recall": {"Disturbed": 0.5}}
        return {"folds": 5, "n_images": 1000, "cv": "StratifiedGroupKFold(5)",
                "profile": "faithful", "model_order": ["galaxy_cnn_finetuned_robust"],
                "models": {"galaxy_cnn_finetuned_robust": model,
                           "seed_cnn": {**model, "balanced_accuracy": {"mean": 0.3, "sd": 0.0}}}}

    alone = "\n".join(real_cv_markdown({"real_cv": section(0.761)}))
    assert "| galaxy_cnn_finetuned_robust | 0.761 ± 0.020 |" in alone
    assert "previous" not in alone
    both = "\n".join(real_cv_markdown({"real_cv": section(0.761), "real_cv_previous": {
        **section(0.704), "recipe": "20 epochs at 3e-4"}}))
    assert ("previous fine-tuning recipe (20 epochs at 3e-4): galaxy_cnn_finetuned_robust "
            "0.704 ± 0.020.") in both
    assert "seed_cnn 0.300" not in both  # only the fine-tuned models changed recipe
