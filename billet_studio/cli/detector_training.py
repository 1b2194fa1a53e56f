"""Training a detector from the command line: `detector train` (the preset's recipe:
fitted anchors, pretraining, then the training job, under torchrun too) and
`detector pretrain`."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from billet_studio.cli.gan_commands import drive_training
from billet_studio.cli.progress import run_job
from billet_studio.cli.project_commands import open_project


def dataset_folder(project_root: Path, name: str) -> Path:
    folder = Path(name)
    if not folder.is_dir():
        folder = project_root / "datasets" / name
    if not (folder / "train.json").is_file():
        from billet_studio.annotations import AnnotationError

        raise AnnotationError(folder, "holds no train.json (build a dataset with `dataset "
                                      "build`, or export one with `export --format coco`)")
    return folder


def cmd_detector_train(args: argparse.Namespace) -> int:
    from billet_studio.training import from_environment
    from billet_studio.training.distributed import shutdown

    context = from_environment()
    try:
        return _train(args, context)
    finally:
        shutdown(context)


def _train(args: argparse.Namespace, context) -> int:
    from billet_studio.detection import (
        PRESETS,
        DetectionDataset,
        MixSchedule,
        ModelSpec,
    )
    from billet_studio.detection.data import training_samples
    from billet_studio.detection.recipe import start_detector_run

    project = open_project(args.project)
    classes = tuple(project.config.classes)
    folder = dataset_folder(project.root, args.dataset)
    train_samples, val_samples = training_samples(folder, classes)
    preset = PRESETS[args.preset]
    spec, pretrain = _recipe_spec(args, preset, classes, train_samples)
    overrides = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                 "workers": args.workers}
    if args.eval_every:
        overrides.update(eval_every=args.eval_every, checkpoint_every=args.eval_every)
    config = replace(preset.train, seed=args.seed, mix=MixSchedule.parse(args.mix),
                     **{k: v for k, v in overrides.items() if v is not None})
    if args.resume:
        from billet_studio.detection import read_run_config

        run_dir = Path(args.resume)
        if not run_dir.is_dir():
            run_dir = project.root / "runs" / "detector" / args.resume
        # The run keeps its own budget (and so its schedule) unless --steps extends it.
        saved = read_run_config(run_dir)
        config = replace(config, steps=args.steps or saved["config"]["steps"])
        spec = ModelSpec.from_json(saved["model"])
        if context.is_main:
            _warn_if_schedule_moves(run_dir, saved["config"], config.steps)
    else:
        if context.active and not args.run_name:
            raise ValueError("under torchrun, name the run with --run-name so every process "
                             "writes to the same folder")
        name = args.run_name or f"{time.strftime('%Y%m%d-%H%M%S')}-{args.preset}"
        run_dir = project.root / "runs" / "detector" / name
    say = print if context.is_main else (lambda *a, **k: None)
    say(f"{len(train_samples)} training images ({sum(s.synthetic for s in train_samples)} "
        f"synthetic), {len(val_samples)} validation images; {spec.architecture} at "
        f"{spec.image_size} px, {spec.norm} norm; run folder {run_dir}")
    if not args.resume:
        from billet_studio.detection.recipe import spec_with_anchors

        spec, report = spec_with_anchors(spec, train_samples, fit=preset.fit_anchors
                                         and not args.default_anchors)
        say(report.describe())
        if pretrain is not None:
            say(f"the backbone is pretrained first on the training characters "
                f"({pretrain.steps} steps; --no-pretrain skips it)")
    drive_training(
        "detector", run_dir,
        lambda cancel: start_detector_run(
            run_dir, DetectionDataset(train_samples, spec.image_size),
            DetectionDataset(val_samples, spec.image_size), spec, config, cancel,
            resume=bool(args.resume), context=context,
            pretrained=Path(args.weights) if args.weights else None,
            pretrain=None if args.resume else pretrain,
            sources={"dataset": str(folder)}),
        context, _describe_step, _announce)
    return 0


def _describe_step(progress) -> str:
    metrics = progress.metrics
    if "loss" not in metrics:  # pretraining the backbone
        return progress.message
    return (f"loss {metrics['loss']:.3f} lr {metrics['lr']:.2g} "
            f"{metrics['images_per_s']:.1f} img/s")


def _announce(progress) -> str | None:
    metrics = progress.metrics
    if "heldout_accuracy" in metrics:
        return f"\n{progress.message}"
    if "val_mAP50" in metrics:
        return (f"\nstep {progress.step}: val loss {metrics['val_loss']:.3f}, val mAP@0.5 "
                f"{metrics['val_mAP50']:.3f}")
    return None


def _recipe_spec(args: argparse.Namespace, preset, classes: tuple[str, ...],
                 train_samples) -> tuple[Any, Any]:
    """The run's model spec (before anchor fitting) and its pretraining, from the preset
    and the options: the user's own weights take precedence over pretraining."""
    from billet_studio.detection.recipe import preset_spec

    weights = Path(args.weights) if args.weights else None
    spec = preset_spec(preset, classes, _image_size(args, preset, train_samples), args.arch,
                       weights, args.norm, args.torchvision_pyramid)
    pretrain = None
    if preset.pretrain is not None and weights is None and not args.no_pretrain:
        pretrain = preset.pretrain
    return spec, pretrain


