"""A run's checkpoint files, listed and read without torch: the studio and scripts see
which checkpoints a run holds, with their sidecars (config, step, losses, quality
scores, SHA-256 of the binaries), without loading a model. ``checkpoints.CheckpointStore``
adds saving and loading on top.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billet_studio.annotations import AnnotationError

STEP_PATTERN = re.compile(r"step_(\d{7,})\.safetensors$")


class CheckpointError(AnnotationError):
    """A checkpoint that cannot be used (missing, corrupt, tampered, or not ours)."""


@dataclass(frozen=True)
class CheckpointInfo:
    step: int
    weights: Path
    sidecar: Path
    state: Path
    metadata: dict[str, Any]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CheckpointFiles:
    """The checkpoint files of one run folder."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.folder = self.run_dir / "checkpoints"

    def paths(self, step: int) -> tuple[Path, Path, Path]:
        stem = self.folder / f"step_{step:07d}"
        return (stem.with_suffix(".safetensors"), stem.with_suffix(".json"),
                stem.with_name(stem.name + ".state.pt"))

    def list(self) -> list[CheckpointInfo]:
        """The checkpoints whose sidecar exists (complete ones), oldest first."""
        found = []
        if not self.folder.is_dir():
            return found
        for path in sorted(self.folder.glob("step_*.safetensors")):
            match = STEP_PATTERN.search(path.name)
            if match is None:
                continue
            step = int(match.group(1))
            weights, sidecar, state = self.paths(step)
            if sidecar.exists():
                found.append(CheckpointInfo(step, weights, sidecar, state,
                                            read_sidecar(sidecar)))
        return found

    def latest(self) -> CheckpointInfo | None:
        checkpoints = self.list()
        return checkpoints[-1] if checkpoints else None



def read_sidecar(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(path, f"is not a readable checkpoint sidecar ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("step"), int):
        raise CheckpointError(path, "is not a checkpoint sidecar (no 'step')")
    return document
