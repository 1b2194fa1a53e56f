"""Square (mask, image) crop pairs around one stamp: the input/target pairs of pix2pix."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from billet_studio.geometry.raster import rasterize_polygons
from billet_studio.geometry.shapes import Box, StampPolygon, bounds_of


@dataclass(frozen=True)
class CropWindow:
    """The square of the source image that a crop shows, in source pixel coordinates."""

    x0: float
    y0: float
    side: float

    def to_crop_matrix(self, size: int) -> np.ndarray:
        """2x3 affine matrix from source coordinates to crop pixel coordinates."""
        scale = size / self.side
        return np.array([[scale, 0.0, -self.x0 * scale], [0.0, scale, -self.y0 * scale]])


def crop_window(bounds: Box, margin: float = 0.15, min_side: float = 8.0) -> CropWindow:
    """A square around ``bounds`` with ``margin`` (a fraction of the longer side) each side."""
    side = max(bounds.width, bounds.height, min_side) * (1.0 + 2.0 * margin)
    cx = (bounds.x0 + bounds.x1) / 2.0
    cy = (bounds.y0 + bounds.y1) / 2.0
    return CropWindow(cx - side / 2.0, cy - side / 2.0, side)


def paired_crop(
    image: np.ndarray,
    polygon: StampPolygon | Sequence[StampPolygon],
    size: int = 256,
    margin: float = 0.15,
) -> tuple[np.ndarray, np.ndarray]:
    """The (mask, image) pair of a square crop around one stamp, both ``size`` x ``size``.

    The mask is rasterised from the polygon at the crop's resolution (never resampled from a
    full-size mask), so its edges are as sharp as the labels. Parts of the square outside the
    image are filled by replicating the border. ``margin`` is the fraction of the stamp's
    longer side left free on each side.
    """
    polygons = [polygon] if isinstance(polygon, StampPolygon) else list(polygon)
    if not polygons:
        raise ValueError("paired_crop needs at least one polygon")
    bounds = bounds_of(polygons)
    window = crop_window(bounds, margin)
    matrix = window.to_crop_matrix(size)
    # A shrinking warp aliases unless the source is smoothed first; INTER_AREA only helps
    # with cv2.resize, so pre-blur proportionally to the scale factor instead.
    scale = size / window.side
    source = image
    if scale < 0.5:
        sigma = 0.5 / scale
        source = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma)
    # warpAffine samples at integer pixel coordinates; shift by half a pixel on both sides
    # to keep our pixel-area convention (centre of pixel c is c + 0.5).
    centred = matrix.copy()
    centred[:, 2] += 0.5 * matrix[:, :2].sum(axis=1) - 0.5
    crop = cv2.warpAffine(
        source, centred, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    mask = rasterize_polygons([p.transformed(matrix) for p in polygons], size, size)
    return mask, crop
