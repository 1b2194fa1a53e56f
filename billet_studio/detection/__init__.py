"""The detector: torchvision Faster R-CNN builders, local pretrained weights, the COCO
dataset, the training job and inference with per-class score vectors."""

from billet_studio.detection.data import DetectionDataset, DetectionSample, read_coco_samples
from billet_studio.detection.model import ARCHITECTURES, ModelSpec, build_detector
from billet_studio.detection.pretrained import PretrainedError, load_pretrained
from billet_studio.detection.run_files import export_detector, load_detector, read_run_config
from billet_studio.detection.sampler import BatchPlan, MixSchedule
from billet_studio.detection.trainer import (
    PRESETS,
    DetectorTrainConfig,
    learning_rate,
    pick_device,
    train_detector,
)

__all__ = [
    "ARCHITECTURES",
    "PRESETS",
    "BatchPlan",
    "DetectionDataset",
    "DetectionSample",
    "DetectorTrainConfig",
    "MixSchedule",
    "ModelSpec",
    "PretrainedError",
    "build_detector",
    "export_detector",
    "learning_rate",
    "load_detector",
    "load_pretrained",
    "pick_device",
    "read_coco_samples",
    "read_run_config",
    "train_detector",
]
