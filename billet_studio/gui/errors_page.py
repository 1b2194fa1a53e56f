"""The error browser: every billet of an evaluation in a lazy table (filters by error kind,
subset, site, character and ID text; sorting in SQL), the selected billet's photograph with
its evaluated boxes and a score-threshold slider, J/K through the filtered list, and "Open
in labelling" to fix a wrong ground truth (the billet is re-scored once its labels are
saved)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import AnnotationError, Project
from billet_studio.evaluation.browse import (
    ERROR_KINDS,
    BilletBrowser,
    BilletFilter,
    find_evaluations,
    resolve_image,
)
from billet_studio.evaluation.rescore import relabelled, rescore_from_project
from billet_studio.evaluation.scoring import SUBSET_TITLES, SUBSETS
from billet_studio.gui.billet_panel import BilletPanel
from billet_studio.gui.billet_table import READ_COLUMNS, BilletTableModel, ReadDelegate
from billet_studio.gui.confusion_panel import ConfusionPanel
from billet_studio.gui.page_layout import split_page
from billet_studio.gui.worker_task import WorkerTask

ANY = "any"


class ErrorsPage(QWidget):
    """Browse one evaluation's billets and what the reader made of each."""

    message = Signal(str)
    #: Asks the studio to open this photograph on the labelling page.
    open_in_labelling = Signal(Path)
    #: (CSV file, billets written, error) from the worker that wrote it.
    csv_written = Signal(Path, int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self._listed = True  # nothing to list before a project opens
        self.browser: BilletBrowser | None = None
        #: The evaluation's own store (the browser may show one re-matched elsewhere).
        self.evaluation_store: Path | None = None
        #: The confusion cell (true, predicted) the table is filtered to, if any.
        self.cell: tuple[str | None, str | None] | None = None
        self.csv_written.connect(self._csv_written)
        self.model = BilletTableModel(self)
        self.workers = QThreadPool(self)  # the CSV export's
        self.workers.setMaxThreadCount(1)
        self._build()

    @property
    def current_billet(self) -> int | None:
        return self.panel.billet_id

    @property
    def current_path(self) -> Path | None:
        return self.panel.path if self.panel.record is not None else None

    def _build(self) -> None:
        self.evaluation = QComboBox()
        self.evaluation.setMinimumWidth(260)
        self.evaluation.currentIndexChanged.connect(lambda _: self.open_evaluation())
        self.kinds = QListWidget()
        self.kinds.setMaximumHeight(72)
        self.kinds.setFlow(QListWidget.Flow.LeftToRight)
        self.kinds.setWrapping(True)
        for kind in ERROR_KINDS:
            item = QListWidgetItem(kind)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.kinds.addItem(item)
        self.kinds.itemChanged.connect(lambda _: self.apply_filter())
        self.subset = QComboBox()
        for subset in SUBSETS:
            self.subset.addItem(SUBSET_TITLES[subset], subset)
        self.site = QComboBox()
        self.character = QComboBox()
        self.text = QLineEdit()
        self.text.setPlaceholderText("ID or file contains…")
        self.text.setClearButtonEnabled(True)
        for combo in (self.subset, self.site, self.character):
            combo.currentIndexChanged.connect(lambda _: self.apply_filter())
        # Typing filters once the keys pause (each filter is a query over every billet).
        self.text_timer = QTimer(self)
        self.text_timer.setSingleShot(True)
        self.text_timer.setInterval(250)
        self.text_timer.timeout.connect(self.apply_filter)
        self.text.textChanged.connect(lambda _: self.text_timer.start())
        self.count = QLabel()
        top = QHBoxLayout()
        for label, widget in (("Evaluation", self.evaluation), ("Subset", self.subset),
                              ("Site", self.site), ("Character", self.character)):
            top.addWidget(QLabel(label))
            top.addWidget(widget)
        top.addWidget(self.text, 1)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(12, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        for column, width in enumerate((120, 60, 40, 110, 110, 110, 34, 34, 34, 34, 30, 52, 48)):
            header.resizeSection(column, width)
        self.delegate = ReadDelegate(self.table)
        for column in READ_COLUMNS:
            self.table.setItemDelegateForColumn(column, self.delegate)
        self.table.selectionModel().currentRowChanged.connect(
            lambda current, _: self.show_row(current.row()))
        self.panel = BilletPanel()
        self.panel.message.connect(self.message)
        self.panel.open_requested.connect(self.request_labelling)
        self.panel.png_requested.connect(lambda: self.save_view_png())
        self.panel.threshold.store_ready.connect(self._use_store)
        self.view, self.open_button = self.panel.view, self.panel.open_button
        self.csv_button = QPushButton("Export CSV…")
        self.csv_button.setToolTip("Every billet the filter keeps, in the table's order")
        self.csv_button.clicked.connect(lambda: self.export_csv())
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.kinds)
        counts = QHBoxLayout()
        counts.addWidget(self.count, 1)
        counts.addWidget(self.csv_button)
        column.addLayout(counts)
        column.addWidget(self.table, 1)
        self.right = QTabWidget()
        self.right.addTab(self.panel, "Billet")
        self.confusion = ConfusionPanel()
        self.confusion.cell_chosen.connect(self.filter_by_confusion)
        self.confusion.billet_chosen.connect(self.select_billet)
        self.right.addTab(self.confusion, "Confusion")
        self.right.currentChanged.connect(lambda _: self._refresh_confusion())
        split_page(self, left, self.right, above=top).setSizes([620, 700])
        for keys, step in (("J", 1), ("K", -1)):
            action = QAction(self)
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.triggered.connect(lambda _=False, s=step: self.step(s))
            self.addAction(action)

    # -- evaluations -------------------------------------------------------------------

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s evaluations; found when the page is first shown (searching
        the project's folders and opening a store is no work for opening a project)."""
        self.project = project
        self._listed = False
        if self.isVisible():
            self._list_evaluations()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._listed:
            self._list_evaluations()

    def _list_evaluations(self) -> None:
        self._listed = True
        self.evaluation.blockSignals(True)
        self.evaluation.clear()
        project = self.project
        for folder in find_evaluations(project.root) if project is not None else []:
            self.evaluation.addItem(project.relative(folder), str(folder))
        self.evaluation.blockSignals(False)
        self.open_evaluation()

    def open_evaluation(self, folder: Path | None = None) -> bool:
        """Show the evaluation in ``folder`` (default: the one chosen)."""
        if folder is not None:
            index = self.evaluation.findData(str(folder))
            if index < 0:
                self.evaluation.addItem(str(folder), str(folder))
                index = self.evaluation.count() - 1
            self.evaluation.blockSignals(True)
            self.evaluation.setCurrentIndex(index)
            self.evaluation.blockSignals(False)
        data = self.evaluation.currentData()
        self.cell = None
        self.panel.show_billet(None, None, None)  # nothing of the previous evaluation stays
        self.confusion.reset()
        self.evaluation_store = None
        if self.browser is not None:  # closed before its scratch folder is removed
            self.model.set_browser(None)
            self.browser.close()
            self.browser = None
        self.panel.threshold.set_evaluation(None)
        if not data:
            self.count.setText("No evaluations in this project yet (billet-studio evaluate "
                               "run, or the experiment grid, make them)")
            return False
        try:
            self.browser = BilletBrowser(Path(data))
        except AnnotationError as error:
            self.count.setText(f"⚠ {error}")
            self.message.emit(f"⚠ {error}")
            return False
        self.evaluation_store = self.browser.path
        self.panel.threshold.set_evaluation(self.browser.path, self.browser.match_config.score)
        self.model.browser = self.browser
        self._fill_choices()
        self.apply_filter()  # counts and fetches the first page
        return True

    def _use_store(self, _score: float, path: Path, force: bool = False) -> None:
        """Show the evaluation as matched in the store at ``path`` (the slider's score):
        the same billets and filter, counts and boxes from there."""
        if self.browser is None or (path == self.browser.path and not force):
            return
        keep = self.current_billet
        try:
            browser = BilletBrowser(path)
        except AnnotationError as error:
            self.message.emit(f"⚠ {error}")
            return
        old, self.browser = self.browser, browser
        self.model.browser = browser
        old.close()
        self.confusion.reset()
        self.apply_filter(keep)

    def _fill_choices(self) -> None:
        assert self.browser is not None
        for combo, values in ((self.site, self.browser.sites()),
                              (self.character, list(self.browser.classes))):
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(ANY, None)
            for value in values:
                combo.addItem(value, value)
            combo.blockSignals(False)

    # -- filtering ---------------------------------------------------------------------

    def current_filter(self) -> BilletFilter:
        kinds = frozenset(self.kinds.item(i).text() for i in range(self.kinds.count())
                          if self.kinds.item(i).checkState() == Qt.CheckState.Checked)
        return replace(self.model.filter, kinds=kinds, subset=self.subset.currentData(),
                       site=self.site.currentData(), character=self.character.currentData(),
                       text=self.text.text(), confusion=self.cell)

    def apply_filter(self, keep: int | None = None) -> None:
        """List the billets the filter keeps; select billet ``keep`` if it is among them
        (else the first)."""
        if self.browser is None:
            return
        self.model.set_filter(self.current_filter())
        notes = relabelled(self.browser.meta)
        self.count.setText(f"{self.model.total:,} billets" + (
            f" · {len(notes)} re-scored from corrected labels after the evaluation ran "
            "(its summary predates them)" if notes else ""))
        self._refresh_confusion()
        row = self.model.row_of(keep) if keep is not None else -1
        if self.model.rows:
            self.table.selectRow(max(row, 0))
        else:
            self.panel.show_billet(None, None, None)

    def filter_by_confusion(self, true: str | None, predicted: str | None) -> None:
        """List the billets with a digit in this confusion cell (both None: no cell)."""
        self.cell = None if true is None and predicted is None else (true, predicted)
        self.apply_filter()

    def _refresh_confusion(self) -> None:
        """The Confusion tab follows the filter while it is on screen."""
        if self.browser is not None and self.right.currentIndex() == 1:
            self.confusion.refresh(self.browser, self.model.filter,
                                   self.project.root if self.project else None)

    def select_billet(self, billet_id: int) -> None:
        """Select a billet in the table (fetching rows as needed) and show it."""
        row = self.model.row_of(billet_id)
        if row >= 0:
            self.right.setCurrentIndex(0)
            self.table.selectRow(row)

    # -- the billet --------------------------------------------------------------------

    def show_row(self, row: int) -> None:
        billet_id = self.model.billet_id(row)
        if billet_id is None or self.browser is None or self.evaluation_store is None:
            return
        record = self.model.rows[row]
        path = resolve_image(record["file_name"], self.browser.summary_inputs(),
                             self.evaluation_store, self.project.root if self.project else None)
        self.panel.show_billet(self.browser, record, path)

    def labels_saved(self, image: Path) -> None:
        """A photograph's labels were saved: re-score its billet in the open evaluation
        (if it is one of its billets and its truth changed), and show it re-scored."""
        if self.evaluation_store is None or self.project is None:
            return
        try:
            report = rescore_from_project(self.evaluation_store, self.project, [image])
        except AnnotationError as error:
            self.message.emit(f"⚠ {error}")
            return
        for problem in report.problems:
            self.message.emit(f"⚠ {problem}")
        if not report.changed:
            return
        self.message.emit(f"Re-scored {', '.join(report.changed)} from its corrected labels")
        self._use_store(0.0, self.evaluation_store, force=True)
        self.panel.threshold.invalidate()  # the re-matched stores predate the new truth

    def step(self, delta: int) -> None:
        """J / K: the next or previous billet of the filtered list."""
        row = self.table.currentIndex().row() + delta
        if row >= self.model.rowCount() and self.model.canFetchMore():
            self.model.fetchMore()
        if 0 <= row < self.model.rowCount():
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)

    def request_labelling(self) -> None:
        if self.current_path is None:
            self.message.emit("⚠ this billet's photograph was not found")
            return
        self.open_in_labelling.emit(self.current_path)

    def export_csv(self, path: Path | None = None) -> None:
        """Write the filtered list as CSV on a worker thread (asks where when ``path`` is
        None); ``csv_written`` reports it."""
        if self.browser is None:
            return
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Export billets as CSV",
                                                    "billets.csv", "CSV (*.csv)")
            if not chosen:
                return
            path = Path(chosen)
        store, billet_filter = self.browser.path, self.model.filter
        self.workers.start(WorkerTask(  # the page's worker, waited for at shutdown
            lambda: self._write_csv(store, billet_filter, path)))

    def _write_csv(self, store: Path, billet_filter: BilletFilter, path: Path) -> None:
        try:  # on the worker, with a connection of its own
            browser = BilletBrowser(store)
            try:
                self.csv_written.emit(path, browser.write_csv(billet_filter, path), "")
            finally:
                browser.close()
        except Exception as error:  # reported, never lost on the worker
            self.csv_written.emit(path, 0, str(error))

    def _csv_written(self, path: Path, count: int, error: str) -> None:
        self.message.emit(f"⚠ {path} was not written: {error}" if error
                          else f"Wrote {count} billets to {path}")

    def save_view_png(self, path: Path | None = None) -> bool:
        """Save the billet view as shown (overlays, zoom) as a PNG."""
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save the view as PNG",
                                                    "billet.png", "PNG (*.png)")
            if not chosen:
                return False
            path = Path(chosen)
        try:
            self.view.save_png(path)
        except (AnnotationError, OSError) as error:
            self.message.emit(f"⚠ {path} was not written: {error}")
            return False
        self.message.emit(f"Saved the view to {path}")
        return True

    def shutdown(self) -> None:
        """Wait for the page's workers (photographs, CSV, the matrix, crops); close the
        store."""
        self.confusion.shutdown()
        self.workers.waitForDone()
        if self.browser is not None:  # closed before the scratch folder is removed
            self.model.set_browser(None)
            self.browser.close()
            self.browser = None
        self.panel.shutdown()
