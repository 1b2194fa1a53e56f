"""`billet-studio …`: argument parsing and progress display over the stage packages.

Stage modules are imported inside each command so that ``--version`` and ``--help`` stay
fast and never import Qt or torch.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any


def package_version() -> str:
    try:
        return version("billet-studio")
    except PackageNotFoundError:
        return "0+unknown"


class ProgressBar:
    """A one-line terminal progress bar with an ETA (plain lines when not a terminal)."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_print = 0.0

    def update(self, done: int, total: int | None, message: str = "") -> None:
        now = time.monotonic()
        if self.interactive and now - self.last_print < 0.1 and done != total:
            return
        self.last_print = now
        if total:
            elapsed = now - self.start
            eta = elapsed / done * (total - done) if done else 0.0
            filled = int(30 * done / total)
            text = (f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
                    f"ETA {eta:4.0f}s {message[:40]}")
        else:
            text = f"{self.label} {done} {message[:60]}"
        if self.interactive:
            self.stream.write("\r" + text.ljust(110))
        elif done == total or done % 50 == 0:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()


def _open_project(path: str) -> Any:
    from billet_studio.annotations import Project

    return Project.open(Path(path))


def qt_versions() -> str:
    """PySide6 and Qt versions, probed in a child process so the CLI never loads Qt and a
    missing system library is reported instead of crashing doctor."""
    probe = ("import PySide6; from PySide6 import QtCore; "
             "print(PySide6.__version__, QtCore.qVersion())")
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"not checked ({error})"
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"not importable ({last})"
    pyside, qt = result.stdout.split()
    return f"PySide6 {pyside}, Qt {qt}"


def cmd_doctor(args: argparse.Namespace) -> int:
    print(f"billet-studio {package_version()}")
    print(f"python        {platform.python_version()} ({sys.executable})")
    print(f"platform      {platform.platform()}")
    try:
        import torch

        print(f"torch         {torch.__version__}")
        if torch.cuda.is_available():
            for index in range(torch.cuda.device_count()):
                print(f"cuda:{index}        {torch.cuda.get_device_name(index)}")
        else:
            print(f"device        cpu ({torch.get_num_threads()} threads), no CUDA device")
    except ImportError as error:
        print(f"torch         not importable ({error})")
        print("device        unknown (training and the detector need torch)")
    print(f"Qt            {qt_versions()}")
    display = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    print(f"display       {display or 'none (the studio needs QT_QPA_PLATFORM=offscreen)'}")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from billet_studio.annotations import Project

    project = Project.create(Path(args.project))
    print(f"created {project.root / 'project.toml'} with {len(project.config.classes)} classes")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from billet_studio.annotations.check import iter_check

    project = _open_project(args.project)
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

    project = _open_project(args.project)
    config = MaskExportConfig(size=args.size, margin=args.margin, include_test=args.include_test)
    out = Path(args.out)
    _run_job("masks", export_masks(project, out, config))
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

    project = _open_project(args.project)
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

    project = _open_project(args.project)
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


def cmd_gui(args: argparse.Namespace) -> int:
    from billet_studio.gui.app import run_studio

    return run_studio(Path(args.project) if args.project else None)


def _run_job(label: str, job: Iterable[Any]) -> None:
    bar = ProgressBar(label)
    try:
        for progress in job:
            bar.update(progress.step, progress.total, progress.message)
    finally:
        bar.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billet-studio",
        description="Label billet ID stamps, synthesise stamps, train and score an ID reader.",
    )
    parser.add_argument("--version", action="version", version=f"billet-studio {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str
            ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command

    add("doctor", cmd_doctor, "show Python, torch, CUDA device and Qt versions")
    command = add("init", cmd_init, "start a project (writes project.toml with the defaults)")
    command.add_argument("project")
    command = add("check", cmd_check, "list every problem in a project; exit 1 if any")
    command.add_argument("project")
    command.add_argument("--no-decode", action="store_true",
                         help="read image headers only (faster, misses truncated images)")
    command = add("masks", cmd_masks, "write full masks and pix2pix (mask, stamp) crop pairs")
    command.add_argument("project")
    command.add_argument("--out", required=True)
    command.add_argument("--size", type=int, default=256, help="crop side in pixels")
    command.add_argument("--margin", type=float, default=0.15,
                         help="free border around a stamp, as a fraction of its longer side")
    command.add_argument("--include-test", action="store_true",
                         help="also export test-split images (never train on them)")
    command = add("import", cmd_import, "import labels from another format as LabelMe sidecars")
    command.add_argument("project")
    command.add_argument("--from", dest="source_format", required=True,
                         choices=("coco", "yolo", "voc", "cvat-xml"))
    command.add_argument("source", help="the file or folder to import")
    command.add_argument("--images", help="folder holding the source's images, if elsewhere")
    command = add("export", cmd_export, "export the labels as COCO or YOLO")
    command.add_argument("project")
    command.add_argument("--format", required=True, choices=("coco", "yolo"))
    command.add_argument("--out", required=True)
    command = add("split", cmd_split, "mark a balanced test split in the label files")
    command.add_argument("project")
    command.add_argument("--test", type=int, required=True, help="number of test images")
    command.add_argument("--balance", default="site,visibility",
                         help="comma-separated keys to balance on (site, visibility)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--reassign", action="store_true",
                         help="redraw existing test marks instead of keeping them")
    command.add_argument("--dry-run", action="store_true", help="show the plan, write nothing")
    command = add("gui", cmd_gui, "open the studio")
    command.add_argument("project", nargs="?")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from billet_studio.annotations.errors import AnnotationError
    from billet_studio.jobs import JobCancelled

    try:
        return int(args.func(args))
    except JobCancelled as error:
        print(f"cancelled: {error}", file=sys.stderr)
        return 130
    except AnnotationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return 130
