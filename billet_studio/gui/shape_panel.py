"""The panel beside the image: the record's billet facts, its shapes, and what went wrong."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
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
    """Read-only view of one image's record; errors are shown first, in a red banner."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.facts_label = QLabel()
        self.facts_label.setWordWrap(True)
        self.shapes_title = QLabel("Shapes")
        self.shape_tree = QTreeWidget()
        self.shape_tree.setHeaderLabels(list(SHAPE_COLUMNS))
        self.shape_tree.setRootIsDecorated(False)
        self.shape_tree.setUniformRowHeights(True)
        for column, width in enumerate((28, 44, 70, 46)):
            self.shape_tree.setColumnWidth(column, width)
        self.warnings_title = QLabel("Warnings")
        self.warning_list = QListWidget()
        self.warning_list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.error_label)
        layout.addWidget(self.facts_label)
        layout.addWidget(self.shapes_title)
        layout.addWidget(self.shape_tree, 3)
        layout.addWidget(self.warnings_title)
        layout.addWidget(self.warning_list, 1)
        self.show_loaded(None)

    @property
    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def show_loaded(self, loaded: LoadedImage | None) -> None:
        """Show ``loaded``'s record and errors (None clears the panel)."""
        errors = loaded.errors if loaded is not None else ()
        record = loaded.record if loaded is not None else None
        self.error_label.setText("\n\n".join(f"⚠ {e}" for e in errors))
        self.error_label.setVisible(bool(errors))
        self.shape_tree.clear()
        self.warning_list.clear()
        if record is None:
            self.facts_label.setText("" if loaded is None else "No labels shown.")
            self.shapes_title.setText("Shapes")
            self.warnings_title.hide()
            self.warning_list.hide()
            return
        self.facts_label.setText(billet_facts(record))
        self.shapes_title.setText(f"Shapes ({len(record.shapes)})")
        self.shape_tree.addTopLevelItems([
            QTreeWidgetItem([
                str(index + 1),
                shape.label,
                shape_kind(shape),
                "" if shape.group_id is None else str(shape.group_id),
                shape_flags(shape),
            ])
            for index, shape in enumerate(record.shapes)
        ])
        warnings = [*record.warnings, *record.geometry_warnings]
        self.warning_list.addItems(warnings)
        self.warnings_title.setText(f"Warnings ({len(warnings)})")
        self.warnings_title.setVisible(bool(warnings))
        self.warning_list.setVisible(bool(warnings))
