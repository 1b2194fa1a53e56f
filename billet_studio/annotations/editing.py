"""The labelling operations, each building one :class:`ShapesEdit` for a document's shapes.

Builders never change anything: they return the edit (the studio wraps it in an undo
command) or raise :class:`EditRefused` with a sentence for the status bar. An outline's
holes travel with it: moving, relabelling, flagging or deleting an outline does the same
to the cut-outs inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
from shapely.geometry import Point, Polygon

from billet_studio.annotations.document import ShapesEdit, replacing
from billet_studio.annotations.records import BilletInfo
from billet_studio.annotations.shapes import Shape, shapes_of_stamp
from billet_studio.geometry import StampPolygon

Point2 = tuple[float, float]
#: A polygon never drops below this many vertices.
MIN_VERTICES = 3
DECIMALS = 2


class EditRefused(ValueError):
    """An operation that would leave the labels invalid (the message says why)."""


def _rounded(points: Iterable[Sequence[float]]) -> tuple[Point2, ...]:
    return tuple((round(float(x), DECIMALS), round(float(y), DECIMALS)) for x, y in points)


def holes_of(shapes: Sequence[Shape], index: int) -> list[int]:
    """The hole shapes cut out of the outline at ``index`` (same label and group, inside)."""
    outline = shapes[index]
    if outline.is_hole or outline.shape_type != "polygon" or outline.group_id is None:
        return []
    if len(outline.points) < MIN_VERTICES:
        return []
    area = Polygon(outline.points).buffer(0)
    found = []
    for other, shape in enumerate(shapes):
        if (shape.is_hole and shape.label == outline.label
                and shape.group_id == outline.group_id and len(shape.points) >= MIN_VERTICES):
            inside = Polygon(shape.points).buffer(0).representative_point()
            if not inside.is_empty and area.contains(inside):
                found.append(other)
    return found


def with_holes(shapes: Sequence[Shape], indices: Iterable[int]) -> list[int]:
    """``indices`` plus the holes of every outline among them, sorted."""
    chosen = set(indices)
    for index in list(chosen):
        chosen.update(holes_of(shapes, index))
    return sorted(chosen)


def next_group_id(shapes: Sequence[Shape]) -> int:
    return 1 + max((s.group_id for s in shapes if s.group_id is not None), default=0)


# -- adding and removing ---------------------------------------------------------------------

def add_polygon(shapes: Sequence[Shape], points: Sequence[Sequence[float]], label: str = "",
                flags: dict[str, bool] | None = None) -> ShapesEdit:
    if len(points) < MIN_VERTICES:
        raise EditRefused(f"a polygon needs at least {MIN_VERTICES} vertices")
    shape = Shape(label, _rounded(points), "polygon", dict(flags or {}))
    return ShapesEdit("Add polygon", added=((len(shapes), shape),))


def add_rectangle(shapes: Sequence[Shape], corner: Sequence[float], opposite: Sequence[float],
                  label: str = "") -> ShapesEdit:
    (x0, x1), (y0, y1) = sorted((corner[0], opposite[0])), sorted((corner[1], opposite[1]))
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        raise EditRefused("a rectangle needs a width and a height")
    shape = Shape(label, _rounded(((x0, y0), (x1, y1))), "rectangle")
    return ShapesEdit("Add rectangle", added=((len(shapes), shape),))


def add_shapes(shapes: Sequence[Shape], new: Sequence[Shape], text: str = "Paste",
               offset: Point2 = (0.0, 0.0)) -> ShapesEdit:
    """Append ``new`` (pasted or duplicated) shifted by ``offset``; groups get fresh ids so
    the copies never merge with the originals."""
    renumber: dict[int, int] = {}
    first = next_group_id(shapes)
    added = []
    for shape in new:
        group = shape.group_id
        if group is not None:
            group = renumber.setdefault(group, first + len(renumber))
        points = _rounded((x + offset[0], y + offset[1]) for x, y in shape.points)
        added.append((len(shapes) + len(added), replace(shape, points=points, group_id=group)))
    if not added:
        raise EditRefused("nothing to paste")
    return ShapesEdit(text, added=tuple(added))


def add_stamps(shapes: Sequence[Shape],
               stamps: Sequence[tuple[str, Sequence[StampPolygon], dict[str, bool]]],
               replacing: Iterable[int] = (), text: str = "Snap template") -> ShapesEdit:
    """Put in stamps given as (label, polygons, flags), each as grouped outlines and holes,
    taking out the shapes at ``replacing`` (boxes snapped to, outlines refined) and their
    holes, all in one edit."""
    if not stamps or any(not polygons for _, polygons, _ in stamps):
        raise EditRefused("the template has no outline")
    taken = with_holes(shapes, replacing)
    position = len(shapes) - len(taken)
    group = next_group_id(shapes)
    added = []
    for offset, (label, polygons, flags) in enumerate(stamps):
        for shape in shapes_of_stamp(label, polygons, dict(flags), group + offset, DECIMALS):
            added.append((position + len(added), shape))
    return ShapesEdit(text, removed=tuple((i, shapes[i]) for i in taken), added=tuple(added))


def stamp_of(shapes: Sequence[Shape], index: int) -> list[int]:
    """The shape at ``index`` and every piece and hole of the same stamp (label + group)."""
    shape = shapes[index]
    if shape.group_id is None:
        return with_holes(shapes, [index])
    return [i for i, s in enumerate(shapes)
            if s.group_id == shape.group_id and s.label == shape.label]


def delete_shapes(shapes: Sequence[Shape], indices: Iterable[int]) -> ShapesEdit:
    chosen = with_holes(shapes, indices)
    if not chosen:
        raise EditRefused("no shape is selected")
    count = len(chosen)
    return ShapesEdit(f"Delete {count} shape{'s' if count > 1 else ''}",
                      removed=tuple((i, shapes[i]) for i in chosen))


def add_hole(shapes: Sequence[Shape], outline: int, points: Sequence[Sequence[float]]
             ) -> ShapesEdit:
    """Cut ``points`` out of the polygon at ``outline`` (it joins a group if it had none)."""
    owner = shapes[outline]
    if owner.shape_type != "polygon" or owner.is_hole:
        raise EditRefused("holes are cut out of polygons; select a polygon first")
    if len(points) < MIN_VERTICES:
        raise EditRefused(f"a hole needs at least {MIN_VERTICES} vertices")
    ring = Polygon(points).buffer(0)
    if ring.is_empty or not Polygon(owner.points).buffer(0).contains(ring.representative_point()):
        raise EditRefused("a hole must lie inside the selected polygon")
    group = owner.group_id if owner.group_id is not None else next_group_id(shapes)
    hole = Shape(owner.label, _rounded(points), "polygon", {**owner.flags, "hole": True}, group)
    edit = replacing("Add hole", {outline: replace(owner, group_id=group)}, list(shapes))
    return replace(edit, added=(*edit.added, (len(shapes), hole)))


# -- vertices --------------------------------------------------------------------------------

def _check_vertex(shape: Shape, vertex: int) -> None:
    if not 0 <= vertex < len(shape.points):
        raise EditRefused(f"the shape has no vertex {vertex + 1}")


def move_vertex(shapes: Sequence[Shape], index: int, vertex: int, point: Point2) -> ShapesEdit:
    shape = shapes[index]
    _check_vertex(shape, vertex)
    points = list(shape.points)
    points[vertex] = point
    return replacing("Move vertex", {index: replace(shape, points=_rounded(points))},
                     list(shapes))


def insert_vertex(shapes: Sequence[Shape], index: int, after: int, point: Point2
                  ) -> ShapesEdit:
    """Put a vertex on the edge from vertex ``after`` to the next one."""
    shape = shapes[index]
    if shape.shape_type != "polygon":
        raise EditRefused("only polygons have vertices to insert")
    points = list(shape.points)
    points.insert(after + 1, point)
    return replacing("Insert vertex", {index: replace(shape, points=_rounded(points))},
                     list(shapes))


def delete_vertex(shapes: Sequence[Shape], index: int, vertex: int) -> ShapesEdit:
    shape = shapes[index]
    if shape.shape_type != "polygon":
        raise EditRefused("a rectangle keeps its two corners")
    _check_vertex(shape, vertex)
    if len(shape.points) <= MIN_VERTICES:
        raise EditRefused(f"a polygon keeps at least {MIN_VERTICES} vertices; delete the "
                          "shape instead")
    points = [p for i, p in enumerate(shape.points) if i != vertex]
    return replacing("Delete vertex", {index: replace(shape, points=tuple(points))},
                     list(shapes))


def nearest_edge(points: Sequence[Point2], point: Point2, closed: bool = True
                 ) -> tuple[int, float, Point2]:
    """(edge start vertex, distance, nearest point on it) of the edge nearest ``point``."""
    ring = np.asarray(points, dtype=np.float64)
    ends = np.roll(ring, -1, axis=0) if closed else ring[1:]
    starts = ring[: len(ends)]
    direction = ends - starts
    length = np.maximum((direction ** 2).sum(axis=1), 1e-12)
    t = np.clip(((np.asarray(point) - starts) * direction).sum(axis=1) / length, 0.0, 1.0)
    nearest = starts + t[:, None] * direction
    distance = np.hypot(*(nearest - np.asarray(point)).T)
    edge = int(np.argmin(distance))
    return edge, float(distance[edge]), (float(nearest[edge, 0]), float(nearest[edge, 1]))


# -- whole shapes ----------------------------------------------------------------------------

def translate_shapes(shapes: Sequence[Shape], indices: Iterable[int], dx: float, dy: float,
                     text: str = "Move") -> ShapesEdit:
    chosen = with_holes(shapes, indices)
    if not chosen:
        raise EditRefused("no shape is selected")
    changes = {i: replace(shapes[i], points=_rounded((x + dx, y + dy) for x, y in
                                                       shapes[i].points)) for i in chosen}
    return replacing(text, changes, list(shapes))


def set_label(shapes: Sequence[Shape], indices: Iterable[int], label: str) -> ShapesEdit:
    chosen = with_holes(shapes, indices)
    if not chosen:
        raise EditRefused("no shape is selected")
    changes = {i: replace(shapes[i], label=label) for i in chosen}
    return replacing(f"Label {label!r}", changes, list(shapes))


def set_flag(shapes: Sequence[Shape], indices: Iterable[int], flag: str, value: bool
             ) -> ShapesEdit:
    """Set a visibility flag (``partial`` or ``poor``) on shapes and their holes."""
    chosen = with_holes(shapes, indices)
    if not chosen:
        raise EditRefused("no shape is selected")
    changes = {i: replace(shapes[i], flags={**shapes[i].flags, flag: value}) for i in chosen}
    return replacing(f"{'Mark' if value else 'Unmark'} {flag}", changes, list(shapes))


def clear_visibility(shapes: Sequence[Shape], indices: Iterable[int]) -> ShapesEdit:
    """Mark shapes as well stamped: neither partial nor poor."""
    chosen = with_holes(shapes, indices)
    if not chosen:
        raise EditRefused("no shape is selected")
    changes = {i: replace(shapes[i], flags={k: v for k, v in shapes[i].flags.items()
                                            if k not in ("partial", "poor")}) for i in chosen}
    return replacing("Mark well stamped", changes, list(shapes))


def set_billet(billet: BilletInfo, text: str, **changes: object) -> ShapesEdit:
    """Change the image's billet facts (its site, say)."""
    return ShapesEdit(text, billet=(billet, replace(billet, **changes)))


