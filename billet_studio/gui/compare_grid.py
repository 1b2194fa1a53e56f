"""Pieces of the checkpoint-comparison grid: cell views that zoom and pan together,
column headers (scores, pool pick and weight), and the scan that reads the comparison
cache (cells, checkpoints, their scores) off the GUI thread."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from billet_studio.gan.comparison import (
    DONE_FILE,
    ERROR_FILE,
    SET_FILE,
    cell_path,
    column_folder,
)
from billet_studio.gui.worker_task import WorkerTask
from billet_studio.training.checkpoint_files import CheckpointFiles

CELL_PX = 112
#: Weight sliders run 1..100: a weight of value / 10 (0.1 to 10).
WEIGHT_SCALE = 10.0
ZOOM_STEP = 1.25


class ViewSync(QObject):
    """Keeps a family of cell views at one zoom and one scroll position."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[CellView] = []
        self.zoom = 1.0
        self._busy = False

    def add(self, view: CellView) -> None:
        self.views.append(view)
        view.horizontalScrollBar().valueChanged.connect(lambda _: self._follow(view))
        view.verticalScrollBar().valueChanged.connect(lambda _: self._follow(view))
        view.apply_zoom(self.zoom)

    def remove_all(self) -> None:
        self.views.clear()

    def set_zoom(self, zoom: float, source: CellView | None = None) -> None:
        self.zoom = min(16.0, max(1.0, zoom))
        self._busy = True
        for view in self.views:
            view.apply_zoom(self.zoom)
        self._busy = False
        if source is not None:
            self._follow(source)

    def _follow(self, source: CellView) -> None:
        if self._busy:
            return
        self._busy = True
        h, v = source.horizontalScrollBar().value(), source.verticalScrollBar().value()
        for view in self.views:
            if view is not source:
                view.horizontalScrollBar().setValue(h)
                view.verticalScrollBar().setValue(v)
        self._busy = False


class CellView(QGraphicsView):
    """One cell of the grid: an image scaled to the cell, zoomed and panned with its
    family (mouse wheel zooms, drag pans, double-click resets)."""

    clicked = Signal()

    def __init__(self, sync: ViewSync, size: int = CELL_PX) -> None:
        super().__init__()
        self.sync = sync
        self.setScene(QGraphicsScene(self))
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene().addItem(self.item)
        self.setFixedSize(size, size)
        self.base = 1.0
        self.setFrameShape(QFrame.Shape.Box)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        # The page takes the arrow keys (flipping steps), not the cell that was clicked.
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.note = ""
        sync.add(self)

    def set_image(self, image: QImage | None, note: str = "") -> None:
        self.note = note
        if image is None or image.isNull():
            self.item.setPixmap(QPixmap())
            self.setToolTip(note)
            return
        self.item.setPixmap(QPixmap.fromImage(image))
        self.scene().setSceneRect(self.item.boundingRect())
        self.base = (self.width() - 2) / max(1, image.width())
        self.apply_zoom(self.sync.zoom)
        self.setToolTip(note)

    def has_image(self) -> bool:
        return not self.item.pixmap().isNull()

    def apply_zoom(self, zoom: float) -> None:
        self.resetTransform()
        self.scale(self.base * zoom, self.base * zoom)

    def set_current(self, current: bool) -> None:
        self.setStyleSheet("border: 2px solid #2a7bde;" if current else "")

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = ZOOM_STEP if event.angleDelta().y() > 0 else 1 / ZOOM_STEP
        self.sync.set_zoom(self.sync.zoom * factor, self)

    def mousePressEvent(self, event) -> None:
        self.clicked.emit()
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        self.sync.set_zoom(1.0, self)


@dataclass(frozen=True)
class ColumnInfo:
    """A checkpoint of the run: its step, weights file, scores, and its column's state."""

    step: int
    weights: Path
    scores: dict[str, float]
    done: bool
    error: str = ""


@dataclass
class GridScan:
    """What a scan of the cache found: the set's rows, the run's checkpoints, and the
    images of cells not delivered before."""

    folder: Path
    #: The page's grid generation the scan was asked for (older ones are dropped).
    generation: int = 0
    rows: int = 0
    labels: tuple[str, ...] = ()
    masks: list[QImage] = field(default_factory=list)
    targets: list[QImage] = field(default_factory=list)
    columns: list[ColumnInfo] = field(default_factory=list)
    cells: dict[tuple[int, int], QImage] = field(default_factory=dict)
    error: str = ""


