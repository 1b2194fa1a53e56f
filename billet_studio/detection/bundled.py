"""The detector that ships with Billet Studio (``models/``): trained on the demo world, so
reading and evaluation work before a project has trained its own."""

from __future__ import annotations

from pathlib import Path

from billet_studio.training.bundled import bundled_model_path

#: MobileNet-v3 FPN trained on the demo project; models/README.md says how.
BUNDLED_DETECTOR = "detector-demo.safetensors"


def bundled_detector_path() -> Path | None:
    """The bundled detector's weights (a JSON sidecar lies beside them), if installed."""
    return bundled_model_path(BUNDLED_DETECTOR)
