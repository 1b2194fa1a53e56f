"""Commands over a project's labels: init, check, masks, import, export, split."""

from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path
from typing import Any

from billet_studio.cli.progress import ProgressBar, run_job


def open_project(path: str) -> Any:
    from billet_studio.annotations import Project

    return Project.open(Path(path))


def cmd_init(args: argparse.Namespace) -> int:
    from billet_studio.annotations import Project

    project = Project.create(Path(args.project))
    print(f"created {project.root / 'project.toml'} with {len(project.config.classes)} classes")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from billet_studio.annotations.check import iter_check

    project = open_project(args.project)
    bar = ProgressBar("check")
    problems = []
    for done, total, found in iter_check(project, decode=not args.no_decode):
        problems.extend(found)
        bar.update(done, total)
    bar.close()
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    images = len(project.image_paths())
    print(f"{project.root}: {images} images, {errors} errors, {warnings} warnings")
    return 1 if problems else 0


def cmd_masks(args: argparse.Namespace) -> int:
    from billet_studio.annotations.mask_export import MaskExportConfig, export_masks

    project = open_project(args.project)
    config = MaskExportConfig(size=args.size, margin=args.margin, include_test=args.include_test)
    out = Path(args.out)
    run_job("masks", export_masks(project, out, config))
    print(f"wrote masks and crop pairs to {out} (manifest.json lists the pairs)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from billet_studio.annotations import PROJECT_FILE, Project
    from billet_studio.annotations.importers import import_annotations

    root = Path(args.project)
    created = not root.is_dir()
    project = Project.create(root) if created else Project.open(root)
    images = Path(args.images) if args.images else None
    try:
        report = import_annotations(project, args.source_format, Path(args.source), images)
    except BaseException:
        if created:  # leave no half-made project behind a failed import
            (root / PROJECT_FILE).unlink(missing_ok=True)
            shutil.rmtree(root / "images", ignore_errors=True)
            with contextlib.suppress(OSError):
                root.rmdir()
        raise
    for line in (*report.skipped, *report.warnings):
        print(line)
    print(f"imported {report.images_imported} images with {report.shapes_imported} shapes "
          f"into {project.root}; {len(report.skipped)} skipped")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from billet_studio.annotations.exporters import export_coco, export_yolo

    project = open_project(args.project)
    exporter = export_coco if args.format == "coco" else export_yolo
    report = exporter(project, Path(args.out))
    for line in report.warnings:
        print(f"warning: {line}")
    splits = ", ".join(f"{split} {count}" for split, count in report.images_per_split.items())
    print(f"exported {args.format.upper()} to {Path(args.out).resolve()}: images per split: "
          f"{splits or 'none'}; {len(report.files_written)} files written")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from billet_studio.annotations.splits import apply_split, plan_test_split

    project = open_project(args.project)
    records = project.load_records()
    balance = [key.strip() for key in args.balance.split(",") if key.strip()]
    plan = plan_test_split(records, args.test, project.root, balance, args.seed, args.reassign)
    print(f"{'stratum':<28} {'wanted':>7} {'test':>6} {'images':>7}")
    for count in plan.strata:
        print(f"{'/'.join(count.stratum):<28} {count.wanted:>7} {count.chosen:>6} "
              f"{count.available:>7}")
    for warning in plan.warnings:
        print(f"warning: {warning}")
    if args.dry_run:
        print(f"dry run: {len(plan.test)} test images, nothing written")
        return 0
    written = apply_split(project, records, plan)
    print(f"{len(plan.test)} test images; {written} label files updated")
    return 0


