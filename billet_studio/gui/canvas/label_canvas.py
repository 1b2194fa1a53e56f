"""The labelling canvas: the image view that paints a session's shapes and routes input to
the active tool. Wheel zooms at the cursor; middle-drag or Space+drag pans, also while a
polygon is being drawn. It holds view state only (items, selection, previews); every change
to the labels is an edit pushed to the session."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QWidget,
)

from billet_studio.annotations import Shape, editing
from billet_studio.annotations.document import ShapesEdit
from billet_studio.geometry import Box, ring_crossings
from billet_studio.gui.canvas.canvas_input import CanvasInput
from billet_studio.gui.canvas.items import (
    CROSSING_COLOUR,
    HANDLE_PX,
    OVERLAY_Z,
    SELECTED_COLOUR,
    HandleItem,
    ShapeItem,
    cosmetic_pen,
    ring_path,
)
from billet_studio.gui.canvas.tools import (
    CanvasTool,
    HoleTool,
    PolygonTool,
    RectangleTool,
    SelectTool,
)
from billet_studio.gui.image_view import ImageView
from billet_studio.gui.label_session import LabelSession
from billet_studio.gui.view_options import mask_overlay

Point = tuple[float, float]
MIDPOINT_COLOUR = QColor(120, 220, 255)
MASK_Z = 0.5
#: Label tags show once the median shape is this many screen pixels tall: below it they
#: would cover the stamps (and cost a text draw per shape per frame).
TAG_MIN_PX = 14.0
PROPOSAL_COLOUR = QColor(255, 230, 60)


class LabelCanvas(CanvasInput, ImageView):
    """Shapes of the open session over its image, edited with tools."""

    #: The selected shape indices changed (a list).
    selection_changed = Signal(list)
    #: A character key was typed (upper-cased) with no Ctrl/Alt held: a label.
    character_typed = Signal(str)
    #: A sentence for the status bar (a refused edit, say).
    message = Signal(str)
    #: A box was dragged while a character key was held: (character, Box) to snap.
    snap_requested = Signal(str, object)
    #: Esc cleared the detector's proposals.
    proposals_dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragMode(ImageView.DragMode.NoDrag)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.session: LabelSession | None = None
        self.items: list[ShapeItem] = []
        self.selection: list[int] = []
        self.selected_vertex: tuple[int, int] | None = None
        self.tools: dict[str, CanvasTool] = {
            tool.name: tool for tool in (SelectTool(self), PolygonTool(self),
                                         RectangleTool(self), HoleTool(self))}
        self.tool: CanvasTool = self.tools["select"]
        self._overlays: list[QGraphicsItem] = []
        self._previews: list[QGraphicsItem] = []
        self._midpoint: HandleItem | None = None
        self.proposal_items: list[QGraphicsItem] = []
        self._space_held = False
        self._space_pan_from: QPoint | None = None
        #: The character key held down (label on release, or snap a dragged box).
        self._held: tuple[int, str, CanvasTool] | None = None
        self._shapes_visible = True
        self._mask_preview = False
        self._tags_shown = True
        self.zoom_changed.connect(self._update_tags)
        self._mask_item: QGraphicsPixmapItem | None = None

    # -- content ---------------------------------------------------------------------------

    @property
    def shapes(self) -> list[Shape]:
        return self.session.document.shapes if self.session is not None else []

    @property
    def editable(self) -> bool:
        return self.session is not None

    def show_session(self, pixels: np.ndarray | None, session: LabelSession | None,
                     display: QImage | None = None) -> None:
        """Show ``pixels`` (``display``: its display image, made ahead) with ``session``'s
        shapes (None: read-only, no shapes)."""
        self.forget_held_keys()
        self.tool.cancel()
        if self.session is not None:
            self.session.changed.disconnect(self._on_edit)
        # The scene is cleared below, deleting every item: forget them first (showing the
        # image emits zoom_changed, whose handler walks the items).
        self.items, self.selection, self.selected_vertex = [], [], None
        self._overlays, self._previews, self._midpoint = [], [], None
        self._mask_item, self.proposal_items = None, []
        self.show_image(pixels, None, display)
        self.session = session
        if session is not None:
            session.changed.connect(self._on_edit)
            shapes = session.document.shapes
            for index, shape in enumerate(shapes):
                self._add_item(index, shape, [shapes[h] for h in editing.holes_of(shapes, index)])
            self._update_tags(self.scale_factor)
        self._update_mask()
        self.selection_changed.emit([])

    def _add_item(self, index: int, shape: Shape, holes: Sequence[Shape] = ()) -> None:
        item = ShapeItem(shape, holes)
        item.setVisible(self._shapes_visible)
        item.show_tag(self._tags_shown)
        self.items.insert(index, item)
        self.scene().addItem(item)

    def _refresh_groups(self, edit: ShapesEdit) -> None:
        """Redraw the shapes the edit put in and every outline grouped with a shape it took
        out or put in (a hole added, moved or deleted changes its outline's path)."""
        shapes = self.shapes
        added = {i for i, _ in edit.added}
        groups = {(s.label, s.group_id) for _, s in (*edit.removed, *edit.added)
                  if s.group_id is not None}
        for index, shape in enumerate(shapes):
            if index in added or (shape.label, shape.group_id) in groups:
                holes = [shapes[h] for h in editing.holes_of(shapes, index)]
                self.items[index].set_shape(shape, holes)

    def _on_edit(self, edit: ShapesEdit) -> None:
        self.tool.cancel()
        for index, _ in reversed(edit.removed):
            self.scene().removeItem(self.items.pop(index))
        touched = [i for i, _ in edit.added]
        for index, shape in edit.added:
            self._add_item(index, shape)
        self._refresh_groups(edit)
        self._update_mask()
        removed, added = [i for i, _ in edit.removed], touched
        if added and removed != added:  # shapes came back or were made: show them
            chosen = [i for i in added if not self.shapes[i].is_hole] or added
        elif removed and not added:
            chosen = [i - sum(r < i for r in removed) for i in self.selection if i not in removed]
        else:
            chosen = [i for i in self.selection if i < len(self.shapes)]
        self.select(chosen, keep_vertex=removed == added)

    # -- selection -------------------------------------------------------------------------

    def select(self, indices: Sequence[int], keep_vertex: bool = False) -> None:
        chosen = sorted(set(indices))
        vertex = self.selected_vertex
        if not keep_vertex or (vertex is not None and (
                vertex[0] not in editing.with_holes(self.shapes, chosen)
                or vertex[1] >= len(self.shapes[vertex[0]].points))):
            self.selected_vertex = None
        for index, item in enumerate(self.items):
            item.set_selected(index in chosen)
        changed = chosen != self.selection
        self.selection = chosen
        self._draw_handles()
        if changed:
            self.selection_changed.emit(list(chosen))

    def select_vertex(self, vertex: tuple[int, int] | None) -> None:
        self.selected_vertex = vertex
        self._draw_handles()

    def _draw_handles(self) -> None:
        for item in self._overlays:
            self.scene().removeItem(item)
        self._overlays = []
        shapes = self.shapes
        for index in editing.with_holes(shapes, self.selection):
            for vertex, point in enumerate(shapes[index].points):
                chosen = self.selected_vertex == (index, vertex)
                self._overlays.append(HandleItem(
                    point, QColor(255, 60, 60) if chosen else SELECTED_COLOUR,
                    size=HANDLE_PX + (3 if chosen else 0)))
        for item in self._overlays:
            self.scene().addItem(item)

    # -- services for tools ----------------------------------------------------------------

    def tolerance(self) -> float:
        """How near (in image pixels) a click must be to a vertex or edge to grab it."""
        return HANDLE_PX / max(self.scale_factor, 1e-6)

    def drag_threshold(self) -> float:
        """How far (in image pixels) the cursor must move before a press is a drag."""
        return QApplication.startDragDistance() / max(self.scale_factor, 1e-6)

    def apply(self, build: Callable[..., ShapesEdit], *arguments: Any) -> bool:
        """Build an edit from the current shapes and push it; a refusal goes to the status
        bar and changes nothing. Returns whether the edit was made."""
        if self.session is None:
            return False
        try:
            edit = build(self.shapes, *arguments)
        except editing.EditRefused as refusal:
            self.status(str(refusal))
            return False
        self.session.push(edit)
        return True

    def status(self, text: str) -> None:
        self.message.emit(text)

    def preview_path(self, points: Sequence[Point], cursor: Point | None, closed: bool) -> None:
        """The outline being drawn (to the cursor), with its crossings marked live."""
        self._clear(self._previews)
        ring = [*points, cursor] if cursor is not None else list(points)
        item = QGraphicsPathItem(ring_path(ring, closed))
        item.setPen(cosmetic_pen(SELECTED_COLOUR, 1.5, Qt.PenStyle.DashLine))
        item.setZValue(OVERLAY_Z)
        self._previews = [item, *(HandleItem(p, SELECTED_COLOUR, size=5) for p in points),
                          *(HandleItem(p, CROSSING_COLOUR, size=HANDLE_PX + 3)
                            for p in ring_crossings(ring, closed=closed))]
        for preview in self._previews:
            self.scene().addItem(preview)

    def preview_vertex(self, index: int, vertex: int, point: Point, insert: bool = False) -> None:
        """Show shape ``index`` with a vertex moved (or inserted) to ``point``."""
        points = list(self.shapes[index].points)
        if insert:
            points.insert(vertex, point)
        else:
            points[vertex] = point
        self.preview_path(points, None, closed=self.shapes[index].shape_type == "polygon")

    def preview_offset(self, dx: float, dy: float) -> None:
        for index in editing.with_holes(self.shapes, self.selection):
            self.items[index].setPos(dx, dy)
        for item in self._overlays:
            item.setVisible(False)

    def show_midpoint(self, point: Point | None) -> None:
        if self._midpoint is not None:
            self.scene().removeItem(self._midpoint)
            self._midpoint = None
        if point is not None:
            self._midpoint = HandleItem(point, MIDPOINT_COLOUR, size=HANDLE_PX)
            self._midpoint.setToolTip("Click or drag to insert a vertex")
            self.scene().addItem(self._midpoint)

    def clear_previews(self) -> None:
        self._clear(self._previews)
        self._previews = []
        for item in self.items:
            item.setPos(0, 0)
        for item in self._overlays:
            item.setVisible(True)

    def _clear(self, items: list[QGraphicsItem]) -> None:
        """Take out overlay items (each list holds items in the scene, and is emptied
        whenever the scene is cleared)."""
        for item in items:
            self.scene().removeItem(item)

    # -- tools and view options ------------------------------------------------------------

    def set_tool(self, name: str) -> None:
        if self._held is not None:  # chosen while a character key is down: after it
            self._held = (self._held[0], self._held[1], self.tools[name])
            return
        self.tool.cancel()
        self.tool = self.tools[name]
        self._restore_cursor()

    def _restore_cursor(self) -> None:
        select = self.tool.name == "select"
        self.viewport().setCursor(Qt.CursorShape.ArrowCursor if select
                                  else Qt.CursorShape.CrossCursor)

    def set_mask_preview(self, on: bool) -> None:
        """Overlay the stamp mask exactly as it will be rasterised for the GAN."""
        self._mask_preview = on
        self._update_mask()

    def _update_mask(self) -> None:
        if self._mask_item is not None:  # in the scene while we hold it
            self.scene().removeItem(self._mask_item)
        self._mask_item = None
        if not self._mask_preview or self.session is None or self._pixels is None:
            return
        image = mask_overlay(self.session.document.to_record())
        self._mask_item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        self._mask_item.setZValue(MASK_Z)
        self.scene().addItem(self._mask_item)

    def show_proposals(self, proposals: Sequence[tuple[str, Box, float]]) -> None:
        """Dashed boxes with label and score for a detector's proposals (none clears)."""
        self._clear(self.proposal_items)
        self.proposal_items = []
        for label, box, score in proposals:
            item = QGraphicsRectItem(QRectF(box.x0, box.y0, box.width, box.height))
            item.setPen(cosmetic_pen(PROPOSAL_COLOUR, 1.5, Qt.PenStyle.DashLine))
            item.setZValue(OVERLAY_Z)
            tag = QGraphicsSimpleTextItem(f"{label} {score:.2f}", item)
            tag.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            tag.setBrush(PROPOSAL_COLOUR)
            tag.setPos(box.x0, box.y1)
            self.proposal_items.append(item)
            self.scene().addItem(item)

    def _update_tags(self, scale: float) -> None:
        """Show label tags only while shapes are large enough on screen."""
        heights = [item.path().boundingRect().height() for item in self.items]
        shown = not heights or float(np.median(heights)) * scale >= TAG_MIN_PX
        if shown != self._tags_shown:
            self._tags_shown = shown
            for item in self.items:
                item.show_tag(shown)

    def set_shapes_visible(self, visible: bool) -> None:
        self._shapes_visible = visible
        for item in self.items:
            item.setVisible(visible)

    def delete_selected(self) -> None:
        """Delete the selected vertex if there is one, else the selected shapes."""
        if self.selected_vertex is not None:
            self.apply(editing.delete_vertex, *self.selected_vertex)
        elif self.selection:
            self.apply(editing.delete_shapes, self.selection)