def set_done(flags: dict[str, bool], done: bool) -> ShapesEdit:
    """Mark the image's labels finished (LabelMe's image flag ``done``) or not."""
    changed = {k: v for k, v in flags.items() if k != "done"}
    if done:
        changed["done"] = True
    return ShapesEdit("Mark done" if done else "Mark not done", flags=(dict(flags), changed))


# -- order -----------------------------------------------------------------------------------

def reading_order(shapes: Sequence[Shape], line_gap: float = 0.5) -> list[int]:
    """Non-hole shapes as a reader meets them: lines top to bottom, left to right in each.

    A new line starts where a shape's centre lies lower than the line's first centre by
    more than ``line_gap`` median shape heights.
    """
    entries = []
    for index, shape in enumerate(shapes):
        if shape.is_hole or not shape.points:
            continue
        ring = np.asarray(shape.points, dtype=np.float64)
        low, high = ring.min(axis=0), ring.max(axis=0)
        entries.append((index, (low + high) / 2, high[1] - low[1]))
    if not entries:
        return []
    height = float(np.median([e[2] for e in entries])) or 1.0
    entries.sort(key=lambda e: e[1][1])
    lines: list[list[tuple[int, np.ndarray, float]]] = []
    for entry in entries:
        if lines and entry[1][1] - lines[-1][0][1][1] <= line_gap * height:
            lines[-1].append(entry)
        else:
            lines.append([entry])
    return [e[0] for line in lines for e in sorted(line, key=lambda e: e[1][0])]


