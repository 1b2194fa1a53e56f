"""Driving the studio from tests: waiting until background loading has settled."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QApplication


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
