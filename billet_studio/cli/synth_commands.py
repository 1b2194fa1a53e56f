"""Commands that make synthetic billets and datasets: synth preview, dataset build/merge."""

from __future__ import annotations

import argparse
import functools
import os
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
    add_composite_arguments(command)


def add_dataset_commands(add: Callable[..., argparse.ArgumentParser],
                         group: Callable[[str, str], Any]) -> None:
    dataset = group("dataset", "real + synthetic training datasets (COCO)")
    command = add("build", cmd_dataset_build,
                  "build a dataset of real and synthetic images in chosen fractions "
                  "(resumable; Ctrl-C or a STOP file in the --out folder stops it)", dataset)
    command.add_argument("project")
    command.add_argument("--out", required=True,
                         help="dataset name (under PROJECT/datasets/) or a folder path")
    command.add_argument("-n", "--images", type=int, default=2540)
    command.add_argument("--synthetic", type=float, default=0.0,
                         help="fraction of synthetic images (0-1)")
    command.add_argument("--synthetic-per-real", type=int, default=1, metavar="N",
                         help="replace each real image left out by N synthetic ones (the "
                              "paper's proposed ratio study; default 1 keeps -n images)")
    command.add_argument("--preset", choices=("paper-table1",),
                         help="the paper's six datasets (Table 1), named under --out")
    command.add_argument("--scale", type=float, default=1.0,
                         help="with --preset: multiply every image count")
    command.add_argument("--val", type=float, default=0.25, help="validation fraction")
    command.add_argument("--format", choices=("png", "jpg"), default="png")
    command.add_argument("--quality", type=int, default=95, help="JPEG quality")
    command.add_argument("--no-sheet", action="store_true",
                         help="skip the contact sheet (contact_sheet.png) of each dataset")
    command.add_argument("--shard", default="0/1",
                         help="i/n: build only synthetic images with index mod n == i")
    command.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                         help="processes making synthetic images (default: every core)")
    add_renderer_arguments(command)
    add_composite_arguments(command)
    command = add("merge", cmd_dataset_merge,
                  "write train.json/val.json once every shard of a dataset is built", dataset)
    command.add_argument("project")
    command.add_argument("--out", required=True, help="the dataset name or folder")


def add_composite_arguments(command: argparse.ArgumentParser) -> None:
    """How synthetic billets look: the options `synth preview` and `dataset build` share."""
    command.add_argument("--size", type=int, default=1024, help="output side in pixels")
    command.add_argument("--characters", type=int, default=10,
                         help="characters per image (the paper: 10; 0 for the whole ID)")
    command.add_argument("--partial", type=float, default=0.5,
                         help="share of billets with partially visible digits")
    command.add_argument("--poor", type=float, default=0.0,
                         help="share of billets with poorly stamped digits")
    command.add_argument("--rotation", type=float, default=5.0, metavar="DEG",
                         help="face warp rotation range, +- degrees")
    command.add_argument("--deformation", type=float, default=0.02,
                         help="elastic deformation of each stamp (glyph heights)")
    command.add_argument("--blur", type=float, default=1.5, metavar="PX",
                         help="blur of each stamp's blending edge, in pixels")
    command.add_argument("--hue-jitter", type=float, default=4.0, metavar="DEG")
    command.add_argument("--saturation-jitter", type=float, default=0.15)
    command.add_argument("--value-jitter", type=float, default=0.15)
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


def gan_renderer(checkpoints: list[tuple[Path, float]], threads: int | None = None) -> Any:
    """A pix2pix renderer; ``threads`` caps torch's CPU threads (one per worker process)."""
    import torch

    from billet_studio.gan.render import StampRenderer

    if threads is not None and not torch.cuda.is_available():
        torch.set_num_threads(threads)
    return StampRenderer(checkpoints)


def renderer_factory(args: argparse.Namespace, threads: int | None = None
                     ) -> tuple[Callable[[], Any], str]:
    """(a picklable factory of the renderer, its description for the manifest)."""
    if args.renderer == "classical":
        if args.checkpoint or args.gan_run:
            raise ValueError("--checkpoint and --gan-run need --renderer gan")
        from billet_studio.synthesis import ClassicalRenderer

        return ClassicalRenderer, "classical"
    from billet_studio.cli.gan_commands import checkpoint_pool

    texts = list(args.checkpoint or [])
    if args.gan_run:
        from billet_studio.training.checkpoints import CheckpointStore

        latest = CheckpointStore(Path(args.gan_run)).latest()
        if latest is None:
            raise ValueError(f"{args.gan_run} has no checkpoint yet")
        texts.append(str(latest.weights))
    pool = [(path.resolve(), weight)
            for path, weight in checkpoint_pool(texts or ["bundled"], args.weight)]
    described = ", ".join(f"{path} x{weight:g}" for path, weight in pool)
    return functools.partial(gan_renderer, pool, threads), f"gan: {described}"


