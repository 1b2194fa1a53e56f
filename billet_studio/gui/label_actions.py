"""The labelling page's actions and toolbar. Bare character keys are labels, so every
shortcut here holds Ctrl or Alt, or is a key that types nothing (PgUp/PgDn, Delete)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QToolBar

if TYPE_CHECKING:
    from billet_studio.gui.label_page import LabelPage

TOOLS = (("select", "Select", "Ctrl+1", "Select and drag shapes; drag vertices, click an "
          "edge's midpoint (or Alt+click an edge) to insert one, Shift+click or Delete "
          "removes one"),
         ("polygon", "Polygon", "Ctrl+2", "Click vertices; close on the first vertex, a "
          "double-click or Enter; Backspace takes back a vertex, Esc cancels"),
         ("rectangle", "Rectangle", "Ctrl+3", "Drag a box or click two corners"),
         ("hole", "Hole", "Ctrl+4", "Draw a cut-out inside the selected polygon"))


def _action(page: LabelPage, text: str, shortcut: str | QKeySequence.StandardKey | None,
            slot: Callable[..., object], tip: str = "", checkable: bool = False) -> QAction:
    action = QAction(text, page)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip or text} ({shown})" if shown else tip or text)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    page.addAction(action)
    return action


def build_label_actions(page: LabelPage) -> QToolBar:
    """Make the page's actions (as attributes of ``page``) and its toolbar."""
    canvas = page.canvas
    group = QActionGroup(page)
    page.tool_actions = {}
    for name, text, shortcut, tip in TOOLS:
        action = _action(page, text, shortcut, lambda _=False, n=name: page.set_tool(n), tip,
                         checkable=True)
        group.addAction(action)
        page.tool_actions[name] = action
    page.tool_actions["select"].setChecked(True)

    stack = page.undo_group
    page.undo_action = stack.createUndoAction(page, "&Undo")
    page.undo_action.setShortcuts([QKeySequence("Ctrl+Z")])
    page.redo_action = stack.createRedoAction(page, "&Redo")
    page.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    page.addActions([page.undo_action, page.redo_action])

    page.save_action = _action(page, "&Save", "Ctrl+S", page.save)
    page.copy_action = _action(page, "&Copy", "Ctrl+C", page.copy_selection)
    page.paste_action = _action(page, "&Paste", "Ctrl+V", page.paste)
    page.duplicate_action = _action(page, "&Duplicate", "Ctrl+D", page.duplicate)
    page.delete_action = _action(page, "Delete", None, canvas.delete_selected,
                                 "Delete the selected vertex or shapes (Delete)")
    page.partial_action = _action(page, "Partial", "Alt+P",
                                  lambda: page.toggle_flag("partial"),
                                  "Mark the selected stamps partially imprinted")
    page.poor_action = _action(page, "Poor", "Alt+O", lambda: page.toggle_flag("poor"),
                               "Mark the selected stamps poorly imprinted")
    page.well_action = _action(page, "Well", "Alt+W", page.mark_well,
                               "Mark the selected stamps well imprinted (neither flag)")
    page.done_action = _action(page, "Done", "Ctrl+Return", page.toggle_done,
                               "Mark this image's labels finished (a ✓ in the image list)")
    page.next_action = _action(page, "Next image", "PgDown", page.next_image)
    page.previous_action = _action(page, "Previous image", "PgUp", page.previous_image)
    page.advance_action = _action(page, "Auto-advance", "Alt+A", lambda: None,
                                  "After a label key, select the next unlabelled shape in "
                                  "reading order", checkable=True)
    page.advance_action.setChecked(True)
    page.snap_action = _action(page, "Snap templates", "Alt+G", lambda: None,
                               "A character key on an empty box, or a box dragged while "
                               "holding one, places that character's glyph template",
                               checkable=True)
    page.snap_action.setChecked(True)
    page.refine_action = _action(page, "Refine", "Alt+R", page.assist.refine_selection,
                                 "Align the selected stamps' outlines to the edges in the "
                                 "photograph")
    page.prelabel_action = _action(page, "Pre-label", "Ctrl+L", page.prelabel.start,
                                   "Let a detector run propose boxes with labels for this "
                                   "image (the bundled demo detector unless you chose one)")
    page.accept_proposals_action = _action(page, "Accept proposals", "Ctrl+Shift+Return",
                                           page.prelabel.accept,
                                           "Turn each proposal into its character's "
                                           "template, snapped to the box (Esc dismisses)")
    page.choose_detector_action = _action(page, "Choose Detector…", None,
                                          page.choose_detector)
    page.shapes_visible_action = _action(page, "Show shapes", "Ctrl+Shift+H", lambda: None,
                                         checkable=True)
    page.shapes_visible_action.setChecked(True)
    # toggled, not triggered: the View dock's checkbox sets the action's state too.
    page.shapes_visible_action.toggled.connect(canvas.set_shapes_visible)

    toolbar = QToolBar("Labelling")
    toolbar.setObjectName("labelling-toolbar")
    toolbar.addActions(list(page.tool_actions.values()))
    toolbar.addSeparator()
    toolbar.addActions([page.undo_action, page.redo_action, page.save_action,
                        page.done_action])
    toolbar.addSeparator()
    toolbar.addActions([page.partial_action, page.poor_action, page.well_action,
                        page.advance_action, page.snap_action, page.refine_action,
                        page.prelabel_action, page.accept_proposals_action,
                        page.shapes_visible_action])
    return toolbar
