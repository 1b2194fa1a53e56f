"""Package data: the glyph templates (read with importlib.resources)."""
