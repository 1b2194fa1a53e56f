"""The image view: one photograph with its stamps drawn over it, zoomed and panned (read-only).

Scene coordinates are image coordinates: the image item sits at (0, 0) with one scene unit
per pixel, so pixel (r, c) covers [c, c+1) x [r, r+1) and stamp polygons need no mapping.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPixmap,
    QResizeEvent,
    QShowEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from billet_studio.annotations import Stamp
from billet_studio.gui.stamp_items import IMAGE_ROLE, ROLE_KEY, stamp_items
from billet_studio.gui.view_options import apply_levels

#: Scale limits: closer than 64 screen pixels per image pixel shows nothing new, and
#: the image never shrinks below a quarter of what fits the window.
MAX_SCALE = 64.0
MIN_FIT_FRACTION = 0.25
#: One wheel notch (120 units of angleDelta) zooms by this factor.
WHEEL_STEP = 1.25
ZOOM_STEP = 1.25
BACKGROUND = QColor(48, 48, 48)


def qimage_from_rgb(pixels: np.ndarray) -> QImage:
    """A QImage that owns a copy of an (H, W, 3) uint8 RGB array.

    QImage does not keep the numpy buffer alive, so the copy is what makes it safe to use
    after ``pixels`` is gone.
    """
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 array, got {pixels.shape} {pixels.dtype}")
    data = np.ascontiguousarray(pixels)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, data.strides[0], QImage.Format.Format_RGB888)
    return image.copy()


def display_image(pixels: np.ndarray) -> QImage:
    """``pixels`` as a 32-bit QImage, the format a raster QPixmap shares without a copy.

    Safe on a worker thread (QImage is reentrant): converting there is what keeps a
    large photograph from stalling the GUI thread (bench_labelling).
    """
    return qimage_from_rgb(pixels).convertToFormat(QImage.Format.Format_RGB32)


class ImageView(QGraphicsView):
    """Shows one image and its stamps; wheel zooms at the cursor, dragging pans."""

    #: The cursor's image coordinates (x, y) while it is over the image.
    cursor_moved = Signal(float, float)
    #: The cursor left the image (or the view).
    cursor_left = Signal()
    #: The zoom changed; the argument is screen pixels per image pixel.
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setBackgroundBrush(BACKGROUND)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        # Zooming anchors itself on the wheel event's position (see zoom_at): Qt's
        # AnchorUnderMouse reads the global cursor instead, which synthetic and some
        # touchpad events do not move.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setMouseTracking(True)
        self._image_item: QGraphicsPixmapItem | None = None
        #: The photograph as decoded, and the display levels (brightness, contrast).
        self._pixels: np.ndarray | None = None
        self._levels = (0, 0)
        self._image_rect = QRectF()
        # While true the view refits the image whenever it is resized (until the user zooms).
        self._fitting = True
        self._pan_from: QPoint | None = None

    # -- content ------------------------------------------------------------------------

    @property
    def image_rect(self) -> QRectF:
        """The image's extent in scene coordinates (empty when no image is shown)."""
        return QRectF(self._image_rect)

    def show_image(self, pixels: np.ndarray | None, stamps: list[Stamp] | None = None,
                   display: QImage | None = None) -> None:
        """Replace what is shown by ``pixels`` (None for nothing) and its stamps, fitted.
        ``display`` is ``display_image(pixels)`` made ahead (on a worker thread)."""
        scene = self.scene()
        scene.clear()
        self._image_item = None
        self._image_rect = QRectF()
        self._pixels = pixels
        if pixels is not None:
            if display is None or self._levels != (0, 0):
                display = display_image(apply_levels(pixels, *self._levels))
            item = QGraphicsPixmapItem(QPixmap.fromImage(display))
            # Nearest-neighbour scaling: close up, labellers judge stamp edges pixel by pixel.
            item.setTransformationMode(Qt.TransformationMode.FastTransformation)
            item.setData(ROLE_KEY, IMAGE_ROLE)
            scene.addItem(item)
            self._image_item = item
            self._image_rect = QRectF(0.0, 0.0, float(pixels.shape[1]), float(pixels.shape[0]))
            for stamp_item in stamp_items(stamps or []):
                scene.addItem(stamp_item)
        # The scene is exactly the image, so a fitted image needs no scroll bars.
        scene.setSceneRect(self._image_rect)
        self.fit_to_window()

    def set_levels(self, brightness: int, contrast: int) -> None:
        """Show the image brighter/darker and with more or less contrast (display only)."""
        self._levels = (brightness, contrast)
        if self._pixels is not None and self._image_item is not None:
            shown = apply_levels(self._pixels, brightness, contrast)
            self._image_item.setPixmap(QPixmap.fromImage(display_image(shown)))

    def point_on_screen(self, point: tuple[float, float]) -> QPoint:
        """The viewport position of an image point (for scripted input and tests)."""
        return self.mapFromScene(QPointF(*point))

    # -- zoom ---------------------------------------------------------------------------

    @property
    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return float(self.transform().m11())

    def fit_scale(self) -> float:
        """The scale at which the whole image fits the viewport."""
        if self._image_rect.isEmpty():
            return 1.0
        # A pixel of slack on each side keeps rounding from summoning scroll bars.
        viewport = self.viewport().rect().adjusted(1, 1, -1, -1)
        return max(
            1e-6,
            min(
                viewport.width() / self._image_rect.width(),
                viewport.height() / self._image_rect.height(),
            ),
        )

    def _clamped(self, scale: float) -> float:
        lowest = MIN_FIT_FRACTION * min(self.fit_scale(), 1.0)
        return min(MAX_SCALE, max(lowest, scale))

    def _apply_scale(self, scale: float) -> None:
        scale = self._clamped(scale)
        self.setTransform(QTransform.fromScale(scale, scale))
        self.zoom_changed.emit(scale)

    def fit_to_window(self) -> None:
        """Show the whole image, as large as the viewport allows; kept on resize."""
        self._fitting = True
        if self._image_rect.isEmpty():
            self.resetTransform()
            self.zoom_changed.emit(1.0)
            return
        scale = self.fit_scale()
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(self._image_rect.center())
        self.zoom_changed.emit(scale)

    def actual_size(self) -> None:
        """One screen pixel per image pixel, around the view's centre."""
        self.set_scale(1.0)

    def set_scale(self, scale: float) -> None:
        """Zoom to ``scale`` (clamped), keeping the scene point at the view's centre fixed."""
        self._fitting = False
        centre = self.mapToScene(self.viewport().rect().center())
        self._apply_scale(scale)
        self.centerOn(centre)

    def zoom_in(self) -> None:
        self.set_scale(self.scale_factor * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_scale(self.scale_factor / ZOOM_STEP)

    def zoom_at(self, factor: float, anchor: QPointF) -> None:
        """Zoom by ``factor``, keeping the image point under viewport position ``anchor``."""
        self._fitting = False
        target = self._clamped(self.scale_factor * factor)
        relative = target / self.scale_factor
        point = anchor.toPoint()
        fixed = self.mapToScene(point)
        self.scale(relative, relative)
        # Scroll so the anchored scene point is back under the viewport position.
        moved = self.mapFromScene(fixed) - point
        horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
        horizontal.setValue(horizontal.value() + moved.x())
        vertical.setValue(vertical.value() + moved.y())
        self.zoom_changed.emit(self.scale_factor)

    # -- events -------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches == 0.0 or self._image_rect.isEmpty():
            event.ignore()
            return
        self.zoom_at(WHEEL_STEP**notches, event.position())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fitting:
            self.fit_to_window()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._fitting:
            self.fit_to_window()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        # ScrollHandDrag pans with the left button; the middle button pans too, as in
        # most image tools.
        if event.button() == Qt.MouseButton.MiddleButton:
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position().toPoint()
        if self._pan_from is not None:
            delta = position - self._pan_from
            self._pan_from = position
            horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
            horizontal.setValue(horizontal.value() - delta.x())
            vertical.setValue(vertical.value() - delta.y())
            event.accept()
        else:
            super().mouseMoveEvent(event)
        self._report_cursor(self.mapToScene(position))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton and self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        super().leaveEvent(event)
        self.cursor_left.emit()

    def _report_cursor(self, point: QPointF) -> None:
        if self._image_rect.contains(point):
            self.cursor_moved.emit(point.x(), point.y())
        else:
            self.cursor_left.emit()
