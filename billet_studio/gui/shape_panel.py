"""The panel beside the canvas: what went wrong loading the image, the billet's facts and
site, its shapes (click a row to select the shape) and the geometry warnings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from billet_studio.annotations import ImageRecord, Shape
from billet_studio.gui.image_loading import LoadedImage

SHAPE_COLUMNS = ("#", "Label", "Type", "Group", "Flags")
ERROR_STYLE = (
    "QLabel { background: #8b1a1a; color: white; font-weight: bold;"
    " padding: 6px; border-radius: 3px; }"
)
NO_SITE = "(none)"


def shape_kind(shape: Shape) -> str:
    return "hole" if shape.is_hole else shape.shape_type


def shape_flags(shape: Shape) -> str:
    """The flags that are set, comma-separated; ``hole`` is already the shape's kind."""
    return ", ".join(name for name, value in shape.flags.items() if value and name != "hole")


def billet_facts(record: ImageRecord) -> str:
    """Who the billet is, then what its labels say, one line each."""
    billet = record.billet
    stamps = "1 stamp" if len(record.stamps) == 1 else f"{len(record.stamps)} stamps"
    identity = [f"split {record.split}", f"site {billet.site or '?'}"]
    if billet.id:
        identity.insert(0, f"ID {billet.id}")
    return " · ".join(identity) + f"\nvisibility {record.visibility} · {stamps}"


class ShapePanel(QWidget):
    """One image's labels as they are edited; load errors first, in a red banner."""

    #: The user picked shapes in the list (their indices).
    shapes_chosen = Signal(list)
    #: The user picked a site ("" for none).
    site_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.facts_label = QLabel()
        self.facts_label.setWordWrap(True)
        self.site_combo = QComboBox()
        self.site_combo.setToolTip("The plant site this billet was photographed at")
        self.site_combo.activated.connect(self._on_site)
        site_form = QFormLayout()
        site_form.addRow("Site", self.site_combo)
        self.shapes_title = QLabel("Shapes")
        self.shape_tree = QTreeWidget()
        self.shape_tree.setHeaderLabels(list(SHAPE_COLUMNS))
        self.shape_tree.setRootIsDecorated(False)
        self.shape_tree.setUniformRowHeights(True)
        self.shape_tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.shape_tree.itemSelectionChanged.connect(self._on_rows_chosen)
        for column, width in enumerate((28, 44, 70, 46)):
            self.shape_tree.setColumnWidth(column, width)
        self.warnings_title = QLabel("Warnings")
        self.warning_list = QListWidget()
        self.warning_list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.error_label)
        layout.addWidget(self.facts_label)
        layout.addLayout(site_form)
        layout.addWidget(self.shapes_title)
        layout.addWidget(self.shape_tree, 3)
        layout.addWidget(self.warnings_title)
        layout.addWidget(self.warning_list, 1)
        self._filling = False
        self.show_loaded(None)

    @property
    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def set_sites(self, sites: Sequence[str]) -> None:
        self.site_combo.clear()
        self.site_combo.addItems([NO_SITE, *sites])

    def show_loaded(self, loaded: LoadedImage | None) -> None:
        """Show ``loaded``'s errors and record (None clears the panel)."""
        errors = loaded.errors if loaded is not None else ()
        self.error_label.setText("\n\n".join(f"⚠ {e}" for e in errors))
        self.error_label.setVisible(bool(errors))
        record = loaded.record if loaded is not None else None
        self.show_record(record, "" if loaded is None else "No labels shown.")

    def show_record(self, record: ImageRecord | None, empty_text: str = "") -> None:
        """Show the labels as they are now (called after every edit)."""
        self._filling = True
        try:
            self.shape_tree.clear()
            self.warning_list.clear()
            self.site_combo.setEnabled(record is not None)
            if record is None:
                self.facts_label.setText(empty_text)
                self.shapes_title.setText("Shapes")
                self.warnings_title.hide()
                self.warning_list.hide()
                return
            self.facts_label.setText(billet_facts(record))
            site = record.billet.site
            if site and self.site_combo.findText(site) < 0:
                self.site_combo.addItem(site)
            self.site_combo.setCurrentText(site or NO_SITE)
            self.shapes_title.setText(f"Shapes ({len(record.shapes)})")
            self.shape_tree.addTopLevelItems([
                QTreeWidgetItem([str(index + 1), shape.label or "?", shape_kind(shape),
                                 "" if shape.group_id is None else str(shape.group_id),
                                 shape_flags(shape)])
                for index, shape in enumerate(record.shapes)
            ])
            warnings = [*record.warnings, *record.geometry_warnings]
            self.warning_list.addItems(warnings)
            self.warnings_title.setText(f"Warnings ({len(warnings)})")
            self.warnings_title.setVisible(bool(warnings))
            self.warning_list.setVisible(bool(warnings))
        finally:
            self._filling = False

    def select_rows(self, indices: Sequence[int]) -> None:
        """Mirror the canvas selection without announcing it back."""
        self._filling = True
        try:
            for row in range(self.shape_tree.topLevelItemCount()):
                self.shape_tree.topLevelItem(row).setSelected(row in indices)
        finally:
            self._filling = False

    def _on_rows_chosen(self) -> None:
        if not self._filling:
            rows = sorted(self.shape_tree.indexOfTopLevelItem(item)
                          for item in self.shape_tree.selectedItems())
            self.shapes_chosen.emit(rows)

    def _on_site(self, _index: int) -> None:
        text = self.site_combo.currentText()
        self.site_chosen.emit("" if text == NO_SITE else text)


class LabelCounts(QTreeWidget):
    """How many stamps of each class the open image has (a label list)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Label", "Stamps"])
        self.setRootIsDecorated(False)

    def show_shapes(self, shapes: list[Shape]) -> None:
        counts = Counter(s.label or "?" for s in shapes if not s.is_hole)
        self.clear()
        self.addTopLevelItems([QTreeWidgetItem([label, str(count)])
                               for label, count in sorted(counts.items())])
