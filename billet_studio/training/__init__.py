"""What every trainer shares: checkpoint stores (safetensors weights, a checksummed sidecar,
resumable state loaded without pickle) and the torchrun context."""

from billet_studio.training.checkpoints import (
    CheckpointError,
    CheckpointInfo,
    CheckpointStore,
    load_weights,
    read_sidecar,
)
from billet_studio.training.distributed import DistributedContext, any_rank, from_environment

__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointStore",
    "DistributedContext",
    "any_rank",
    "from_environment",
    "load_weights",
    "read_sidecar",
]
