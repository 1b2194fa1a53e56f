"""Smooth random fields for textures and warps, fast at 1024 px (small grid, cubic resize)."""

from __future__ import annotations

import cv2
import numpy as np


def smooth_noise(shape: tuple[int, int], feature_px: float, rng: np.random.Generator
                 ) -> np.ndarray:
    """Zero-mean, unit-variance noise whose features are about ``feature_px`` across."""
    height, width = shape
    grid_h = max(2, round(height / max(feature_px, 1.0)) + 2)
    grid_w = max(2, round(width / max(feature_px, 1.0)) + 2)
    grid = rng.standard_normal((grid_h, grid_w)).astype(np.float32)
    field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    field -= field.mean()
    std = field.std()
    return field / std if std > 0 else field


def fractal_noise(shape: tuple[int, int], feature_px: float, rng: np.random.Generator,
                  octaves: int = 4, persistence: float = 0.5) -> np.ndarray:
    """Sum of smooth noise octaves (each half the size, ``persistence`` the weight)."""
    total = np.zeros(shape, np.float32)
    weight, norm = 1.0, 0.0
    for octave in range(octaves):
        total += weight * smooth_noise(shape, feature_px / (2 ** octave), rng)
        norm += weight * weight
        weight *= persistence
    return total / np.sqrt(norm)
