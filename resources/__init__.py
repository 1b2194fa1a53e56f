"""Package data: glyph templates and icons (read with importlib.resources)."""
