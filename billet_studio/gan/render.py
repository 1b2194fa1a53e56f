"""Rendering stamps from masks with a trained generator, in batches.

pix2pix renders with batch norm over the one test image (its networks stay in training
mode at test time). Billet Studio keeps exactly that per sample, so a stamp comes out the
same whether it is rendered alone or in a batch: every BatchNorm2d is evaluated as
instance norm with the layer's learned scale and shift.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


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
