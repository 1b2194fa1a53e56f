"""The error browser's confusion matrix (true classes and background down, predicted
classes and "missed" across) as a heat map whose cells are clickable, and the gallery of
the digit crops in the chosen cell, cut from the photographs on a worker thread."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QTableView

from billet_studio.annotations import AnnotationError, read_image
from billet_studio.gui.billet_table import ROOT, Index
from billet_studio.gui.image_view import display_image
from billet_studio.gui.worker_task import WorkerTask

BACKGROUND, MISSED = "background", "missed"
CROP_PX = 72


class ConfusionModel(QAbstractTableModel):
    """Counts of a confusion matrix; off-diagonal cells (the errors) in orange, the
    diagonal in green, both shaded by a log scale."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.classes: tuple[str, ...] = ()
        self.matrix = np.zeros((0, 0), dtype=np.int64)

    def set_matrix(self, classes: tuple[str, ...], matrix: np.ndarray) -> None:
        self.beginResetModel()
        self.classes, self.matrix = classes, matrix
        self.endResetModel()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else self.matrix.shape[0]

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else self.matrix.shape[1]

    def label(self, index: int) -> str | None:
        """The class of row/column ``index``; None for background / missed."""
        return self.classes[index] if index < len(self.classes) else None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        name = self.label(section)
        if name is None:
            return "miss" if orientation == Qt.Orientation.Horizontal else "bg"
        return name

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        count = int(self.matrix[index.row(), index.column()])
        if role == Qt.ItemDataRole.DisplayRole:
            return str(count) if count else ""
        if role == Qt.ItemDataRole.BackgroundRole and count:
            peak = max(1, int(self.matrix.max()))
            strength = math.log1p(count) / math.log1p(peak)
            base = (40, 170, 70) if index.row() == index.column() else (235, 120, 20)
            return QColor(*(round(255 - (255 - c) * strength) for c in base))
        if role == Qt.ItemDataRole.ToolTipRole:
            true = self.label(index.row()) or BACKGROUND
            predicted = self.label(index.column()) or MISSED
            return f"true {true} → {predicted}: {count}"
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None


class ConfusionView(QTableView):
    """The heat map; ``cell_clicked(true, predicted)`` with None for background/missed."""

    cell_clicked = Signal(object, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.confusion = ConfusionModel(self)
        self.setModel(self.confusion)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setDefaultSectionSize(26)
        self.verticalHeader().setDefaultSectionSize(20)
        self.clicked.connect(self._clicked)

    def _clicked(self, index: QModelIndex) -> None:
        true = self.confusion.label(index.row())
        predicted = self.confusion.label(index.column())
        if (true is not None or predicted is not None) and self.confusion.matrix[
                index.row(), index.column()]:
            self.cell_clicked.emit(true, predicted)


class CropGallery(QListWidget):
    """Crops of digits, cut from their photographs on the global pool."""

    #: (request number, crops as (billet id, QImage)) on the GUI thread.
    cropped = Signal(int, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(CROP_PX, CROP_PX))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setSpacing(4)
        self.request = 0
        self.cropped.connect(self._show)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone()

    def show_cells(self, cells: list[tuple[int, Path | None, tuple[float, ...]]]) -> None:
        """Crop ``(billet id, photograph, box)`` for each digit (a newer call wins)."""
        self.clear()
        self.request += 1
        request = self.request
        self.pool.start(WorkerTask(lambda: self.cropped.emit(
            request, crop_cells(cells))))

    def _show(self, request: int, crops: list[tuple[int, QImage | None]]) -> None:
        if request != self.request:
            return
        for billet, image in crops:
            item = QListWidgetItem(f"#{billet}")
            item.setData(Qt.ItemDataRole.UserRole, billet)
            if image is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))
            self.addItem(item)


def crop_cells(cells: list[tuple[int, Path | None, tuple[float, ...]]]
               ) -> list[tuple[int, QImage | None]]:
    """Each cell's crop, every photograph decoded once (worker thread)."""
    photos: dict[Path, np.ndarray | None] = {}
    crops = []
    for billet, path, box in cells:
        if path is not None and path not in photos:
            try:
                photos[path] = read_image(path)
            except (AnnotationError, OSError):
                photos[path] = None
        pixels = photos.get(path) if path is not None else None
        crops.append((billet, None if pixels is None else crop_digit(pixels, box)))
    return crops


def crop_digit(pixels: np.ndarray, box: tuple[float, ...], margin: float = 0.25
               ) -> QImage | None:
    """The box with a margin around it, scaled into a CROP_PX square."""
    x0, y0, x1, y1 = box
    pad = margin * max(x1 - x0, y1 - y0)
    height, width = pixels.shape[:2]
    left, top = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    right, bottom = min(width, math.ceil(x1 + pad)), min(height, math.ceil(y1 + pad))
    if right <= left or bottom <= top:
        return None
    image = display_image(np.ascontiguousarray(pixels[top:bottom, left:right]))
    return image.scaled(CROP_PX, CROP_PX, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)