def scan_grid(run_dir: Path, folder: Path, known: frozenset[tuple[int, int]],
              with_rows: bool, generation: int = 0) -> GridScan:
    """Read the cache: checkpoints and their scores, and every finished cell not in
    ``known`` (keys (step, row)); runs on a worker thread."""
    scan = GridScan(folder, generation)
    try:
        checkpoints = CheckpointFiles(run_dir).list()
    except Exception as error:  # a damaged sidecar: reported on the page
        scan.error = str(error)
        return scan
    for info in checkpoints:
        scores = {**info.metadata.get("losses", {}), **info.metadata.get("quality", {})}
        column = column_folder(folder, info.step)
        error = ""
        if (column / ERROR_FILE).is_file():
            try:
                error = json.loads((column / ERROR_FILE).read_text("utf-8")).get("error", "")
            except (OSError, ValueError):
                error = "failed"
        scan.columns.append(ColumnInfo(info.step, info.weights, scores,
                                       (column / DONE_FILE).is_file(), error))
    try:
        document = json.loads((folder / SET_FILE).read_text(encoding="utf-8"))
        scan.rows = int(document["rows"])
        scan.labels = tuple(document.get("labels", ()))
    except (OSError, ValueError, KeyError, TypeError):
        return scan  # the set is not written yet
    if with_rows:
        scan.masks = [QImage(str(folder / "masks" / f"{r:03d}.png")) for r in range(scan.rows)]
        if document.get("targets"):
            scan.targets = [QImage(str(folder / "targets" / f"{r:03d}.png"))
                            for r in range(scan.rows)]
    for column in scan.columns:
        for row in range(scan.rows):
            path = cell_path(folder, column.step, row)
            if (column.step, row) not in known and path.is_file():
                image = QImage(str(path))
                if not image.isNull():
                    scan.cells[(column.step, row)] = image
    return scan


class GridScanner(QObject):
    """Runs ``scan_grid`` on a worker thread; one scan at a time, result on the GUI
    thread."""

    scanned = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.busy = False
        self.scanned.connect(self._finished)  # queued: runs on the GUI thread

    def scan(self, run_dir: Path, folder: Path, known: frozenset[tuple[int, int]],
             with_rows: bool, generation: int) -> bool:
        if self.busy:
            return False
        self.busy = True
        self.pool.start(WorkerTask(lambda: self._deliver(scan_grid(
            run_dir, folder, known, with_rows, generation))))
        return True

    def _deliver(self, scan: GridScan) -> None:
        self.scanned.emit(scan)

    def _finished(self, scan: GridScan) -> None:
        self.busy = False

    def wait(self) -> None:
        self.pool.waitForDone()



SCORE_NAMES = (("heldout_l1", "L1", "{:.3f}"), ("heldout_ssim", "SSIM", "{:.3f}"),
               ("legibility", "legible", "{:.0%}"))


def describe_scores(scores: dict[str, float], separator: str = " · ") -> str:
    """A checkpoint's held-out scores, e.g. "L1 0.081 · SSIM 0.412 · legible 64%"."""
    parts = [f"{title} {fmt.format(scores[key])}" for key, title, fmt in SCORE_NAMES
             if key in scores]
    return separator.join(parts) if parts else "no held-out scores"


class ColumnHeader(QWidget):
    """A checkpoint's step, scores, and its place in the synthesis pool."""

    def __init__(self, column: ColumnInfo, relative: str) -> None:
        super().__init__()
        self.step, self.relative = column.step, relative
        self.title = QLabel(f"<b>step {column.step}</b>")
        self.scores = QLabel(describe_scores(column.scores, "<br>"))
        self.scores.setToolTip("Held-out L1 and SSIM of renders against the real stamps; "
                               "legible: the share of fresh template masks whose render a "
                               "character reader reads right")
        self.in_pool = QCheckBox("pool")
        self.in_pool.setToolTip("Render synthetic stamps with this checkpoint")
        self.weight = QSlider(Qt.Orientation.Horizontal)
        self.weight.setRange(1, 100)
        self.weight.setValue(int(WEIGHT_SCALE))
        self.weight_label = QLabel("×1.0")
        self.weight.valueChanged.connect(
            lambda v: self.weight_label.setText(f"×{v / WEIGHT_SCALE:g}"))
        self.weight.setToolTip("This checkpoint's share of the synthetic stamps")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.in_pool)
        row.addStretch(1)
        row.addWidget(self.weight_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.scores)
        layout.addLayout(row)
        layout.addWidget(self.weight)
        self.setObjectName("column_header")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFixedWidth(CELL_PX)  # as wide as the cells below it
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.set_error(column.error)

    def set_error(self, error: str) -> None:
        if error:
            self.scores.setText("<span style='color:#c03030'>⚠ cannot render</span>")
            self.scores.setToolTip(error)
            self.setToolTip(error)

    def set_current(self, current: bool) -> None:
        self.setStyleSheet("QWidget#column_header { background: #dce9fa; border-radius: 3px }"
                           if current else "")
