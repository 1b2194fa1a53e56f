"""pix2pix: networks, paired crops, the training job, checkpoints and rendering."""

from billet_studio.gan.networks import (
    PRESETS,
    NetworkPreset,
    PatchDiscriminator,
    UnetGenerator,
    build_discriminator,
    build_generator,
    parameter_count,
)
from billet_studio.gan.pairs import PairSet, collect_pairs, load_size
from billet_studio.gan.render import per_sample_copy, render_masks
from billet_studio.gan.trainer import GanTrainConfig, train_gan
from billet_studio.training.checkpoints import (
    CheckpointError,
    CheckpointInfo,
    CheckpointStore,
    load_generator_weights,
)

__all__ = [
    "PRESETS",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointStore",
    "GanTrainConfig",
    "NetworkPreset",
    "PairSet",
    "PatchDiscriminator",
    "UnetGenerator",
    "build_discriminator",
    "build_generator",
    "collect_pairs",
    "load_generator_weights",
    "load_size",
    "parameter_count",
    "per_sample_copy",
    "render_masks",
    "train_gan",
]
