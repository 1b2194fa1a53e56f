"""Comparing two evaluations in the studio: the billets that got better and worse (joined
on file name, on a worker thread), the rate changes as a headline, and the chosen billet
side by side, one photograph with each evaluation's boxes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import AnnotationError
from billet_studio.evaluation.browse import BilletBrowser, resolve_image
from billet_studio.evaluation.compare import BilletChange, Comparison, compare_evaluations
from billet_studio.gui.billet_table import ROOT, Index
from billet_studio.gui.billet_view import BilletView, PhotoLoader
from billet_studio.gui.worker_task import WorkerTask

COLUMNS = ("Change", "Billet", "True ID", "Read before → after", "CB", "Errors")
BETTER, WORSE = QColor(40, 150, 60), QColor(215, 40, 40)
#: Headline rates; for these lower is better.
RATES = ("TP", "MC", "FN", "FP", "CB", "CB_prior")
LOWER_IS_BETTER = frozenset({"MC", "FN", "FP"})


def read_of(row: dict[str, Any]) -> str:
    """The ID a billet was read as: with the format prior, else the raw read."""
    return row["prior_read"] or row["raw_read"] or "—"


def headline(result: Comparison) -> str:
    """The comparison's counts and rate changes (rich text)."""
    shared = len(result.better) + len(result.worse) + result.unchanged
    parts = [f"<b>{shared}</b> billets in both: <span style='color:{BETTER.name()}'>"
             f"{len(result.better)} better</span>, <span style='color:{WORSE.name()}'>"
             f"{len(result.worse)} worse</span>, {result.unchanged} unchanged"]
    for name in RATES:
        a, b = result.rates_before.get(name), result.rates_after.get(name)
        if a is None or b is None or math.isnan(a) or math.isnan(b):
            continue
        delta = 100 * (b - a)
        good = (delta < 0) if name in LOWER_IS_BETTER else (delta > 0)
        colour = BETTER if good else WORSE if abs(delta) >= 0.05 else QColor(90, 90, 90)
        parts.append(f"{name.replace('_', ' ')} {100 * a:.1f} → {100 * b:.1f} "
                     f"(<span style='color:{colour.name()}'>{delta:+.1f}</span>)")
    skipped = len(result.only_before) + len(result.only_after)
    if skipped:
        parts.append(f"{skipped} billets in only one of them (not compared)")
    if result.different_truth:
        parts.append(f"{len(result.different_truth)} file names with another true ID in "
                     "each (other billets: not compared)")
    return " · ".join(parts)


