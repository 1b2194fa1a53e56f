"""Faster R-CNN builders: the paper's ResNet-50 FPN, its v2, and MobileNet-v3 FPN for CPUs.

Built with ``weights=None`` (nothing is downloaded); the input size is the dataset's, so a
1024 px billet is never shrunk. From random initialisation the backbone uses GroupNorm
(batch norm at batch 2 trains poorly); from local pretrained weights it uses the standard
frozen batch norm with 3 trainable layers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import partial

import torch
from torch import nn
from torchvision.models import mobilenet_v3_large, resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import (
    BackboneWithFPN,
    _mobilenet_extractor,
    _resnet_fpn_extractor,
)
from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead, RPNHead
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from billet_studio.detection.anchors import AnchorSet, default_anchors
from billet_studio.detection.heads import ScoredRoIHeads

ARCHITECTURES = ("fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2",
                 "fasterrcnn_mobilenet_v3_large_fpn")
NORMS = ("group", "batch", "frozen")
MOBILENET_STRIDES = (4, 8, 16, 32)


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
    #: Backbone strides the feature pyramid reads (MobileNet only: (8, 16, 32) sees
    #: characters; None: torchvision's choice, two stride-32 blocks).
    pyramid_strides: tuple[int, ...] | None = None
    #: Anchor sizes and ratios (fitted to the training boxes); None: torchvision's.
    anchors: AnchorSet | None = None
    #: Channels of the pyramid built over (8, 16, 32): its stride-8 map is 16 times the
    #: size of torchvision's finest MobileNet map, so it is kept narrower.
    pyramid_channels: int = 256
    #: Proposals per image that train the box head (torchvision: 512; a billet has ~11
    #: characters, so 128 lose little and cost a quarter).
    roi_batch: int = 512

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
        if self.pyramid_strides is not None:
            if "mobilenet" not in self.architecture:
                raise ValueError("pyramid_strides applies to the MobileNet architecture only")
            if any(s not in MOBILENET_STRIDES for s in self.pyramid_strides):
                raise ValueError(f"MobileNet's stages have strides {MOBILENET_STRIDES}, not "
                                 f"{self.pyramid_strides}")
        if self.anchors is not None and len(self.anchors.sizes) != len(self.feature_strides):
            raise ValueError(f"the anchors have {len(self.anchors.sizes)} levels but the "
                             f"pyramid has {len(self.feature_strides)}")

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

    @property
    def feature_strides(self) -> tuple[int, ...]:
        """Strides of the maps the region proposal network sees (the last is the pyramid's
        max-pool level)."""
        if "mobilenet" not in self.architecture:
            return (4, 8, 16, 32, 64)
        if self.pyramid_strides is None:
            return (32, 32, 64)
        return (*self.pyramid_strides, 2 * self.pyramid_strides[-1])

    @property
    def anchor_set(self) -> AnchorSet:
        return self.anchors or default_anchors(self.feature_strides)

    @classmethod
    def from_json(cls, document: dict) -> ModelSpec:
        values = {**document, "classes": tuple(document["classes"])}
        if values.get("pyramid_strides") is not None:
            values["pyramid_strides"] = tuple(int(s) for s in values["pyramid_strides"])
        if values.get("anchors") is not None:
            values["anchors"] = AnchorSet.from_json(values["anchors"])
        return cls(**values)

    def to_json(self) -> dict:
        """JSON-ready form (what config.json and checkpoint sidecars store)."""
        return {**asdict(self), "classes": list(self.classes)}


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
        body = mobilenet_v3_large(weights=None, norm_layer=norm)
        if spec.pyramid_strides is None:
            return _mobilenet_extractor(body, True, layers)
        return mobilenet_pyramid(body, spec.pyramid_strides, layers, spec.pyramid_channels)
    body = resnet50(weights=None, norm_layer=norm)
    if spec.architecture == "fasterrcnn_resnet50_fpn_v2":
        fpn_norm = group_norm if spec.norm == "group" else nn.BatchNorm2d
        return _resnet_fpn_extractor(body, layers, norm_layer=fpn_norm)
    return _resnet_fpn_extractor(body, layers)


def mobilenet_pyramid(body: nn.Module, strides: tuple[int, ...], layers: int,
                      channels: int = 256) -> BackboneWithFPN:
    """A feature pyramid over the last block of each of MobileNet's ``strides`` stages
    (torchvision's own extractor reads the first and last stride-32 blocks), freezing the
    blocks before the ``layers`` trainable stages as torchvision does."""
    features = body.features
    starts = [0] + [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    ends = [*[s - 1 for s in starts[1:]], len(features) - 1]
    stage_of_stride = {2 ** (k + 1): end for k, end in enumerate(ends)}
    stage_indices = [*starts, len(features) - 1]
    freeze_before = (len(features) if layers == 0
                     else stage_indices[len(stage_indices) - layers])
    for block in features[:freeze_before]:
        for parameter in block.parameters():
            parameter.requires_grad_(False)
    returned = [stage_of_stride[s] for s in strides]
    return BackboneWithFPN(features, {str(b): str(k) for k, b in enumerate(returned)},
                           [features[b].out_channels for b in returned], channels,
                           extra_blocks=LastLevelMaxPool())


def build_detector(spec: ModelSpec) -> FasterRCNN:
    """A Faster R-CNN for ``spec`` whose detections carry per-class score vectors."""
    backbone = build_backbone(spec)
    options = dict(min_size=spec.image_size, max_size=spec.image_size,
                   box_score_thresh=spec.score_threshold,
                   box_detections_per_img=spec.detections_per_image,
                   box_batch_size_per_image=spec.roi_batch)
    chosen = spec.anchor_set
    anchors = AnchorGenerator(chosen.sizes, (chosen.ratios,) * len(chosen.sizes))
    if spec.architecture == "fasterrcnn_mobilenet_v3_large_fpn":
        model = FasterRCNN(backbone, spec.num_classes, rpn_anchor_generator=anchors,
                           rpn_score_thresh=0.05, **options)
    elif spec.architecture == "fasterrcnn_resnet50_fpn_v2":
        head_norm = group_norm if spec.norm == "group" else nn.BatchNorm2d
        rpn_head = RPNHead(backbone.out_channels, anchors.num_anchors_per_location()[0],
                           conv_depth=2)
        box_head = FastRCNNConvFCHead((backbone.out_channels, 7, 7), [256] * 4, [1024],
                                      norm_layer=head_norm)
        model = FasterRCNN(backbone, spec.num_classes, rpn_anchor_generator=anchors,
                           rpn_head=rpn_head, box_head=box_head, **options)
    else:
        rpn_head = RPNHead(backbone.out_channels, anchors.num_anchors_per_location()[0])
        model = FasterRCNN(backbone, spec.num_classes, rpn_anchor_generator=anchors,
                           rpn_head=rpn_head, **options)
    model.roi_heads = ScoredRoIHeads.replacing(model.roi_heads)
    return model


def seeded_detector(spec: ModelSpec, seed: int) -> FasterRCNN:
    """The detector as a training run of ``seed`` starts it: torch's global generator is
    seeded, then the model built (the trainer's first act, and the 0-step baseline)."""
    torch.manual_seed(seed)
    return build_detector(spec)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
