"""Commands over the demo world and the glyph templates: demo init, demo predictions,
glyphs learn."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from billet_studio.cli.progress import run_job
from billet_studio.cli.project_commands import open_project


def cmd_demo_init(args: argparse.Namespace) -> int:
    from billet_studio.demo import DemoConfig, build_demo_project

    config = DemoConfig(billets=args.billets, test=args.test, size=args.size, seed=args.seed,
                        workers=args.workers)
    root = Path(args.dir)
    started = time.monotonic()
    run_job("demo", build_demo_project(root, config))
    elapsed = time.monotonic() - started
    print(f"built a demo project in {root} in {elapsed:.0f} s: {config.billets} training and "
          f"{config.test} test billets, {config.surfaces} surfaces")
    return 0


def cmd_demo_predictions(args: argparse.Namespace) -> int:
    from billet_studio.demo.reader import SimulatedReaderConfig, write_simulated_detections

    out = Path(args.out)
    count = write_simulated_detections(Path(args.truth), out,
                                       SimulatedReaderConfig(seed=args.seed))
    print(f"wrote {count} simulated detections to {out} (a stand-in reader for trying "
          "evaluation; its figures say nothing about a trained detector)")
    return 0


def cmd_glyphs_learn(args: argparse.Namespace) -> int:
    from billet_studio.glyphs.learning import TemplateLearning, learn_glyph_set
    from billet_studio.glyphs.templates import GLYPHS_FILE, load_glyph_set, save_glyph_set

    project = open_project(args.project)
    target = project.root / GLYPHS_FILE
    if target.exists() and not args.replace:
        print(f"error: {target} exists; pass --replace to overwrite it (the old file is kept "
              f"as {GLYPHS_FILE}.bak)", file=sys.stderr)
        return 2
    base = load_glyph_set(target) if target.exists() else load_glyph_set()
    config = TemplateLearning(min_examples=args.min_examples)
    learned, report = learn_glyph_set(project, base, config)
    for warning in report.warnings:
        print(f"warning: {warning}")
    if target.exists():
        shutil.copy2(target, target.with_name(f"{GLYPHS_FILE}.bak"))
    save_glyph_set(learned, target)
    learned_chars = ", ".join(f"{c} ({n})" for c, n in sorted(report.learned.items()))
    print(f"learned {len(report.learned)} characters from labelled stamps: "
          f"{learned_chars or 'none'}")
    print(f"kept {len(report.kept)} characters from the base templates; "
          f"{report.skipped_test_images} test images were not read")
    print(f"wrote {target}")
    return 0


