"""Validation, repair and clipping of stamp polygons; every change is reported by name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import box as shapely_box

from billet_studio.geometry.shapes import StampPolygon, polygonal_parts

#: Pieces smaller than this (in square pixels) are slivers: repair drops them.
DEFAULT_MIN_AREA = 1.0


@dataclass(frozen=True)
class RepairResult:
    """What is left of a polygon after repair or clipping, and what was changed."""

    polygons: tuple[StampPolygon, ...]
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.warnings)


def _unusable(polygon: StampPolygon, name: str) -> str | None:
    """Why no repair can help (non-finite coordinates, too few vertices), or None."""
    if not all(np.isfinite(ring).all() for ring in (polygon.exterior, *polygon.holes)):
        return f"{name}: has a coordinate that is not a finite number"
    if len(polygon.exterior) < 3:
        return f"{name}: has {len(polygon.exterior)} vertices; a polygon needs at least 3"
    return None


def validate_polygon(polygon: StampPolygon, name: str = "polygon") -> list[str]:
    """Problems with a polygon, each naming it; an empty list means it is usable as is."""
    reason = _unusable(polygon, name)
    if reason is not None:
        return [reason]
    problems = [f"{name}: hole {index + 1} has {len(hole)} vertices, needs 3"
                for index, hole in enumerate(polygon.holes) if len(hole) < 3]
    if problems:
        return problems
    geometry = polygon.to_shapely()
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        if shapely.make_valid(geometry).area <= 0.0:
            return [f"{name}: has zero area ({reason})"]
        return [f"{name}: is not a valid polygon ({reason})"]
    if geometry.area <= 0.0:
        return [f"{name}: has zero area"]
    return []


def repair_polygon(
    polygon: StampPolygon, name: str = "polygon", min_area: float = DEFAULT_MIN_AREA
) -> RepairResult:
    """Make a polygon valid (shapely ``make_valid``) and drop slivers under ``min_area``.

    A self-intersecting outline (a bow tie) becomes its valid pieces; each change is
    reported as a warning naming the shape. A polygon that cannot be repaired (fewer than
    three vertices, non-finite coordinates) comes back empty with the reason.
    """
    reason = _unusable(polygon, name)
    if reason is not None:
        return RepairResult((), (f"{reason}; dropped",))
    warnings: list[str] = []
    holes = [h for h in polygon.holes if len(h) >= 3]
    if len(holes) != len(polygon.holes):
        warnings.append(f"{name}: dropped a hole with fewer than 3 vertices")
    geometry = StampPolygon(polygon.exterior, holes).to_shapely()
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        geometry = shapely.make_valid(geometry)
        warnings.append(f"{name}: repaired an invalid outline ({reason})")
    parts = polygonal_parts(geometry)
    kept = [p for p in parts if p.area >= min_area]
    if len(kept) < len(parts):
        dropped = len(parts) - len(kept)
        warnings.append(
            f"{name}: dropped {dropped} sliver piece(s) under {min_area:g} square pixels"
        )
    if not kept:
        return RepairResult((), (*warnings, f"{name}: nothing usable is left (zero area)"))
    if not warnings:
        return RepairResult((polygon,), ())
    if len(kept) > 1:
        warnings.append(f"{name}: now has {len(kept)} separate pieces")
    return RepairResult(tuple(StampPolygon.from_shapely(p) for p in kept), tuple(warnings))


def clip_polygon(
    polygon: StampPolygon, width: float, height: float, name: str = "polygon"
) -> RepairResult:
    """The part of a (valid) polygon inside the image [0, width] x [0, height]."""
    bounds = polygon.bounds()
    if bounds.x0 >= 0 and bounds.y0 >= 0 and bounds.x1 <= width and bounds.y1 <= height:
        return RepairResult((polygon,), ())
    inside = polygon.to_shapely().intersection(shapely_box(0.0, 0.0, width, height))
    parts = [p for p in polygonal_parts(inside) if p.area > 0]
    if not parts:
        return RepairResult((), (f"{name}: lies entirely outside the image, dropped",))
    return RepairResult(
        tuple(StampPolygon.from_shapely(p) for p in parts),
        (f"{name}: clipped to the image",),
    )
