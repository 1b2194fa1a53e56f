"""The list of a project's images, with each one's split, site, stamp count and done mark,
and the search field above it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon
from PySide6.QtWidgets import (
    QLineEdit,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from billet_studio.gui.image_loading import ImageSummary

COLUMNS = ("Image", "Split", "Site", "Stamps", "Done")
DONE_MARK = "✓"
ERROR_COLOUR = QColor(200, 30, 30)


class ImageList(QTreeWidget):
    """One row per image; rows whose labels did not load are red with a warning icon."""

    #: The user (or a caller) chose the image at this index.
    image_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QTreeWidget.SelectionMode.SingleSelection)
        self.setColumnWidth(0, 150)
        for column in range(1, len(COLUMNS)):
            self.setColumnWidth(column, 44)
        self.currentItemChanged.connect(self._on_current_changed)
        self._summaries: list[ImageSummary] = []

    @property
    def summaries(self) -> list[ImageSummary]:
        return list(self._summaries)

    def set_summaries(self, summaries: list[ImageSummary]) -> None:
        # Filling the list must not announce a selection per row.
        self.blockSignals(True)
        try:
            self.clear()
            self._summaries = list(summaries)
            self.addTopLevelItems([self._row(s) for s in self._summaries])
        finally:
            self.blockSignals(False)

    def update_summary(self, index: int, summary: ImageSummary) -> None:
        """Refresh one row (the file may have changed since the list was filled)."""
        item = self.topLevelItem(index)
        if item is None:
            return
        self._summaries[index] = summary
        self._fill(item, summary)

    def select(self, index: int) -> None:
        item = self.topLevelItem(index)
        if item is None:
            raise IndexError(f"no image at index {index} (the project has {self.image_count()})")
        if index == self.current_index():
            self.image_selected.emit(index)
        else:
            self.setCurrentItem(item)

    def image_count(self) -> int:
        return self.topLevelItemCount()

    def set_filter(self, text: str) -> None:
        """Show only images whose name contains ``text`` (any case)."""
        needle = text.strip().lower()
        for index, summary in enumerate(self._summaries):
            self.topLevelItem(index).setHidden(bool(needle) and needle not in
                                               summary.name.lower())

    def neighbour(self, index: int, step: int) -> int | None:
        """The next (step 1) or previous (-1) shown row from ``index``, if any."""
        index += step
        while 0 <= index < self.image_count():
            if not self.topLevelItem(index).isHidden():
                return index
            index += step
        return None

    def current_index(self) -> int:
        item = self.currentItem()
        return -1 if item is None else self.indexOfTopLevelItem(item)

    def _on_current_changed(self, current: QTreeWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.image_selected.emit(self.indexOfTopLevelItem(current))

    def _row(self, summary: ImageSummary) -> QTreeWidgetItem:
        item = QTreeWidgetItem()
        self._fill(item, summary)
        return item

    def _fill(self, item: QTreeWidgetItem, summary: ImageSummary) -> None:
        known = summary.stamp_count is not None
        cells = (
            summary.name,
            summary.split or "" if known else "",
            summary.site or "" if known else "",
            str(summary.stamp_count) if known else "",
            DONE_MARK if summary.done else "",
        )
        tooltip = f"{summary.path}\n{summary.description}"
        for column, text in enumerate(cells):
            item.setText(column, text)
            item.setToolTip(column, tooltip)
        item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if summary.error is not None:
            item.setIcon(0, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            item.setForeground(0, QBrush(ERROR_COLOUR))
        else:
            item.setIcon(0, QIcon())
            item.setForeground(0, self.palette().text())


class ImageBrowser(QWidget):
    """The search field over the image list."""

    def __init__(self, image_list: ImageList, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search images…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(image_list.set_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(image_list)