class ChangesModel(QAbstractTableModel):
    """The billets that changed, better ones first."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[BilletChange] = []

    def set_changes(self, changes: Sequence[BilletChange]) -> None:
        self.beginResetModel()
        self.rows = list(changes)
        self.endResetModel()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        change = self.rows[index.row()]
        a, b, column = change.before, change.after, index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (("▲ better" if change.change > 0 else "▼ worse"),
                    change.file_name.replace("\\", "/").rsplit("/", 1)[-1], a["true_id"],
                    f"{read_of(a)} → {read_of(b)}",
                    f"{'✓' if a['cb_prior'] else '✗'} → {'✓' if b['cb_prior'] else '✗'}",
                    f"{a['errors']} → {b['errors']}")[column]
        if role == Qt.ItemDataRole.ForegroundRole and column == 0:
            return BETTER if change.change > 0 else WORSE
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{change.file_name}\nraw read {a['raw_read'] or '—'} → "
                    f"{b['raw_read'] or '—'}\nTP {a['tp']} → {b['tp']}, MC {a['mc']} → "
                    f"{b['mc']}, FN {a['fn']} → {b['fn']}, FP {a['fp']} → {b['fp']}")
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 4:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None


class EvaluationCompare(QWidget):
    """Pick two evaluations; list what changed; show a billet in both."""

    message = Signal(str)
    #: (request, Comparison or None, error) from the worker.
    compared = Signal(int, object, str)

    def __init__(self, pool: QThreadPool | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool if pool is not None else QThreadPool(self)
        self.project_root: Path | None = None
        self.result: Comparison | None = None
        self.browsers: tuple[BilletBrowser, BilletBrowser] | None = None
        self.current: BilletChange | None = None
        self._request = 0  # comparisons are numbered: only the latest is shown
        self._photo_request = 0
        #: The photograph request the views show (== _photo_request when up to date).
        self.shown_request = 0
        self.compared.connect(self._compared)
        self.model = ChangesModel(self)
        self.loader = PhotoLoader(self)
        self.loader.loaded.connect(self._photo_loaded)
        self._build()

    def _build(self) -> None:
        self.before = QComboBox()
        self.after = QComboBox()
        for combo in (self.before, self.after):
            combo.setMinimumContentsLength(12)
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(lambda: self.compare())
        picks = QGridLayout()
        for row, (label, combo) in enumerate((("Before", self.before), ("After", self.after))):
            picks.addWidget(QLabel(label), row, 0)
            picks.addWidget(combo, row, 1)
        picks.setColumnStretch(1, 1)
        picks.addWidget(self.compare_button, 0, 2, 2, 1)
        self.headline = QLabel("Pick two evaluations of the same test billets")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        for column, width in enumerate((68, 110, 100, 240, 56, 70)):
            header.resizeSection(column, width)
        # The reads (two IDs and an arrow) take the room that is left.
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _: self.show_change(current.row()))
        self.views = (BilletView(), BilletView())
        self.captions = (QLabel("Before"), QLabel("After"))
        pair = QSplitter(Qt.Orientation.Horizontal)
        for caption, view in zip(self.captions, self.views, strict=True):
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            caption.setWordWrap(True)
            column.addWidget(caption)
            column.addWidget(view, 1)
            pair.addWidget(box)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(self.table)
        body.addWidget(pair)
        body.setSizes([220, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(picks)
        layout.addWidget(self.headline)
        layout.addWidget(body, 1)

    def set_evaluations(self, evaluations: Sequence[tuple[str, Path]]) -> None:
        """Offer these (label, folder) evaluations; keep the picks that are still there."""
        for combo, default in ((self.before, 0), (self.after, 1)):
            kept = combo.currentData()
            combo.clear()
            for label, folder in evaluations:
                combo.addItem(label, str(folder))
            index = combo.findData(kept) if kept else -1
            combo.setCurrentIndex(index if index >= 0 else min(default, combo.count() - 1))

    def compare(self, before: Path | None = None, after: Path | None = None) -> bool:
        """Compare the two evaluations (default: the ones picked) on the worker; the
        result arrives through ``compared``. False when two are not picked."""
        for combo, folder in ((self.before, before), (self.after, after)):
            if folder is not None:
                index = combo.findData(str(folder))
                if index < 0:
                    combo.addItem(str(folder), str(folder))
                    index = combo.count() - 1
                combo.setCurrentIndex(index)
        first, second = self.before.currentData(), self.after.currentData()
        if not first or not second:
            self.headline.setText("Pick two evaluations of the same test billets")
            return False
        self._request += 1
        request = self._request
        self.headline.setText("Comparing…")
        self.pool.start(WorkerTask(lambda: self._run(request, Path(first), Path(second))))
        return True

    def _run(self, request: int, before: Path, after: Path) -> None:
        try:  # on the worker; compare_evaluations opens its own connections
            self.compared.emit(request, compare_evaluations(before, after), "")
        except Exception as error:  # reported, never lost on the worker
            self.compared.emit(request, None, str(error))

    def _compared(self, request: int, result: Comparison | None, error: str) -> None:
        if request != self._request:
            return  # another comparison was asked for since
        self._close_browsers()
        self.result, self.current = result, None
        self.model.set_changes([])
        for view in self.views:
            view.show_billet(None, None, [])
        if result is None:
            self.headline.setText(f"⚠ {error}")
            self.message.emit(f"⚠ {error}")
            return
        try:  # the boxes are read on this thread, with connections of its own
            self.browsers = (BilletBrowser(result.before), BilletBrowser(result.after))
        except AnnotationError as problem:
            self.headline.setText(f"⚠ {problem}")
            self.message.emit(f"⚠ {problem}")
            return
        for caption, name, folder in zip(self.captions, ("Before", "After"),
                                         (result.before, result.after), strict=True):
            caption.setText(f"<b>{name}</b>: {self._label(folder)}")
        self.headline.setText(headline(result))
        self.model.set_changes([*result.better, *result.worse])
        if self.model.rows:
            self.table.selectRow(0)

    def _label(self, folder: Path) -> str:
        for combo in (self.before, self.after):
            index = combo.findData(str(folder))
            if index >= 0:
                return combo.itemText(index)
        return str(folder)

    def show_change(self, row: int) -> None:
        """Show the billet of this row in both views (its photograph decoded on a
        worker)."""
        if not 0 <= row < len(self.model.rows) or self.browsers is None:
            return
        self.current = self.model.rows[row]
        path = None
        for browser in self.browsers:
            path = path or resolve_image(self.current.file_name, browser.summary_inputs(),
                                         browser.path, self.project_root)
        self._photo_request += 1
        self.loader.load(self._photo_request, path)

    def _photo_loaded(self, request: int, pixels, display, error: str) -> None:
        if request != self._photo_request or self.current is None or self.browsers is None:
            return  # the user moved on
        for view, browser, billet in zip(self.views, self.browsers,
                                         (self.current.before_id, self.current.after_id),
                                         strict=True):
            view.show_billet(pixels, display, browser.boxes(billet) if billet else [])
        self.shown_request = request
        if error:
            self.message.emit(f"⚠ {error}")

    def reset(self) -> None:
        """Forget the comparison (another project opened)."""
        self._request += 1
        self._close_browsers()
        self.result, self.current = None, None
        self.model.set_changes([])
        for view in self.views:
            view.show_billet(None, None, [])
        self.headline.setText("Pick two evaluations of the same test billets")

    def _close_browsers(self) -> None:
        if self.browsers is not None:
            for browser in self.browsers:
                browser.close()
            self.browsers = None

    def shutdown(self) -> None:
        """Wait for the comparison and photograph workers; close the stores."""
        self.pool.clear()
        self.pool.waitForDone()
        self.loader.shutdown()
        self._close_browsers()
