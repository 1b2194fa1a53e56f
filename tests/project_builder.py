"""Building small projects on disk for tests: images made with numpy, sidecars via the API."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from billet_studio.annotations import BilletInfo, ImageRecord, Project, ProjectConfig, Shape

SQUARE_WITH_HOLE = (
    Shape("8", ((10.0, 10.0), (50.0, 10.0), (50.0, 60.0), (10.0, 60.0)), group_id=1),
    Shape("8", ((20.0, 20.0), (40.0, 20.0), (40.0, 30.0), (20.0, 30.0)),
          flags={"hole": True}, group_id=1),
)
RECTANGLE = Shape("3", ((60.0, 10.0), (90.0, 50.0)), "rectangle")


def write_image(path: Path, height: int = 100, width: int = 120, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def add_image(
    project: Project,
    name: str,
    shapes: Sequence[Shape] = SQUARE_WITH_HOLE,
    billet: BilletInfo | None = None,
    size: tuple[int, int] = (100, 120),
) -> ImageRecord:
    """Write an image and its sidecar into the project; returns the record as saved."""
    path = write_image(project.root / "images" / name, *size, seed=len(name))
    record = ImageRecord(path.resolve(), size[0], size[1], tuple(shapes), billet or BilletInfo())
    project.save_record(record)
    return project.load_record(path)


def make_project(root: Path, config: ProjectConfig | None = None) -> Project:
    return Project.create(root, config)
