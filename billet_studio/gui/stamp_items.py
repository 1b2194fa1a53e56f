"""The graphics items that paint a record's stamps over its image (drawing only, no editing)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from billet_studio.annotations import Stamp

#: ``QGraphicsItem.data`` keys: what an item shows, and the stamp label it belongs to.
ROLE_KEY = 0
LABEL_KEY = 1
IMAGE_ROLE = "image"
STAMP_ROLE = "stamp"
STAMP_LABEL_ROLE = "stamp-label"

VISIBILITY_COLOURS = {
    "well": QColor(40, 200, 70),
    "partial": QColor(255, 150, 0),
    "poor": QColor(235, 45, 45),
}
FILL_ALPHA = 60
OUTLINE_WIDTH_PX = 2.0
STAMP_Z = 1.0
LABEL_Z = 2.0


def visibility_colour(visibility: str) -> QColor:
    return QColor(VISIBILITY_COLOURS.get(visibility, VISIBILITY_COLOURS["well"]))


def stamp_path(stamp: Stamp) -> QPainterPath:
    """All of a stamp's pieces and holes as one path.

    Odd-even filling turns every hole ring into a cut-out without needing the rings'
    orientation, which labelme files do not fix.
    """
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.OddEvenFill)
    for polygon in stamp.polygons:
        for ring in (polygon.exterior, *polygon.holes):
            path.addPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in ring]))
            path.closeSubpath()
    return path


def _style(item: QGraphicsPathItem | QGraphicsRectItem, stamp: Stamp) -> None:
    colour = visibility_colour(stamp.visibility)
    # A cosmetic pen keeps outlines 2 screen pixels wide at every zoom.
    pen = QPen(colour, OUTLINE_WIDTH_PX)
    pen.setCosmetic(True)
    pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
    fill = QColor(colour)
    fill.setAlpha(FILL_ALPHA)
    item.setPen(pen)
    item.setBrush(QBrush(fill))
    item.setZValue(STAMP_Z)
    item.setData(ROLE_KEY, STAMP_ROLE)
    item.setData(LABEL_KEY, stamp.label)
    kind = "polygon" if stamp.polygons else "rectangle"
    item.setToolTip(f"{stamp.label} ({kind}, {stamp.visibility})")


def stamp_item(stamp: Stamp) -> QGraphicsItem:
    """The outline of one stamp: its polygons with holes, or its rectangle."""
    item: QGraphicsPathItem | QGraphicsRectItem
    if stamp.polygons:
        item = QGraphicsPathItem(stamp_path(stamp))
    else:
        box = stamp.box
        item = QGraphicsRectItem(QRectF(box.x0, box.y0, box.width, box.height))
    _style(item, stamp)
    return item


class StampLabelItem(QGraphicsItem):
    """A stamp's character on a dark tag just above its box, the same size at every zoom."""

    PADDING = 3.0

    def __init__(self, stamp: Stamp) -> None:
        super().__init__()
        self.text = stamp.label
        self.colour = visibility_colour(stamp.visibility)
        self.font = QFont()
        self.font.setBold(True)
        self.font.setPointSizeF(10.0)
        metrics = QFontMetricsF(self.font)
        width = metrics.horizontalAdvance(self.text) + 2 * self.PADDING
        height = metrics.height() + 2 * self.PADDING
        # Local coordinates are screen pixels (the item ignores the view's scale); the
        # tag's bottom-left corner sits on the box's top-left corner.
        self._rect = QRectF(0.0, -height, max(width, height), height)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setPos(stamp.box.x0, stamp.box.y0)
        self.setZValue(LABEL_Z)
        self.setData(ROLE_KEY, STAMP_LABEL_ROLE)
        self.setData(LABEL_KEY, stamp.label)

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1.0, -1.0, 1.0, 1.0)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(self.colour, 1.0))
        painter.setBrush(QColor(20, 20, 20, 210))
        painter.drawRoundedRect(self._rect, 3.0, 3.0)
        painter.setFont(self.font)
        painter.setPen(QColor(245, 245, 245))
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)


def stamp_items(stamps: list[Stamp]) -> list[QGraphicsItem]:
    """Outline and label items for every stamp, ready to add to a scene."""
    items: list[QGraphicsItem] = []
    for stamp in stamps:
        items.append(stamp_item(stamp))
        items.append(StampLabelItem(stamp))
    return items
