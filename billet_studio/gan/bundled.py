"""The generator that ships with Billet Studio (``models/``), so previews and synthesis
work before a project has trained its own."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: A ``small`` generator trained on the demo project; models/README.md says how.
BUNDLED_GENERATOR = "pix2pix-small-demo.safetensors"


def bundled_generator_path() -> Path | None:
    """The bundled generator's weights (a JSON sidecar lies beside them), if installed."""
    path = Path(str(files("billet_studio.models") / BUNDLED_GENERATOR))
    return path if path.is_file() else None
