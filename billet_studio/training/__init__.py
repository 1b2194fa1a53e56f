"""What every trainer shares: checkpoint stores (safetensors weights, a checksummed sidecar,
resumable state loaded without pickle), the torchrun context, and a run folder's lock and
state (``run_lock``, ``run_status``, and ``checkpoint_files`` listing a run's checkpoints:
torch-free, read by the studio and scripts).

The torch-backed names are imported on first use (PEP 562), so the run-state modules load
where torch is absent, and the studio does not pay for torch to list its runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "CheckpointError": "checkpoint_files",
    "CheckpointFiles": "checkpoint_files",
    "CheckpointInfo": "checkpoint_files",
    "CheckpointStore": "checkpoints",
    "load_weights": "checkpoints",
    "read_sidecar": "checkpoint_files",
    "DistributedContext": "distributed",
    "any_rank": "distributed",
    "from_environment": "distributed",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value
