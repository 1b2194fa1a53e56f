"""Augmentations that suit stamped characters: a small rotation, scale and shift, and
brightness/contrast jitter. No flips: a mirrored 2 or 7 is not a character.

Each draw is a pure function of (seed, step, place in the batch), so a resumed run sees
exactly the images an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: A box that keeps less than this share of its area inside the image is dropped.
KEEP_VISIBLE = 0.6


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of each jitter (uniform, +/-); all zero (the default, as the paper) is off."""

    rotation: float = 0.0  # degrees
    scale: float = 0.0  # fraction of the size
    shift: float = 0.0  # fraction of the side
    brightness: float = 0.0  # fraction of full scale
    contrast: float = 0.0  # fraction

    def __post_init__(self) -> None:
        if min(self.rotation, self.scale, self.shift, self.brightness, self.contrast) < 0:
            raise ValueError("augmentation ranges must not be negative")
        if self.scale >= 1 or self.contrast >= 1:
            raise ValueError("scale and contrast jitter must stay below 1")

    @property
    def active(self) -> bool:
        return any((self.rotation, self.scale, self.shift, self.brightness, self.contrast))


def augment_rng(seed: int, step: int, position: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, position, 3])


def augment_sample(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                   config: AugmentConfig, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``image`` (H, W, 3 uint8) with its (N, 4) x1 y1 x2 y2 boxes and labels, jittered.
    A box becomes the bounds of its moved corners, clipped to the image."""
    height, width = image.shape[:2]
    angle = rng.uniform(-config.rotation, config.rotation)
    scale = 1.0 + rng.uniform(-config.scale, config.scale)
    dx, dy = rng.uniform(-config.shift, config.shift, 2) * (width, height)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    matrix[:, 2] += (dx, dy)
    # Edge pixels are repeated, not mirrored: a mirrored border would show unlabelled
    # characters.
    moved = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    gain = 1.0 + rng.uniform(-config.contrast, config.contrast)
    offset = 255.0 * rng.uniform(-config.brightness, config.brightness)
    if gain != 1.0 or offset != 0.0:
        mean = float(moved.mean())
        moved = np.clip((moved.astype(np.float32) - mean) * gain + mean + offset, 0, 255
                        ).astype(np.uint8)
    if not len(boxes):
        return moved, boxes, labels
    corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]],
                        boxes[:, [2, 3]]], axis=1)  # (N, 4, 2)
    placed = corners @ matrix[:, :2].T + matrix[:, 2]
    bounds = np.concatenate([placed.min(axis=1), placed.max(axis=1)], axis=1)
    clipped = np.clip(bounds, 0, [width, height, width, height])
    area = np.prod(bounds[:, 2:] - bounds[:, :2], axis=1)
    visible = np.prod(np.clip(clipped[:, 2:] - clipped[:, :2], 0, None), axis=1)
    keep = visible >= KEEP_VISIBLE * area
    return moved, clipped[keep].astype(np.float32), labels[keep]
