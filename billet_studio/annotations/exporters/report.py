"""What every export shares: its report, the output-folder guard, and records by split."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from billet_studio.annotations.errors import AnnotationError
from billet_studio.annotations.project import OUTPUT_FOLDERS, Project
from billet_studio.annotations.records import SPLITS, ImageRecord


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote: its files, how many images went into each split, warnings."""

    files_written: tuple[Path, ...]
    images_per_split: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def checked_output_folder(project: Project, out: Path | str) -> Path:
    """``out`` made absolute, refused where exported files would mix with the photographs
    (the project would then list the exported copies as images of its own)."""
    out = Path(out).resolve()
    images = project.root / "images"
    if out.is_relative_to(images):
        raise AnnotationError(out, f"is inside the project's image folder {images}; export "
                                   "somewhere else (the project's datasets/ folder, say)")
    if out == project.root:
        raise AnnotationError(out, "is the project folder itself; export into a folder of "
                                   "its own (the project's datasets/ folder, say)")
    if project.image_root == project.root and out.is_relative_to(project.root):
        first = out.relative_to(project.root).parts[0]
        if first not in OUTPUT_FOLDERS:
            raise AnnotationError(
                out, "is among the project's photographs (they are in its top folder); "
                     f"export into one of {', '.join(OUTPUT_FOLDERS[:4])} or outside"
            )
    return out


def records_by_split(records: list[ImageRecord]) -> dict[str, list[ImageRecord]]:
    """The records of each split that has any, in the order of ``SPLITS``."""
    grouped: dict[str, list[ImageRecord]] = {split: [] for split in SPLITS}
    for record in records:
        grouped.setdefault(record.split, []).append(record)
    return {split: items for split, items in grouped.items() if items}
