"""Commands over the detector: detector train|pretrain|checkpoints|report|export, detect,
read (training and pretraining themselves live in ``detector_training``)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from billet_studio.cli.detector_training import cmd_detector_pretrain, cmd_detector_train
from billet_studio.cli.evaluate_commands import SCORE_HELP
from billet_studio.cli.gan_commands import path_or_bundled
from billet_studio.cli.progress import ProgressBar, run_job
from billet_studio.cli.project_commands import open_project


def add_detector_commands(add: Callable[..., argparse.ArgumentParser],
                          group: Callable[[str, str], Any]) -> None:
    detector = group("detector", "the Faster R-CNN ID reader")
    command = add("train", cmd_detector_train,
                  "train on a dataset's train.json, validating on its val.json; Ctrl-C or a "
                  "STOP file in the run folder saves and stops; runs under torchrun", detector)
    _add_model_options(command, "model, image size and budget (default cpu)")
    command.add_argument("--norm", choices=("group", "batch", "frozen"),
                         help="backbone normalisation (default: group from scratch, frozen "
                              "with --weights)")
    command.add_argument("--weights", "--pretrained", dest="weights", metavar="FILE",
                         help="local pretrained weights: a COCO Faster R-CNN checkpoint, a "
                              "backbone-only ImageNet file, or a `detector pretrain` file; "
                              "they take precedence over the preset's own pretraining")
    command.add_argument("--no-pretrain", action="store_true",
                         help="start the backbone from scratch instead of pretraining it "
                              "on the dataset's characters first (cpu and tiny presets)")
    command.add_argument("--default-anchors", action="store_true",
                         help="keep torchvision's anchors (32-512 px) instead of fitting "
                              "them to the training boxes")
    command.add_argument("--torchvision-pyramid", action="store_true",
                         help="MobileNet: build the feature pyramid as torchvision does "
                              "(two stride-32 blocks) instead of over stride 8/16/32")
    command.add_argument("--steps", type=int, help="step budget (paper: 165,000)")
    command.add_argument("--batch-size", type=int)
    command.add_argument("--lr", type=float)
    command.add_argument("--eval-every", type=int, help="validate and checkpoint every K steps")
    command.add_argument("--mix", default="natural",
                         help="synthetic share per batch: natural (the dataset's), a "
                              "constant such as 0.5, or a ramp such as 0.2:0.8")
    command.add_argument("--workers", type=int, help="loader processes")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--run-name", help="run folder name under PROJECT/runs/detector/")
    command.add_argument("--resume", metavar="RUN", help="continue this run")
    command = add("pretrain", cmd_detector_pretrain,
                  "train a preset's backbone as a character classifier on crops of a "
                  "dataset's training characters (never val or test); prints held-out "
                  "accuracy and writes a file for `detector train --pretrained`", detector)
    _add_model_options(command, "the detector the backbone is for (default cpu)")
    command.add_argument("--steps", type=int, help="classifier steps (default 800)")
    command.add_argument("--seed", type=int, default=0)
    command.add_argument("--out", help="file to write (default PROJECT/runs/pretrain/"
                                       "DATASET-ARCH-SIZE.safetensors)")
    command = add("checkpoints", cmd_detector_checkpoints,
                  "list a run's checkpoints with their losses and validation mAP", detector)
    command.add_argument("run", help="the run folder")
    command = add("report", cmd_detector_report,
                  "score the untrained model (step 0) and each checkpoint on the project's "
                  "test split: Table 3 layout, learning curve, report.md and report.html",
                  detector)
    command.add_argument("run", help="the run folder")
    command.add_argument("--project", required=True, help="the project whose test split "
                                                          "is scored")
    command.add_argument("--out", help="report folder (default: RUN/report)")
    command.add_argument("--steps", help="comma-separated steps to score, 0 for the "
                                         "untrained model (default: 0 and every checkpoint)")
    command.add_argument("--bootstrap", type=int, default=1000,
                         help="bootstrap resamples for the 95 %% intervals")
    command.add_argument("--score", type=float, default=None,
                         help=SCORE_HELP)
    command = add("export", cmd_detector_export,
                  "write a run's latest checkpoint as one fp16 safetensors file with its "
                  "sidecar", detector)
    command.add_argument("run", help="a run folder or checkpoint file")
    command.add_argument("--out", required=True, help="the .safetensors file to write")
    command.add_argument("--fp32", action="store_true", help="keep full precision")
    command = add("detect", cmd_detect,
                  "run a detector over images; writes COCO results with per-class score "
                  "vectors (what evaluate run reads)")
    _add_run_options(command)
    command.add_argument("--images", required=True, nargs="+",
                         help="image files or folders, or one COCO file (its image ids are "
                              "kept, so evaluate run can score the result)")
    command.add_argument("--image-root",
                         help="folder a COCO file's image names are relative to (default: "
                              "the COCO file's folder; a project export: the project)")
    command.add_argument("--out", required=True, help="COCO results file to write")
    command = add("read", cmd_read,
                  "read the ID of each image with the project's format prior; writes a CSV "
                  "of image, id, confidence, needs_review, raw")
    _add_run_options(command)
    command.add_argument("--project", required=True, help="project giving the ID format")
    command.add_argument("images", nargs="+", help="image files or folders")
    command.add_argument("--out", required=True, help="CSV file to write")
    command.add_argument("--score", type=float, default=0.5,
                         help="detections below this score are ignored (default 0.5)")


def _add_model_options(command: argparse.ArgumentParser, preset_help: str) -> None:
    """PROJECT, the dataset and the detector a command trains (train and pretrain)."""
    command.add_argument("project")
    command.add_argument("--dataset", required=True,
                         help="dataset name under PROJECT/datasets/ (or its folder)")
    command.add_argument("--preset", choices=("tiny", "cpu", "paper"), default="cpu",
                         help=preset_help)
    command.add_argument("--arch", choices=("fasterrcnn_resnet50_fpn",
                                            "fasterrcnn_resnet50_fpn_v2",
                                            "fasterrcnn_mobilenet_v3_large_fpn"))
    command.add_argument("--image-size", type=int,
                         help="square input side (paper preset: the dataset's own)")


def _add_run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--run", required=True,
                         help="a detector run folder (latest checkpoint), a checkpoint or "
                              "exported .safetensors file, or 'bundled'")
    command.add_argument("--batch-size", type=int, default=4)
    command.add_argument("--workers", type=int, default=0, help="image loading processes")


def cmd_detector_checkpoints(args: argparse.Namespace) -> int:
    from billet_studio.training import CheckpointStore

    checkpoints = CheckpointStore(Path(args.run)).list()
    if not checkpoints:
        print(f"{args.run}: no checkpoints")
        return 1
    columns = ("loss", "val_loss", "val_mAP50", "images_per_s")
    print(f"{'step':>8} " + " ".join(f"{c:>12}" for c in columns) + f" {'time':>8}")
    for info in checkpoints:
        metrics = info.metadata.get("metrics", {})
        cells = " ".join(f"{metrics.get(c, float('nan')):>12.4f}" for c in columns)
        print(f"{info.step:>8} {cells} {info.metadata.get('wall_time_s', 0):>7.0f}s")
    return 0


def cmd_detector_report(args: argparse.Namespace) -> int:
    from billet_studio.evaluation.matching import REPORT_SCORE
    from billet_studio.experiments.results import format_table
    from billet_studio.experiments.run_report import RunReportConfig, report_run

    project = open_project(args.project)
    run = Path(args.run)
    out = Path(args.out) if args.out else run / "report"
    try:
        steps = (tuple(int(s) for s in args.steps.split(",")) if args.steps else None)
    except ValueError:
        raise ValueError(f"--steps takes comma-separated step numbers, not {args.steps!r}"
                         ) from None
    config = RunReportConfig(steps=steps, bootstrap=args.bootstrap,
                             score=REPORT_SCORE if args.score is None else args.score)
    run_job("report", report_run(project, run, out, config))
    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))["rows"]
    print(format_table(rows))
    print(f"report: {out / 'report.html'} (Markdown: {out / 'report.md'})")
    return 0


def cmd_detector_export(args: argparse.Namespace) -> int:
    from billet_studio.detection import export_detector

    out = export_detector(run_reference(args.run), Path(args.out), half=not args.fp32)
    size = out.stat().st_size / 2**20
    print(f"wrote {out} ({size:.1f} MiB) and {out.with_suffix('.json').name}")
    return 0


def run_reference(text: str) -> Path:
    """A run folder or weights file, or ``bundled`` for the demo detector in models/."""
    from billet_studio.detection.bundled import BUNDLED_DETECTOR

    return path_or_bundled(text, BUNDLED_DETECTOR, "detector")


def _loaded(args: argparse.Namespace):
    from billet_studio.detection import load_detector, pick_device

    device = pick_device()
    model, spec, _ = load_detector(run_reference(args.run), device)
    return model, spec, device


def cmd_detect(args: argparse.Namespace) -> int:
    from billet_studio.detection.inference import detect_to_coco, images_in, images_of_coco

    categories = None
    sources = [Path(p) for p in args.images]
    if len(sources) == 1 and sources[0].suffix == ".json":
        images, categories = images_of_coco(sources[0], args.image_root and Path(args.image_root))
    else:
        images = images_in(sources)
    model, spec, device = _loaded(args)
    out = Path(args.out)
    run_job("detect", detect_to_coco(model, spec, images, out, device, categories,
                                     args.batch_size, args.workers))
    print(f"wrote detections for {len(images)} images to {out}")
    return 0


def cmd_read(args: argparse.Namespace) -> int:
    from billet_studio.detection.inference import images_in, read_ids, write_id_csv
    from billet_studio.evaluation.evaluate import automaton_for
    from billet_studio.evaluation.matching import MatchConfig
    from billet_studio.evaluation.scoring import ScoringConfig

    project = open_project(args.project)
    images = images_in([Path(p) for p in args.images])
    model, spec, device = _loaded(args)
    if tuple(spec.classes) != tuple(project.config.classes):
        print(f"note: the detector's classes ({''.join(spec.classes)}) differ from the "
              f"project's; reading with the detector's")
    automaton = automaton_for(spec.classes, project.config.id_format)
    scoring = ScoringConfig(match=MatchConfig(score=args.score))
    bar = ProgressBar("read")
    readings = []
    for reading in read_ids(model, spec, images, automaton, device, scoring,
                            args.batch_size, args.workers):
        readings.append(reading)
        bar.update(len(readings), len(images), reading.id)
    bar.close()
    write_id_csv(readings, Path(args.out))
    review = sum(r.needs_review for r in readings)
    print(f"read {len(readings)} images into {args.out}; {review} need a person's look")
    return 0
