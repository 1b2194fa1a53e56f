"""Help placing stamps on the labelling page: glyph templates snapped to boxes, and Refine
(outlines aligned to the photograph's edges).

Each operation is one edit, so one undo step however many stamps it changes. The geometry
is GUI-free (``glyphs.snap``); this module only gathers the page's state and pushes edits.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from billet_studio.annotations import AnnotationError, Project, editing
from billet_studio.geometry import Box
from billet_studio.glyphs import GlyphSet, GlyphTemplate, project_glyph_set
from billet_studio.glyphs.snap import RefineFailed, fit_template, refine_to_edges

if TYPE_CHECKING:
    from billet_studio.gui.label_page import LabelPage


class StampAssist:
    """Template snap and Refine for one labelling page."""

    def __init__(self, page: LabelPage) -> None:
        self.page = page
        self.glyphs: GlyphSet | None = None

    def set_project(self, project: Project | None) -> None:
        """Load the project's glyph templates (its glyphs.json, else the bundled set)."""
        self.glyphs = None
        if project is not None:
            try:
                self.glyphs = project_glyph_set(project.root)
            except AnnotationError as error:
                self.page.message.emit(f"⚠ template snap is off: {error}")

    def template(self, character: str) -> GlyphTemplate | None:
        if self.glyphs is None or character not in self.glyphs:
            self.page.message.emit(f"No glyph template for {character!r}: a labelled box "
                                   "instead")
            return None
        return self.glyphs[character]

    def snap_boxes(self, character: str, indices: list[int]) -> bool:
        """Replace the empty boxes at ``indices`` by ``character``'s template fitted to
        each (labelled boxes if there is no template)."""
        canvas = self.page.canvas
        template = self.template(character)
        if template is None:
            return canvas.apply(editing.set_label, indices, character)
        stamps = [(character, fit_template(template, Box.from_points(canvas.shapes[i].points)),
                   dict(canvas.shapes[i].flags)) for i in indices]
        return canvas.apply(editing.add_stamps, stamps, indices, f"Snap {character!r}")

    def snap_box(self, character: str, box: Box) -> None:
        """A box dragged while ``character``'s key was held: its template, fitted."""
        project = self.page.project
        if project is None or character not in project.config.classes:
            self.page.message.emit(f"{character} is not one of the project's classes")
            return
        template = self.template(character)
        if template is None:  # no template for it: the box is kept, labelled
            self.page.canvas.apply(editing.add_rectangle, (box.x0, box.y0), (box.x1, box.y1),
                                   character)
            return
        self.page.canvas.apply(editing.add_stamps,
                               [(character, fit_template(template, box), {})], (),
                               f"Snap {character!r}")

    def refine_selection(self) -> None:
        """Align each selected stamp's outline to the edges in the photograph."""
        page, canvas = self.page, self.page.canvas
        if page.session is None or page.loaded is None or page.loaded.pixels is None:
            return
        shapes = canvas.shapes
        stamps = sorted({tuple(editing.stamp_of(shapes, i)) for i in canvas.selection
                         if shapes[i].shape_type == "polygon"})
        if not stamps:
            page.message.emit("Select a snapped or drawn polygon stamp to refine")
            return
        record = page.session.document.to_record()
        refined = []
        for members in stamps:
            first = shapes[members[0]]
            # The stamp as the masks will see it: holes cut, repaired, clipped.
            alone = replace(record, shapes=tuple(shapes[i] for i in members))
            polygons = [p for stamp in alone.stamps for p in stamp.polygons]
            try:
                moved = refine_to_edges(page.loaded.pixels, polygons)
            except RefineFailed as failure:
                page.message.emit(f"Refine {first.label!r}: {failure}")
                return
            flags = {k: v for k, v in first.flags.items() if k != "hole"}
            refined.append((first.label, moved, flags))
        canvas.apply(editing.add_stamps, refined, [i for m in stamps for i in m], "Refine")
