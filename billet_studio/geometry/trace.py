"""Tracing masks back into polygons with holes (for mask-only sources such as COCO RLE)."""

from __future__ import annotations

import numpy as np
import shapely

from billet_studio.geometry.shapes import StampPolygon, polygonal_parts


def trace_mask(mask: np.ndarray, tolerance: float = 0.0, min_area: float = 1.0
               ) -> list[StampPolygon]:
    """The outlines, with holes, of the non-zero regions of a 2-D mask, on pixel edges.

    Each row's runs of set pixels become boxes and their union is the region, so the
    outlines are exact in the project's pixel convention: rasterising them gives the mask
    back. ``tolerance`` (pixels) optionally simplifies the rings afterwards.
    """
    binary = np.asarray(mask) > 0
    if binary.ndim != 2:
        raise ValueError(f"trace_mask needs a 2-D mask, got shape {binary.shape}")
    padded = np.zeros((binary.shape[0], binary.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = binary
    changes = np.diff(padded, axis=1)
    rows_start, cols_start = np.nonzero(changes == 1)
    _, cols_end = np.nonzero(changes == -1)
    if len(rows_start) == 0:
        return []
    # np.nonzero walks row by row, so starts and ends pair up in order.
    boxes = shapely.box(cols_start, rows_start, cols_end, rows_start + 1)
    region = shapely.union_all(boxes)
    # Merged boxes leave collinear vertices on straight edges; drop them.
    region = shapely.simplify(region, tolerance, preserve_topology=True)
    return [StampPolygon.from_shapely(part) for part in polygonal_parts(region)
            if part.area >= min_area]
