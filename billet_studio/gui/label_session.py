"""One image open for labelling: its document, the undo stack over it, the crash journal and
autosave. The canvas and docks only call :meth:`LabelSession.push` and listen.

Every change goes through a :class:`EditCommand` (a QUndoCommand around a GUI-free
ShapesEdit), so undo is unlimited and exact. After each change the unsaved state is written
to the crash journal; a save writes the sidecar atomically and then drops the journal entry.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from billet_studio.annotations import (
    AnnotationError,
    CrashJournal,
    ImageRecord,
    LabelDocument,
    Project,
    ShapesEdit,
)
from billet_studio.annotations.journal import sidecar_digest

AUTOSAVE_MS = 30_000
#: Consecutive edits with this text merge into one undo step (arrow-key nudges).
MERGING_TEXTS = ("Nudge",)


class EditCommand(QUndoCommand):
    """A ShapesEdit on the undo stack; consecutive nudges of one selection merge."""

    def __init__(self, document: LabelDocument, edit: ShapesEdit) -> None:
        super().__init__(edit.text)
        self.document = document
        self.edit = edit

    def redo(self) -> None:
        self.document.apply(self.edit)

    def undo(self) -> None:
        self.document.undo(self.edit)

    def id(self) -> int:
        return 1 if self.edit.text in MERGING_TEXTS else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditCommand) or other.edit.text != self.edit.text:
            return False
        mine = [i for i, _ in self.edit.added]
        if mine != [i for i, _ in other.edit.removed]:
            return False
        self.edit = ShapesEdit(self.edit.text, self.edit.removed, other.edit.added)
        return True


class LabelSession(QObject):
    """The open image's labels with undo, journal and autosave."""

    #: The document changed (the ShapesEdit applied, undo included).
    changed = Signal(object)
    #: Saved to this sidecar path.
    saved = Signal(Path)
    #: A save failed; the message names the file and the problem.
    save_failed = Signal(str)

    def __init__(self, project: Project, record: ImageRecord,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.document = LabelDocument(record)
        self.journal = CrashJournal(project)
        self.base_digest = sidecar_digest(project.sidecar_path(record.image_path))
        self.undo_stack = QUndoStack(self)
        self.document.subscribe(self._on_edit)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.save_if_modified)
        self.autosave_timer.start()

    @property
    def image_path(self) -> Path:
        return self.document.record.image_path

    @property
    def modified(self) -> bool:
        return self.document.modified

    def push(self, edit: ShapesEdit) -> None:
        """Apply ``edit`` as one undoable step (empty edits are dropped)."""
        if not edit.is_empty:
            self.undo_stack.push(EditCommand(self.document, edit))

    def _on_edit(self, edit: ShapesEdit) -> None:
        if self.document.modified:
            try:
                self.journal.write(self.document.to_record(), self.base_digest)
            except (AnnotationError, OSError) as error:  # the edit itself stands
                self.save_failed.emit(f"crash journal not written: {error}")
        else:
            self.journal.discard(self.image_path)
        self.changed.emit(edit)

    def save(self) -> bool:
        """Write the sidecar atomically; False (and save_failed) if it could not be."""
        record = self.document.to_record()
        try:
            path = self.project.save_record(record)
        except (AnnotationError, OSError) as error:
            self.save_failed.emit(str(error))
            return False
        self.document.mark_saved(record)
        self.base_digest = sidecar_digest(path)
        self.journal.discard(self.image_path)
        self.undo_stack.setClean()
        self.saved.emit(path)
        return True

    def save_if_modified(self) -> bool:
        return self.save() if self.document.modified else True

    def close(self, discard: bool = False) -> None:
        """Stop autosaving; ``discard`` drops unsaved edits and their journal entry (the
        caller saved first otherwise)."""
        self.autosave_timer.stop()
        if discard or not self.document.modified:
            self.journal.discard(self.image_path)
