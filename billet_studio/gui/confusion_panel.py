"""The error browser's Confusion tab: the matrix of the billets the filters keep (counted
on a worker thread, once per filter) and the crops of the chosen cell's digits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from billet_studio.evaluation.browse import (
    BilletBrowser,
    BilletFilter,
    count_confusion,
    resolve_image,
)
from billet_studio.gui.confusion_view import ConfusionView, CropGallery
from billet_studio.gui.worker_task import WorkerTask

Cell = tuple[str | None, str | None]


class ConfusionPanel(QWidget):
    """``cell_chosen(true, predicted)`` when a cell is clicked (both None: cleared);
    ``billet_chosen(id)`` when a crop is double-clicked."""

    cell_chosen = Signal(object, object)
    billet_chosen = Signal(int)
    #: (generation, filter, matrix or None, error) from the worker that counted it.
    counted = Signal(int, object, object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = ConfusionView()
        self.view.cell_clicked.connect(self.cell_chosen)
        self.gallery = CropGallery()
        self.gallery.setMaximumHeight(220)
        self.gallery.itemDoubleClicked.connect(
            lambda item: self.billet_chosen.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.state = QLabel()
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: self.cell_chosen.emit(None, None))
        row = QHBoxLayout()
        row.addWidget(self.state, 1)
        row.addWidget(clear)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(QLabel("True class down (bg: background), predicted across (miss: "
                                "missed); click a cell to list its billets"))
        column.addWidget(self.view, 1)
        column.addLayout(row)
        column.addWidget(self.gallery)
        #: Matrices counted for the open store, by filter (its cell and order aside).
        self.matrices: dict[BilletFilter, object] = {}
        self.generation = 0  # bumped when another store opens
        self.key: BilletFilter | None = None
        self.cell: Cell | None = None
        self.classes: tuple[str, ...] = ()
        self.counted.connect(self._counted)
        self.pool = QThreadPool(self)  # its own, so shutdown() can wait for it
        self.pool.setMaxThreadCount(1)

    def shutdown(self) -> None:
        """Drop queued counts and wait for the one running (before the panel goes)."""
        self.pool.clear()
        self.pool.waitForDone()
        self.gallery.shutdown()

    def reset(self) -> None:
        """Another evaluation: nothing of the previous one stays."""
        self.generation += 1
        self.matrices, self.key, self.cell = {}, None, None
        self.view.confusion.set_matrix((), self.view.confusion.matrix[:0, :0])
        self.gallery.clear()
        self.state.setText("")

    def refresh(self, browser: BilletBrowser, billet_filter: BilletFilter,
                project_root: Path | None) -> None:
        """Show the matrix for the filter and, with a cell chosen, that cell's crops."""
        self.cell, self.classes = billet_filter.confusion, browser.classes
        key = replace(billet_filter, confusion=None, sort="errors", descending=True)
        self.key = key
        if key in self.matrices:
            self.view.confusion.set_matrix(browser.classes, self.matrices[key])
        else:
            path, generation = browser.path, self.generation
            self.pool.start(WorkerTask(
                lambda: self._count(generation, path, key)))
        self._describe(counting=key not in self.matrices)
        if self.cell is None:
            self.gallery.clear()
            return
        inputs = browser.summary_inputs()
        self.gallery.show_cells([
            (billet, resolve_image(name, inputs, browser.path, project_root), box)
            for billet, name, box in browser.cell_boxes(billet_filter, *self.cell)])

    def _count(self, generation: int, path: Path, key: BilletFilter) -> None:
        """On the worker: count, and report an error rather than lose it."""
        try:
            self.counted.emit(generation, key, count_confusion(path, key), "")
        except Exception as error:  # shown on the tab
            self.counted.emit(generation, key, None, f"{type(error).__name__}: {error}")

    def _counted(self, generation: int, key: BilletFilter, matrix, error: str) -> None:
        if generation != self.generation:
            return  # counted for an evaluation no longer open
        if matrix is None:
            self.state.setText(f"⚠ the matrix was not counted: {error}")
            return
        self.matrices[key] = matrix
        if key == self.key:
            self.view.confusion.set_matrix(self.classes, matrix)
            self._describe(counting=False)

    def _describe(self, counting: bool) -> None:
        cell = "" if self.cell is None else (
            f"billets with true {self.cell[0] or 'background'} → "
            f"{self.cell[1] or 'missed'}")
        self.state.setText(" · ".join(p for p in ("counting…" if counting else "", cell)
                                      if p))
