"""Validation during training: the loss on held-out images and COCO mAP@0.5."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from billet_studio.evaluation.matching import MatchConfig, match_detections
from billet_studio.evaluation.metrics import mean_average_precision

Batch = tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]


def to_device(images: list[torch.Tensor], targets: list[dict[str, torch.Tensor]],
              device: torch.device
              ) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """uint8 CHW images to float [0, 1] on ``device``; targets alongside."""
    non_blocking = device.type == "cuda"
    floats = [i.to(device, non_blocking=non_blocking).float().div_(255.0) for i in images]
    moved = [{k: v.to(device, non_blocking=non_blocking) for k, v in t.items()}
             for t in targets]
    return floats, moved


def _norms_to_eval(model: nn.Module) -> list[nn.Module]:
    """Batch norms switched to eval so a loss pass does not move their running stats."""
    switched = [m for m in model.modules()
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training]
    for module in switched:
        module.eval()
    return switched


@torch.no_grad()
def validate(model: nn.Module, batches: Iterable[Batch], device: torch.device,
             n_classes: int, autocast: bool = False) -> dict[str, float]:
    """Mean loss terms (model in training mode, no gradient, norms frozen) and mAP@0.5
    (model in eval mode) over ``batches``; the global random state is left untouched."""
    sums: dict[str, float] = {}
    count = 0
    labels, scores, hits = [], [], []
    digits = np.zeros(n_classes, dtype=np.int64)
    everything = MatchConfig(iou=0.5, score=-np.inf)
    was_training = model.training
    with torch.random.fork_rng(devices=[]):
        for images, targets in batches:
            images, targets = to_device(images, targets, device)
            with torch.autocast(device.type, torch.bfloat16, enabled=autocast):
                model.train()
                switched = _norms_to_eval(model)
                losses = model(images, targets)
                for module in switched:
                    module.train()
                model.eval()
                outputs = model(images)
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(images)
            count += len(images)
            for output, target in zip(outputs, targets, strict=True):
                truth_boxes = target["boxes"].cpu().numpy().astype(np.float64)
                truth_labels = target["labels"].cpu().numpy() - 1  # 0-based, as evaluation
                digits += np.bincount(truth_labels, minlength=n_classes)
                boxes = output["boxes"].float().cpu().numpy().astype(np.float64)
                pred_labels = output["labels"].cpu().numpy() - 1
                pred_scores = output["scores"].float().cpu().numpy().astype(np.float64)
                match = match_detections(truth_boxes, truth_labels, boxes, pred_labels,
                                         pred_scores, everything)
                labels.append(pred_labels)
                scores.append(pred_scores)
                hits.append(match.pred_kind == "TP")
    model.train(was_training)
    result = {f"val_{k}": v / max(count, 1) for k, v in sums.items()}
    result["val_loss"] = sum(result.values())
    mean, _ = mean_average_precision(labels, scores, hits, digits)
    result["val_mAP50"] = float("nan") if mean is None else mean
    return result


@torch.no_grad()
def write_detection_preview(model: nn.Module, sample: tuple[torch.Tensor, dict],
                            device: torch.device, classes: tuple[str, ...], path: Path,
                            score: float = 0.5) -> Path:
    """The model's detections on one validation image as a PNG: true boxes green, found
    ones (score >= ``score``) orange with their character and score."""
    from PIL import Image, ImageDraw

    from billet_studio.annotations.images import write_png

    image, target = sample
    was_training = model.training
    model.eval()
    with torch.random.fork_rng(devices=[]):
        output = model([image.to(device).float().div(255.0)])[0]
    model.train(was_training)
    picture = Image.fromarray(image.permute(1, 2, 0).cpu().numpy())
    draw = ImageDraw.Draw(picture)
    for box in target["boxes"].tolist():
        draw.rectangle(box, outline=(40, 200, 60), width=1)
    keep = output["scores"] >= score
    for box, label, value in zip(output["boxes"][keep].float().tolist(),
                                 output["labels"][keep].tolist(),
                                 output["scores"][keep].float().tolist(), strict=True):
        draw.rectangle(box, outline=(255, 150, 20), width=2)
        name = classes[label - 1] if 0 < label <= len(classes) else "?"
        draw.text((box[0], max(0, box[1] - 11)), f"{name} {value:.2f}", fill=(255, 150, 20))
    write_png(path, np.asarray(picture))
    return path
