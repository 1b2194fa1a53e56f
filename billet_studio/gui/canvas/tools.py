"""The canvas tools: small objects that turn pointer and key input (in image coordinates)
into document edits. The canvas routes events here; tools preview through the canvas and
commit one ShapesEdit per gesture, so each gesture is one undo step."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from billet_studio.annotations import editing
from billet_studio.geometry import Box

if TYPE_CHECKING:
    from billet_studio.gui.canvas.label_canvas import LabelCanvas

Point = tuple[float, float]
Modifiers = Qt.KeyboardModifier


def _distance(a: Point, b: Point) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


class CanvasTool:
    """A tool's hooks; each returns whether it used the input."""

    name = ""

    def __init__(self, canvas: LabelCanvas) -> None:
        self.canvas = canvas

    def press(self, point: Point, modifiers: Modifiers) -> bool:
        return False

    def move(self, point: Point, dragging: bool) -> bool:
        return False

    def release(self, point: Point) -> bool:
        return False

    def double_click(self, point: Point) -> bool:
        return False

    def key(self, key: int) -> bool:
        return False

    def cancel(self) -> None:
        """Drop any gesture in progress (tool switch, image change)."""

    @property
    def busy(self) -> bool:
        """Whether a gesture is in progress (Esc cancels it rather than the selection)."""
        return False


class SelectTool(CanvasTool):
    """Select (Ctrl toggles) and drag shapes; drag, insert and delete vertices."""

    name = "select"

    def __init__(self, canvas: LabelCanvas) -> None:
        super().__init__(canvas)
        #: (kind, target, press point, base point): "move" (base: the zero offset),
        #: "vertex" ((shape, vertex), its position), "insert" ((shape, edge), midpoint).
        self._gesture: tuple | None = None

    @property
    def busy(self) -> bool:
        return self._gesture is not None

    def _editable(self) -> list[int]:
        """The selected shapes and their holes: the rings whose vertices show handles."""
        return editing.with_holes(self.canvas.shapes, self.canvas.selection)

    def vertex_near(self, point: Point) -> tuple[int, int] | None:
        tolerance, best = self.canvas.tolerance(), None
        for index in self._editable():
            for vertex, corner in enumerate(self.canvas.shapes[index].points):
                distance = _distance(corner, point)
                if distance <= tolerance and (best is None or distance < best[0]):
                    best = distance, (index, vertex)
        return None if best is None else best[1]

    def edge_near(self, point: Point, midpoint_only: bool) -> tuple[int, int, Point] | None:
        """(shape, edge start, point on the edge) of a selected polygon's edge within reach:
        its midpoint handle, or (``midpoint_only`` False) anywhere along it."""
        tolerance = self.canvas.tolerance()
        for index in self._editable():
            shape = self.canvas.shapes[index]
            if shape.shape_type != "polygon" or len(shape.points) < 3:
                continue
            if midpoint_only:
                for edge, (a, b) in enumerate(zip(shape.points, (*shape.points[1:],
                                                                 shape.points[0]), strict=True)):
                    middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
                    if _distance(middle, point) <= tolerance:
                        return index, edge, middle
            else:
                edge, distance, on_edge = editing.nearest_edge(shape.points, point)
                if distance <= tolerance:
                    return index, edge, on_edge
        return None

    def press(self, point: Point, modifiers: Modifiers) -> bool:
        canvas = self.canvas
        vertex = self.vertex_near(point)
        if vertex is not None:
            if modifiers & Qt.KeyboardModifier.ShiftModifier:
                canvas.apply(editing.delete_vertex, *vertex)
            else:
                canvas.select_vertex(vertex)
                base = canvas.shapes[vertex[0]].points[vertex[1]]
                self._gesture = ("vertex", vertex, point, base)
            return True
        edge = self.edge_near(point, midpoint_only=not modifiers & Qt.KeyboardModifier.AltModifier)
        if edge is not None:
            self._gesture = ("insert", edge[:2], point, edge[2])
            canvas.preview_vertex(edge[0], edge[1] + 1, edge[2], insert=True)
            return True
        index = editing.shape_at(canvas.shapes, point)
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            if index is not None:
                chosen = set(canvas.selection) ^ {index}
                canvas.select(sorted(chosen))
            return True
        if index is None:
            canvas.select([])
            return True
        if index not in canvas.selection:
            canvas.select([index])
        self._gesture = ("move", None, point, (0.0, 0.0))
        return True

    def _moved(self, point: Point) -> tuple[Point, bool]:
        """The gesture's target point (its base plus the cursor's offset from the press),
        and whether the cursor went beyond the drag threshold (a click jitters)."""
        _, _, start, base = self._gesture
        dx, dy = point[0] - start[0], point[1] - start[1]
        return (base[0] + dx, base[1] + dy), math.hypot(dx, dy) >= self.canvas.drag_threshold()

    def move(self, point: Point, dragging: bool) -> bool:
        canvas = self.canvas
        if self._gesture is None:
            edge = self.edge_near(point, midpoint_only=True) if canvas.selection else None
            canvas.show_midpoint(edge[2] if edge else None)
            return False
        kind, target, _, _ = self._gesture
        moved, _ = self._moved(point)
        if kind == "move":
            canvas.preview_offset(*moved)
        elif kind == "vertex":
            canvas.preview_vertex(target[0], target[1], moved)
        else:
            canvas.preview_vertex(target[0], target[1] + 1, moved, insert=True)
        return True

    def release(self, point: Point) -> bool:
        if self._gesture is None:
            return False
        kind, target, _, base = self._gesture
        moved, far = self._moved(point)
        self._gesture = None
        canvas = self.canvas
        canvas.clear_previews()
        if kind == "move" and far:
            canvas.apply(editing.translate_shapes, canvas.selection, *moved)
        elif kind == "vertex" and far:
            canvas.apply(editing.move_vertex, target[0], target[1], moved)
        elif kind == "insert":
            inserted = canvas.apply(editing.insert_vertex, target[0], target[1],
                                    moved if far else base)
            if inserted:
                canvas.select_vertex((target[0], target[1] + 1))
        return True

    def cancel(self) -> None:
        self._gesture = None
        self.canvas.clear_previews()


