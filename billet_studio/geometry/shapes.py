"""Stamp geometry: axis-aligned boxes and polygons with holes, in float pixel coordinates.

Pixel convention (used everywhere in Billet Studio): x grows to the right, y downwards, and
pixel (row r, column c) covers the square [c, c+1) x [r, r+1); its centre is (c+0.5, r+0.5).
An image of width W therefore spans x in [0, W].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

#: Sub-pixel bits used when a polygon is handed to OpenCV's fixed-point rasteriser.
FIXED_POINT_SHIFT = 4


@dataclass(frozen=True)
class Box:
    """An axis-aligned box, corners (x0, y0) top-left and (x1, y1) bottom-right."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def xywh(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.width, self.height)

    @classmethod
    def from_points(cls, points: np.ndarray | Sequence[Sequence[float]]) -> Box:
        """The tightest box around the given (N, 2) points."""
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x0, y0 = array.min(axis=0)
        x1, y1 = array.max(axis=0)
        return cls(float(x0), float(y0), float(x1), float(y1))

    def union(self, other: Box) -> Box:
        return Box(
            min(self.x0, other.x0), min(self.y0, other.y0),
            max(self.x1, other.x1), max(self.y1, other.y1),
        )

    def clip(self, width: float, height: float) -> Box | None:
        """This box cut to the image [0, width] x [0, height]; None if nothing is left."""
        x0, y0 = max(0.0, self.x0), max(0.0, self.y0)
        x1, y1 = min(float(width), self.x1), min(float(height), self.y1)
        if x1 <= x0 or y1 <= y0:
            return None
        return Box(x0, y0, x1, y1)

    def iou(self, other: Box) -> float:
        ix = min(self.x1, other.x1) - max(self.x0, other.x0)
        iy = min(self.y1, other.y1) - max(self.y0, other.y0)
        if ix <= 0 or iy <= 0:
            return 0.0
        inter = ix * iy
        return inter / (self.area + other.area - inter)


def _as_ring(points: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    ring = np.array(points, dtype=np.float64).reshape(-1, 2)
    if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
        ring = ring[:-1]  # an explicitly closed ring; we keep rings open
    ring.setflags(write=False)
    return ring


@dataclass(frozen=True, eq=False)
class StampPolygon:
    """One connected piece of a stamp: an exterior ring and any holes (cut-outs).

    Rings are (N, 2) float arrays of (x, y) vertices, open (the first vertex is not
    repeated). The arrays are read-only so the cached fixed-point copy stays valid.
    """

    exterior: np.ndarray
    holes: tuple[np.ndarray, ...] = ()

    def __init__(
        self,
        exterior: np.ndarray | Sequence[Sequence[float]],
        holes: Sequence[np.ndarray | Sequence[Sequence[float]]] = (),
    ) -> None:
        object.__setattr__(self, "exterior", _as_ring(exterior))
        object.__setattr__(self, "holes", tuple(_as_ring(h) for h in holes))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StampPolygon):
            return NotImplemented
        return (
            np.array_equal(self.exterior, other.exterior)
            and len(self.holes) == len(other.holes)
            and all(np.array_equal(a, b) for a, b in zip(self.holes, other.holes, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]  # arrays: compare, never hash

    @cached_property
    def fixed_point_rings(self) -> tuple[np.ndarray, ...]:
        """Rings in OpenCV's fixed-point form for :data:`FIXED_POINT_SHIFT`, computed once.

        The half-pixel offset maps our pixel-area convention onto OpenCV's, which puts
        pixel centres on integer coordinates.
        """
        scale = float(1 << FIXED_POINT_SHIFT)
        return tuple(
            np.round((ring - 0.5) * scale).astype(np.int32).reshape(-1, 1, 2)
            for ring in (self.exterior, *self.holes)
        )

    def bounds(self) -> Box:
        return Box.from_points(self.exterior)

    def to_shapely(self) -> Polygon:
        return Polygon(self.exterior, [h for h in self.holes])

    @property
    def area(self) -> float:
        """Area of the exterior less its holes (shoelace; meaningful for valid polygons)."""
        return abs(_signed_area(self.exterior)) - sum(abs(_signed_area(h)) for h in self.holes)

    def transformed(self, matrix: np.ndarray) -> StampPolygon:
        """This polygon under a 2x3 affine or 3x3 projective matrix."""
        return StampPolygon(
            transform_points(self.exterior, matrix),
            [transform_points(h, matrix) for h in self.holes],
        )

    @classmethod
    def from_shapely(cls, polygon: Polygon) -> StampPolygon:
        exterior = np.asarray(polygon.exterior.coords)
        holes = [np.asarray(ring.coords) for ring in polygon.interiors]
        return cls(exterior, holes)


def bounds_of(polygons: Sequence[StampPolygon]) -> Box:
    """The box around several polygons (the pieces of one stamp)."""
    if not polygons:
        raise ValueError("bounds_of needs at least one polygon")
    box = polygons[0].bounds()
    for polygon in polygons[1:]:
        box = box.union(polygon.bounds())
    return box


def _signed_area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 2) points under a 2x3 affine or 3x3 projective matrix."""
    matrix = np.asarray(matrix, dtype=np.float64)
    ring = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    homogeneous = np.hstack([ring, np.ones((len(ring), 1))])
    out = homogeneous @ matrix.T
    if matrix.shape == (3, 3):
        out = out[:, :2] / out[:, 2:3]
    return out


def polygonal_parts(geometry: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons inside any shapely geometry (collections are flattened)."""
    parts: list[Polygon] = []
    for part in shapely.get_parts(geometry):
        if isinstance(part, Polygon):
            if not part.is_empty:
                parts.append(part)
        elif hasattr(part, "geoms"):
            parts.extend(polygonal_parts(part))
    return parts
