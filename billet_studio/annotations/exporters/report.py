"""What every export shares: its report, and the labelled records grouped by split."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from billet_studio.annotations.project import Project
from billet_studio.annotations.records import SPLITS, ImageRecord


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: its files, how many images went into each split, warnings."""

    files_written: tuple[Path, ...]
    images_per_split: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def labelled_records(project: Project, warnings: list[str]) -> list[ImageRecord]:
    """The records that have a sidecar; images nobody labelled yet are left out (an empty
    label would teach the detector that their stamps are background)."""
    records = project.load_records()
    labelled = [r for r in records if r.json_path is not None]
    if len(labelled) < len(records):
        warnings.append(f"{len(records) - len(labelled)} image(s) have no labels yet and "
                        "were left out")
    return labelled


def records_by_split(records: list[ImageRecord]) -> dict[str, list[ImageRecord]]:
    """The records of each split that has any, in the order of ``SPLITS``."""
    grouped: dict[str, list[ImageRecord]] = {split: [] for split in SPLITS}
    for record in records:
        grouped.setdefault(record.split, []).append(record)
    return {split: items for split, items in grouped.items() if items}
