"""The labelling page: image list, image view and shape panel over one open project.

Read-only for now: it shows what the project's files say and never writes them.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QWidget

from billet_studio.annotations import Project
from billet_studio.gui.image_list import ImageList
from billet_studio.gui.image_loading import (
    LoadedImage,
    load_image,
    summarize_loaded,
    summarize_project,
)
from billet_studio.gui.image_view import ImageView
from billet_studio.gui.shape_panel import ShapePanel


class LabelPage(QWidget):
    """Shows the project's images one at a time, with their stamps and any load errors."""

    #: An image was shown (a LoadedImage), or the page was cleared (None).
    image_loaded = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.loaded: LoadedImage | None = None
        self.image_list = ImageList()
        self.view = ImageView()
        self.shape_panel = ShapePanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.image_list)
        self.splitter.addWidget(self.view)
        self.splitter.addWidget(self.shape_panel)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([300, 700, 300])
        self.splitter.setChildrenCollapsible(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.image_list.image_selected.connect(self.select_image)

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s images (None closes it) and select the first one."""
        self.project = project
        summaries = list(summarize_project(project)) if project is not None else []
        self.image_list.set_summaries(summaries)
        self._show(None)
        if summaries:
            self.image_list.select(0)

    def select_image(self, index: int) -> None:
        """Show the image at ``index`` of the list, reading it from disk afresh."""
        if self.project is None:
            raise RuntimeError("no project is open")
        if index != self.image_list.current_index():
            # Selecting the row comes back here through image_selected.
            self.image_list.select(index)
            return
        path = self.image_list.summaries[index].path
        loaded = load_image(self.project, path)
        # The sidecar may have changed since the list was filled; keep the row honest.
        self.image_list.update_summary(index, summarize_loaded(self.project, loaded))
        self._show(loaded)

    def _show(self, loaded: LoadedImage | None) -> None:
        self.loaded = loaded
        record = loaded.record if loaded is not None else None
        self.view.show_image(
            loaded.pixels if loaded is not None else None,
            record.stamps if record is not None else None,
        )
        self.shape_panel.show_loaded(loaded)
        self.image_loaded.emit(loaded)

    def save_layout(self) -> QByteArray:
        return self.splitter.saveState()

    def restore_layout(self, state: QByteArray) -> None:
        self.splitter.restoreState(state)
