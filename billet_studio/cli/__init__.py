"""`billet-studio …`: argument parsing and dispatch to the command modules.

Stage modules are imported inside each command so that ``--version`` and ``--help`` stay
fast and never import Qt or torch.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from billet_studio import __version__
from billet_studio.cli.desktop_commands import add_desktop_commands
from billet_studio.cli.detector_commands import add_detector_commands
from billet_studio.cli.evaluate_commands import add_evaluate_commands
from billet_studio.cli.experiment_commands import add_experiment_commands, cmd_demo_run
from billet_studio.cli.gan_commands import (
    cmd_gan_checkpoints,
    cmd_gan_compare,
    cmd_gan_render,
    cmd_gan_train,
)
from billet_studio.cli.glyph_commands import cmd_demo_init, cmd_demo_predictions, cmd_glyphs_learn
from billet_studio.cli.project_commands import (
    cmd_check,
    cmd_export,
    cmd_import,
    cmd_init,
    cmd_masks,
    cmd_split,
)
from billet_studio.cli.synth_commands import add_dataset_commands, add_synth_commands


def cmd_doctor(args: argparse.Namespace) -> int:
    from billet_studio.environment import environment_facts

    for name, value in environment_facts():
        print(f"{name:<13} {value}")
    return 0


def cmd_gui(args: argparse.Namespace) -> int:
    from billet_studio.gui.app import qt_versions_text, run_studio

    if args.qt_versions:  # doctor's probe in a standalone build (see environment.py)
        print(qt_versions_text())
        return 0
    return run_studio(Path(args.project) if args.project else None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="billet-studio",
        description="Label billet ID stamps, synthesise stamps, train and score an ID reader.",
    )
    parser.add_argument("--version", action="version", version=f"billet-studio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
            under: argparse._SubParsersAction = sub) -> argparse.ArgumentParser:
        command = under.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(func=func)
        return command

    def group(name: str, help_text: str) -> argparse._SubParsersAction:
        """A command with subcommands (``demo init``, ``gan train``…)."""
        parent = sub.add_parser(name, help=help_text)
        return parent.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)

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
    demo = group("demo", "the bundled demo world")
    command = add("init", cmd_demo_init, "build a demo project of simulated billets", demo)
    command.add_argument("dir", help="a new or empty folder")
    command.add_argument("--billets", type=int, default=240,
                         help="training billets (the paper had 2,540)")
    command.add_argument("--test", type=int, default=80,
                         help="test billets, a multiple of 4 (the paper had 400)")
    command.add_argument("--size", type=int, default=1024, help="image side in pixels")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                         help="rendering processes")
    command = add("run", cmd_demo_run,
                  "the main job headless: build the demo project if needed, score the "
                  "bundled detector on a fresh test world, run every stage once with smoke "
                  "budgets", demo)
    command.add_argument("dir", nargs="?", default="demo-project")
    command.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    command = add("predictions", cmd_demo_predictions,
                  "write simulated detections for a COCO test set (a stand-in reader for "
                  "trying evaluation before a detector is trained)", demo)
    command.add_argument("--truth", required=True, help="COCO instances file (e.g. test.json)")
    command.add_argument("--out", required=True, help="COCO results file to write")
    command.add_argument("--seed", type=int, default=0)
    glyphs = group("glyphs", "character templates")
    command = add("learn", cmd_glyphs_learn,
                  "learn glyph templates from the labelled polygons (never the test split) "
                  "and write PROJECT/glyphs.json", glyphs)
    command.add_argument("project")
    command.add_argument("--min-examples", type=int, default=3,
                         help="fewest labelled stamps a character needs to be learned")
    command.add_argument("--replace", action="store_true",
                         help="overwrite an existing glyphs.json (kept as glyphs.json.bak)")
    gan = group("gan", "the pix2pix stamp renderer")
    command = add("train", cmd_gan_train,
                  "train pix2pix on the project's labelled polygons (never the test split); "
                  "Ctrl-C or a STOP file in the run folder saves and stops", gan)
    command.add_argument("project")
    command.add_argument("--preset", choices=("paper", "small", "tiny"), default="small")
    command.add_argument("--steps", type=int,
                         help="step budget (default 40,000; a resumed run keeps its own "
                              "unless this extends it)")
    command.add_argument("--every", type=int, default=5_000, help="checkpoint every K steps")
    command.add_argument("--batch-size", type=int, default=1)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--run-name", help="run folder name under PROJECT/runs/gan/")
    command.add_argument("--resume", metavar="RUN", help="continue this run folder")
    command.add_argument("--no-legibility", action="store_true",
                         help="skip the character reader that scores each checkpoint")
    command = add("render", cmd_gan_render,
                  "render RGB stamps for the PNG masks in a folder; with several checkpoints "
                  "each mask is drawn by one, chosen in proportion to --weight", gan)
    command.add_argument("--checkpoint", action="append", required=True,
                         help="a step_*.safetensors file, or 'bundled' (repeatable)")
    command.add_argument("--weight", action="append", type=float,
                         help="the preceding checkpoint's share (repeatable)")
    command.add_argument("--masks", required=True, help="folder of PNG masks")
    command.add_argument("--out", required=True)
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--stochastic", action="store_true",
                         help="keep dropout on, as pix2pix does, for more variety")
    command = add("compare", cmd_gan_compare,
                  "render the same masks with every checkpoint of a run into a PNG grid cached "
                  "in RUN/compare/ (what the studio's comparison page shows)", gan)
    command.add_argument("run", help="the run folder")
    command.add_argument("--project", required=True)
    command.add_argument("--masks", default="validation",
                         help="validation (held-out stamps, with the real stamp beside), "
                              "templates, varied (templates varied and partly erased), or a "
                              "folder of PNG masks")
    command.add_argument("-n", "--count", type=int, default=8, help="masks (rows)")
    command.add_argument("--steps", help="only these checkpoint steps (comma-separated)")
    command.add_argument("--seed", type=int, default=0)
    command = add("checkpoints", cmd_gan_checkpoints,
                  "list a run's checkpoints, losses and quality scores", gan)
    command.add_argument("run", help="the run folder")
    add_synth_commands(add, group)
    add_dataset_commands(add, group)
    add_evaluate_commands(add, group)
    add_detector_commands(add, group)
    add_experiment_commands(add, group)
    add_desktop_commands(add, group)
    command = add("gui", cmd_gui, "open the studio")
    command.add_argument("project", nargs="?")
    command.add_argument("--qt-versions", action="store_true", help=argparse.SUPPRESS)
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


def gui_main() -> int:
    """``billet-studio-gui [PROJECT]``: the studio (a GUI script: no console on Windows)."""
    return main(["gui", *sys.argv[1:]])
