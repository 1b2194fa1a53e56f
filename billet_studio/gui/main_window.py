"""The studio's main window: a shell of menus and status bar around its pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QTabWidget, QWidget

from billet_studio.annotations import AnnotationError, JournalEntry, Project
from billet_studio.gui.about_dialog import AboutDialog
from billet_studio.gui.compare_page import ComparePage
from billet_studio.gui.errors_page import ErrorsPage
from billet_studio.gui.export_dialog import ExportDialog
from billet_studio.gui.image_view import ImageView
from billet_studio.gui.label_page import LabelPage
from billet_studio.gui.results_page import ResultsPage
from billet_studio.gui.settings import studio_settings
from billet_studio.gui.status_bar import StudioStatusBar
from billet_studio.gui.synth_page import SynthPage
from billet_studio.gui.train_page import TrainPage

TITLE = "Billet Studio"
DEFAULT_SIZE = (1280, 800)


class MainWindow(QMainWindow):
    """Menus, status bar and the pages; the pages hold the behaviour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.about: AboutDialog | None = None
        self.label_page = LabelPage()
        self.train_page = TrainPage()
        self.compare_page = ComparePage()
        self.synth_page = SynthPage()
        self.errors_page = ErrorsPage()
        self.label_page.labels_saved.connect(self.errors_page.labels_saved)
        self.results_page = ResultsPage()
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.label_page, "Label")
        self.pages.addTab(self.train_page, "Train")
        self.pages.addTab(self.compare_page, "Compare")
        self.pages.addTab(self.synth_page, "Synthesize")
        self.pages.addTab(self.errors_page, "Errors")
        self.pages.addTab(self.results_page, "Results")
        self.setCentralWidget(self.pages)
        self.status = StudioStatusBar()
        self.setStatusBar(self.status)
        self._connect_status()
        self._build_menus()
        self.setWindowTitle(TITLE)
        self.resize(*DEFAULT_SIZE)
        self._restore_layout()
        self.status.showMessage("Open a project folder with File › Open Project… (Ctrl+O)")

    @property
    def view(self) -> ImageView:
        """The image view of the label page."""
        return self.label_page.view

    # -- commands -----------------------------------------------------------------------

    def open_project(self, path: Path) -> bool:
        """Open the project folder at ``path``; a bad folder is reported, not raised."""
        try:
            project = Project.open(path)
        except AnnotationError as error:
            self._report(f"Cannot open {path}", str(error))
            return False
        if not self.label_page.close_session(discard=False):
            return False  # the open image could not be saved: keep it open
        self.project = project
        self.setWindowTitle(f"{TITLE} — {project.config.name}")
        studio_settings().setValue("last_project_dir", str(project.root))
        self.status.clearMessage()
        entries = self.label_page.set_project(project)
        self.train_page.set_project(project)
        self.compare_page.set_project(project)
        self.synth_page.set_project(project)
        self.errors_page.set_project(project)
        self.results_page.set_project(project)
        if self.label_page.image_list.image_count() == 0:
            self.status.showMessage(f"No images found in {project.image_root}")
        if entries:
            if self.ask_recover(entries):
                self.label_page.recover(entries)
            else:
                self.label_page.discard_recovery(entries)
        return True

    def ask_recover(self, entries: list[JournalEntry]) -> bool:
        """Ask whether to bring back the edits a killed studio left unsaved."""
        assert self.project is not None
        names = "\n".join(f"• {self.project.relative(e.image_path)}"
                          + (" (its label file changed since)" if
                             e.sidecar_changed(self.project) else "") for e in entries[:12])
        more = f"\n… and {len(entries) - 12} more" if len(entries) > 12 else ""
        answer = QMessageBox.question(
            self, "Recover unsaved labels",
            f"Billet Studio closed without saving the labels of {len(entries)} image(s):"
            f"\n{names}{more}\n\nRecover them? Recovered edits open as unsaved changes "
            "you can undo; Discard deletes them.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
            QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def ask_unsaved_changes(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel for the open image's unsaved labels."""
        assert self.label_page.session is not None
        return QMessageBox.question(
            self, "Unsaved labels",
            f"Save the labels of {self.label_page.session.image_path.name} before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)

    def select_image(self, index: int) -> None:
        """Show the project's image at ``index`` (in the image list's order)."""
        self.label_page.select_image(index)

    def export_dataset(self) -> ExportDialog | None:
        """Open the export dialog (it stays open, not modal, while its export runs)."""
        if self.project is None:
            self.status.showMessage("Open a project first")
            return None
        dialog = ExportDialog(self.project, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        return dialog

    def open_in_labelling(self, path: Path) -> bool:
        """Show the photograph at ``path`` on the labelling page (it must be one of the
        open project's images)."""
        page = self.label_page
        wanted = Path(path).resolve()
        paths = [s.path.resolve() for s in page.image_list.summaries]
        if wanted not in paths:
            self.status.showMessage(f"⚠ {path} is not an image of this project; open its "
                                    "project to fix its labels")
            return False
        self.pages.setCurrentWidget(page)
        self.select_image(paths.index(wanted))
        # The open image stays when its unsaved labels could not be saved.
        return page.loading == page.image_list.summaries[paths.index(wanted)].path or (
            page.session is not None and page.session.image_path.resolve() == wanted)

    def choose_project(self) -> None:
        start = str(studio_settings().value("last_project_dir", str(Path.home())))
        folder = QFileDialog.getExistingDirectory(self, "Open Project", start)
        if folder:
            self.open_project(Path(folder))

    # -- building -----------------------------------------------------------------------

    def _connect_status(self) -> None:
        page, view = self.label_page, self.label_page.view
        page.image_loaded.connect(self.status.show_loaded)
        page.message.connect(self.status.showMessage)
        self.train_page.message.connect(self.status.showMessage)
        self.compare_page.message.connect(self.status.showMessage)
        self.synth_page.message.connect(self.status.showMessage)
        self.errors_page.message.connect(self.status.showMessage)
        self.results_page.message.connect(self.status.showMessage)
        self.errors_page.open_in_labelling.connect(self.open_in_labelling)
        # The pool picked on the Compare page is what the Synthesize page renders with.
        self.compare_page.pool_changed.connect(self.synth_page.reload_settings)
        view.zoom_changed.connect(self.status.show_zoom)
        view.cursor_moved.connect(self.status.show_cursor)
        view.cursor_left.connect(self.status.clear_cursor)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action("&Open Project…", "Ctrl+O", self.choose_project)
        self.export_action = self._action("&Export Dataset…", "Ctrl+E", self.export_dataset)
        self.quit_action = self._action("&Quit", "Ctrl+Q", self.close)
        page = self.label_page
        file_menu.addAction(self.open_action)
        file_menu.addAction(page.save_action)
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addActions([page.undo_action, page.redo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([page.copy_action, page.paste_action, page.duplicate_action,
                              page.delete_action])
        edit_menu.addSeparator()
        edit_menu.addActions([page.partial_action, page.poor_action, page.well_action,
                              page.advance_action])
        edit_menu.addSeparator()
        edit_menu.addActions([page.snap_action, page.refine_action, page.prelabel_action,
                              page.accept_proposals_action, page.choose_detector_action])
        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.addActions(list(page.tool_actions.values()))
        image_menu = self.menuBar().addMenu("&Image")
        image_menu.addActions([page.next_action, page.previous_action, page.done_action])

        view_menu = self.menuBar().addMenu("&View")
        view = self.view
        self.fit_action = self._action("&Fit to Window", "Ctrl+F", view.fit_to_window)
        self.actual_size_action = self._action("&Actual Size (100%)", "Ctrl+0", view.actual_size)
        self.zoom_in_action = self._action("Zoom &In", QKeySequence.StandardKey.ZoomIn,
                                           view.zoom_in)
        self.zoom_out_action = self._action("Zoom &Out", QKeySequence.StandardKey.ZoomOut,
                                            view.zoom_out)
        for action in (self.fit_action, self.actual_size_action,
                       self.zoom_in_action, self.zoom_out_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(page.shapes_visible_action)
        for dock in page.docks.values():
            view_menu.addAction(dock.toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction("&About Billet Studio", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def show_about(self) -> AboutDialog:
        """Help ▸ About: versions, torch and its device, Qt, and the open project."""
        if self.about is None:
            self.about = AboutDialog(self)
        self.about.show_for(self.project.root if self.project is not None else None)
        return self.about

    def _action(
        self, text: str, shortcut: str | QKeySequence.StandardKey, slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _report(self, title: str, message: str) -> None:
        self.status.showMessage(f"⚠ {message}")
        # open(), not exec(): a modal loop here would block scripted use and tests.
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- layout persistence -------------------------------------------------------------

    def _restore_layout(self) -> None:
        settings = studio_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        docks = settings.value("window/label_page_docks")
        if isinstance(docks, QByteArray):
            self.label_page.restore_layout(docks)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close only once the open image's labels are saved (or knowingly discarded)."""
        session = self.label_page.session
        if session is not None and session.modified:
            session.autosave_timer.stop()  # no save behind the question's back
            answer = self.ask_unsaved_changes()
            if answer == QMessageBox.StandardButton.Cancel or (
                    answer == QMessageBox.StandardButton.Save and not session.save()):
                session.autosave_timer.start()
                event.ignore()
                return
            self.label_page.close_session(discard=answer == QMessageBox.StandardButton.Discard)
        else:
            self.label_page.close_session(discard=False)
        self.label_page.shutdown()
        self.train_page.shutdown()
        self.compare_page.shutdown()
        self.synth_page.shutdown()
        self.errors_page.shutdown()
        self.results_page.shutdown()
        if self.about is not None:
            self.about.pool.waitForDone()  # its torch lookup emits on the dialog
        settings = studio_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/label_page_docks", self.label_page.save_layout())
        super().closeEvent(event)
