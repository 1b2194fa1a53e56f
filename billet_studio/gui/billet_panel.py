"""The error browser's billet panel: the selected billet's photograph with its evaluated
boxes, what the reader made of it, and the score-threshold slider that re-matches it live
(the table follows once the slider rests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from billet_studio.evaluation.browse import BilletBrowser, BoxRecord
from billet_studio.gui.billet_view import BilletView, PhotoLoader
from billet_studio.gui.threshold_control import ThresholdControl


def describe_billet(record: dict[str, Any], score: float) -> str:
    """The panel's caption: the billet's facts, its reads and its counts at ``score``."""
    return (f"<b>{record['file_name']}</b> · {record['visibility'] or '?'} · site "
            f"{record['site'] or '?'}<br>true <tt>{record['true_id']}</tt> · raw "
            f"<tt>{record['raw_read']}</tt> · prior <tt>{record['prior_read'] or '—'}</tt>"
            f"<br>at score ≥ {score:.2f}: TP {record['tp']} MC {record['mc']} FN "
            f"{record['fn']} FP {record['fp']}")


class BilletPanel(QWidget):
    """``open_requested`` when "Open in labelling" is pressed; ``message`` for the bar."""

    message = Signal(str)
    open_requested = Signal()
    png_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = BilletView()
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.threshold = ThresholdControl()
        self.threshold.score_moved.connect(lambda _: self._draw())
        self.open_button = QPushButton("Open in labelling")
        self.open_button.setToolTip("Fix this billet's labels (a wrong label often shows as "
                                    "an FN and an FP on the same digit); once saved, the "
                                    "billet is re-scored here")
        self.open_button.clicked.connect(self.open_requested)
        self.png_button = QPushButton("Save view as PNG…")
        self.png_button.clicked.connect(self.png_requested)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.view, 1)
        column.addWidget(self.threshold)
        row = QHBoxLayout()
        row.addWidget(self.details, 1)
        row.addWidget(self.png_button)
        row.addWidget(self.open_button)
        column.addLayout(row)
        self.loader = PhotoLoader(self)
        self.loader.loaded.connect(self._photo_loaded)
        self.browser: BilletBrowser | None = None
        self.record: dict[str, Any] | None = None
        self.path: Path | None = None
        self.photo: tuple[Any, Any] | None = None  # (pixels, display) of the shown billet
        #: Photographs are requested by number (billet ids repeat across evaluations);
        #: ``shown_request == request`` once the view shows the latest.
        self.request = 0
        self.shown_request = 0

    @property
    def billet_id(self) -> int | None:
        return None if self.record is None else int(self.record["id"])

    def show_billet(self, browser: BilletBrowser | None, record: dict[str, Any] | None,
                    path: Path | None) -> None:
        """Show ``record`` (a row of ``browser``) and its photograph at ``path``; the
        photograph is decoded on a worker unless it is the one already shown."""
        same_photo = (self.photo is not None and record is not None and self.record is not None
                      and record["id"] == self.record["id"] and path == self.path)
        self.browser, self.record, self.path = browser, record, path
        if record is None or browser is None:
            self.request += 1
            self.photo = None
            self.view.show_billet(None, None, [])
            self.details.setText("")
            return
        self.details.setText(describe_billet(record, self.threshold.score))
        if same_photo:
            self._draw()  # another store of the same evaluation: only the boxes change
            return
        self.photo = None
        self.request += 1
        self.loader.load(self.request, path)

    def _photo_loaded(self, request: int, pixels, display, error: str) -> None:
        if request != self.request or self.record is None:
            return  # the user moved on
        self.photo = (pixels, display)
        self._draw()
        self.shown_request = request
        if error:
            self.message.emit(f"⚠ {error}")

    def boxes_at_slider(self) -> tuple[dict[str, Any], list[BoxRecord]]:
        """The shown billet's row and boxes at the slider's score (re-matched when the
        open store was matched at another)."""
        assert self.browser is not None and self.record is not None
        score = self.threshold.score
        if abs(score - self.browser.match_config.score) < 1e-9:
            return self.record, self.browser.boxes(int(self.record["id"]))
        found = self.browser.at_score(int(self.record["id"]), score)
        return found if found is not None else (self.record, [])

    def _draw(self) -> None:
        if self.browser is None or self.record is None:
            return
        record, boxes = self.boxes_at_slider()
        self.details.setText(describe_billet(record, self.threshold.score))
        if self.photo is not None:
            self.view.show_billet(*self.photo, boxes)

    def shutdown(self) -> None:
        self.threshold.shutdown()
        self.loader.shutdown()
