"""Package data: bundled demo model weights (read with importlib.resources)."""