def default_renderer(threads: int | None = None) -> tuple[Callable[[], Any], str]:
    """The bundled generator when this installation has one, else classical shading."""
    from billet_studio.gan.bundled import bundled_generator_path

    path = bundled_generator_path()
    if path is None:
        from billet_studio.synthesis import ClassicalRenderer

        return ClassicalRenderer, "classical"
    return functools.partial(gan_renderer, [(path, 1.0)], threads), f"gan: {path} x1"


def _run_printing_warnings(label: str, job: Any) -> None:
    """Drive a job with a progress bar; its "warning: ..." reports are printed after."""
    bar = ProgressBar(label)
    warnings = []
    try:
        for progress in job:
            if progress.message.startswith("warning: "):
                warnings.append(progress.message)
            bar.update(progress.step, progress.total, progress.message)
    finally:
        bar.close()
    for warning in warnings:
        print(warning)


def composite_config(args: argparse.Namespace) -> Any:
    """The CompositeConfig of the options (mapped as the studio's synthesis settings are)."""
    from billet_studio.synthesis.settings import SynthesisSettings

    return SynthesisSettings(
        rotation_deg=args.rotation, deformation=args.deformation, blur_px=args.blur,
        hue_jitter_deg=args.hue_jitter, saturation_jitter=args.saturation_jitter,
        value_jitter=args.value_jitter, partial=args.partial, poor=args.poor,
        poisson=args.poisson, size=args.size, characters=args.characters,
    ).composite_config()


def cmd_synth_preview(args: argparse.Namespace) -> int:
    from billet_studio.synthesis.preview import CONTACT_SHEET, PreviewConfig, preview_synthesis

    project = open_project(args.project)
    factory, _ = renderer_factory(args)
    config = PreviewConfig(count=args.count, seed=args.seed,
                           composite=composite_config(args),
                           inpaint_training=args.inpaint_training)
    out = Path(args.out)
    _run_printing_warnings("synth", preview_synthesis(project, out, factory(), config))
    print(f"wrote {args.count} synthetic billets with LabelMe sidecars to {out}; "
          f"labels drawn on {out / CONTACT_SHEET}")
    return 0


def _dataset_folder(project: Any, text: str) -> Path:
    return Path(text) if ("/" in text or os.sep in text) else project.root / "datasets" / text


def cmd_dataset_build(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from billet_studio.cli.gan_commands import stoppable
    from billet_studio.synthesis.dataset_build import BUILD_LOG, BuildLog, Shard, build_dataset
    from billet_studio.synthesis.dataset_plan import DatasetConfig, paper_table1
    from billet_studio.synthesis.dataset_sheet import dataset_contact_sheet

    project = open_project(args.project)
    factory, described = renderer_factory(args, threads=1)  # one thread per worker
    base = DatasetConfig(images=args.images, synthetic=args.synthetic,
                         val_fraction=args.val, seed=args.seed, image_format=args.format,
                         jpeg_quality=args.quality, inpaint_training=args.inpaint_training,
                         composite=composite_config(args),
                         synthetic_per_real=args.synthetic_per_real)
    shard = Shard.parse(args.shard)
    root = _dataset_folder(project, args.out)
    if args.preset:
        jobs = [(root / name, replace(base, images=images, synthetic=synthetic))
                for name, images, synthetic in paper_table1(args.scale)]
    else:
        jobs = [(root, base)]
    log = BuildLog(root / BUILD_LOG, sum(-(-c.synthetic_count // shard.count) for _, c in jobs))
    # One STOP file (in --out) stops the whole command, a preset's six datasets included.
    with stoppable(root) as cancel:
        for folder, config in jobs:
            _run_printing_warnings(folder.name, log.follow(folder.name, build_dataset(
                project, folder, config, factory, described, shard, args.workers, cancel)))
            made = ("built" if shard.count == 1
                    else f"built shard {shard.index}/{shard.count} of")
            print(f"{made} {folder}: {config.real_count} real and {config.synthetic_count} "
                  f"synthetic images ({config.val_fraction:.0%} held out for validation)")
            if shard.count == 1 and not args.no_sheet:
                print(f"contact sheet: {dataset_contact_sheet(folder)}")
    return 0


def cmd_dataset_merge(args: argparse.Namespace) -> int:
    from billet_studio.cli.progress import run_job
    from billet_studio.synthesis.dataset_build import merge_dataset

    project = open_project(args.project)
    folder = _dataset_folder(project, args.out)
    run_job("merge", merge_dataset(project, folder))
    print(f"wrote {folder / 'train.json'}, val.json and manifest.json")
    return 0
