"""Checkpoints of a training run: model weights (safetensors), a JSON sidecar, and the
resumable training state, loaded without ever executing pickled code.

Files per checkpoint in ``<run>/checkpoints/``: ``step_0005000.safetensors`` (the
model, all inference needs), ``step_0005000.json`` (config, step, losses, wall time,
code version, and the SHA-256 of both binary files) and ``step_0005000.state.pt``
(discriminator, optimisers, random states; read with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn

from billet_studio import __version__
from billet_studio.annotations import atomic_write_bytes, atomic_write_json
from billet_studio.training.checkpoint_files import (
    STEP_PATTERN,
    CheckpointError,
    CheckpointFiles,
    CheckpointInfo,
    read_sidecar,
    sha256_of,
)

__all__ = ["STEP_PATTERN", "CheckpointError", "CheckpointInfo", "CheckpointStore",
           "load_generator_weights", "load_weights", "read_sidecar", "sha256_of"]


class CheckpointStore(CheckpointFiles):
    """The checkpoints of one run folder: listing, saving and loading."""

    def save(self, step: int, model: nn.Module, state: dict[str, Any],
             metadata: dict[str, Any]) -> CheckpointInfo:
        """Write one checkpoint atomically (weights and state first, the sidecar last, so
        a sidecar always describes complete files)."""
        weights_path, sidecar_path, state_path = self.paths(step)
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        atomic_write_bytes(weights_path, save_safetensors(tensors))
        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write_bytes(state_path, buffer.getvalue())
        document = {**metadata, "step": step, "code_version": __version__,
                    "sha256": {"weights": sha256_of(weights_path), "state": sha256_of(state_path)}}
        atomic_write_json(sidecar_path, document)
        return CheckpointInfo(step, weights_path, sidecar_path, state_path, document)

    def load_state(self, info: CheckpointInfo) -> dict[str, Any]:
        """The resumable state, checked against the sidecar's checksum first."""
        _verify(info.state, info.metadata, "state")
        try:
            return torch.load(info.state, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
            raise CheckpointError(info.state, f"cannot be loaded safely ({error}); "
                                              "nothing in it was run") from None


def _verify(path: Path, metadata: dict[str, Any], key: str) -> None:
    if not path.exists():
        raise CheckpointError(path, "is missing")
    expected = metadata.get("sha256", {}).get(key)
    if expected is not None and sha256_of(path) != expected:
        raise CheckpointError(path, "does not match the checksum in its sidecar (changed "
                                    "or damaged after it was written); refusing to load it")


def load_weights(weights: Path, model: nn.Module,
                 metadata: dict[str, Any] | None = None) -> None:
    """Load safetensors weights into ``model``; every problem names the file."""
    if metadata is not None:
        _verify(weights, metadata, "weights")
    try:
        tensors = load_safetensors(Path(weights).read_bytes())
    except (OSError, SafetensorError) as error:
        raise CheckpointError(weights, f"is not a readable safetensors file ({error})"
                              ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise CheckpointError(weights, f"does not fit this model: missing "
                                       f"{missing[:3]}, unexpected {unexpected[:3]} (another "
                                       "preset?)")
    for name, tensor in tensors.items():
        if tensor.shape != expected[name].shape:
            raise CheckpointError(weights, f"tensor {name} has shape {tuple(tensor.shape)}, "
                                           f"the model needs {tuple(expected[name].shape)}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


#: The GAN's name for :func:`load_weights`.
load_generator_weights = load_weights