class PolygonTool(CanvasTool):
    """Click vertices; close on the first vertex, a double-click or Enter; Esc cancels;
    Backspace takes back the last vertex."""

    name = "polygon"

    def __init__(self, canvas: LabelCanvas) -> None:
        super().__init__(canvas)
        self.points: list[Point] = []

    @property
    def busy(self) -> bool:
        return bool(self.points)

    def press(self, point: Point, modifiers: Modifiers) -> bool:
        if len(self.points) >= 3 and _distance(point, self.points[0]) <= self.canvas.tolerance():
            self.finish()
            return True
        if not self.points or _distance(point, self.points[-1]) > 1e-6:
            self.points.append(point)
        self.canvas.preview_path(self.points, point, closed=False)
        return True

    def move(self, point: Point, dragging: bool) -> bool:
        if self.points:
            self.canvas.preview_path(self.points, point, closed=False)
        return bool(self.points)

    def double_click(self, point: Point) -> bool:
        if len(self.points) >= 3:
            self.finish()
        return True

    def key(self, key: int) -> bool:
        if not self.points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()
        elif key == Qt.Key.Key_Escape:
            self.cancel()
        elif key == Qt.Key.Key_Backspace:
            self.points.pop()
            self.canvas.preview_path(self.points, None, closed=False)
        else:
            return False
        return True

    def finish(self) -> None:
        points, self.points = self.points, []
        self.canvas.clear_previews()
        if self.commit(points):
            self.after_finish()

    def commit(self, points: list[Point]) -> bool:
        return self.canvas.apply(editing.add_polygon, points)

    def after_finish(self) -> None:
        self.canvas.select([len(self.canvas.shapes) - 1])

    def cancel(self) -> None:
        self.points = []
        self.canvas.clear_previews()


class HoleTool(PolygonTool):
    """Draw a cut-out inside the selected polygon."""

    name = "hole"

    def __init__(self, canvas: LabelCanvas) -> None:
        super().__init__(canvas)
        self.outline: int | None = None

    def press(self, point: Point, modifiers: Modifiers) -> bool:
        if not self.points:
            if len(self.canvas.selection) != 1:
                self.canvas.status("Select the polygon to cut a hole into first")
                return True
            self.outline = self.canvas.selection[0]  # fixed for this hole
        return super().press(point, modifiers)

    def commit(self, points: list[Point]) -> bool:
        return (self.outline is not None
                and self.canvas.apply(editing.add_hole, self.outline, points))

    def after_finish(self) -> None:
        pass  # the outline stays selected: the next hole goes into it too


class BoxDragTool(CanvasTool):
    """A tool that opens a box at a corner and previews it to the cursor."""

    def __init__(self, canvas: LabelCanvas) -> None:
        super().__init__(canvas)
        self.corner: Point | None = None

    @property
    def busy(self) -> bool:
        return self.corner is not None

    def move(self, point: Point, dragging: bool) -> bool:
        if self.corner is None:
            return False
        (x0, y0), (x1, y1) = self.corner, point
        self.canvas.preview_path([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], None, closed=True)
        return True

    def cancel(self) -> None:
        self.corner = None
        self.canvas.clear_previews()


class RectangleTool(BoxDragTool):
    """Drag a box, or click two opposite corners."""

    name = "rectangle"

    def press(self, point: Point, modifiers: Modifiers) -> bool:
        if self.corner is None:
            self.corner = point
            return True
        self._finish(point)
        return True

    def release(self, point: Point) -> bool:
        # A drag ends the box; a click leaves the first corner for the second click.
        if self.corner is not None and _distance(point, self.corner) > self.canvas.tolerance():
            self._finish(point)
        return True

    def key(self, key: int) -> bool:
        if self.corner is not None and key == Qt.Key.Key_Escape:
            self.cancel()
            return True
        return False

    def _finish(self, point: Point) -> None:
        corner, self.corner = self.corner, None
        self.canvas.clear_previews()
        if self.canvas.apply(editing.add_rectangle, corner, point):
            self.canvas.select([len(self.canvas.shapes) - 1])


class SnapTool(BoxDragTool):
    """Active while a character key is held: a dragged box asks for that character's
    glyph template fitted to it."""

    name = "snap"

    def __init__(self, canvas: LabelCanvas, character: str) -> None:
        super().__init__(canvas)
        self.character = character
        self.snapped = False

    def press(self, point: Point, modifiers: Modifiers) -> bool:
        self.corner = point
        return True

    def release(self, point: Point) -> bool:
        corner, self.corner = self.corner, None
        self.canvas.clear_previews()
        if corner is not None and min(abs(point[0] - corner[0]),
                                      abs(point[1] - corner[1])) > self.canvas.tolerance():
            self.snapped = True
            self.canvas.snap_requested.emit(self.character, Box.from_points([corner, point]))
        return True
