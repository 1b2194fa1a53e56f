"""The GAN's training material: (mask, stamp) crop pairs from a project's labelled polygons.

Pairs come only from training and validation images: nothing here opens a test-split
image. They are cropped at the jitter size (286 px for the paper's 256 px network) once,
kept in memory as uint8, and cropped at random on every step, as the reference does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from billet_studio.annotations import ImageRecord, Project, read_image
from billet_studio.geometry import paired_crop


@dataclass(frozen=True, eq=False)
class PairSet:
    """Masks (N, S, S) and stamp crops (N, S, S, 3), uint8, with where each came from and
    the character each shows."""

    masks: np.ndarray
    images: np.ndarray
    sources: tuple[str, ...]
    labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.masks)


def load_size(image_size: int) -> int:
    """The reference's jitter: load at 286/256 of the network size, crop back at random."""
    return round(image_size * 286 / 256)


def _held_out(record: ImageRecord, project: Project, share: float) -> bool:
    digest = hashlib.sha256(project.relative(record.image_path).encode()).digest()
    return digest[0] / 256 < share


def collect_pairs(project: Project, size: int, margin: float = 0.15,
                  val_share: float = 0.1, max_pairs: int | None = None
                  ) -> tuple[PairSet, PairSet]:
    """(training pairs, validation pairs) of every whole or partial polygon stamp.

    Validation pairs come from the ``val`` split, or, when the project has none, from a
    fixed ``val_share`` of the training images (whole images, so no stamp of a held-out
    billet is trained on). Test-split images are never read.
    """
    records = [r for r in project.load_records()
               if r.json_path is not None and r.split != "test"]
    has_val = any(r.split == "val" for r in records)
    train: list[tuple[np.ndarray, np.ndarray, str, str]] = []
    val: list[tuple[np.ndarray, np.ndarray, str, str]] = []
    for record in records:
        stamps = [s for s in record.stamps if s.polygons]
        if not stamps:
            continue
        held_out = record.split == "val" if has_val else _held_out(record, project, val_share)
        target = val if held_out else train
        if max_pairs is not None and not held_out and len(train) >= max_pairs:
            continue
        image = read_image(record.image_path)
        name = project.relative(record.image_path)
        for index, stamp in enumerate(stamps):
            mask, crop = paired_crop(image, stamp.polygons, size, margin)
            target.append((mask, crop, f"{name}#{index}", stamp.label))
    return _stack(train, size), _stack(val, size)


def _stack(pairs: list[tuple[np.ndarray, np.ndarray, str, str]], size: int) -> PairSet:
    if not pairs:
        return PairSet(np.zeros((0, size, size), np.uint8), np.zeros((0, size, size, 3),
                                                                     np.uint8), ())
    masks, images, sources, labels = zip(*pairs, strict=True)
    return PairSet(np.stack(masks), np.stack(images), tuple(sources), tuple(labels))