def _image_size(args: argparse.Namespace, preset, train_samples) -> int:
    """``--image-size``, else the preset's (the paper's: the dataset's own largest side)."""
    from billet_studio.detection.data import image_size_of

    if args.image_size:
        return args.image_size
    return preset.image_size if args.preset != "paper" else image_size_of(train_samples)


def _warn_if_schedule_moves(run_dir: Path, saved: dict[str, Any], steps: int) -> None:
    """Extending a budget re-places a budget-placed schedule: say what the rate does."""
    from billet_studio.detection import DetectorTrainConfig, learning_rate
    from billet_studio.training import CheckpointStore

    old = DetectorTrainConfig.from_json(saved)
    latest = CheckpointStore(run_dir).latest()
    if latest is None or steps == old.steps:
        return
    new = replace(old, steps=steps)
    step = latest.step + 1
    print(f"note: the {old.schedule} schedule is placed by the budget; extending it from "
          f"{old.steps} to {steps} steps moves the rate at step {step} from "
          f"{learning_rate(step, old):.2g} to {learning_rate(step, new):.2g} (a warm "
          "restart, not the schedule an uninterrupted run of this budget would have had)")


def cmd_detector_pretrain(args: argparse.Namespace) -> int:
    from billet_studio.detection import PRESETS
    from billet_studio.detection.data import training_samples
    from billet_studio.detection.pretrain import PretrainConfig, pretrain_backbone
    from billet_studio.detection.recipe import preset_spec

    project = open_project(args.project)
    classes = tuple(project.config.classes)
    folder = dataset_folder(project.root, args.dataset)
    train_samples, _ = training_samples(folder, classes)  # val.json is parsed, never opened
    preset = PRESETS[args.preset]
    spec = preset_spec(preset, classes, _image_size(args, preset, train_samples), args.arch)
    config = replace(preset.pretrain or PretrainConfig(), seed=args.seed)
    if args.steps:
        config = replace(config, steps=args.steps)
    short = "mobilenet" if "mobilenet" in spec.architecture else "resnet50"
    out = Path(args.out) if args.out else (
        project.root / "runs" / "pretrain"
        / f"{folder.name}-{short}-{spec.image_size}.safetensors")
    print(f"pretraining the {spec.architecture} backbone on the characters of "
          f"{len(train_samples)} training images of {folder} at {spec.image_size} px")
    reports = []

    def job():
        for progress in pretrain_backbone(train_samples, spec, out, config):
            reports.append(progress)
            yield progress

    run_job("pretrain", job())
    print(reports[-1].message)
    print(f"use it with: billet-studio detector train {args.project} --dataset "
          f"{args.dataset} --preset {args.preset} --pretrained {out}")
    return 0
