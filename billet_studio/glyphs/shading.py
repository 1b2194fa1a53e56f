"""Classical stamp shading: a stamp pressed into steel, lit from one side.

A height map is bevelled from the stamp mask with a distance transform (the punch's sloped
walls), its normals are lit with a diffuse (Lambert) and a specular (Blinn-Phong) term, and
the floor of the impression darkens where oxide and shadow collect. The demo world renders
its stamps this way, and synthesis uses it as the renderer that needs no trained GAN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class StampShading:
    """Light and material of a stamped impression; lengths in pixels."""

    #: Depth of the impression, 1 for a well struck stamp (a poor one is shallow, ~0.3).
    depth: float = 1.0
    #: Width of the sloped wall from the surface down to the floor.
    bevel_px: float = 3.0
    #: Direction the light comes from: azimuth in the image plane (0 = from the right,
    #: 90 = from the top) and elevation above the surface.
    light_azimuth_deg: float = 135.0
    light_elevation_deg: float = 35.0
    #: Strength of the diffuse and specular terms; how tight the highlight is.
    diffuse: float = 0.9
    specular: float = 0.35
    shininess: float = 16.0
    #: How much darker the floor is (oxide, shadow), at full depth.
    floor_darkening: float = 0.25
    #: Blur of the height map in pixels: soft, worn edges for a blunt or poor stamp.
    softness_px: float = 0.8
    #: Slope scale: how steep a wall of full depth looks to the light.
    relief: float = 2.5


def stamp_height_map(mask: np.ndarray, shading: StampShading) -> np.ndarray:
    """Height below the surface (0 outside, down to -depth on the floor), float32."""
    inside = (np.asarray(mask) > 0).astype(np.uint8)
    if not inside.any():
        return np.zeros(inside.shape, np.float32)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    ramp = np.clip(distance / max(shading.bevel_px, 1e-3), 0.0, 1.0)
    ramp = ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: a rounded wall, not a kink
    height = (-shading.depth * ramp).astype(np.float32)
    if shading.softness_px > 0:
        height = cv2.GaussianBlur(height, (0, 0), shading.softness_px)
    return height


def shading_factors(height: np.ndarray, shading: StampShading) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (multiplicative light, additive highlight) relative to the flat surface."""
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) / 8.0 * shading.relief
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) / 8.0 * shading.relief
    azimuth = math.radians(shading.light_azimuth_deg)
    elevation = math.radians(shading.light_elevation_deg)
    # Image y points down, so "from the top" is -y.
    light = np.array([math.cos(azimuth) * math.cos(elevation),
                      -math.sin(azimuth) * math.cos(elevation),
                      math.sin(elevation)], dtype=np.float32)
    norm = np.sqrt(gx * gx + gy * gy + 1.0)
    nx, ny, nz = -gx / norm, -gy / norm, 1.0 / norm
    lambert = np.clip(nx * light[0] + ny * light[1] + nz * light[2], 0.0, 1.0)
    flat = light[2]
    diffuse = 1.0 + shading.diffuse * (lambert - flat) / max(flat, 1e-3)
    floor = 1.0 - shading.floor_darkening * np.clip(-height, 0.0, 1.0)
    half = light + np.array([0, 0, 1], dtype=np.float32)
    half /= np.linalg.norm(half)
    facing = np.clip(nx * half[0] + ny * half[1] + nz * half[2], 0.0, 1.0)
    flat_facing = half[2]
    # Only the walls glint: subtract the flat surface's own highlight.
    highlight = shading.specular * np.clip(
        facing ** shading.shininess - flat_facing ** shading.shininess, 0.0, None)
    return (diffuse * floor).astype(np.float32), highlight.astype(np.float32)


def shade_stamp(image: np.ndarray, mask: np.ndarray, shading: StampShading = StampShading()
                ) -> np.ndarray:
    """``image`` (H, W, 3 uint8) with the stamp of ``mask`` pressed into it."""
    height = stamp_height_map(mask, shading)
    return apply_shading(image, height, shading)


def apply_shading(image: np.ndarray, height: np.ndarray, shading: StampShading) -> np.ndarray:
    """Light a height map onto an image; where the height is flat the pixels are unchanged.

    A uint8 image comes back uint8; a float image comes back float32 (0-255), so a
    pipeline can stay in floats until its last step.
    """
    factor, highlight = shading_factors(height, shading)
    out = image.astype(np.float32) * factor[..., None] + 255.0 * highlight[..., None]
    out = np.clip(out, 0, 255)
    return out.astype(np.uint8) if image.dtype == np.uint8 else out
