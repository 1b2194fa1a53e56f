"""Label shapes as labelme stores them, and the stamps (one character each) they describe.

Holes: labelme has no polygon-with-holes shape, so a cut-out is its own ``polygon`` shape
with the shape flag ``hole: true`` and the same ``label`` and ``group_id`` as the outline it
cuts (see docs/adr/0002-holes-in-labelme-files.md). Shapes sharing a label and a group_id
form one stamp; a partially imprinted stamp may have several separate outline pieces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from shapely.geometry import Polygon

from billet_studio.geometry import Box, StampPolygon, bounds_of, clip_polygon, repair_polygon

#: Shape types that Billet Studio uses; labelme's other types are kept but ignored.
USED_SHAPE_TYPES = ("polygon", "rectangle")
VISIBILITIES = ("well", "partial", "poor")


@dataclass(frozen=True)
class Shape:
    """One labelme shape, with everything labelme keeps (unknown keys in ``extra``)."""

    label: str
    points: tuple[tuple[float, float], ...]
    shape_type: str = "polygon"
    flags: dict[str, bool] = field(default_factory=dict)
    group_id: int | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return bool(self.flags.get("partial", False))

    @property
    def poor(self) -> bool:
        return bool(self.flags.get("poor", False))

    @property
    def is_hole(self) -> bool:
        return self.shape_type == "polygon" and bool(self.flags.get("hole", False))


@dataclass(frozen=True, eq=False)
class Stamp:
    """One stamped character: its polygon pieces (none for a box label) and its box.

    The box is the visible extent: the union of the pieces' bounds, or the rectangle.
    """

    label: str
    box: Box
    polygons: tuple[StampPolygon, ...] = ()
    partial: bool = False
    poor: bool = False
    shape_indices: tuple[int, ...] = ()

    @property
    def visibility(self) -> str:
        return "partial" if self.partial else "poor" if self.poor else "well"


def derive_visibility(stamps: Sequence[Stamp]) -> str:
    """The paper's rule: any partial stamp -> partial, else any poor -> poor, else well."""
    if any(s.partial for s in stamps):
        return "partial"
    if any(s.poor for s in stamps):
        return "poor"
    return "well"


def rectangle_box(shape: Shape) -> Box:
    return Box.from_points(shape.points)


def stamps_from_shapes(
    shapes: Sequence[Shape], width: int, height: int, source: str = "image"
) -> tuple[list[Stamp], list[str]]:
    """Group shapes into stamps, repairing and clipping their geometry to the image.

    Returns the stamps and a warning for every shape that was changed or left out, each
    naming ``source`` and the shape.
    """
    warnings: list[str] = []
    groups: dict[tuple[str, int | None, int], list[int]] = {}
    holes: list[int] = []
    stamps: list[Stamp] = []
    for index, shape in enumerate(shapes):
        name = f"{source}: shape {index + 1} ({shape.label!r}, {shape.shape_type})"
        if shape.shape_type not in USED_SHAPE_TYPES:
            continue
        if shape.shape_type == "rectangle":
            stamp = _rectangle_stamp(index, shape, width, height, name, warnings)
            if stamp is not None:
                stamps.append(stamp)
        elif shape.is_hole:
            holes.append(index)
        else:
            # Ungrouped outlines are stamps of their own: key them by their index.
            key = (shape.label, shape.group_id, -1 if shape.group_id is not None else index)
            groups.setdefault(key, []).append(index)
    outlines: dict[int, list[StampPolygon]] = {i: [] for g in groups.values() for i in g}
    hole_rings: dict[int, list] = {i: [] for i in outlines}
    for index in holes:
        shape = shapes[index]
        name = f"{source}: shape {index + 1} ({shape.label!r}, hole)"
        owner = _hole_owner(shape, groups, shapes)
        if owner is None:
            warnings.append(f"{name}: no outline with the same label and group_id contains "
                            "it; ignored")
            continue
        hole_rings[owner].append(shape.points)
    for indices in groups.values():
        first = shapes[indices[0]]
        polygons: list[StampPolygon] = []
        for index in indices:
            name = f"{source}: shape {index + 1} ({first.label!r}, polygon)"
            polygon = StampPolygon(shapes[index].points, hole_rings[index])
            repaired = repair_polygon(polygon, name)
            warnings.extend(repaired.warnings)
            for piece in repaired.polygons:
                clipped = clip_polygon(piece, width, height, name)
                warnings.extend(clipped.warnings)
                polygons.extend(clipped.polygons)
        if not polygons:
            continue
        stamps.append(Stamp(
            label=first.label,
            box=bounds_of(polygons),
            polygons=tuple(polygons),
            partial=any(shapes[i].partial for i in indices),
            poor=any(shapes[i].poor for i in indices),
            shape_indices=tuple(indices),
        ))
    stamps.sort(key=lambda s: s.shape_indices[0])
    return stamps, warnings


def _rectangle_stamp(
    index: int, shape: Shape, width: int, height: int, name: str, warnings: list[str]
) -> Stamp | None:
    box = rectangle_box(shape)
    if box.area <= 0:
        warnings.append(f"{name}: has zero area; ignored")
        return None
    clipped = box.clip(width, height)
    if clipped is None:
        warnings.append(f"{name}: lies entirely outside the image; ignored")
        return None
    if clipped != box:
        warnings.append(f"{name}: clipped to the image")
    return Stamp(shape.label, clipped, (), shape.partial, shape.poor, (index,))


def _hole_owner(
    hole: Shape, groups: dict[tuple[str, int | None, int], list[int]], shapes: Sequence[Shape]
) -> int | None:
    if hole.group_id is None:
        return None
    indices = groups.get((hole.label, hole.group_id, -1), [])
    if len(hole.points) < 3:
        return None
    # A point surely inside the hole (a vertex mean can fall outside a concave hole).
    inside = Polygon(hole.points).buffer(0).representative_point()
    if inside.is_empty:
        return None
    for index in indices:
        if len(shapes[index].points) >= 3:
            outline = Polygon(shapes[index].points).buffer(0)
            if outline.contains(inside):
                return index
    return None


def shapes_of_stamp(label: str, polygons: Sequence[StampPolygon], flags: dict[str, bool],
                    group_id: int | None, decimals: int = 2) -> list[Shape]:
    """LabelMe shapes of one stamp: its outlines and, grouped with them, its holes (the
    inverse of :func:`stamps_from_shapes`; ``group_id`` is used when it needs a group)."""
    grouped = len(polygons) > 1 or any(p.holes for p in polygons)
    group = group_id if grouped else None

    def points(ring: np.ndarray) -> tuple[tuple[float, float], ...]:
        return tuple((round(float(x), decimals), round(float(y), decimals)) for x, y in ring)

    shapes = []
    for polygon in polygons:
        shapes.append(Shape(label, points(polygon.exterior), "polygon", dict(flags), group))
        shapes.extend(Shape(label, points(hole), "polygon", {**flags, "hole": True}, group)
                      for hole in polygon.holes)
    return shapes

