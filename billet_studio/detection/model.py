"""Faster R-CNN builders: the paper's ResNet-50 FPN, its v2, and MobileNet-v3 FPN for CPUs.

Built with ``weights=None`` (nothing is downloaded); the input size is the dataset's, so a
1024 px billet is never shrunk. From random initialisation the backbone uses GroupNorm
(batch norm at batch 2 trains poorly); from local pretrained weights it uses the standard
frozen batch norm with 3 trainable layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import (
    _mobilenet_extractor,
    _resnet_fpn_extractor,
)
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, RPNHead
from torchvision.ops.misc import FrozenBatchNorm2d

from billet_studio.detection.heads import ScoredRoIHeads

ARCHITECTURES = ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2",
                 "fasterrcnn_mobilenet_v3_large_fpn")
NORMS = ("group", "batch", "frozen")


@dataclass(frozen=True)
class ModelSpec:
    """What a detector is made of; stored with every run so its checkpoints can be rebuilt."""

    architecture: str = "fasterrcnn_resnet50_fpn"
    classes: tuple[str, ...] = ()
    #: Side of the (square) images it reads; torchvision's resize is set to keep it.
    image_size: int = 1024
    #: "group" from scratch; "frozen" (with pretrained weights) is torchvision's standard.
    norm: str = "group"
    #: Backbone stages that train (5 = all for ResNet, 6 for MobileNet); None: the
    #: standard choice (everything from scratch, 3 with pretrained weights).
    trainable_layers: int | None = None
    #: Keep every detection above this score (the evaluation applies its own threshold).
    score_threshold: float = 0.05
    detections_per_image: int = 100

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; use one of "
                             f"{', '.join(ARCHITECTURES)}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if not self.classes:
            raise ValueError("a detector needs at least one class")
        if self.image_size < 64:
            raise ValueError(f"image_size must be at least 64 pixels, got {self.image_size}")

    @property
    def num_classes(self) -> int:
        """Classes plus torchvision's background class 0."""
        return len(self.classes) + 1

    @property
    def max_trainable_layers(self) -> int:
        return 6 if "mobilenet" in self.architecture else 5

    def layers_that_train(self) -> int:
        if self.trainable_layers is not None:
            return max(0, min(self.trainable_layers, self.max_trainable_layers))
        return 3 if self.norm == "frozen" else self.max_trainable_layers

    @classmethod
    def from_json(cls, document: dict) -> ModelSpec:
        return cls(**{**document, "classes": tuple(document["classes"])})


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups where the channels allow (MobileNet has 24, 40, 72…)."""
    groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


def _norm_layer(norm: str, architecture: str):
    if norm == "group":
        return group_norm
    if norm == "frozen":
        return FrozenBatchNorm2d
    if "mobilenet" in architecture:  # torchvision's MobileNet batch-norm settings
        return partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
    return nn.BatchNorm2d


def build_backbone(spec: ModelSpec) -> nn.Module:
    """The feature pyramid over a freshly initialised backbone (module names as torchvision's,
    so its checkpoints load)."""
    norm = _norm_layer(spec.norm, spec.architecture)
    layers = spec.layers_that_train()
    if spec.architecture == "fasterrcnn_mobilenet_v3_large_fpn":
        return _mobilenet_extractor(mobilenet_v3_large(weights=None, norm_layer=norm), True,
                                    layers)
    body = resnet50(weights=None, norm_layer=norm)
    if spec.architecture == "fasterrcnn_resnet50_fpn_v2":
        fpn_norm = group_norm if spec.norm == "group" else nn.BatchNorm2d
        return _resnet_fpn_extractor(body, layers, norm_layer=fpn_norm)
    return _resnet_fpn_extractor(body, layers)


def build_detector(spec: ModelSpec) -> FasterRCNN:
    """A Faster R-CNN for ``spec`` whose detections carry per-class score vectors."""
    backbone = build_backbone(spec)
    options = dict(min_size=spec.image_size, max_size=spec.image_size,
                   box_score_thresh=spec.score_threshold,
                   box_detections_per_img=spec.detections_per_image)
    if spec.architecture == "fasterrcnn_mobilenet_v3_large_fpn":
        anchors = AnchorGenerator(((32, 64, 128, 256, 512),) * 3, ((0.5, 1.0, 2.0),) * 3)
        model = FasterRCNN(backbone, spec.num_classes, rpn_anchor_generator=anchors,
                           rpn_score_thresh=0.05, **options)
    elif spec.architecture == "fasterrcnn_resnet50_fpn_v2":
        anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)),
                                  ((0.5, 1.0, 2.0),) * 5)
        head_norm = group_norm if spec.norm == "group" else nn.BatchNorm2d
        rpn_head = RPNHead(backbone.out_channels, anchors.num_anchors_per_location()[0],
                           conv_depth=2)
        box_head = FastRCNNConvFCHead((backbone.out_channels, 7, 7), [256] * 4, [1024],
                                      norm_layer=head_norm)
        model = FasterRCNN(backbone, spec.num_classes, rpn_anchor_generator=anchors,
                           rpn_head=rpn_head, box_head=box_head, **options)
    else:
        model = FasterRCNN(backbone, spec.num_classes, **options)
    model.roi_heads = ScoredRoIHeads.replacing(model.roi_heads)
    return model


def seeded_detector(spec: ModelSpec, seed: int) -> FasterRCNN:
    """The detector as a training run of ``seed`` starts it: torch's global generator is
    seeded, then the model built (the trainer's first act, and the 0-step baseline)."""
    torch.manual_seed(seed)
    return build_detector(spec)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
