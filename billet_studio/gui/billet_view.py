"""The error browser's billet view: the photograph with every digit and prediction drawn by
what the matching made of it (TP green, MC orange "true → predicted", FN red dashed, FP
magenta with its subtype); hovering a box shows its score, IoU and top class scores. The
photograph is decoded on a worker thread."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, QObject, QRectF, Qt, QThreadPool, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsSimpleTextItem

from billet_studio.annotations import AnnotationError, atomic_write_bytes, read_image
from billet_studio.evaluation.browse import BoxRecord
from billet_studio.gui.image_view import ImageView, display_image
from billet_studio.gui.stamp_items import ROLE_KEY
from billet_studio.gui.worker_task import WorkerTask

KIND_COLOURS = {"TP": QColor(40, 200, 60), "MC": QColor(255, 150, 20),
                "FN": QColor(230, 40, 40), "FP": QColor(220, 40, 220)}
OVERLAY_ROLE = "evaluation-box"


def box_caption(box: BoxRecord) -> str:
    """The label drawn on a box: the character, "true → predicted", or the FP subtype."""
    if box.kind == "MC":
        return f"{box.true_label}→{box.pred_label}"
    if box.kind == "FP":
        return f"{box.pred_label} FP {box.fp_type or ''}".rstrip()
    return box.true_label or ""  # TP, and FN (drawn dashed)


def box_tooltip(box: BoxRecord) -> str:
    lines = [f"{box.kind}" + (f" ({box.fp_type})" if box.fp_type else "")]
    if box.true_label:
        lines.append(f"true {box.true_label}")
    if box.pred_label:
        lines.append(f"predicted {box.pred_label}")
    if box.score is not None:
        lines.append(f"score {box.score:.3f}")
    if box.iou is not None:
        lines.append(f"IoU {box.iou:.2f}")
    if box.top_classes:
        lines.append("top: " + ", ".join(f"{c} {s:.2f}" for c, s in box.top_classes))
    return "\n".join(lines)


class PhotoLoader(QObject):
    """Decodes a billet's photograph on the global pool: (request number, pixels, display
    image, error) arrive on the GUI thread."""

    loaded = Signal(int, object, object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)  # its own, so shutdown() can wait for it
        self.pool.setMaxThreadCount(1)

    def load(self, request: int, path: Path | None) -> None:
        self.pool.start(WorkerTask(lambda: self._decode(request, path)))

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()

    def _decode(self, request: int, path: Path | None) -> None:
        if path is None:
            self.loaded.emit(request, None, None, "the photograph was not found")
            return
        try:
            pixels = read_image(path)
        except (AnnotationError, OSError) as error:
            self.loaded.emit(request, None, None, str(error))
            return
        self.loaded.emit(request, pixels, display_image(pixels), "")


class BilletView(ImageView):
    """A billet's photograph with its evaluated boxes."""

    def show_billet(self, pixels: np.ndarray | None, display: QImage | None,
                    boxes: list[BoxRecord], show_ignored: bool = False) -> None:
        self.show_image(pixels, None, display)
        if pixels is None:
            return
        font = QFont()
        font.setPixelSize(max(9, int(pixels.shape[0] / 80)))
        for box in boxes:
            if box.kind == "ignored" and not show_ignored:
                continue
            colour = KIND_COLOURS.get(box.kind, QColor(150, 150, 150))
            # A missed digit is drawn where it is; everything found, where it was found.
            rect = box.truth_box if box.kind == "FN" else (box.pred_box or box.truth_box)
            if rect is None:
                continue
            x0, y0, x1, y1 = rect
            item = QGraphicsRectItem(QRectF(x0, y0, x1 - x0, y1 - y0))
            pen = QPen(colour, 2.0,
                       Qt.PenStyle.DashLine if box.kind == "FN" else Qt.PenStyle.SolidLine)
            pen.setCosmetic(True)
            item.setPen(pen)
            item.setBrush(QBrush(Qt.BrushStyle.NoBrush))
            item.setToolTip(box_tooltip(box))
            item.setData(ROLE_KEY, OVERLAY_ROLE)
            item.setAcceptHoverEvents(True)
            self.scene().addItem(item)
            caption = QGraphicsSimpleTextItem(box_caption(box))
            caption.setFont(font)
            caption.setBrush(colour)
            caption.setPos(x0, y0 - font.pixelSize() * 1.3 if box.kind != "FN" else y1)
            caption.setToolTip(box_tooltip(box))
            self.scene().addItem(caption)

    def save_png(self, path: Path) -> None:
        """The view as shown (overlays, zoom) as a PNG, written atomically."""
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        if not self.grab().save(buffer, "PNG"):
            raise OSError("the view could not be encoded as PNG")
        atomic_write_bytes(path, bytes(buffer.data()))

    def overlay_items(self) -> list[QGraphicsRectItem]:
        return [i for i in self.scene().items() if isinstance(i, QGraphicsRectItem)
                and i.data(ROLE_KEY) == OVERLAY_ROLE]
