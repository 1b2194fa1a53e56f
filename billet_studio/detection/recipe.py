"""A detector run as a preset makes it: anchors fitted to the training boxes (with the
coverage reported before training), the backbone pretrained on the dataset's characters,
then the training job. The CLI, the experiment grid and the main job all start runs here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from billet_studio.detection.anchors import AnchorCoverage, anchor_coverage, fit_anchors
from billet_studio.detection.data import DetectionDataset, DetectionSample
from billet_studio.detection.model import ModelSpec
from billet_studio.detection.pretrain import PretrainConfig, pretrain_backbone
from billet_studio.detection.pretrained import (
    backbone_file_facts,
    is_full_detector,
    read_state_dict,
)
from billet_studio.detection.trainer import DetectorTrainConfig, Preset, train_detector
from billet_studio.jobs import CancelToken, JsonlProgressWriter, Progress
from billet_studio.training import DistributedContext
from billet_studio.training.run_status import PRETRAIN_LOG

#: Where a run keeps the backbone it pretrained for itself.
PRETRAINED_NAME = "pretrain/backbone.safetensors"
#: Boxes sampled (at most) to fit anchors and measure their coverage.
FIT_BOXES = 20_000


def input_boxes(samples: Sequence[DetectionSample], image_size: int,
                limit: int = FIT_BOXES) -> list[np.ndarray]:
    """Each sample's boxes at the detector's square input size (as its loader scales
    them), one array per image, for at most about ``limit`` boxes."""
    per_image = []
    total = 0
    for sample in samples:
        scale = np.array([image_size / sample.width, image_size / sample.height] * 2)
        per_image.append(sample.boxes * scale)
        total += len(sample.boxes)
        if total >= limit:
            break
    return per_image


@dataclass(frozen=True)
class AnchorReport:
    """Coverage of the training boxes by torchvision's anchors and by the run's own."""

    default: AnchorCoverage
    chosen: AnchorCoverage
    fitted: bool

    def describe(self) -> str:
        if not self.fitted:
            return f"anchors: torchvision's defaults; {self.default.describe()}"
        return (f"anchors fitted to the training boxes: {self.chosen.describe()} "
                f"(torchvision's defaults: {self.default.at_07:.0%} and "
                f"{self.default.at_05:.0%})")


def spec_with_anchors(spec: ModelSpec, samples: Sequence[DetectionSample],
                      fit: bool = True) -> tuple[ModelSpec, AnchorReport]:
    """``spec`` with anchors fitted to ``samples`` (or torchvision's, when ``fit`` is
    False), and how well each set covers the boxes on the real anchor grid."""
    per_image = input_boxes(samples, spec.image_size)
    boxes = np.concatenate(per_image) if per_image else np.zeros((0, 4))
    strides = spec.feature_strides
    default_spec = replace(spec, anchors=None)
    if len(boxes) == 0:
        empty = AnchorCoverage(0, 0.0, 0.0)
        return default_spec, AnchorReport(empty, empty, False)
    default = anchor_coverage(boxes, default_spec.anchor_set, strides, spec.image_size)
    if not fit:
        return default_spec, AnchorReport(default, default, False)
    fitted = replace(spec, anchors=fit_anchors(boxes, strides))
    chosen = anchor_coverage(boxes, fitted.anchor_set, strides, spec.image_size)
    return fitted, AnchorReport(default, chosen, True)


def preset_spec(preset: Preset, classes: tuple[str, ...], image_size: int,
                architecture: str | None = None, weights: Path | None = None,
                norm: str | None = None, torchvision_pyramid: bool = False) -> ModelSpec:
    """The model a preset builds (before its anchors are fitted). A ``detector pretrain``
    file says its own normalisation; other local weights mean torchvision's frozen batch
    norm, and a whole torchvision detector keeps torchvision's MobileNet pyramid."""
    architecture = architecture or preset.architecture
    strides = None if torchvision_pyramid or "mobilenet" not in architecture \
        else preset.pyramid_strides
    facts: dict[str, str] = {}
    if weights is not None:
        facts = backbone_file_facts(weights)
        if not facts and strides is not None and is_full_detector(read_state_dict(weights)):
            strides = None
    norm = norm or facts.get("norm") or ("frozen" if weights is not None else "group")
    return ModelSpec(architecture, classes, image_size, norm, pyramid_strides=strides,
                     pyramid_channels=preset.pyramid_channels if strides else 256,
                     roi_batch=preset.roi_batch)


def preset_run(run_dir: Path, train: Sequence[DetectionSample], val: Sequence[DetectionSample],
               preset: Preset, config: DetectorTrainConfig, classes: tuple[str, ...],
               image_size: int, cancel: CancelToken | None = None, resume: bool = False,
               sources: dict[str, Any] | None = None) -> Iterator[Progress]:
    """Job: a new (or resumed) run of ``preset``'s whole recipe on these samples: what the
    experiment grid and the main job train."""
    spec = preset_spec(preset, classes, image_size)
    if not resume:
        spec, _ = spec_with_anchors(spec, train, preset.fit_anchors)
    yield from start_detector_run(run_dir, DetectionDataset(train, image_size),
                                  DetectionDataset(val, image_size), spec, config, cancel,
                                  resume, pretrain=preset.pretrain, sources=sources)


def start_detector_run(run_dir: Path, train: DetectionDataset, val: DetectionDataset,
                       spec: ModelSpec, config: DetectorTrainConfig,
                       cancel: CancelToken | None = None, resume: bool = False,
                       context: DistributedContext | None = None,
                       pretrained: Path | None = None,
                       pretrain: PretrainConfig | None = None,
                       sources: dict[str, Any] | None = None) -> Iterator[Progress]:
    """Job: pretrain the backbone when asked (a new run without the user's own weights),
    then train. A run stopped during pretraining starts it again; one stopped later
    resumes its training."""
    context = context or DistributedContext()
    if not resume and pretrained is None and pretrain is not None:
        pretrained = Path(run_dir) / PRETRAINED_NAME
        if context.is_main and not pretrained.is_file():
            pretrain = replace(pretrain, seed=config.seed)
            # Followed by the studio while the run's own log is still empty.
            log = JsonlProgressWriter(Path(run_dir) / PRETRAIN_LOG)
            for progress in pretrain_backbone(train.samples, spec, pretrained, pretrain,
                                              cancel):
                log.write(progress)
                yield progress
        if context.active:
            import torch.distributed

            torch.distributed.barrier()
    yield from train_detector(run_dir, train, val, spec, config, cancel, resume, context,
                              pretrained, sources)
