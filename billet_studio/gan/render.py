"""Rendering stamps from masks with a trained generator, in batches.

pix2pix renders with batch norm over the one test image (its networks stay in training
mode at test time). Billet Studio keeps exactly that per sample, so a stamp comes out the
same whether it is rendered alone or in a batch: every BatchNorm2d is evaluated as
instance norm with the layer's learned scale and shift.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from billet_studio.gan.networks import PRESETS, NetworkPreset, build_generator
from billet_studio.training.checkpoints import CheckpointError, load_generator_weights, read_sidecar
from billet_studio.training.devices import pick_device


class PerSampleNorm(nn.Module):
    """A trained BatchNorm2d evaluated on each sample's own statistics."""

    def __init__(self, batch_norm: nn.BatchNorm2d) -> None:
        super().__init__()
        self.weight = batch_norm.weight
        self.bias = batch_norm.bias
        self.eps = batch_norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


def per_sample_copy(generator: nn.Module) -> nn.Module:
    """A copy of ``generator`` for rendering: per-sample norm, dropout off, no gradients."""
    rendering = copy.deepcopy(generator)
    _swap_norms(rendering)
    rendering.eval()
    for parameter in rendering.parameters():
        parameter.requires_grad_(False)
    return rendering


def _swap_norms(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(module, name, PerSampleNorm(child))
        else:
            _swap_norms(child)


def masks_to_tensor(masks: np.ndarray) -> torch.Tensor:
    """uint8 masks (N, H, W) to the generator's input in [-1, 1], (N, 1, H, W)."""
    return torch.from_numpy(masks).float().div(127.5).sub(1.0).unsqueeze(1)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB (N, H, W, 3) to [-1, 1], (N, 3, H, W)."""
    return torch.from_numpy(images).float().div(127.5).sub(1.0).permute(0, 3, 1, 2)


def tensor_to_images(tensor: torch.Tensor) -> np.ndarray:
    """[-1, 1] (N, 3, H, W) back to uint8 RGB (N, H, W, 3)."""
    scaled = tensor.detach().float().cpu().add(1.0).mul(127.5).round().clamp(0, 255)
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).numpy()


@torch.no_grad()
def render_masks(generator: nn.Module, masks: np.ndarray, batch_size: int = 16
                 ) -> np.ndarray:
    """RGB stamps (N, H, W, 3) for uint8 masks (N, H, W) from a per-sample generator."""
    outputs = []
    for start in range(0, len(masks), batch_size):
        batch = masks_to_tensor(masks[start:start + batch_size])
        outputs.append(tensor_to_images(generator(batch)))
    if not outputs:
        return np.zeros((0, *masks.shape[1:], 3), np.uint8)
    return np.concatenate(outputs)


def batch_size_for(preset_size: int, ngf: int, device: torch.device,
                   most: int = 64) -> int:
    """A batch that fits in a quarter of the free memory (activations estimated from the
    U-Net's widest levels: about 24 float maps of ngf channels at full size per sample)."""
    per_sample = 4 * preset_size * preset_size * ngf * 24
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            free = 2 * 1024**3
    return int(max(1, min(most, free // 4 // per_sample)))


@dataclass(frozen=True)
class LoadedGenerator:
    path: Path
    weight: float
    preset: NetworkPreset
    network: nn.Module


class StampRenderer:
    """Renders stamps from masks with a pool of checkpoints, each chosen in proportion to
    its weight (the paper mixes checkpoints because each stresses texture, colour or rust
    differently)."""

    def __init__(self, checkpoints: Sequence[tuple[Path, float]],
                 device: torch.device | None = None) -> None:
        if not checkpoints:
            raise ValueError("a renderer needs at least one checkpoint")
        self.device = device or pick_device()
        self.generators: list[LoadedGenerator] = []
        for path, weight in checkpoints:
            if weight <= 0:
                raise ValueError(f"checkpoint weight must be positive, got {weight} for {path}")
            path = Path(path)
            metadata = read_sidecar(path.with_suffix(".json")) if path.with_suffix(
                ".json").exists() else None
            preset_name = (metadata or {}).get("config", {}).get("preset", "small")
            if preset_name not in PRESETS:
                raise CheckpointError(path, f"names an unknown preset {preset_name!r}")
            preset = PRESETS[preset_name]
            generator = build_generator(preset)
            load_generator_weights(path, generator, metadata)
            self.generators.append(LoadedGenerator(
                path, float(weight), preset, per_sample_copy(generator).to(self.device)))
        sizes = {g.preset.image_size for g in self.generators}
        if len(sizes) > 1:
            raise ValueError(f"checkpoints of one renderer must share a size, got {sizes}")
        self.size = sizes.pop()

    def __call__(self, masks: np.ndarray, patches: np.ndarray, rng: np.random.Generator
                 ) -> np.ndarray:
        """The synthesis renderer protocol: stamps for ``masks``; the face ``patches`` are
        not needed (the generator paints its own surface around the stamp)."""
        del patches
        return self.render(masks, seed=int(rng.integers(2**31)))[0]

    @torch.no_grad()
    def render(self, masks: np.ndarray, seed: int = 0, stochastic: bool = False,
               batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(RGB stamps (N, S, S, 3), the index of the checkpoint that drew each).

        Masks must be ``size`` x ``size`` uint8. Deterministic for a seed; ``stochastic``
        keeps dropout on, as pix2pix does at test time, for more variety.
        """
        if masks.ndim != 3 or masks.shape[1:] != (self.size, self.size):
            raise ValueError(f"masks must be (N, {self.size}, {self.size}), got {masks.shape}")
        rng = np.random.default_rng(seed)
        weights = np.array([g.weight for g in self.generators])
        chosen = rng.choice(len(self.generators), len(masks), p=weights / weights.sum())
        out = np.zeros((len(masks), self.size, self.size, 3), np.uint8)
        for index, loaded in enumerate(self.generators):
            rows = np.flatnonzero(chosen == index)
            if not len(rows):
                continue
            batch = batch_size or batch_size_for(self.size, loaded.preset.ngf, self.device)
            network = loaded.network
            for module in network.modules():
                if isinstance(module, nn.Dropout):
                    module.train(stochastic)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed * 1009 + index)
                for start in range(0, len(rows), batch):
                    part = rows[start:start + batch]
                    tensor = masks_to_tensor(masks[part]).to(self.device)
                    out[part] = tensor_to_images(network(tensor))
        return out, chosen
