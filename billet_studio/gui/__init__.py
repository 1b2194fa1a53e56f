"""The studio: the only Qt code (main window shell, pages, canvas, workers)."""
