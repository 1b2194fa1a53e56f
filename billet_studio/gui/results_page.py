"""The results page: every evaluation of the project in the paper's Table 3 layout (rates
as bars with their 95 % intervals), a metric plotted against the synthetic share of the
training set, one line per test subset, and two evaluations compared billet by billet.
The rows and their provenance come from ``experiments.project_results``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import AnnotationError, Project
from billet_studio.evaluation.scoring import SUBSET_TITLES, SUBSETS
from billet_studio.experiments.project_results import (
    EvaluationSource,
    find_sources,
    plot_series,
    project_rows,
)
from billet_studio.experiments.results import METRICS
from billet_studio.gui.evaluation_compare import EvaluationCompare
from billet_studio.gui.page_layout import split_page
from billet_studio.gui.results_table import FIRST_METRIC, MetricBarDelegate, ResultsTableModel

#: One colour per test subset, in the paper's order.
SUBSET_COLOURS = dict(zip(SUBSETS, ((30, 100, 190), (40, 160, 70), (220, 120, 20),
                                    (200, 50, 50), (140, 80, 180)), strict=True))


class ResultsPage(QWidget):
    """The project's experiment results, a plot against the synthetic share, and
    comparisons of two evaluations."""

    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self._listed = True  # nothing to list before a project opens
        self.sources: list[EvaluationSource] = []
        self.warnings: list[str] = []
        self.rows: list[dict[str, Any]] = []
        #: The plot's lines of each subset (one per experiment grid).
        self.curves: dict[str, list[pg.PlotDataItem]] = {}
        self.error_bars: dict[str, pg.ErrorBarItem] = {}
        self.pool = QThreadPool(self)  # the comparisons' worker, waited for at shutdown
        self.pool.setMaxThreadCount(1)
        self.model = ResultsTableModel(self)
        self._build()

    def _build(self) -> None:
        self.subset = QComboBox()
        self.subset.addItem("every subset", None)
        for subset in SUBSETS:
            self.subset.addItem(SUBSET_TITLES[subset], subset)
        self.subset.currentIndexChanged.connect(lambda _: self.show_rows())
        self.group_seeds = QCheckBox("Group seeds")
        self.group_seeds.setChecked(True)
        self.group_seeds.setToolTip("One row per grid experiment: the mean over its seeds "
                                    "(the whisker is the mean 95 % interval)")
        self.group_seeds.toggled.connect(lambda _: self.show_rows())
        self.count = QLabel()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look for new evaluations in the project")
        self.refresh_button.clicked.connect(self.refresh)
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip("Select the rows of two evaluations, then compare "
                                       "them billet by billet")
        self.compare_button.clicked.connect(lambda: self.compare_selected())
        top = QHBoxLayout()
        top.addWidget(QLabel("Subset"))
        top.addWidget(self.subset)
        top.addWidget(self.group_seeds)
        top.addWidget(self.count, 1)
        top.addWidget(self.compare_button)
        top.addWidget(self.refresh_button)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setTextElideMode(Qt.TextElideMode.ElideLeft)  # a label's end tells
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        for column, width in enumerate((200, 62, 128, 46)):
            header.resizeSection(column, width)
        self.delegate = MetricBarDelegate(self.table)
        for column in range(FIRST_METRIC, FIRST_METRIC + len(METRICS)):
            self.table.setItemDelegateForColumn(column, self.delegate)
            header.resizeSection(column, 80)
        self.warning_list = QListWidget()
        self.warning_list.setMaximumHeight(90)
        self.warning_list.setWordWrap(True)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.table, 1)
        column.addWidget(self.warning_list)
        self.metric_choice = QComboBox()
        for metric in METRICS:
            self.metric_choice.addItem(metric.replace("_", " "), metric)
        self.metric_choice.currentIndexChanged.connect(lambda _: self.draw_plot())
        self.plot = pg.PlotWidget(background="w")
        self.plot.showGrid(x=True, y=True, alpha=0.3)
        self.plot.setLabel("bottom", "synthetic share of the training set (%)")
        self.plot.addLegend(offset=(-10, 10), labelTextColor=(30, 30, 30),
                            brush=pg.mkBrush(255, 255, 255, 210), pen=pg.mkPen(200, 200, 200))
        self.plot_note = QLabel()
        self.plot_note.setWordWrap(True)
        plot_tab = QWidget()
        column = QVBoxLayout(plot_tab)
        row = QHBoxLayout()
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.metric_choice)
        row.addStretch(1)
        column.addLayout(row)
        column.addWidget(self.plot, 1)
        column.addWidget(self.plot_note)
        self.compare = EvaluationCompare(self.pool)
        self.compare.message.connect(self.message)
        self.tabs = QTabWidget()
        self.tabs.addTab(plot_tab, "Plot")
        self.tabs.addTab(self.compare, "Compare")
        self.splitter = split_page(self, left, self.tabs, above=top)
        # Each tab keeps its own split: the comparison wants room for two photographs.
        self._tab_sizes = {0: [940, 460], 1: [700, 700]}
        self.splitter.setSizes(self._tab_sizes[0])
        self.tabs.currentChanged.connect(self._tab_changed)

    def _tab_changed(self, index: int) -> None:
        other = 1 - index
        self._tab_sizes[other] = self.splitter.sizes()
        self.splitter.setSizes(self._tab_sizes[index])

    # -- the project's evaluations -------------------------------------------------------

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s results; its evaluations are found when the page is first
        shown."""
        self.project = project
        self._listed = False
        self.compare.reset()
        self.compare.project_root = project.root if project is not None else None
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._listed:
            self.refresh()

    def refresh(self) -> None:
        """Find the project's evaluations and their provenance again."""
        self._listed = True
        self.sources, self.warnings = [], []
        if self.project is not None:
            try:
                self.sources, self.warnings = find_sources(self.project.root)
            except OSError as error:
                self.warnings = [f"the project's evaluations could not be listed ({error})"]
        self.compare.set_evaluations([(s.label, s.folder) for s in self.sources])
        self.show_rows()

    def show_rows(self) -> None:
        """Fill the table and the plot for the chosen subset and grouping."""
        warnings = list(self.warnings)
        try:
            rows = project_rows(self.sources, self.group_seeds.isChecked())
        except AnnotationError as error:  # a summary changed since it was listed
            rows = []
            warnings.append(f"{error}; press Refresh")
        subset = self.subset.currentData()
        self.rows = [r for r in rows if subset is None or r["subset"] == subset]
        self.model.set_rows(self.rows)
        self.table.setWordWrap(subset is None)  # a label spanning 5 rows has room to wrap
        self._span_evaluations()
        self.warning_list.clear()
        self.warning_list.addItems([f"⚠ {w}" for w in warnings])
        self.warning_list.setVisible(bool(warnings))
        if self.project is None:
            self.count.setText("")
        elif not self.sources:
            self.count.setText("No evaluations in this project yet (billet-studio evaluate "
                               "run, a detector report or the experiment grid make them)")
        else:
            shown = len({r["experiment"] for r in self.rows})
            self.count.setText(f"{len(self.sources)} evaluations" + (
                f", {shown} rows with each grid experiment's seeds grouped"
                if shown != len(self.sources) else ""))
        self.draw_plot()

    def _span_evaluations(self) -> None:
        """One evaluation's label and share span the rows of its subsets (Table 3)."""
        self.table.clearSpans()
        start = 0
        for row in range(1, len(self.rows) + 1):
            if row == len(self.rows) or (self.rows[row]["experiment"]
                                         != self.rows[start]["experiment"]):
                if row - start > 1:
                    for column in (0, 1):
                        self.table.setSpan(start, column, row - start, 1)
                start = row

    # -- the plot ------------------------------------------------------------------------

    def draw_plot(self) -> None:
        """The chosen metric against the synthetic share, one line per subset with each
        evaluation's 95 % interval."""
        metric = self.metric_choice.currentData()
        self.plot.clear()
        self.curves, self.error_bars = {}, {}
        self.plot.setLabel("left", f"{metric.replace('_', ' ')} (%)")
        all_series = plot_series(self.rows, metric)
        for series in all_series:
            colour = SUBSET_COLOURS[series.subset]
            self.curves[series.subset] = [  # one line per experiment grid
                self.plot.plot([100 * x for x, _ in line], [100 * y for _, y in line],
                               pen=pg.mkPen(colour, width=2))
                for _, line in series.lines]
            points = [p for p in (*series.points, *series.apart)
                      if p.low is not None and p.high is not None]
            if points:
                bars = pg.ErrorBarItem(
                    x=np.array([100 * p.synthetic for p in points]),
                    y=np.array([100 * p.value for p in points]),
                    top=np.array([100 * (p.high - p.value) for p in points]),
                    bottom=np.array([100 * (p.value - p.low) for p in points]),
                    beam=1.2, pen=pg.mkPen(colour, width=1))
                self.plot.addItem(bars)
                self.error_bars[series.subset] = bars
            every = [*series.points, *series.apart]
            scatter = pg.ScatterPlotItem(
                x=[100 * p.synthetic for p in every], y=[100 * p.value for p in every],
                data=[p.label for p in every], size=7, hoverable=True,
                symbol=["o"] * len(series.points) + ["x"] * len(series.apart),
                brush=pg.mkBrush(*colour, 120), pen=pg.mkPen(colour),
                name=SUBSET_TITLES[series.subset],
                tip=lambda x, y, data: f"{data}\n{x:.0f} % synthetic: {y:.1f} %")
            self.plot.addItem(scatter)
        self.plot.setXRange(-4, 104, padding=0)
        # Rates start at zero; the top fifth is left to the legend.
        top = max([1.0, *(100 * (p.high if p.high is not None else p.value)
                          for s in all_series for p in (*s.points, *s.apart))])
        self.plot.setYRange(0, top * 1.3, padding=0.02)
        plotted = {p.label for s in all_series for p in (*s.points, *s.apart)}
        unknown = len({r["experiment"] for r in self.rows if r.get("synthetic") is None})
        notes = [f"{len(plotted)} evaluations plotted; a line joins the experiments of one "
                 "grid (their mean at each share); other evaluations are points alone"]
        if unknown:
            notes.append(f"{unknown} with an unknown synthetic share left out")
        if any(r.get("step") is not None for r in self.rows):
            notes.append("of a detector report's checkpoints only the last is plotted")
        shares = {p.synthetic for s in all_series for p in s.points}
        if len(plotted) > 1 and len(shares) == 1:
            notes.append(f"all at one synthetic share ({100 * shares.pop():.0f} %): datasets "
                         "of other shares (the experiment grid builds them) show the trend")
        if any(s.apart for s in all_series):
            notes.append("x: the real-only experiment with fewer training images")
        self.plot_note.setText("; ".join(notes) + ".")

    # -- comparing two evaluations --------------------------------------------------------

    def selected_folders(self) -> list[list[str]]:
        """The evaluation folders of each selected row, in table order, without repeats
        (a row per subset of one evaluation counts once)."""
        seen: dict[tuple[str, ...], None] = {}
        for index in sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row()):
            seen[tuple(self.rows[index.row()].get("folders", ()))] = None
        return [list(folders) for folders in seen]

    def compare_selected(self) -> bool:
        """Compare the two evaluations whose rows are selected (upper one before)."""
        chosen = self.selected_folders()
        if len(chosen) != 2:
            self.message.emit("Select the rows of exactly two evaluations to compare")
            return False
        if any(len(folders) != 1 for folders in chosen):
            self.message.emit("A grouped row averages several seeds; untick \"Group seeds\" "
                              "to compare single evaluations")
            return False
        self.tabs.setCurrentWidget(self.compare)
        return self.compare.compare(Path(chosen[0][0]), Path(chosen[1][0]))

    def shutdown(self) -> None:
        """Wait for the comparison and photograph workers; close the stores."""
        self.compare.shutdown()