def next_unlabelled(shapes: Sequence[Shape], after: int | None) -> int | None:
    """The first shape without a label after ``after`` in reading order (wrapping)."""
    order = reading_order(shapes)
    start = order.index(after) + 1 if after in order else 0
    for index in order[start:] + order[:start]:
        if not shapes[index].label and index != after:
            return index
    return None


def shape_at(shapes: Sequence[Shape], point: Point2) -> int | None:
    """The shape under ``point``: a hole the point lies in first (so a cut-out can be
    picked on its own), else the topmost (last drawn) outline or rectangle."""
    probe = Point(point)
    outline = None
    for index in range(len(shapes) - 1, -1, -1):
        shape = shapes[index]
        if len(shape.points) < 2 or (outline is not None and not shape.is_hole):
            continue
        if shape.shape_type == "rectangle":
            (x0, y0), (x1, y1) = shape.points[0], shape.points[-1]
            inside = (min(x0, x1) <= point[0] <= max(x0, x1)
                      and min(y0, y1) <= point[1] <= max(y0, y1))
        else:
            inside = (len(shape.points) >= MIN_VERTICES
                      and Polygon(shape.points).buffer(0).covers(probe))
        if inside and shape.is_hole:
            return index
        if inside and outline is None:
            outline = index
    return outline
