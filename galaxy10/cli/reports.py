"""The report commands: ``results`` (README tables), ``gallery`` and ``realism`` (real vs synthetic)."""

from __future__ import annotations

import argparse
from pathlib import Path

import galaxy10.cli.checks as checks
from galaxy10.cli.boundary import count_at_most
from galaxy10.cli.options import add_force, add_real, add_reports_dir, add_seed
from galaxy10.cli.outputs import check_out, hold_lock
from galaxy10.core.errors import Galaxy10Error
from galaxy10.core.files import unreadable_reason


def _check_results(args: argparse.Namespace) -> None:
    from galaxy10.core.paths import results_dir

    if args.reports_dir:
        results_dir(args.reports_dir)  # a file, or a path under one: refused here
    if args.update_readme:
        page = Path(args.update_readme).expanduser()
        why = unreadable_reason(page, what="markdown file")
        if why:
            raise Galaxy10Error(f"{page}: --update-readme: {why}")
        try:
            page.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise Galaxy10Error(f"{page}: --update-readme: not a UTF-8 text file") from None
        hold_lock(page)


def _cmd_results(args: argparse.Namespace) -> int:
    from galaxy10.core.paths import results_dir
    from galaxy10.reporting.metrics import read_metrics
    from galaxy10.reporting.results import results_markdown

    folder = results_dir(args.reports_dir)
    docs = {name: read_metrics(folder / relative) for name, relative in (
        ("metrics", "metrics.json"), ("benchmarks", "benchmarks.json"),
        ("quick", "quick/metrics.json"), ("selection", "recipe_selection.json"))}
    if args.update_readme:
        from galaxy10.reporting.results import readme_results, update_readme

        block = readme_results(docs["metrics"], docs["benchmarks"], docs["quick"],
                               docs["selection"])
        print(f"results block of {update_readme(args.update_readme, block)} updated")
        return 0
    print(results_markdown(docs["metrics"], docs["benchmarks"], docs["selection"]) or
          f"no results yet in {folder}: run `python -m galaxy10 run` first, or name the "
          "folder it wrote with --reports-dir")
    return 0


def _synthetic_file(value: str) -> None:
    """Check ``--synthetic`` when it names a file (a preset or 'synthetic' is made later)."""
    from galaxy10.datasets import synthetic

    if value not in synthetic.PRESETS:
        checks.data_labels(value, what="--synthetic")


def _check_gallery(args: argparse.Namespace) -> None:
    args.checked_real = checks.real_labels(args.real, required=True)[0]
    checks.data_labels(args.synthetic, what="--synthetic")
    check_out(args.out, "figure", args.force, inputs=[args.checked_real, args.synthetic])


def _cmd_gallery(args: argparse.Namespace) -> int:
    from galaxy10.datasets.fetch import resolve_data
    from galaxy10.reporting.figures import real_vs_synthetic_gallery

    path = real_vs_synthetic_gallery(args.checked_real, resolve_data(args.synthetic), args.out,
                                     per_class=args.per_class, seed=args.seed)
    print(f"wrote {path}")
    return 0


def _check_realism(args: argparse.Namespace) -> None:
    from galaxy10.core.paths import get_reports_home

    reports = get_reports_home(args.reports_dir)
    args.checked_real = checks.real_labels(args.real, required=True)[0]
    _synthetic_file(args.synthetic)
    args.metrics = check_out(reports / "metrics.json", "metrics", lock=False)
    figure = args.out_figure or reports / "figures" / "realism_by_class.png"
    args.out_figure = check_out(figure, "figure", args.force,
                                inputs=[args.checked_real, args.synthetic],
                                option="--out-figure")


def _cmd_realism(args: argparse.Namespace) -> int:
    from galaxy10.evaluation.realism import format_table, measure_realism

    real, figure = args.checked_real, args.out_figure
    result = measure_realism(real, args.synthetic, per_class=args.per_class, seed=args.seed,
                             out_figure=figure, metrics_path=args.metrics)
    print(f"real: {real} ({result['n_real']} images); synthetic: {result['synthetic_source']} "
          f"({result['n_synthetic']} images)")
    print("KS distance, real vs synthetic, per statistic (rows) and class (columns):")
    print(format_table(result))
    print(f"wrote {figure} and the 'realism' section of {args.metrics}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``results``, ``gallery`` and ``realism`` commands to ``sub``."""
    p = sub.add_parser("results", help="print README tables from a run's metrics.json and "
                                       "benchmarks.json (in a checkout: the committed "
                                       "reports/reference/)")
    p.add_argument("--reports-dir", help="default: reports/reference/ in a checkout, else where "
                                         "`run` writes ($GALAXY10_REPORTS, else reports/); "
                                         "e.g. reports/ for your own run in a checkout")
    p.add_argument("--update-readme", type=Path, metavar="README",
                   help="rewrite the results block of this README instead of printing")
    p.set_defaults(func=_cmd_results, check=_check_results)

    p = sub.add_parser("gallery", help="real-vs-synthetic example grid (PNG)")
    add_real(p)
    p.add_argument("--synthetic", default="synthetic",
                   help="synthetic .h5 file, or 'synthetic' for the default set")
    p.add_argument("--out", type=Path, default=Path("reports/figures/gallery_real_vs_synthetic.png"))
    p.add_argument("--per-class", type=count_at_most(50), default=5,
                   help="examples of each class and source (default 5, at most 50)")
    add_force(p)
    add_seed(p)
    p.set_defaults(func=_cmd_gallery, check=_check_gallery)

    p = sub.add_parser("realism", help="per-class KS distances between real and synthetic "
                                       "image statistics (table, figure, metrics.json)")
    add_real(p)
    p.add_argument("--synthetic", default="full", metavar="FILE.h5|PRESET",
                   help="a synthetic .h5 file, or a preset whose rows are rendered directly "
                        "(default full)")
    p.add_argument("--per-class", type=count_at_most(10_000), default=100,
                   help="images per class (default 100; fewer where a class has fewer)")
    add_seed(p)
    p.add_argument("--out-figure", type=Path,
                   help="PNG (default <reports-dir>/figures/realism_by_class.png)")
    add_force(p, "--out-figure")
    add_reports_dir(p)
    p.set_defaults(func=_cmd_realism, check=_check_realism)
