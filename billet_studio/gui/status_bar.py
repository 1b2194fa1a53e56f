"""The window's status bar: the shown image's name and size, the zoom, and the cursor."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from billet_studio.gui.image_loading import LoadedImage


class StudioStatusBar(QStatusBar):
    """Permanent fields on the right; messages (errors, hints) on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.cursor_label = QLabel()
        # Fixed minimum widths keep the fields from jumping while the cursor moves.
        self.cursor_label.setMinimumWidth(150)
        self.zoom_label.setMinimumWidth(60)
        for label in (self.name_label, self.size_label, self.zoom_label, self.cursor_label):
            self.addPermanentWidget(label)

    def show_loaded(self, loaded: LoadedImage | None) -> None:
        self.clear_cursor()
        if loaded is None:
            self.name_label.clear()
            self.size_label.clear()
            return
        self.name_label.setText(loaded.path.name)
        size = loaded.size
        self.size_label.setText("" if size is None else f"{size[0]} × {size[1]} px")
        if loaded.errors:
            self.showMessage("⚠ " + "  ⚠ ".join(loaded.errors))
        else:
            self.clearMessage()

    def show_zoom(self, scale: float) -> None:
        self.zoom_label.setText(f"{scale * 100:.0f}%")

    def show_cursor(self, x: float, y: float) -> None:
        # Both the continuous position and the pixel (column, row) under it.
        self.cursor_label.setText(f"x {x:.1f}  y {y:.1f}  (col {int(x)}, row {int(y)})")

    def clear_cursor(self) -> None:
        self.cursor_label.clear()
