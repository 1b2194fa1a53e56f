"""The detector that ships with Billet Studio (``models/``): trained on the demo world, so
reading and evaluation work before a project has trained its own."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: MobileNet-v3 FPN trained on the demo project; models/README.md says how.
BUNDLED_DETECTOR = "detector-demo.safetensors"


def bundled_detector_path() -> Path | None:
    """The bundled detector's weights (a JSON sidecar lies beside them), if installed."""
    path = Path(str(files("billet_studio.models") / BUNDLED_DETECTOR))
    return path if path.is_file() else None
