"""Driving the studio from tests: waiting until background loading has settled."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from billet_studio.gui.main_window import MainWindow


def open_studio(qtbot, root: Path, size: tuple[int, int] = (1200, 800)) -> MainWindow:
    """A shown, active studio window (shortcuts go to the active window) on ``root``,
    settled."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    assert window.open_project(root)
    wait_idle(window)
    return window


def wait_idle(window, timeout: float = 20.0) -> None:
    """Process events until the labelling page has shown the image it was asked for and
    read every image's summary (decoding and scanning run on worker threads)."""
    page = window.label_page
    deadline = time.monotonic() + timeout
    while not page.idle():
        if time.monotonic() > deadline:
            raise TimeoutError("the labelling page did not settle")
        QApplication.processEvents()
        time.sleep(0.002)
    QApplication.processEvents()


def select(window, index: int) -> None:
    window.select_image(index)
    wait_idle(window)
