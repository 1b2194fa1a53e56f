"""``evaluate results``: every evaluation of a project in the paper's Table 3 layout."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def cmd_evaluate_results(args: argparse.Namespace) -> int:
    from billet_studio.annotations import AnnotationError, Project, atomic_write_bytes
    from billet_studio.evaluation.scoring import SUBSETS
    from billet_studio.experiments.project_results import find_sources, plot_rows, project_rows
    from billet_studio.experiments.results import (
        format_markdown,
        format_table,
        plot_metrics,
        results_csv,
    )

    if args.subset is not None and args.subset not in SUBSETS:
        raise ValueError(f"--subset must be one of {', '.join(SUBSETS)}, got {args.subset!r}")
    project = Project.open(Path(args.project))
    sources, warnings = find_sources(project.root)
    for warning in warnings:
        print(f"warning: {warning}")
    if not sources:
        raise AnnotationError(project.root, "has no readable evaluations under evaluations/, "
                                            "runs/ or experiments/ (billet-studio evaluate "
                                            "run, or the experiment grid, make them)")
    rows = project_rows(sources, group_seeds=not args.no_group_seeds)
    if args.subset is not None:
        rows = [r for r in rows if r["subset"] == args.subset]
    shares = {r["experiment"]: (r["synthetic"], r["images"]) for r in rows}
    print(f"{len(sources)} evaluations in {len(shares)} rows per test subset; percent "
          "[95 % interval] ±sd over seeds")
    print(format_table(rows))
    print("\nsynthetic share of each training set:")
    width = max(len(name) for name in shares)
    for name, (share, images) in shares.items():
        print(f"  {name:<{width}}  " + ("– (provenance unknown)" if share is None else
                                       f"{100 * share:5.1f} % of {images} images"))
    if args.csv:
        atomic_write_bytes(Path(args.csv), results_csv(rows))
        print(f"wrote {args.csv}")
    if args.markdown:
        atomic_write_bytes(Path(args.markdown), format_markdown(rows).encode("utf-8"))
        print(f"wrote {args.markdown}")
    if args.plots:
        plotted = plot_rows(rows)
        if not plotted:
            print("no plots: no evaluation has a known synthetic share")
        else:
            paths = plot_metrics(plotted, Path(args.plots))
            print(f"wrote {len(paths)} plots to {args.plots}")
    return 0


def add_results_command(add: Callable[..., argparse.ArgumentParser], evaluate: Any) -> None:
    """Register ``evaluate results`` in the ``evaluate`` group."""
    command = add("results", cmd_evaluate_results,
                  "every evaluation of a project in the paper's Table 3 layout (TP, MC, FN, "
                  "FP, CB, CB prior by test subset, 95 %% intervals), with each one's "
                  "synthetic share; seeds of a grid experiment averaged", evaluate)
    command.add_argument("--project", required=True)
    command.add_argument("--no-group-seeds", action="store_true",
                         help="one row per evaluation, also for the seeds of a grid "
                              "experiment")
    command.add_argument("--subset", help="only this test subset: all, well, "
                                          "poor_or_partial, poor or partial")
    command.add_argument("--csv", help="write the rows as CSV")
    command.add_argument("--markdown", help="write the table as Markdown")
    command.add_argument("--plots", help="folder for one PNG per metric against the "
                                         "synthetic share")
