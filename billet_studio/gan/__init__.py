"""pix2pix: networks, paired crops, the training job, checkpoints, rendering, and the
checkpoint comparison cache.

The torch-backed names are imported on first use (PEP 562), so ``gan.comparison``'s cache
layout and listing load without torch (the studio lays out a grid without importing it).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "PRESETS": "networks",
    "NetworkPreset": "networks",
    "PatchDiscriminator": "networks",
    "UnetGenerator": "networks",
    "build_discriminator": "networks",
    "build_generator": "networks",
    "parameter_count": "networks",
    "PairSet": "pairs",
    "collect_pairs": "pairs",
    "load_size": "pairs",
    "per_sample_copy": "render",
    "render_masks": "render",
    "GanTrainConfig": "trainer",
    "train_gan": "trainer",
}
_TRAINING = {"CheckpointError": "checkpoint_files", "CheckpointInfo": "checkpoint_files",
             "CheckpointStore": "checkpoints", "load_generator_weights": "checkpoints"}

__all__ = sorted([*_LAZY, *_TRAINING])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(f"{__name__}.{_LAZY[name]}")
    elif name in _TRAINING:
        module = import_module(f"billet_studio.training.{_TRAINING[name]}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value
