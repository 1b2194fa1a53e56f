"""A callable run on a QThreadPool (the pages' worker threads)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QRunnable


class WorkerTask(QRunnable):
    """Runs ``work`` on a pool thread; it reports back through signals of its own."""

    def __init__(self, work: Callable[[], None]) -> None:
        super().__init__()
        self.work = work

    def run(self) -> None:
        self.work()
