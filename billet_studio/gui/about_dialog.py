"""Help ▸ About: the studio's version, Python, platform, torch and its devices, Qt and the
open project: the facts ``billet-studio doctor`` prints. torch is looked up on a worker
(importing it takes seconds), so the box opens at once."""

from __future__ import annotations

import html
from pathlib import Path

import PySide6
from PySide6.QtCore import Qt, QThreadPool, Signal, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from billet_studio.environment import Facts, display_name, environment_facts
from billet_studio.gui.worker_task import WorkerTask

CHECKING = "checking…"


def qt_versions_text() -> str:
    """"PySide6 x, Qt y": what ``doctor`` reports (it asks ``gui --qt-versions``)."""
    return f"PySide6 {PySide6.__version__}, Qt {qVersion()}"


class AboutDialog(QDialog):
    """``facts`` holds what the box shows, in order; ``ready`` fires once torch's facts
    are in. Kept by the window and shown again (the facts are looked up once)."""

    ready = Signal()
    #: From the worker: every fact, torch's included.
    _found = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Billet Studio")
        self.project: Path | None = None
        self.qt = qt_versions_text()
        screen = display_name()
        self.display = QGuiApplication.platformName() + (f" ({screen})" if screen else "")
        self.found: Facts = environment_facts(self.qt, torch=[("torch", CHECKING)],
                                              display=self.display)
        self.complete = False
        title = QLabel("<h2>Billet Studio</h2>Label billet ID stamps, synthesise stamps "
                       "with a pix2pix cGAN, train and score a Faster R-CNN reader.")
        title.setWordWrap(True)
        self.table = QLabel()
        self.table.setTextFormat(Qt.TextFormat.RichText)
        self.table.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = QPushButton("Copy")
        copy.setToolTip("Copy these facts (for a bug report)")
        copy.clicked.connect(self.copy_facts)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        icon = QLabel()
        if not QGuiApplication.windowIcon().isNull():
            icon.setPixmap(QGuiApplication.windowIcon().pixmap(64, 64))
        head = QHBoxLayout()
        head.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        head.addWidget(title, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self._found.connect(self._facts_found)
        self.pool = QThreadPool(self)  # waited for when the dialog goes
        self.pool.setMaxThreadCount(1)
        self.pool.start(WorkerTask(lambda: self._found.emit(
            environment_facts(self.qt, display=self.display))))
        self._show()

    @property
    def facts(self) -> Facts:
        project = str(self.project) if self.project is not None else "none open"
        return [*self.found, ("project", project)]

    def show_for(self, project: Path | None) -> None:
        """Show the box, with ``project`` as the open project."""
        self.project = project
        self._show()
        self.open()

    def _facts_found(self, facts: Facts) -> None:
        self.found, self.complete = facts, True
        self._show()
        self.ready.emit()

    def _show(self) -> None:
        rows = "".join(f"<tr><td><b>{html.escape(name)}</b></td><td>{html.escape(value)}"
                       "</td></tr>" for name, value in self.facts)
        self.table.setText(f"<table cellspacing=4>{rows}</table>")
        self.adjustSize()  # the facts grow as torch's come in

    def copy_facts(self) -> None:
        QGuiApplication.clipboard().setText(
            "\n".join(f"{name:<13} {value}" for name, value in self.facts))
