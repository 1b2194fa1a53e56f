"""The labels of one image while they are edited: a GUI-free document changed only through
reversible edits, so the studio's undo stack (and any script) can replay them both ways.

Every change is a :class:`ShapesEdit`: shapes taken out at their old indices, shapes put in
at their new ones, and optionally the billet facts before and after. Its inverse swaps the
two sides, so undo and redo are exact by construction for every kind of edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from billet_studio.annotations.records import BilletInfo, ImageRecord
from billet_studio.annotations.shapes import Shape


@dataclass(frozen=True)
class ShapesEdit:
    """One reversible change to a document; ``text`` names it in the undo history."""

    text: str
    #: (index before the edit, shape) for each shape taken out, ascending by index.
    removed: tuple[tuple[int, Shape], ...] = ()
    #: (index after the edit, shape) for each shape put in, ascending by index.
    added: tuple[tuple[int, Shape], ...] = ()
    #: (before, after) when the edit changes the billet facts (site, visibility override).
    billet: tuple[BilletInfo, BilletInfo] | None = None
    #: (before, after) when the edit changes the image's LabelMe flags (``done``).
    flags: tuple[dict[str, bool], dict[str, bool]] | None = None

    def inverse(self) -> ShapesEdit:
        billet = None if self.billet is None else (self.billet[1], self.billet[0])
        flags = None if self.flags is None else (self.flags[1], self.flags[0])
        return ShapesEdit(self.text, self.added, self.removed, billet, flags)

    @property
    def is_empty(self) -> bool:
        return (not self.removed and not self.added
                and (self.billet is None or self.billet[0] == self.billet[1])
                and (self.flags is None or self.flags[0] == self.flags[1]))


def replacing(text: str, changes: dict[int, Shape], shapes: list[Shape]) -> ShapesEdit:
    """An edit that replaces the shapes at the given indices (the list keeps its order)."""
    indices = sorted(changes)
    return ShapesEdit(text, tuple((i, shapes[i]) for i in indices),
                      tuple((i, changes[i]) for i in indices))


class EditConflict(RuntimeError):
    """An edit made for another state of the document (a bug, never the user's fault)."""


class LabelDocument:
    """One image's shapes and billet facts being edited, with change listeners.

    ``record`` is the state last read from or written to disk; :attr:`modified` compares
    against it, so undoing back to the saved state reads as unmodified again.
    """

    def __init__(self, record: ImageRecord) -> None:
        self.record = record
        self.shapes: list[Shape] = list(record.shapes)
        self.billet: BilletInfo = record.billet
        self.flags: dict[str, bool] = dict(record.flags)
        self._listeners: list[Callable[[ShapesEdit], None]] = []

    def subscribe(self, listener: Callable[[ShapesEdit], None]) -> None:
        """Call ``listener`` with each edit after it has been applied (undo included)."""
        self._listeners.append(listener)

    def apply(self, edit: ShapesEdit) -> None:
        """Apply ``edit``; raises EditConflict, leaving the document as it was, if the
        shapes it takes out are not the ones at its indices."""
        shapes = list(self.shapes)
        for index, shape in reversed(edit.removed):
            if index >= len(shapes) or shapes[index] != shape:
                raise EditConflict(f"{edit.text!r} expected another shape at index {index}")
            del shapes[index]
        for index, shape in edit.added:
            if index > len(shapes):
                raise EditConflict(f"{edit.text!r} inserts past the end (index {index})")
            shapes.insert(index, shape)
        if edit.billet is not None and edit.billet[0] != self.billet:
            raise EditConflict(f"{edit.text!r} expected other billet facts")
        if edit.flags is not None and edit.flags[0] != self.flags:
            raise EditConflict(f"{edit.text!r} expected other image flags")
        if edit.billet is not None:
            self.billet = edit.billet[1]
        if edit.flags is not None:
            self.flags = dict(edit.flags[1])
        self.shapes = shapes
        for listener in list(self._listeners):
            listener(edit)

    def undo(self, edit: ShapesEdit) -> None:
        self.apply(edit.inverse())

    def to_record(self) -> ImageRecord:
        """The record as edited (what a save writes)."""
        return replace(self.record, shapes=tuple(self.shapes), billet=self.billet,
                       flags=dict(self.flags))

    def mark_saved(self, record: ImageRecord) -> None:
        """``record`` (this document's state) is now what is on disk."""
        self.record = record

    @property
    def modified(self) -> bool:
        return (tuple(self.shapes) != self.record.shapes or self.billet != self.record.billet
                or self.flags != self.record.flags)
