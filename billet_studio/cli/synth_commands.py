"""Commands that make synthetic billets: synth preview."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billet_studio.cli.progress import ProgressBar
from billet_studio.cli.project_commands import open_project


def add_synth_commands(add: Callable[..., argparse.ArgumentParser],
                       group: Callable[[str, str], Any]) -> None:
    synth = group("synth", "synthetic billets: rendered stamps composited onto billet faces")
    command = add("preview", cmd_synth_preview,
                  "write N synthetic billets with LabelMe sidecars and a contact sheet with "
                  "their labels drawn", synth)
    command.add_argument("project")
    command.add_argument("--out", required=True, help="folder for the preview")
    command.add_argument("-n", "--count", type=int, default=16)
    add_renderer_arguments(command)
    command.add_argument("--size", type=int, default=1024, help="output side in pixels")
    command.add_argument("--characters", type=int, default=10,
                         help="characters per image (the paper: 10; 0 for the whole ID)")
    command.add_argument("--partial", type=float, default=0.5,
                         help="share of billets with partially visible digits")
    command.add_argument("--poor", type=float, default=0.0,
                         help="share of billets with poorly stamped digits")
    command.add_argument("--poisson", action="store_true",
                         help="Poisson blending (cv2.seamlessClone) instead of alpha")
    command.add_argument("--inpaint-training", action="store_true",
                         help="also use training photos with their stamps inpainted away")
    command.add_argument("--seed", type=int, default=0)


def add_renderer_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--renderer", choices=("classical", "gan"), default="classical",
                         help="classical shading (no GAN needed) or a pix2pix generator")
    command.add_argument("--checkpoint", action="append",
                         help="with --renderer gan: a step_*.safetensors file, or 'bundled' "
                              "(repeatable; default: bundled)")
    command.add_argument("--weight", action="append", type=float,
                         help="the preceding checkpoint's share of the stamps (repeatable)")
    command.add_argument("--gan-run", help="with --renderer gan: use this run folder's "
                                           "latest checkpoint")


def make_renderer(args: argparse.Namespace) -> tuple[Any, int]:
    """(renderer callable, the square size it renders at) from the renderer options."""
    if args.renderer == "classical":
        if args.checkpoint or args.gan_run:
            raise ValueError("--checkpoint and --gan-run need --renderer gan")
        from billet_studio.synthesis import ClassicalRenderer

        return ClassicalRenderer(), 128
    from billet_studio.cli.gan_commands import _checkpoint_path
    from billet_studio.gan.render import StampRenderer

    texts = list(args.checkpoint or [])
    if args.gan_run:
        from billet_studio.gan.checkpoints import CheckpointStore

        latest = CheckpointStore(Path(args.gan_run)).latest()
        if latest is None:
            raise ValueError(f"{args.gan_run} has no checkpoint yet")
        texts.append(str(latest.weights))
    texts = texts or ["bundled"]
    weights = args.weight or [1.0] * len(texts)
    if len(weights) != len(texts):
        raise ValueError(f"{len(texts)} checkpoints but {len(weights)} --weight; give one "
                         "weight per checkpoint or none")
    renderer = StampRenderer([(_checkpoint_path(t), w)
                              for t, w in zip(texts, weights, strict=True)])
    return renderer, renderer.size


def composite_config(args: argparse.Namespace) -> Any:
    from billet_studio.synthesis import CompositeConfig, VisibilityMix

    well = 1.0 - args.partial - args.poor
    return CompositeConfig(
        size=args.size, characters=args.characters or None, poisson=args.poisson,
        mix=VisibilityMix(well=well, poor=args.poor, partial=args.partial))


def cmd_synth_preview(args: argparse.Namespace) -> int:
    from billet_studio.synthesis.preview import CONTACT_SHEET, PreviewConfig, preview_synthesis

    project = open_project(args.project)
    renderer, render_size = make_renderer(args)
    config = PreviewConfig(count=args.count, seed=args.seed,
                           composite=composite_config(args),
                           inpaint_training=args.inpaint_training)
    out = Path(args.out)
    bar = ProgressBar("synth")
    warnings = []
    try:
        for progress in preview_synthesis(project, out, renderer, render_size, config):
            if progress.message.startswith("warning: "):
                warnings.append(progress.message)
            bar.update(progress.step, progress.total, progress.message)
    finally:
        bar.close()
    for warning in warnings:
        print(warning)
    print(f"wrote {args.count} synthetic billets with LabelMe sidecars to {out}; "
          f"labels drawn on {out / CONTACT_SHEET}")
    return 0
