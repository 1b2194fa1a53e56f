"""The studio's main window: a shell of menus and status bar around its pages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QWidget

from billet_studio.annotations import AnnotationError, Project
from billet_studio.gui.image_view import ImageView
from billet_studio.gui.label_page import LabelPage
from billet_studio.gui.settings import studio_settings
from billet_studio.gui.status_bar import StudioStatusBar

TITLE = "Billet Studio"
DEFAULT_SIZE = (1280, 800)


class MainWindow(QMainWindow):
    """Menus, status bar and the pages; the pages hold the behaviour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.label_page = LabelPage()
        # Later pages (synthesize, train, errors) join the label page in a page switcher.
        self.setCentralWidget(self.label_page)
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
        self.project = project
        self.setWindowTitle(f"{TITLE} — {project.config.name}")
        studio_settings().setValue("last_project_dir", str(project.root))
        self.status.clearMessage()
        self.label_page.set_project(project)
        if self.label_page.image_list.image_count() == 0:
            self.status.showMessage(f"No images found in {project.image_root}")
        return True

    def select_image(self, index: int) -> None:
        """Show the project's image at ``index`` (in the image list's order)."""
        self.label_page.select_image(index)

    def choose_project(self) -> None:
        start = str(studio_settings().value("last_project_dir", str(Path.home())))
        folder = QFileDialog.getExistingDirectory(self, "Open Project", start)
        if folder:
            self.open_project(Path(folder))

    # -- building -----------------------------------------------------------------------

    def _connect_status(self) -> None:
        page, view = self.label_page, self.label_page.view
        page.image_loaded.connect(self.status.show_loaded)
        view.zoom_changed.connect(self.status.show_zoom)
        view.cursor_moved.connect(self.status.show_cursor)
        view.cursor_left.connect(self.status.clear_cursor)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = self._action("&Open Project…", "Ctrl+O", self.choose_project)
        self.quit_action = self._action("&Quit", "Ctrl+Q", self.close)
        file_menu.addAction(self.open_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

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
        splitter = settings.value("window/label_page_splitter")
        if isinstance(splitter, QByteArray):
            self.label_page.restore_layout(splitter)

    def closeEvent(self, event: QCloseEvent) -> None:
        settings = studio_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/label_page_splitter", self.label_page.save_layout())
        super().closeEvent(event)
