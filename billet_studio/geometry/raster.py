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
import shapely

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


def rasterize_polygons_exact(
    polygons: Iterable[StampPolygon], height: int, width: int, value: int = 1
) -> np.ndarray:
    """A mask of exactly the pixels whose centre lies inside a polygon (holes cut out).

    Slower than :func:`rasterize_polygons` (shapely point tests over each polygon's box);
    meant for label interchange (COCO RLE), where ``trace_mask`` must give the polygon back.
    """
    mask = np.zeros((height, width), dtype=np.uint8)
    for polygon in polygons:
        box = polygon.bounds()
        c0, r0 = max(0, int(np.floor(box.x0))), max(0, int(np.floor(box.y0)))
        c1, r1 = min(width, int(np.ceil(box.x1))), min(height, int(np.ceil(box.y1)))
        if c1 <= c0 or r1 <= r0:
            continue
        xs, ys = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
        inside = shapely.contains_xy(polygon.to_shapely(), xs, ys)
        mask[r0:r1, c0:c1][inside] = value
    return mask
