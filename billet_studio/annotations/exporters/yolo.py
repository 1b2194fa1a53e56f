"""YOLO detection export: ``images/<split>``, ``labels/<split>`` and ``data.yaml``.

Each stamp becomes ``class cx cy w h``, its box as fractions of the image size with six
decimals; an image without stamps gets an empty label file (a background image). Images are
hard-linked when the file system allows it, else copied. Subfolders of the project's image
folder are kept, so two images with the same name in different folders do not collide.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from billet_studio.annotations.atomic import atomic_write_text
from billet_studio.annotations.exporters.report import (
    ExportReport,
    labelled_records,
    records_by_split,
)
from billet_studio.annotations.output_folder import checked_output_folder, staged_output
from billet_studio.annotations.project import Project
from billet_studio.annotations.records import ImageRecord


def export_yolo(project: Project, out: Path | str) -> ExportReport:
    """Write a YOLO dataset folder at ``out``."""
    out = checked_output_folder(project, out)
    warnings: list[str] = []
    records = labelled_records(project, warnings)
    with staged_output(out, "yolo") as stage:
        files, per_split = _write_dataset(project, records, stage, warnings)
        if per_split and "val" not in per_split:
            warnings.append("no image is in the val split; Ultralytics needs one to train "
                            "(mark some images as val)")
        data = {
            "path": str(out),
            **{split: f"images/{split}" for split in per_split},
            "names": dict(enumerate(project.config.classes)),
        }
        atomic_write_text(stage / "data.yaml",
                          yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    files = [out / path.relative_to(stage) for path in files] + [out / "data.yaml"]
    return ExportReport(tuple(files), per_split, tuple(warnings))


def _write_dataset(
    project: Project, records: list[ImageRecord], stage: Path, warnings: list[str]
) -> tuple[list[Path], dict[str, int]]:
    class_ids = {name: index for index, name in enumerate(project.config.classes)}
    files: list[Path] = []
    per_split: dict[str, int] = {}
    for split, items in records_by_split(records).items():
        labels_seen: set[Path] = set()
        for record in items:
            relative = project.relative_to_images(record.image_path)
            label_path = (stage / "labels" / split / relative).with_suffix(".txt")
            if label_path in labels_seen:
                warnings.append(f"{record.image_path}: another image of the {split} split has "
                                f"the same stem, and so the same label file; left out")
                continue
            labels_seen.add(label_path)
            image_path = stage / "images" / split / relative
            _place_image(record.image_path, image_path)
            atomic_write_text(label_path, "".join(
                f"{line}\n" for line in yolo_lines(record, class_ids, warnings)
            ))
            files += [image_path, label_path]
            per_split[split] = per_split.get(split, 0) + 1
    return files, per_split


def yolo_lines(
    record: ImageRecord, class_ids: dict[str, int], warnings: list[str]
) -> list[str]:
    """``class cx cy w h`` for each stamp of a record (unknown labels are warned about)."""
    warnings.extend(record.geometry_warnings)
    lines = []
    for stamp in record.stamps:
        if stamp.label not in class_ids:
            warnings.append(f"{record.image_path}: a stamp labelled {stamp.label!r} is not one "
                            "of the project's classes; left out")
            continue
        box = stamp.box
        cx = (box.x0 + box.x1) / 2 / record.width
        cy = (box.y0 + box.y1) / 2 / record.height
        w = box.width / record.width
        h = box.height / record.height
        lines.append(f"{class_ids[stamp.label]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def _place_image(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
        with open(target, "rb+") as stream:  # durable before the folder is swapped in
            os.fsync(stream.fileno())
