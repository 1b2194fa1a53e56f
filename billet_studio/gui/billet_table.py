"""The error browser's billet table: a lazy Qt model over ``records.sqlite`` (pages of 200
rows fetched as the view scrolls), sorted and filtered in SQL, and a delegate that shows
the reads with their wrong characters in red."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from billet_studio.evaluation.browse import BilletBrowser, BilletFilter, wrong_characters

PAGE = 200
#: (header, row key, sort key or None)
TABLE_COLUMNS = (
    ("Billet", "file_name", "file"), ("Subset", "visibility", "subset"),
    ("Site", "site", "site"),
    ("True ID", "true_id", "true ID"), ("Raw read", "raw_read", "raw score"),
    ("Prior read", "prior_read", "prior score"), ("TP", "tp", "TP"), ("MC", "mc", "MC"),
    ("FN", "fn", "FN"), ("FP", "fp", "FP"), ("CB", "cb", "CB"),
    ("Review", "needs_review", "review"), ("Errors", "errors", "errors"))
READ_COLUMNS = (4, 5)
WRONG = QColor(215, 40, 40)
Index = QModelIndex | QPersistentModelIndex
#: The root index (Qt's default parent).
ROOT = QModelIndex()


class BilletTableModel(QAbstractTableModel):
    """Billets of one evaluation under one filter; rows arrive a page at a time."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.browser: BilletBrowser | None = None
        self.filter = BilletFilter()
        self.rows: list[dict[str, Any]] = []
        self.total = 0

    def set_browser(self, browser: BilletBrowser | None) -> None:
        self.browser = browser
        self.reload()

    def set_filter(self, billet_filter: BilletFilter) -> None:
        self.filter = billet_filter
        self.reload()

    def reload(self) -> None:
        """Count the filter's billets and fetch the first page."""
        self.beginResetModel()
        if self.browser is None:
            self.rows, self.total = [], 0
        else:
            self.total = self.browser.count(self.filter)
            self.rows = self.browser.page(self.filter, 0, PAGE)
        self.endResetModel()

    # -- the model protocol ---------------------------------------------------------------

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(TABLE_COLUMNS)

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        return not parent.isValid() and len(self.rows) < self.total

    def fetchMore(self, parent: Index = ROOT) -> None:
        if self.browser is None or parent.isValid():
            return
        more = self.browser.page(self.filter, len(self.rows), PAGE)
        if not more:
            self.total = len(self.rows)
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(more) - 1)
        self.rows += more
        self.endInsertRows()

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return TABLE_COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        key = TABLE_COLUMNS[index.column()][1]
        value = row[key]
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "file_name":
                return value.replace("\\", "/").rsplit("/", 1)[-1]
            if key in ("cb", "needs_review"):
                return {"cb": "✓" if value else "✗",
                        "needs_review": "review" if value else ""}[key]
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.ToolTipRole and key == "file_name":
            return value
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in READ_COLUMNS:
            score = row["raw_score" if key == "raw_read" else "prior_score"]
            return (f"{value or '—'} (true {row['true_id']})"
                    + (f", score {score:.3f}" if score is not None else ""))
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= 6:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ForegroundRole and key == "cb":
            return QColor(40, 150, 60) if value else WRONG
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = TABLE_COLUMNS[column][2]
        if key is None:  # not sortable (the view's arrow is put back by the page)
            return
        self.set_filter(replace(self.filter, sort=key,
                                descending=order == Qt.SortOrder.DescendingOrder))

    def billet_id(self, row: int) -> int | None:
        return int(self.rows[row]["id"]) if 0 <= row < len(self.rows) else None

    def row_of(self, billet_id: int) -> int:
        """The row of a billet, fetching pages until it shows up (-1 when filtered out)."""
        while True:
            for row, record in enumerate(self.rows):
                if record["id"] == billet_id:
                    return row
            if not self.canFetchMore():
                return -1
            self.fetchMore()


class ReadDelegate(QStyledItemDelegate):
    """Draws a read with each character that differs from the true ID in bold red."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        model = index.model()
        row = model.rows[index.row()]  # type: ignore[attr-defined]
        read = row[TABLE_COLUMNS[index.column()][1]]
        if read is None:
            super().paint(painter, option, index)
            return
        self.initStyleOption(option, index)
        option.text = ""
        option.widget.style().drawControl(QStyle.ControlElement.CE_ItemViewItem, option,
                                          painter, option.widget)
        wrong = wrong_characters(row["true_id"], read)
        bold = QFont(option.font)
        bold.setBold(True)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        normal = option.palette.highlightedText().color() if selected else \
            option.palette.text().color()
        x = option.rect.x() + 4
        painter.save()
        painter.setClipRect(option.rect.adjusted(0, 0, -2, 0))  # a long read stays in its cell
        for char, bad in zip(read, wrong, strict=True):
            font = bold if bad else option.font
            painter.setFont(font)
            painter.setPen(WRONG if bad and not selected else normal)
            painter.drawText(x, option.rect.y(), 100, option.rect.height(),
                             int(Qt.AlignmentFlag.AlignVCenter), char)
            x += QFontMetrics(font).horizontalAdvance(char)
        painter.restore()
