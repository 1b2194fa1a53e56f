"""The labelling page: the canvas in the middle, docks around it (images, billet and shapes,
label counts, undo history), and the controller that ties them to one LabelSession.

A broken sidecar blocks editing its image (it is shown read-only with the error) so it is
never overwritten. Leaving an image saves it; a failed save keeps the image open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QUndoGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QUndoView,
    QWidget,
)

from billet_studio.annotations import (
    AnnotationError,
    CrashJournal,
    ImageRecord,
    JournalEntry,
    Project,
    Shape,
    ShapesEdit,
    editing,
)
from billet_studio.gui.background import Photo, PixelLoader, SummaryScanner
from billet_studio.gui.canvas.label_canvas import LabelCanvas
from billet_studio.gui.image_list import ImageBrowser, ImageList
from billet_studio.gui.image_loading import (
    ImageSummary,
    LoadedImage,
    display_name,
    summarize_loaded,
    with_record,
)
from billet_studio.gui.label_actions import build_label_actions
from billet_studio.gui.label_session import LabelSession
from billet_studio.gui.prelabel import PreLabel
from billet_studio.gui.shape_panel import LabelCounts, ShapePanel
from billet_studio.gui.stamp_assist import StampAssist
from billet_studio.gui.view_options import ViewOptions

PASTE_OFFSET = (10.0, 10.0)


class LabelPage(QMainWindow):
    """Label one image at a time; every change is undoable, journalled and saved."""

    #: An image was shown (a LoadedImage), or the page was cleared (None).
    image_loaded = Signal(object)
    #: A sentence for the status bar.
    message = Signal(str)
    #: An image's labels were saved (the image's path), e.g. for re-scoring its billet.
    labels_saved = Signal(Path)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlags(Qt.WindowType.Widget)
        self.project: Project | None = None
        self.loaded: LoadedImage | None = None
        self.session: LabelSession | None = None
        self.clipboard: list[Shape] = []
        #: Journalled edits to offer back when their image is opened.
        self.recovered: dict[Path, ImageRecord] = {}
        self.undo_group = QUndoGroup(self)
        #: The photograph being decoded for display, if any.
        self.loading: Path | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self.pixels = PixelLoader(self.pool, self)
        self.pixels.decoded.connect(self._decoded)
        self.scanner = SummaryScanner(self.pool, self)
        self.scanner.summaries.connect(self._scanned)
        #: Whether every image's summary has been read since the project opened.
        self.scan_complete = True
        self.scanner.finished.connect(self._scan_finished)
        self.canvas = LabelCanvas()
        self.assist = StampAssist(self)
        self.prelabel = PreLabel(self)
        self.setCentralWidget(self.canvas)
        self.image_list = ImageList()
        self.shape_panel = ShapePanel()
        self.label_counts = LabelCounts()
        self.history = QUndoView(self.undo_group)
        self.history.setEmptyLabel("(as opened)")
        self.addToolBar(build_label_actions(self))
        self.view_options = ViewOptions(self.shapes_visible_action)
        self.docks = {}
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        for name, title, widget, area in (
                ("images", "Images", ImageBrowser(self.image_list), left),
                ("shapes", "Billet and shapes", self.shape_panel, right),
                ("labels", "Labels", self.label_counts, right),
                ("history", "History", self.history, left),
                ("view", "View", self.view_options, right)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.canvas.set_levels(*self.view_options.levels)
        self.view_options.levels_changed.connect(self.canvas.set_levels)
        self.view_options.mask_preview_toggled.connect(self.canvas.set_mask_preview)
        self.image_list.image_selected.connect(self.select_image)
        self.canvas.selection_changed.connect(self.shape_panel.select_rows)
        self.canvas.character_typed.connect(self.label_selection)
        self.canvas.snap_requested.connect(self.assist.snap_box)
        self.canvas.proposals_dismissed.connect(self.prelabel.clear)
        self.canvas.message.connect(self.message)
        self.shape_panel.shapes_chosen.connect(self.canvas.select)
        self.shape_panel.site_chosen.connect(self.set_site)

    @property
    def view(self) -> LabelCanvas:
        return self.canvas

    # -- project and images ----------------------------------------------------------------

    def set_project(self, project: Project | None) -> list[JournalEntry]:
        """Show ``project``'s images and select the first; returns the crash journal's
        entries (edits a killed studio left unsaved) for the window to offer back."""
        self.close_session(discard=False)
        self.project = project
        self.loading = None  # a decode still running for the old project is dropped
        self.recovered = {}
        self.assist.set_project(project)
        self.scanner.cancel()
        paths = project.image_paths() if project is not None else []
        # Names at once (a 10,000-image folder lists in well under a second); split, site,
        # stamps and done marks fill in from a background scan of the sidecars.
        summaries = [ImageSummary(p, display_name(project, p)) for p in paths]
        self.shape_panel.set_sites(project.config.sites if project is not None else ())
        self.image_list.set_summaries(summaries)
        self._show(None)
        if project is not None:
            self.scan_complete = False
            self.scanner.scan(project, paths)
        entries: list[JournalEntry] = []
        if project is not None:
            entries, errors = CrashJournal(project).entries()
            for error in errors:
                self.message.emit(f"⚠ crash journal: {error}")
        if summaries:
            self.image_list.select(0)
        return entries

    def recover(self, entries: list[JournalEntry]) -> None:
        """Bring journalled edits back as unsaved (undoable) edits of their images."""
        if self.project is None:
            return
        journal = CrashJournal(self.project)
        for entry in entries:
            try:
                self.recovered[entry.image_path] = journal.recover(entry)
            except AnnotationError as error:  # its image moved or its labels broke
                self.message.emit(f"⚠ not recovered: {error}")
        if self.session is not None and self.session.image_path in self.recovered:
            self._apply_recovered()

    def discard_recovery(self, entries: list[JournalEntry]) -> None:
        if self.project is not None:
            journal = CrashJournal(self.project)
            for entry in entries:
                journal.discard(entry.image_path)

    def select_image(self, index: int) -> None:
        """Show the image at ``index`` of the list; the open one is saved first, and stays
        open if that save fails."""
        if self.project is None:
            raise RuntimeError("no project is open")
        if index != self.image_list.current_index():
            self.image_list.select(index)  # comes back here through image_selected
            return
        path = self.image_list.summaries[index].path
        if self.session is not None and self.session.image_path == path:
            return
        if not self.close_session(discard=False):
            self._reselect_open_image()
            return
        self.loading = path
        photo = self.pixels.cached(path)
        if photo is not None:
            self._decoded(path, photo, None)
        else:
            self._show(None)
            self.message.emit(f"Loading {path.name}…")
            self.pixels.request(path)

    def _decoded(self, path: Path, photo: Photo | None, error: str | None) -> None:
        """A photograph finished decoding: show it if it is still the one wanted."""
        if path != self.loading or self.project is None:
            return
        self.loading = None
        loaded = with_record(self.project, path, photo.pixels if photo else None, error)
        paths = [s.path for s in self.image_list.summaries]
        index = paths.index(path) if path in paths else -1
        if index >= 0:
            self.image_list.update_summary(index, summarize_loaded(self.project, loaded))
        self.message.emit("")  # the "Loading…" note; _show reports any errors
        self._show(loaded, photo.display if photo else None)
        neighbours = [self.image_list.neighbour(index, step) for step in (1, -1)]
        self.pixels.prefetch([paths[n] for n in neighbours if n is not None and index >= 0])

    def _scanned(self, number: int, batch: list) -> None:
        if number != self.scanner.generation:
            return  # a scan of a project (or folder state) no longer shown
        open_path = self.session.image_path if self.session is not None else None
        for index, summary in batch:
            if summary.path != open_path:  # the open image's row follows its edits
                self.image_list.update_summary(index, summary)

    def _scan_finished(self, number: int) -> None:
        if number == self.scanner.generation:
            self.scan_complete = True

    def idle(self) -> bool:
        """Whether no photograph is being decoded and the list is fully read (for scripts
        and tests that drive the page)."""
        return self.loading is None and self.scan_complete

    def shutdown(self) -> None:
        """Stop background work and wait for it (the page is closing)."""
        self.scanner.cancel()
        self.pool.waitForDone()

    def _reselect_open_image(self) -> None:
        paths = [s.path for s in self.image_list.summaries]
        if self.session is not None and self.session.image_path in paths:
            self.image_list.blockSignals(True)
            self.image_list.setCurrentItem(
                self.image_list.topLevelItem(paths.index(self.session.image_path)))
            self.image_list.blockSignals(False)

    def next_image(self) -> None:
        self._step_image(1)

    def previous_image(self) -> None:
        self._step_image(-1)

    def _step_image(self, step: int) -> None:
        target = self.image_list.neighbour(self.image_list.current_index(), step)
        if target is not None:
            self.select_image(target)

    def close_session(self, discard: bool) -> bool:
        """Save (or with ``discard``, drop) the open image's edits and close it; False if
        the save failed (the image stays open)."""
        if self.session is None:
            return True
        if not discard and not self.session.save_if_modified():
            return False
        self.session.close(discard=discard)
        self.undo_group.removeStack(self.session.undo_stack)
        self.session.deleteLater()
        self.session = None
        return True

    def _show(self, loaded: LoadedImage | None, display: QImage | None = None) -> None:
        self.loaded = loaded
        self.prelabel.clear()  # proposals belong to the image they were made for
        record = loaded.record if loaded is not None else None
        if self.project is not None and record is not None:
            self.session = LabelSession(self.project, record, self)
            self.session.changed.connect(self._on_edit)
            self.session.save_failed.connect(lambda text: self.message.emit(f"⚠ {text}"))
            self.session.saved.connect(self._on_saved)
            self.undo_group.addStack(self.session.undo_stack)
            self.undo_group.setActiveStack(self.session.undo_stack)
        self.canvas.show_session(loaded.pixels if loaded is not None else None, self.session,
                                 display)
        self.shape_panel.show_loaded(loaded)
        self.label_counts.show_shapes(list(record.shapes) if record is not None else [])
        self.image_loaded.emit(loaded)
        if self.session is not None and self.session.image_path in self.recovered:
            self._apply_recovered()

    def _apply_recovered(self) -> None:
        assert self.session is not None
        recovered = self.recovered.pop(self.session.image_path)
        document = self.session.document
        self.session.push(ShapesEdit(
            "Recover unsaved edits", tuple(enumerate(document.shapes)),
            tuple(enumerate(recovered.shapes)), (document.billet, recovered.billet),
            (dict(document.flags), dict(recovered.flags))))
        self.message.emit(f"Recovered unsaved edits of {self.session.image_path.name}")

    def _on_edit(self, _edit: ShapesEdit) -> None:
        assert self.session is not None
        record = self.session.document.to_record()
        self.shape_panel.show_record(record)
        self.shape_panel.select_rows(self.canvas.selection)
        self.label_counts.show_shapes(list(record.shapes))

    def _on_saved(self, path: Path) -> None:
        session = self.session
        paths = [s.path for s in self.image_list.summaries]
        if self.project is not None and session is not None and session.image_path in paths:
            # By path, not the current row: leaving an image saves it after the list moved.
            loaded = LoadedImage(session.image_path, None, session.document.record)
            self.image_list.update_summary(paths.index(session.image_path),
                                           summarize_loaded(self.project, loaded))
        self.message.emit(f"Saved {path.name}")
        if session is not None:
            self.labels_saved.emit(session.image_path)

    # -- commands --------------------------------------------------------------------------

    def save(self) -> bool:
        return self.session.save() if self.session is not None else True

    def set_tool(self, name: str) -> None:
        self.canvas.set_tool(name)
        self.tool_actions[name].setChecked(True)

    def label_selection(self, character: str) -> None:
        """A character key: label the selected shapes, then (auto-advance) select the next
        unlabelled shape in reading order."""
        if self.project is None or self.session is None:
            return
        if character not in self.project.config.classes:
            self.message.emit(f"{character} is not one of the project's classes")
            return
        if not self.canvas.selection:
            self.message.emit("Select a shape to label it (character keys are labels)")
            return
        shapes = self.canvas.shapes
        boxes = [i for i in self.canvas.selection
                 if shapes[i].shape_type == "rectangle" and not shapes[i].label]
        if self.snap_action.isChecked() and boxes == self.canvas.selection:
            made = self.assist.snap_boxes(character, boxes)  # empty boxes: templates
        else:
            made = self.canvas.apply(editing.set_label, self.canvas.selection, character)
        if made:
            # The edit selected what it labelled (snapped stamps are new shapes, at new
            # indices): advance from there.
            last = self.canvas.selection[-1] if self.canvas.selection else None
            following = (editing.next_unlabelled(self.canvas.shapes, last)
                         if self.advance_action.isChecked() else None)
            if following is not None:
                self.canvas.select([following])

    def toggle_flag(self, flag: str) -> None:
        shapes, chosen = self.canvas.shapes, self.canvas.selection
        if chosen:
            value = not all(shapes[i].flags.get(flag, False) for i in chosen)
            self.canvas.apply(editing.set_flag, chosen, flag, value)

    def mark_well(self) -> None:
        if self.canvas.selection:
            self.canvas.apply(editing.clear_visibility, self.canvas.selection)

    def set_site(self, site: str) -> None:
        if self.session is not None and (self.session.document.billet.site or "") != site:
            self.session.push(editing.set_billet(self.session.document.billet, "Set site",
                                                 site=site or None))

    def choose_detector(self) -> None:
        """Pick the detector run (folder) or exported file that pre-labels."""
        start = str(self.project.root / "runs" / "detector") if self.project else ""
        folder = QFileDialog.getExistingDirectory(self, "Choose a detector run", start)
        if folder:
            self.prelabel.choose(Path(folder))
            self.message.emit(f"Pre-label uses {folder}")

    def toggle_done(self) -> None:
        """Mark the image finished, or not (a ✓ in the image list once saved)."""
        if self.session is not None:
            flags = self.session.document.flags
            self.session.push(editing.set_done(flags, not flags.get("done", False)))

    def copy_selection(self) -> None:
        shapes = self.canvas.shapes
        self.clipboard = [shapes[i] for i in editing.with_holes(shapes, self.canvas.selection)]
        if self.clipboard:
            self.message.emit(f"Copied {len(self.clipboard)} shape(s)")

    def paste(self) -> None:
        if self.clipboard:
            self.canvas.apply(editing.add_shapes, self.clipboard, "Paste", PASTE_OFFSET)

    def duplicate(self) -> None:
        self.copy_selection()
        if self.clipboard:
            self.canvas.apply(editing.add_shapes, self.clipboard, "Duplicate", PASTE_OFFSET)

    # -- layout ----------------------------------------------------------------------------

    def save_layout(self) -> QByteArray:
        return self.saveState()

    def restore_layout(self, state: QByteArray) -> None:
        self.restoreState(state)
