"""Showing PNGs the studio did not make (contact sheets, training previews), decoded off
the GUI thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QScrollArea, QVBoxLayout, QWidget


class ImageDecoder(QObject):
    """Decodes image files on the global thread pool; ``decoded`` arrives on the GUI
    thread with the path asked for (a null image when it cannot be read)."""

    decoded = Signal(Path, QImage)

    def decode(self, path: Path) -> None:
        QThreadPool.globalInstance().start(_Decode(Path(path), self))


class _Decode(QRunnable):
    def __init__(self, path: Path, decoder: ImageDecoder) -> None:
        super().__init__()
        self.path, self.decoder = path, decoder

    def run(self) -> None:
        self.decoder.decoded.emit(self.path, QImage(str(self.path)))


class ContactSheetView(QDialog):
    """The sheet at ``path``, scrollable, its folder in the title."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.setWindowTitle(f"Contact sheet — {path.parent.name}")
        self.image = QLabel("loading…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        scroll = QScrollArea()
        scroll.setWidget(self.image)
        scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(str(path)))
        layout.addWidget(scroll)
        self.resize(1000, 760)
        # No parent: a decode still running when this window closes emits on a live
        # object (the task holds it), and the closed window's connection is gone.
        self.decoder = ImageDecoder()
        self.decoder.decoded.connect(self._show)
        self.decoder.decode(path)

    def _show(self, path: Path, image: QImage) -> None:
        if image.isNull():
            self.image.setText(f"⚠ {path} cannot be read")
            return
        self.image.setPixmap(QPixmap.fromImage(image))

    def loaded(self) -> bool:
        pixmap = self.image.pixmap()
        return pixmap is not None and not pixmap.isNull()
