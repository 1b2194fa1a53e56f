"""The checkpoint-comparison page: one row per mask, one column per checkpoint of a GAN
run, each column headed by the checkpoint's scores; cells zoom and pan together. The
cells are rendered by a child process (``gan compare``, into the run's PNG cache) and
appear as they finish; the studio never loads a generator. Checkpoints are picked into
the project's synthesis pool here, with a weight each. Keys: Left/Right flip through the
steps, Up/Down through the masks; the large view shows the current cell."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import AnnotationError, Project
from billet_studio.gan.comparison import COMPARE_FOLDER, SOURCES, set_name
from billet_studio.gui.child_runs import console_tail, start_detached
from billet_studio.gui.compare_grid import (
    WEIGHT_SCALE,
    CellView,
    ColumnHeader,
    ColumnInfo,
    GridScan,
    GridScanner,
    ViewSync,
    describe_scores,
)
from billet_studio.synthesis.settings import (
    PoolEntry,
    load_synthesis_settings,
    save_synthesis_settings,
)

POLL_MS = 400
class ComparePage(QWidget):
    """Compare the checkpoints of a GAN run, and pick the synthesis pool."""

    message = Signal(str)
    #: The project's synthesis pool changed (the synthesis page re-reads it).
    pool_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.process: subprocess.Popen | None = None
        self.run_dir: Path | None = None
        self.folder: Path | None = None
        self.columns: list[ColumnInfo] = []
        self.headers: dict[int, ColumnHeader] = {}
        self.cells: dict[tuple[int, int], CellView] = {}
        self.row_views: list[CellView] = []
        self.loaded: set[tuple[int, int]] = set()
        self.rows = 0
        self.labels: tuple[str, ...] = ()
        self.current = (0, 0)  # (column index, row)
        self.generation = 0  # bumped whenever the grid is cleared
        self.render_folder: Path | None = None
        self._stale = False  # a project opened while the page was hidden
        self._auto_started: set[Path] = set()
        self.sync = ViewSync()
        self.scanner = GridScanner(self)
        self.scanner.scanned.connect(self._apply_scan)
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)

    def _build(self) -> None:
        self.run_choice = QComboBox()
        self.run_choice.setMinimumWidth(200)
        self.run_choice.currentIndexChanged.connect(lambda _: self.show_grid())
        self.source = QComboBox()
        self.source.addItems([*SOURCES, "folder…"])
        self.source.setToolTip("validation: held-out stamps with the real stamp beside; "
                               "templates: the glyph templates; varied: templates varied and "
                               "partly erased as synthesis does; folder: PNG masks you pick")
        self.source.activated.connect(self._source_chosen)
        self.mask_folder = ""
        self.count = QSpinBox()
        self.count.setRange(1, 64)
        self.count.setValue(8)
        self.count.valueChanged.connect(lambda _: self.show_grid())
        self.render_button = QPushButton("Render")
        self.render_button.setToolTip("Render the missing cells (a child process)")
        self.render_button.clicked.connect(self.render)
        self.state = QLabel()
        bar = QHBoxLayout()
        for label, widget in (("GAN run", self.run_choice), ("Masks", self.source),
                              ("Rows", self.count)):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addWidget(self.render_button)
        bar.addWidget(self.state, 1)
        self.grid_widget = QWidget()
        self.grid = QGridLayout(self.grid_widget)
        self.grid.setSpacing(4)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        scroll = QScrollArea()
        scroll.setWidget(self.grid_widget)
        scroll.setWidgetResizable(True)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the arrows flip steps, not scroll
        self.focus_view = CellView(ViewSync(), 320)
        self.focus_title = QLabel()
        focus = QVBoxLayout()
        focus.addWidget(self.focus_title)
        focus.addWidget(self.focus_view)
        focus.addWidget(QLabel("←/→ steps · ↑/↓ masks · wheel zooms every cell · drag pans"))
        focus.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(scroll, 1)
        body.addLayout(focus)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(body, 1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    # -- project and selection ------------------------------------------------------------

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s GAN runs; the grid is laid out (and its cells rendered) only
        once the page is on screen, never just because a project opened."""
        self.project = project
        self._stale = True
        if self.isVisible():
            self.refresh_runs(force=True)

    def refresh_runs(self, force: bool = False) -> None:
        """List the project's GAN runs (the chosen one kept); redraw when it changed."""
        chosen = self.run_choice.currentData()
        self.run_choice.blockSignals(True)
        self.run_choice.clear()
        runs_root = self.project.root / "runs" / "gan" if self.project is not None else None
        if runs_root is not None and runs_root.is_dir():
            for run in sorted(p for p in runs_root.iterdir() if p.is_dir()):
                self.run_choice.addItem(run.name, str(run))
        if chosen is not None and self.run_choice.findData(chosen) >= 0:
            self.run_choice.setCurrentIndex(self.run_choice.findData(chosen))
        self.run_choice.blockSignals(False)
        self._stale = False
        if force or self.run_choice.currentData() != chosen or not self.rows:
            self.show_grid()
        else:
            self.timer.start()  # pick up checkpoints written since

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.project is not None:
            self.refresh_runs(force=self._stale)

    def _source_chosen(self, index: int) -> None:
        if self.source.itemText(index) == "folder…":
            folder = QFileDialog.getExistingDirectory(self, "Folder of PNG masks")
            if not folder:
                self.source.setCurrentIndex(0)
                return
            self.mask_folder = folder
        self.show_grid()

    def mask_source(self) -> str:
        text = self.source.currentText()
        return self.mask_folder if text == "folder…" else text

    def show_grid(self) -> None:
        """Lay out the grid of the chosen run and mask set from its cache (and render what
        is missing)."""
        self._clear()
        data = self.run_choice.currentData()
        if self.project is None or not data:
            self.state.setText("No GAN runs in this project yet (train one on the Train page)")
            return
        self.run_dir = Path(data)
        self.folder = (self.run_dir / COMPARE_FOLDER
                       / set_name(self.mask_source(), self.count.value(), 0))
        self.scanner.scan(self.run_dir, self.folder, frozenset(), True, self.generation)
        self.timer.start()

    def _clear(self) -> None:
        self.timer.stop()
        self.generation += 1
        while self.grid.count():
            widget = self.grid.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.sync.remove_all()
        self.columns, self.headers, self.cells, self.row_views = [], {}, {}, []
        self.loaded, self.rows, self.current = set(), 0, (0, 0)
        self.focus_view.set_image(None)
        self.focus_title.setText("")

    # -- rendering ----------------------------------------------------------------------

    def render(self) -> None:
        """Start ``gan compare`` for the chosen run and masks as a child process."""
        if self.project is None or self.run_dir is None or self.folder is None:
            return
        if self.rendering():
            return
        arguments = ["gan", "compare", str(self.run_dir), "--project", str(self.project.root),
                     "--masks", self.mask_source(), "-n", str(self.count.value())]
        try:
            self.process = start_detached(arguments, self.folder)
        except OSError as error:
            self.message.emit(f"⚠ could not start the comparison: {error}")
            return
        self.render_folder = self.folder
        self.state.setText("rendering…")
        self.timer.start()

    def rendering(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def poll(self) -> None:
        if self.run_dir is None or self.folder is None:
            return
        self.scanner.scan(self.run_dir, self.folder, frozenset(self.loaded), not self.rows,
                          self.generation)
        if self.process is not None and self.process.poll() is not None:
            code, self.process = self.process.returncode, None
            if code != 0 and self.render_folder is not None:
                tail = "\n".join(console_tail(self.render_folder, 4))
                self.state.setText(f"⚠ rendering failed:\n{tail}")
                self.message.emit(f"⚠ checkpoint comparison failed: {tail.splitlines()[-1:]}")

    def _apply_scan(self, scan: GridScan) -> None:
        if scan.generation != self.generation or scan.folder != self.folder:
            return  # a scan of a grid no longer shown
        if scan.error:
            self.state.setText(f"⚠ {scan.error}")
            return
        if not self.rows and scan.rows and len(scan.masks) == scan.rows:
            self._lay_out(scan)
        new_columns = [c for c in scan.columns if c.step not in self.headers]
        if new_columns and self.rows:
            self._add_columns(scan.columns)
        for key, image in scan.cells.items():
            view = self.cells.get(key)
            if view is not None:
                view.set_image(image, f"step {key[0]}, mask {key[1]}")
                self.loaded.add(key)
        for column in scan.columns:
            if column.error and column.step in self.headers:
                self.headers[column.step].set_error(column.error)
        self._show_current()
        expected = len(scan.columns) * scan.rows
        missing = [c for c in scan.columns if not c.done and not c.error]
        if ((scan.rows == 0 or missing) and not self.rendering()
                and self.folder not in self._auto_started):
            self._auto_started.add(self.folder)  # once: a failing render is not retried
            self.render()
        if not self.rendering():
            self.state.setText(f"{len(self.loaded)} of {expected} cells"
                               + (f" · {len(missing)} checkpoints not rendered"
                                  if missing else ""))
            if scan.rows and (not missing or self.folder in self._auto_started):
                self.timer.stop()  # all shown, or rendered once: Render (or a revisit) again
        else:
            self.state.setText(f"rendering… {len(self.loaded)} of {expected} cells")

    def _lay_out(self, scan: GridScan) -> None:
        self.rows, self.labels = scan.rows, scan.labels
        self.grid.addWidget(QLabel("<b>mask</b>"), 0, 0)
        if scan.targets:
            self.grid.addWidget(QLabel("<b>real stamp</b>"), 0, 1)
        for row in range(scan.rows):
            label = scan.labels[row] if row < len(scan.labels) else ""
            mask = CellView(self.sync)
            mask.set_image(scan.masks[row], f"mask {row} {label}")
            self.grid.addWidget(mask, row + 1, 0)
            self.row_views.append(mask)
            if scan.targets:
                target = CellView(self.sync)
                target.set_image(scan.targets[row], f"real stamp {row} {label}")
                self.grid.addWidget(target, row + 1, 1)

    def _add_columns(self, columns: list[ColumnInfo]) -> None:
        assert self.project is not None
        first = 2 if self.grid.itemAtPosition(0, 1) is not None else 1
        pool = {e.checkpoint: e.weight for e in self._settings_pool()}
        for column in columns:
            if column.step in self.headers:
                continue
            index = len(self.columns)
            self.columns.append(column)
            relative = self.project.relative(column.weights)
            header = ColumnHeader(column, relative)
            header.in_pool.setChecked(relative in pool)
            if relative in pool:
                header.weight.setValue(round(pool[relative] * WEIGHT_SCALE))
            header.in_pool.toggled.connect(lambda _: self.save_pool())
            header.weight.sliderReleased.connect(
                lambda h=header: h.in_pool.isChecked() and self.save_pool())
            header.weight.valueChanged.connect(lambda _, h=header: self._weight_moved(h))
            self.headers[column.step] = header
            self.grid.addWidget(header, 0, first + index)
            for row in range(self.rows):
                view = CellView(self.sync)
                view.clicked.connect(lambda i=index, r=row: self._clicked(i, r))
                self.cells[(column.step, row)] = view
                self.grid.addWidget(view, row + 1, first + index)

    # -- the synthesis pool ---------------------------------------------------------------

    def _settings_pool(self) -> tuple[PoolEntry, ...]:
        assert self.project is not None
        try:
            return load_synthesis_settings(self.project).pool
        except AnnotationError as error:
            self.message.emit(f"⚠ {error}")
            return ()

    def _weight_moved(self, header: ColumnHeader) -> None:
        """Keys and clicks save at once; a drag saves when released."""
        if header.in_pool.isChecked() and not header.weight.isSliderDown():
            self.save_pool()

    def save_pool(self) -> None:
        """Write the checked checkpoints of this run, with their weights, into the
        project's synthesis pool (other runs' entries kept)."""
        if self.project is None:
            return
        from dataclasses import replace

        try:
            settings = load_synthesis_settings(self.project)
        except AnnotationError as error:
            self.message.emit(f"⚠ {error}")
            return
        mine = {h.relative for h in self.headers.values()}
        pool = [e for e in settings.pool if e.checkpoint not in mine]
        pool += [PoolEntry(h.relative, h.weight.value() / WEIGHT_SCALE)
                 for h in self.headers.values() if h.in_pool.isChecked()]
        renderer = settings.renderer
        if not pool:
            renderer = "classical"
        elif not settings.pool:
            renderer = "gan"  # the first pick switches synthesis to the pool
        try:
            save_synthesis_settings(self.project, replace(settings, pool=tuple(pool),
                                                          renderer=renderer))
        except (AnnotationError, ValueError, OSError) as error:
            self.message.emit(f"⚠ the pool was not saved: {error}")
            return
        self.message.emit(f"Synthesis pool: {len(pool)} checkpoint(s)")
        self.pool_changed.emit()

    # -- keyboard flipping --------------------------------------------------------------

    def _clicked(self, column: int, row: int) -> None:
        self.set_current(column, row)
        self.setFocus()  # the arrow keys go on from the clicked cell

    def set_current(self, column: int, row: int) -> None:
        if not self.columns or not self.rows:
            return
        self.current = (max(0, min(column, len(self.columns) - 1)),
                        max(0, min(row, self.rows - 1)))
        self._show_current()

    def _show_current(self) -> None:
        if not self.columns or not self.rows:
            return
        index, row = self.current
        step = self.columns[index].step
        for (cell_step, cell_row), view in self.cells.items():
            view.set_current(cell_step == step and cell_row == row)
        for header_step, header in self.headers.items():
            header.set_current(header_step == step)
        view = self.cells.get((step, row))
        image = view.item.pixmap().toImage() if view is not None and view.has_image() else None
        self.focus_view.set_image(image)
        label = self.labels[row] if row < len(self.labels) else ""
        self.focus_title.setText(f"step {step} · mask {row + 1}/{self.rows}"
                                 + (f" ({label})" if label else "")
                                 + f"\n{describe_scores(self.columns[index].scores)}")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        index, row = self.current
        moves = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0),
                 Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}
        move = moves.get(Qt.Key(event.key()))
        if move is None:
            super().keyPressEvent(event)
            return
        self.set_current(index + move[0], row + move[1])

    def shutdown(self) -> None:
        """The studio closes: a rendering child finishes on its own (the cache keeps it)."""
        self.timer.stop()
        self.scanner.wait()
