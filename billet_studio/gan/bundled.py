"""The generator that ships with Billet Studio (``models/``), so previews and synthesis
work before a project has trained its own."""

from __future__ import annotations

from pathlib import Path

from billet_studio.training.bundled import bundled_model_path

#: A ``small`` generator trained on the demo project; models/README.md says how.
BUNDLED_GENERATOR = "pix2pix-small-demo.safetensors"


def bundled_generator_path() -> Path | None:
    """The bundled generator's weights (a JSON sidecar lies beside them), if installed."""
    return bundled_model_path(BUNDLED_GENERATOR)
