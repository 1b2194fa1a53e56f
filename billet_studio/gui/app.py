"""Starting the studio: the application object, its icon, and the main window."""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication

from billet_studio.gui.about_dialog import qt_versions_text
from billet_studio.gui.main_window import MainWindow
from billet_studio.gui.settings import APPLICATION, ORGANISATION

#: What the CLI's ``gui`` command uses (``gui --qt-versions`` answers doctor's probe).
__all__ = ["qt_versions_text", "run_studio", "studio_application", "studio_icon"]


def studio_icon() -> QIcon:
    """The studio's icon, read through importlib.resources so an installed wheel finds it."""
    data = (files("billet_studio.desktop") / "icons" / "billet-studio.svg").read_bytes()
    pixmap = QPixmap()
    pixmap.loadFromData(data, "SVG")
    return QIcon(pixmap)


def studio_application(argv: list[str] | None = None) -> QApplication:
    """The running QApplication (made if needed), named so settings land in one place."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setOrganizationName(ORGANISATION)
    app.setWindowIcon(studio_icon())
    # Wayland and the desktop match windows to billet-studio.desktop by this name.
    app.setDesktopFileName("billet-studio")
    return app


def run_studio(project: Path | None = None) -> int:
    """Show the studio (opening ``project`` if given) and run it until it is closed."""
    app = studio_application()
    window = MainWindow()
    window.show()
    if project is not None:
        window.open_project(Path(project))
    return app.exec()
