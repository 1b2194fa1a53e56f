"""Rasterising stamp polygons to masks, with the pixel convention of ``geometry.shapes``.

Every pixel whose centre lies inside the polygon is set. Like labelme's ``shape_to_mask``
(PIL), OpenCV's scan converter also sets the pixels the outline runs through, so a mask can
exceed the polygon's area by about half a pixel along its outline; the two agree everywhere
except on outline pixels. Holes are cut out the same way, so hole outlines stay set.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from billet_studio.geometry.shapes import FIXED_POINT_SHIFT, StampPolygon


def rasterize_polygons(
    polygons: Iterable[StampPolygon], height: int, width: int, value: int = 255
) -> np.ndarray:
    """A (height, width) uint8 mask: ``value`` inside the polygons, 0 elsewhere.

    Polygons are expected to be valid (validate once at load time, not per mask); the fast
    path hands OpenCV the fixed-point rings each polygon caches.
    """
    mask = np.zeros((height, width), dtype=np.uint8)
    fill_polygons(mask, polygons, value)
    return mask


def fill_polygons(mask: np.ndarray, polygons: Iterable[StampPolygon], value: int = 255) -> None:
    """Paint polygons into an existing uint8 mask in place (holes left unpainted)."""
    for polygon in polygons:
        # One call per polygon with its holes: OpenCV's even-odd fill cuts the holes out,
        # while separate polygons painted one after another still overlap correctly.
        cv2.fillPoly(mask, polygon.fixed_point_rings, value, cv2.LINE_8, FIXED_POINT_SHIFT)
