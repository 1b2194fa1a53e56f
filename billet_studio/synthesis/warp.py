"""The whole-face warp of a synthetic billet: a small rotation, scale and perspective.

It is one homography, so straight edges stay straight and every label polygon maps
exactly by its vertices. Surface photographs show the face on a dark background, so the
pixels the warp brings in from outside repeat the photograph's edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class FaceWarp:
    """Ranges of the random face warp (uniform in +-range)."""

    rotation_deg: float = 5.0
    #: Corner displacement for the perspective part, as a fraction of the side.
    perspective: float = 0.03
    scale_jitter: float = 0.04

    def __post_init__(self) -> None:
        if min(self.rotation_deg, self.perspective, self.scale_jitter) < 0:
            raise ValueError("warp ranges must not be negative")
        if self.perspective >= 0.2 or self.scale_jitter >= 0.5:
            raise ValueError("perspective must stay below 0.2 and scale_jitter below 0.5")


def _about_centre(matrix: np.ndarray, size: int) -> np.ndarray:
    centre = size / 2.0
    to_origin = np.array([[1, 0, -centre], [0, 1, -centre], [0, 0, 1]], dtype=np.float64)
    back = np.array([[1, 0, centre], [0, 1, centre], [0, 0, 1]], dtype=np.float64)
    return back @ matrix @ to_origin


def random_face_warp(rng: np.random.Generator, size: int, config: FaceWarp = FaceWarp()
                     ) -> np.ndarray:
    """A 3x3 homography from source face pixels to output pixels."""
    angle = math.radians(rng.uniform(-config.rotation_deg, config.rotation_deg))
    scale = 1.0 + rng.uniform(-config.scale_jitter, config.scale_jitter)
    cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
    similarity = _about_centre(np.array([[cos, -sin, 0], [sin, cos, 0], [0, 0, 1.0]]), size)
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float32)
    moved = corners + rng.uniform(-config.perspective, config.perspective, (4, 2)) * size
    perspective = cv2.getPerspectiveTransform(corners, moved.astype(np.float32))
    return perspective.astype(np.float64) @ similarity


def warp_face(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """``image`` under the homography, ``size`` x ``size`` output."""
    return cv2.warpPerspective(image, matrix, (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
