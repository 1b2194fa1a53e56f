"""Input routing of the labelling canvas (a mixin of LabelCanvas): the left button goes to
the active tool, Space+drag and the middle button pan (also mid-gesture), character keys
label or, held while a box is dragged, snap a template; Delete, Esc and the arrows act on
the selection."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent, QMouseEvent

from billet_studio.annotations import editing
from billet_studio.gui.canvas.tools import CanvasTool, SnapTool

Point = tuple[float, float]
NUDGE_KEYS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0),
              Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


class CanvasInput:
    """Mouse and key handlers; ``self`` is the LabelCanvas."""

    _space_held: bool
    _space_pan_from: QPoint | None
    #: The character key held down: (key code, character, the tool it interrupted).
    _held: tuple[int, str, CanvasTool] | None

    def _scene_point(self, event: QMouseEvent) -> Point:
        point = self.mapToScene(event.position().toPoint())
        return float(point.x()), float(point.y())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._space_held:
            self._space_pan_from = event.position().toPoint()
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.editable:
            self.setFocus()
            self.tool.press(self._scene_point(event), event.modifiers())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._space_pan_from is not None:
            position = event.position().toPoint()
            delta, self._space_pan_from = position - self._space_pan_from, position
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        if self.editable:
            dragging = bool(event.buttons() & Qt.MouseButton.LeftButton)
            self.tool.move(self._scene_point(event), dragging)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._space_pan_from is not None:
            self._space_pan_from = None
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self.editable:
            self.tool.release(self._scene_point(event))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.editable:
            self.tool.double_click(self._scene_point(event))
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if not self.editable:
            super().keyPressEvent(event)
            return
        if self.tool.key(key):
            event.accept()
            return
        character = _label_character(event)
        if character is not None:
            # Decided on release: a box dragged meanwhile is snapped to this character's
            # template, otherwise the key labels the selection. A key pressed while another
            # is still down (fast typing) settles the earlier one first.
            if not event.isAutoRepeat():
                if self._held is not None and not self.tool.busy:
                    self.let_go_of_key(label=not getattr(self.tool, "snapped", False))
                if self._held is None and not self.tool.busy:
                    self._held = key, character, self.tool
                    self.tool = SnapTool(self, character)
            event.accept()
            return
        if self._canvas_key(key, modifiers):
            event.accept()
            return
        super().keyPressEvent(event)

    def _canvas_key(self, key: int, modifiers: Qt.KeyboardModifier) -> bool:
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if key == Qt.Key.Key_Escape and self.proposal_items:
            self.show_proposals([])
            self.proposals_dismissed.emit()
        elif key == Qt.Key.Key_Escape:
            self.select([])
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selected()
        elif key in NUDGE_KEYS and self.selection:
            step = 10.0 if shift else 1.0
            dx, dy = NUDGE_KEYS[key]
            self.apply(editing.translate_shapes, self.selection, dx * step, dy * step, "Nudge")
        else:
            return False
        return True

    def let_go_of_key(self, label: bool) -> None:
        """End the held character key: back to the tool it interrupted, and (``label``)
        the character labels the selection unless a box was snapped meanwhile."""
        if self._held is None:
            return
        _, character, previous = self._held
        snap, self._held = self.tool, None
        self.tool = previous
        snap.cancel()
        if label and not (isinstance(snap, SnapTool) and snap.snapped):
            self.character_typed.emit(character)

    def forget_held_keys(self) -> None:
        """Drop held-key state (focus lost, image changed): nothing is applied."""
        self.let_go_of_key(label=False)
        self._space_held = False
        self._space_pan_from = None

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        # Matched by key code: the text of a release can differ from its press (Shift
        # let go first on layouts where digits need it).
        if (self._held is not None and not event.isAutoRepeat()
                and event.key() == self._held[0]):
            self.let_go_of_key(label=True)
            event.accept()
            return
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._space_pan_from = None
            self._restore_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.forget_held_keys()
        self._restore_cursor()
        super().focusOutEvent(event)


def _label_character(event: QKeyEvent) -> str | None:
    """The upper-cased letter or digit a key types with no Ctrl/Alt/Meta held, if any."""
    text = event.text()
    held = event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                | Qt.KeyboardModifier.AltModifier
                                | Qt.KeyboardModifier.MetaModifier)
    if len(text) == 1 and text.isascii() and text.isalnum() and not held:
        return text.upper()
    return None
