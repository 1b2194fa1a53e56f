"""Commands over the experiment grid: experiment run."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billet_studio.cli.evaluate_commands import SCORE_HELP
from billet_studio.cli.gan_commands import stoppable
from billet_studio.cli.progress import ProgressBar
from billet_studio.cli.project_commands import open_project
from billet_studio.cli.synth_commands import (
    add_composite_arguments,
    add_renderer_arguments,
    composite_config,
    default_renderer,
    renderer_factory,
)


def add_experiment_commands(add: Callable[..., argparse.ArgumentParser],
                            group: Callable[[str, str], Any]) -> None:
    experiment = group("experiment", "the paper's experiment grid")
    command = add("run", cmd_experiment_run,
                  "build the grid's nested datasets, train, detect on the test split and "
                  "evaluate every cell (resumable: a re-run skips finished stages), then "
                  "write the Table 3 layout and plots to PROJECT/experiments/NAME/",
                  experiment)
    command.add_argument("project")
    command.add_argument("--preset", choices=("paper-table1",), default="paper-table1")
    command.add_argument("--name", help="folder under PROJECT/experiments/ (default: the "
                                        "preset, budget and scale)")
    command.add_argument("--scale", type=float, default=1.0,
                         help="multiply every dataset size (the paper: 2,540 images)")
    command.add_argument("--budget", choices=("tiny", "cpu", "paper"), default="paper",
                         help="detector preset: model, image size and steps")
    command.add_argument("--steps", type=int, help="override the budget's step count")
    command.add_argument("--seeds", type=int, default=1, help="training seeds per experiment")
    command.add_argument("--score", type=float, default=None,
                         help=SCORE_HELP)
    command.add_argument("--bootstrap", type=int, default=1000,
                         help="resamples for the 95%% intervals")
    command.add_argument("--workers", type=int, default=2,
                         help="processes making synthetic images")
    command.add_argument("--val", type=float, default=0.25, help="validation fraction")
    command.add_argument("--format", choices=("png", "jpg"), default="jpg")
    add_renderer_arguments(command)
    add_composite_arguments(command)


def cmd_experiment_run(args: argparse.Namespace) -> int:
    from billet_studio.evaluation.matching import REPORT_SCORE
    from billet_studio.experiments.grid import ExperimentConfig, grid_cells, run_experiment
    from billet_studio.experiments.results import collect_results, format_table
    from billet_studio.synthesis.dataset_plan import DatasetConfig

    project = open_project(args.project)
    factory, described = renderer_factory(args, threads=1)
    dataset = DatasetConfig(val_fraction=args.val, seed=args.seed, image_format=args.format,
                            composite=composite_config(args),
                            inpaint_training=args.inpaint_training)
    config = ExperimentConfig(args.preset, args.scale, args.budget, args.seeds, args.steps,
                              dataset, args.bootstrap,
                              REPORT_SCORE if args.score is None else args.score)
    name = args.name or f"{args.preset}-{args.budget}-x{args.scale:g}"
    folder = project.root / "experiments" / name
    bar = ProgressBar("experiment")
    with stoppable(folder) as cancel:
        try:
            for progress in run_experiment(project, folder, config, factory, described,
                                           cancel, args.workers):
                bar.update(progress.step, progress.total, progress.message)
        finally:
            bar.close()
    print(format_table(collect_results(folder, grid_cells(config))))
    print(f"report: {folder / 'report.html'}")
    return 0


def cmd_demo_run(args: argparse.Namespace) -> int:
    """The main job headless: build the demo if needed, score the bundled detector on a
    fresh test world, then run every stage once with smoke budgets."""
    import time

    from billet_studio.annotations import Project
    from billet_studio.cli.evaluate_commands import print_rates
    from billet_studio.demo import DemoConfig, build_demo_project
    from billet_studio.detection.bundled import bundled_detector_path
    from billet_studio.experiments.main_job import SMOKE_LABEL, MainJobConfig, run_main_job

    started = time.monotonic()
    root = Path(args.dir)
    if not (root / "demo.json").exists():
        from billet_studio.cli.progress import run_job

        run_job("demo", build_demo_project(root, DemoConfig(workers=args.workers)))
    project = Project.open(root)
    factory, described = default_renderer(threads=1)
    detector = bundled_detector_path()
    out = root / "runs" / "main-job"
    bar = ProgressBar("main job")
    count = 0
    try:
        for progress in run_main_job(project, out, detector, factory, described,
                                     MainJobConfig(workers=args.workers)):
            count += 1
            bar.update(count, None, progress.message)
    finally:
        bar.close()
    if detector is None:
        print("\nThis installation has no bundled detector (models/detector-demo.safetensors)"
              "; its evaluation was skipped.")
    else:
        print_bundled_headline(out / "bundled" / "evaluation")
    summary = _summary(out / "smoke" / "evaluation")
    print(f"\nEvery stage once with smoke budgets ({described}; {SMOKE_LABEL}):")
    print_rates([g for g in summary["groups"] if g["site"] is None])
    print(f"report: {out / 'smoke' / 'evaluation' / 'report.html'}  ({SMOKE_LABEL})")
    print(f"main job finished in {time.monotonic() - started:.0f} s")
    return 0


def print_bundled_headline(folder: Path) -> None:
    """The bundled reader's result on one screen: billets read right (with and without the
    format prior), the rates by subset, and three example reads."""
    from billet_studio.cli.evaluate_commands import print_rates
    from billet_studio.experiments.main_job import example_reads

    summary = _summary(folder)
    groups = [g for g in summary["groups"] if g["site"] is None]
    overall = groups[0]["rates"] if groups else {}

    def share(name: str) -> str:
        value = (overall.get(name) or {}).get("value")
        return "-" if value is None else f"{100 * value:.1f} %"

    print(f"\nThe bundled reader on {summary['billets']} fresh demo test billets (a new "
          "seed, never seen in training):")
    print(f"  IDs read right: {share('CB_prior')} with the ID format prior, "
          f"{share('CB_raw')} without it")
    print_rates(groups)
    reads = example_reads(folder / "records.sqlite")
    if reads:
        print("Example reads (true ID -> read with the prior):")
        width = max(len(r.true_id) for r in reads)
        for read in reads:
            shown = read.prior_read if read.prior_read is not None else read.raw_read
            verdict = "right" if read.right else "wrong"
            print(f"  {read.true_id:<{width}} -> {shown or '(nothing read)':<{width}}  "
                  f"{verdict:5}  {read.visibility:7}  {read.file_name}")
    print(f"report: {folder / 'report.html'}")


def _summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))
