"""Character templates with cut-outs, and what is built on them (variation, ID layout, shading)."""

from billet_studio.glyphs.templates import (
    GLYPHS_FILE,
    GlyphSet,
    GlyphTemplate,
    bundled_glyphs_path,
    glyph_set_document,
    load_glyph_set,
    project_glyph_set,
    save_glyph_set,
)

__all__ = [
    "GLYPHS_FILE",
    "GlyphSet",
    "GlyphTemplate",
    "bundled_glyphs_path",
    "glyph_set_document",
    "load_glyph_set",
    "project_glyph_set",
    "save_glyph_set",
]
