"""Models that ship with Billet Studio in ``models/`` (package data, so an installed copy
finds them away from the source tree)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def bundled_model_path(name: str) -> Path | None:
    """``models/<name>`` (a JSON sidecar lies beside it), if this installation has it."""
    path = Path(str(files("billet_studio.models") / name))
    return path if path.is_file() else None
