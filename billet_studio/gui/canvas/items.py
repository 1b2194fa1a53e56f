"""The graphics items of the labelling canvas: one per document shape, plus the overlays
(vertex handles of the selection, the edge-midpoint handle under the cursor, crossings, the
shape being drawn). Items only paint; hit-testing is geometry in the tools."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsSimpleTextItem,
)
from shiboken6 import delete

from billet_studio.annotations import Shape
from billet_studio.geometry import ring_crossings
from billet_studio.gui.stamp_items import (
    FILL_ALPHA,
    LABEL_KEY,
    OUTLINE_WIDTH_PX,
    ROLE_KEY,
    STAMP_LABEL_ROLE,
    STAMP_ROLE,
    visibility_colour,
)

HOLE_ROLE = "hole"

UNLABELLED_COLOUR = QColor(80, 170, 255)
SELECTED_COLOUR = QColor(255, 255, 255)
CROSSING_COLOUR = QColor(255, 0, 255)
HANDLE_PX = 7.0
SHAPE_Z, HOLE_Z, OVERLAY_Z = 1.0, 1.5, 3.0


def shape_visibility(shape: Shape) -> str:
    return "partial" if shape.partial else "poor" if shape.poor else "well"


def ring_path(points: Sequence[tuple[float, float]], closed: bool = True) -> QPainterPath:
    path = QPainterPath()
    if points:
        path.addPolygon(QPolygonF([QPointF(x, y) for x, y in points]))
        if closed:
            path.closeSubpath()
    return path


def shape_path(shape: Shape, holes: Sequence[Shape] = ()) -> QPainterPath:
    """The outline (rectangle or polygon) with its holes cut out (odd-even fill)."""
    if shape.shape_type == "rectangle" and len(shape.points) >= 2:
        (x0, y0), (x1, y1) = shape.points[0], shape.points[-1]
        path = QPainterPath()
        path.addRect(QRectF(QPointF(x0, y0), QPointF(x1, y1)).normalized())
        return path
    path = ring_path(shape.points)
    path.setFillRule(Qt.FillRule.OddEvenFill)
    for hole in holes:
        path.addPath(ring_path(hole.points))
    return path


def cosmetic_pen(colour: QColor, width: float = OUTLINE_WIDTH_PX,
                 style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour, width)
    pen.setCosmetic(True)  # the same on-screen width at every zoom
    pen.setStyle(style)
    return pen


class ShapeItem(QGraphicsPathItem):
    """One document shape: outline coloured by visibility (blue while unlabelled), its
    character on a tag that keeps its screen size; holes are dashed."""

    #: Tags are drawn only when shapes are big enough on screen to read them by.
    tags_shown = True

    def __init__(self, shape: Shape, holes: Sequence[Shape] = ()) -> None:
        super().__init__()
        self.tag = QGraphicsSimpleTextItem(self)
        self.tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.tag.setBrush(QColor(250, 250, 250))
        self.selected = False
        self.crossings: list[HandleItem] = []
        # Painted once per zoom level into a pixmap: panning over thousands of outlines
        # then blits instead of re-stroking antialiased paths (bench_labelling).
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.set_shape(shape, holes)

    def set_shape(self, shape: Shape, holes: Sequence[Shape] = ()) -> None:
        self.shape_record = shape
        self.setPath(shape_path(shape, holes))
        self.setZValue(HOLE_Z if shape.is_hole else SHAPE_Z)
        self.tag.setVisible(not shape.is_hole and self.tags_shown)
        self.tag.setText(shape.label or "?")
        self.setData(ROLE_KEY, HOLE_ROLE if shape.is_hole else STAMP_ROLE)
        self.setData(LABEL_KEY, shape.label)
        self.tag.setData(ROLE_KEY, None if shape.is_hole else STAMP_LABEL_ROLE)
        self.tag.setData(LABEL_KEY, shape.label)
        for marker in self.crossings:
            delete(marker)  # a child: deleting it takes it out of the item and the scene
        # A self-intersecting outline is marked where it crosses itself, as it is edited.
        points = ring_crossings(shape.points) if shape.shape_type == "polygon" else []
        self.crossings = [HandleItem(p, CROSSING_COLOUR, size=HANDLE_PX + 3, parent=self)
                          for p in points]
        if shape.points:
            xs, ys = zip(*shape.points, strict=True)
            self.tag.setPos(min(xs), min(ys))  # the text hangs inside the top-left corner
        self._restyle()

    def show_tag(self, shown: bool) -> None:
        self.tags_shown = shown
        self.tag.setVisible(shown and not self.shape_record.is_hole)

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self._restyle()

    def _restyle(self) -> None:
        shape = self.shape_record
        colour = (visibility_colour(shape_visibility(shape)) if shape.label
                  else QColor(UNLABELLED_COLOUR))
        width = OUTLINE_WIDTH_PX + (1.5 if self.selected else 0.0)
        if shape.is_hole:
            self.setPen(cosmetic_pen(colour, width, Qt.PenStyle.DashLine))
            self.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            return
        self.setPen(cosmetic_pen(SELECTED_COLOUR if self.selected else colour, width))
        fill = QColor(colour)
        fill.setAlpha(FILL_ALPHA * (2 if self.selected else 1))
        self.setBrush(QBrush(fill))
        self.tag.setBrush(SELECTED_COLOUR if self.selected else QColor(250, 250, 250))


class HandleItem(QGraphicsEllipseItem):
    """A round marker of fixed screen size at a scene point (vertex, midpoint, crossing)."""

    def __init__(self, point: tuple[float, float], colour: QColor, filled: bool = True,
                 size: float = HANDLE_PX, parent: QGraphicsItem | None = None) -> None:
        super().__init__(-size / 2, -size / 2, size, size, parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setPos(QPointF(*point))
        self.setPen(cosmetic_pen(QColor(20, 20, 20), 1.0))
        self.setBrush(QBrush(colour) if filled else QBrush(Qt.BrushStyle.NoBrush))
        self.setZValue(OVERLAY_Z)
